"""Chronos benchmark: schedule lateness (actual start - scheduled time) of jobs due at once.

    python -m bench.chronos                             # one JSON line
    python -m bench.chronos --plot docs/chronos-bench.png
    python -m bench.chronos --tmp-dir /dev/shm          # work dirs on tmpfs (no disk fsync)
    python -m bench.chronos --prelaunch 0 --prelaunch 15 --plot docs/chronos-bench.png
    python -m bench.chronos --full > out.jsonl; python -m bench.chronos \
        --from-jsonl out.jsonl --plot docs/chronos-bench.png  # plot saved runs

`run()` starts a master process (memory store, 50 ms allocation interval), `agents` real
`dcos-core agent` processes with the **posix containerizer** (no isolation: a task is a plain
process group, so that 1,000 short tasks stay cheap on 2 cores) and a `dcos-core chronos` process
(`--store memory --prelaunch <prelaunch>`) on 127.0.0.1. Then it POSTs `jobs` jobs to
`/v1/scheduler/iso8601` (`concurrency` at a time), all with the schedule `R1/<T>/PT1H` for the
same whole second `T`, `lead` seconds after the first POST, 0.01 cpus, 8 MB and 1 MB of disk
each, and the command `echo $CHRONOS_JOB_NAME $(date +%s%3N) >> <file>`: each task appends its
real start time (ms) to a file on the host (posix tasks run as the framework user, root, in the
host's filesystem).

It waits (at most `timeout` s after `T`) until every job has a line in that file, then reports
the lateness of each job (its first line's time - `T`): p50, p90, p99, max, the count, the
seconds from `T` until all ran, how many jobs ran more than once, the CPU seconds of the Chronos,
master and agent processes from the first POST to the end, and whether p99 <= `TARGET_P99_S`.
Every process started here is stopped by its PID in a `finally`; the temp dir is removed.

Each agent has room for 1.25 times its share of the jobs (as in the Marathon bench), so that all
of them can run at once. `--prelaunch` is Chronos' (default 15 s: tasks launched ahead, commands
held until T; 0: launched at T).
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

import httpx
import psutil

from bench.harness import (
    HOST,
    Workspace,
    cpu_of,
    cpu_spent,
    emit,
    finish,
    load_jsonl,
    machine,
    percentile,
    plot_args,
    pyplot,
    save,
    start_agents,
    start_framework,
    start_master,
    wait_metric,
)

TARGET_P99_S: Final = 2.0  # p99 lateness with 1,000 jobs due in the same second on 3 agents
JOB_CPUS: Final = 0.01
JOB_MEM: Final = 8
JOB_DISK: Final = 1  # 0 would mean Chronos' default, 256 MB
SPREAD: Final = 1.25  # each agent has room for 1.25 x its share of the jobs


def agent_capacity(jobs: int, agents: int) -> tuple[float, int, int]:
    """(cpus, mem MB, disk MB) of each agent: room for `SPREAD` times its share of the jobs (at
    least 4)."""
    per_agent = max(4, math.ceil(jobs * SPREAD / agents))
    return round(per_agent * JOB_CPUS + 0.01, 2), per_agent * JOB_MEM + 64, per_agent * JOB_DISK


def read_starts(path: Path) -> dict[str, list[float]]:
    """Job name -> the start times (epoch s) its tasks wrote, in file order."""
    out: dict[str, list[float]] = {}
    try:
        text = path.read_text(errors="replace")
    except FileNotFoundError:
        return out
    for line in text.splitlines():
        parts = line.split()
        if len(parts) != 2 or not parts[1].isdigit():
            continue  # a line being written
        out.setdefault(parts[0], []).append(int(parts[1]) / 1000)
    return out


async def _launched(http: httpx.AsyncClient, port: int) -> int:
    """Tasks Chronos has launched so far (-1 if it did not answer in time)."""
    try:
        r = await http.get(f"http://{HOST}:{port}/metrics", timeout=POLL_TIMEOUT)
        return int(r.json()["counters"]["tasks.launched"]["count"])
    except (httpx.HTTPError, ValueError, KeyError):
        return -1


POLL_TIMEOUT: Final = 2.0


def _fs_type(path: Path) -> str:
    """The file system type of the mount holding `path` (e.g. ext4, tmpfs)."""
    best = ("", "?")
    for part in psutil.disk_partitions(all=True):
        mp = part.mountpoint
        if (str(path) + "/").startswith(mp.rstrip("/") + "/") and len(mp) >= len(best[0]):
            best = (mp, part.fstype)
    return best[1]


async def run(
    jobs: int = 1000,
    agents: int = 3,
    *,
    lead: float | None = None,
    concurrency: int = 32,
    timeout: float = 120.0,
    poll: float = 0.2,
    tmp_dir: Path | None = None,
    prelaunch: float = 15.0,
) -> dict[str, Any]:
    """One run on a fresh master + agents + Chronos; returns the figures (JSON-ready).

    `lead`: seconds from the first POST to the scheduled time (default: 5 s + 15 ms per job, so
    that every POST is answered before it); `concurrency`: POSTs in flight; `timeout`: how long
    after the scheduled time to wait for every job to have run; `poll`: how often the start
    file is read; `tmp_dir`: where the temp dir (work dirs of every process, the start file)
    goes (default: the system's; e.g. `/dev/shm` to take the disk's fsyncs out of the figures);
    `prelaunch`: Chronos' `--prelaunch` (0: every task is launched at the scheduled time).
    """
    if jobs < 1 or agents < 1 or concurrency < 1:
        raise ValueError("need jobs >= 1, agents >= 1 and concurrency >= 1")
    if lead is None:
        lead = 5.0 + 0.015 * jobs
    with Workspace("chronos", tmp_dir=tmp_dir) as ws:
        os.chmod(ws.work, 0o755)
        starts_file = ws.work / "starts.log"
        # on the way out: Chronos first (it would launch more), then the agents (SIGUSR1: kill
        # their tasks), then the master
        async with httpx.AsyncClient(timeout=30) as http:
            t_setup = time.monotonic()
            master_port, master = await start_master(ws)
            cpus, mem, disk = agent_capacity(jobs, agents)
            res = f"cpus:{cpus:g};mem:{mem};disk:{disk};ports:[31000-31999]"
            real_agents = await start_agents(ws, master_port, agents, res)
            await wait_metric(http, master_port, "master/slaves_active", agents, 120)
            cport, chronos = await start_framework(
                ws, "chronos", master_port, ["--prelaunch", str(prelaunch)]
            )
            await wait_metric(http, master_port, "master/frameworks_active", 1, 60)
            url = f"http://{HOST}:{cport}/v1/scheduler"
            setup_s = time.monotonic() - t_setup

            # ---- the jobs, all due at the same whole second T ----------------------------------
            cpu0 = cpu_of({"chronos": chronos, "master": master}, real_agents)
            t_post = time.time()
            due = float(math.ceil(t_post + lead))
            due_iso = datetime.fromtimestamp(due, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            cmd = f"echo $CHRONOS_JOB_NAME $(date +%s%3N) >> {starts_file}"
            names = [f"bench-{i:05d}" for i in range(jobs)]
            slots = asyncio.Semaphore(concurrency)
            post_errors: list[str] = []

            async def post(name: str) -> None:
                body = {
                    "name": name,
                    "command": cmd,
                    "schedule": f"R1/{due_iso}/PT1H",
                    "owner": "bench@example.com",
                    "cpus": JOB_CPUS,
                    "mem": JOB_MEM,
                    "disk": JOB_DISK,
                    "retries": 0,
                }
                async with slots:
                    r = await http.post(f"{url}/iso8601", json=body)
                if r.status_code not in (200, 201, 204):
                    post_errors.append(f"{name}: {r.status_code} {r.text[:200]}")

            await asyncio.gather(*(post(n) for n in names))
            posted = time.time()
            if post_errors:
                raise RuntimeError(f"{len(post_errors)} POSTs failed, e.g. {post_errors[0]}")
            post_s = posted - t_post

            # ---- wait until every job has run -------------------------------------------------
            deadline = due + timeout
            starts: dict[str, list[float]] = {}
            curve: list[tuple[float, int, int]] = []  # (s since T, launched by Chronos, started)
            while True:
                starts = read_starts(starts_file)
                now = time.time()
                if now >= due - poll:
                    curve.append((round(now - due, 3), await _launched(http, cport), len(starts)))
                if len(starts) >= jobs or now > deadline:
                    break
                await asyncio.sleep(poll)
            end = time.time()
            cpu1 = cpu_of({"chronos": chronos, "master": master}, real_agents)
            await asyncio.sleep(1.0)  # a task running twice would show up now
            starts = read_starts(starts_file)

            lateness = sorted(min(ts) - due for n, ts in starts.items() if n in set(names))
            completed = len(lateness) >= jobs
            p99 = percentile(lateness, 99)
            out: dict[str, Any] = {
                "jobs": jobs,
                "agents": agents,
                "containerizer": "posix (no isolation)",
                "prelaunch_seconds": prelaunch,
                "work_dir_fs": _fs_type(ws.work),
                "agent_resources": {"cpus": cpus, "mem": mem, "disk": disk},
                "job_resources": {"cpus": JOB_CPUS, "mem": JOB_MEM, "disk": JOB_DISK},
                "scheduled_at": due_iso,
                "lead_seconds": round(due - t_post, 3),
                "post_seconds": round(post_s, 3),
                "posts_done_before_due": posted < due,
                "completed": completed,  # False: not all ran within `timeout` s of T
                "ran": len(lateness),
                "ran_more_than_once": sum(1 for ts in starts.values() if len(ts) > 1),
                "lateness_seconds": {
                    "p50": round(percentile(lateness, 50), 3),
                    "p90": round(percentile(lateness, 90), 3),
                    "p99": round(p99, 3),
                    "max": round(lateness[-1], 3) if lateness else math.nan,
                    "min": round(lateness[0], 3) if lateness else math.nan,
                },
                "seconds_until_all_ran": round(lateness[-1], 3) if completed else None,
                "target_p99_s": TARGET_P99_S,
                "meets_target": completed and p99 <= TARGET_P99_S,
                "cpu_seconds": cpu_spent(cpu0, cpu1),
                "wall_seconds_post_to_end": round(end - t_post, 3),
                "setup_seconds": round(setup_s, 3),
                "curve": curve,
                "lateness": [round(x, 3) for x in lateness],
                "machine": machine(),
            }
    return out


def plot(results: list[dict[str, Any]], path: Path) -> None:
    plt = pyplot()

    colors = ["#4477aa", "#ee6677", "#228833", "#ccbb44"]
    fig, (hist, cdf) = plt.subplots(1, 2, figsize=(13, 4.4))
    top = max(max(r["lateness"], default=0.0) for r in results)
    top = max(top, TARGET_P99_S) * 1.05
    for r, color in zip(results, colors, strict=False):
        late = r["lateness"]
        q = r["lateness_seconds"]
        label = (
            f"prelaunch {r.get('prelaunch_seconds', 0):g} s, "
            f"work dirs on {r.get('work_dir_fs', '?')}: "
            f"p50 {q['p50']:.1f} s, p99 {q['p99']:.1f} s, max {q['max']:.1f} s"
        )
        hist.hist(late, bins=60, range=(0, top), color=color, alpha=0.6, label=label)
        n = len(late)
        cdf.step(late, [(i + 1) / n for i in range(n)], where="post", color=color, label=label)
        launched = [(t, k) for t, k, _started in r.get("curve", []) if k >= 0]
        if launched:
            cdf.plot(
                [t for t, _ in launched],
                [k / r["jobs"] for _, k in launched],
                color=color,
                linestyle=":",
                label=f"launched by Chronos (prelaunch {r.get('prelaunch_seconds', 0):g} s)",
            )
    for ax in (hist, cdf):
        ax.axvline(
            TARGET_P99_S, color="red", linestyle="--", label=f"target p99 {TARGET_P99_S:g} s"
        )
        ax.set_xlim(0, top)
        ax.set_xlabel("lateness: actual start - scheduled time (s)")
    cdf.axhline(0.99, color="grey", linestyle=":", linewidth=0.8)
    hist.set_ylabel("jobs")
    cdf.set_ylabel("fraction of jobs started")
    cdf.set_ylim(0, 1.02)
    hist.legend(loc="upper right", fontsize=8)
    cdf.legend(loc="lower right", fontsize=8)
    r0 = results[0]
    fig.suptitle(
        f"Chronos: {r0['jobs']:,} jobs due in the same second on {r0['agents']} agents "
        "(posix containerizer, 2 cores)",
        fontsize=10,
    )
    save(fig, path)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--jobs", type=int, default=1000)
    ap.add_argument("--agents", type=int, default=3)
    ap.add_argument("--lead", type=float, help="seconds from the first POST to T")
    ap.add_argument("--concurrency", type=int, default=32, help="POSTs in flight")
    ap.add_argument("--timeout", type=float, default=120.0, help="wait after T (s)")
    ap.add_argument("--tmp-dir", type=Path, action="append", help="may be repeated: one run each")
    ap.add_argument(
        "--prelaunch", type=float, action="append", help="Chronos --prelaunch (s); may be repeated"
    )
    plot_args(ap, keep="--full")
    ap.add_argument("--full", action="store_true", help="keep the lateness list and the curve")
    args = ap.parse_args()
    if args.from_jsonl:
        return finish(plot, load_jsonl(args.from_jsonl), args.plot)
    results = []
    runs = [(t, p) for p in args.prelaunch or [15.0] for t in args.tmp_dir or [None]]
    for tmp_dir, prelaunch in runs:
        r = asyncio.run(
            run(
                args.jobs,
                args.agents,
                lead=args.lead,
                concurrency=args.concurrency,
                timeout=args.timeout,
                tmp_dir=tmp_dir,
                prelaunch=prelaunch,
            )
        )
        results.append(r)
        emit(r, drop=() if args.full else ("lateness", "curve"))
    return finish(plot, results, args.plot)


if __name__ == "__main__":
    raise SystemExit(main())
