"""Chronos benchmark: schedule lateness (actual start - scheduled time) of jobs due at once.

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
of them can run at once. This module imports no master, agent or containerizer code (frameworks
may not): it reuses the process helpers of `dcos_core.frameworks.marathon.bench`.
"""

from __future__ import annotations

import asyncio
import math
import os
import platform
import shutil
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

import httpx
import psutil

from dcos_core.frameworks.marathon.bench import (
    HOST,
    _Proc,
    _start_master,
    _start_real_agents,
    _wait_agents,
    _wait_http,
    free_port,
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


def percentile(values: list[float], q: float) -> float:
    """The `q`-th percentile (nearest rank: the smallest value with >= q % of them at or below)."""
    if not values:
        return math.nan
    s = sorted(values)
    k = max(1, math.ceil(q / 100 * len(s)))
    return s[k - 1]


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


async def _start_chronos(
    work: Path, master_port: int, procs: list[_Proc], prelaunch: float
) -> tuple[int, _Proc]:
    port = free_port()
    chronos = _Proc(
        [
            "chronos",
            "--master",
            f"{HOST}:{master_port}",
            "--ip",
            HOST,
            "--port",
            str(port),
            "--work-dir",
            str(work / "chronos"),
            "--store",
            "memory",
            "--prelaunch",
            str(prelaunch),
            "--log-level",
            "warning",
        ],
        work / "chronos.log",
    )
    procs.append(chronos)
    await _wait_http(f"http://{HOST}:{port}/ping", chronos)
    return port, chronos


async def _wait_framework(http: httpx.AsyncClient, master_port: int, timeout: float) -> None:
    """Until the master knows one active framework (Chronos has subscribed)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        r = await http.get(f"http://{HOST}:{master_port}/metrics/snapshot")
        if r.status_code == 200 and r.json().get("master/frameworks_active", 0) >= 1:
            return
        await asyncio.sleep(0.1)
    raise RuntimeError(f"Chronos not subscribed after {timeout} s")


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


def _cpu(master: _Proc, chronos: _Proc, agents: list[_Proc]) -> dict[str, float]:
    return {
        "chronos": chronos.cpu(),
        "master": master.cpu(),
        "agents": sum(a.cpu() for a in agents),
        "agents_children": sum(a.cpu(children=True) - a.cpu() for a in agents),
    }


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
    work = Path(tempfile.mkdtemp(prefix="dcos-chronos-bench-", dir=tmp_dir))
    os.chmod(work, 0o755)
    starts_file = work / "starts.log"
    procs: list[_Proc] = []
    http = httpx.AsyncClient(timeout=30)
    try:
        t_setup = time.monotonic()
        master_port, master = await _start_master(work, procs)
        cpus, mem, disk = agent_capacity(jobs, agents)
        res = f"cpus:{cpus:g};mem:{mem};disk:{disk};ports:[31000-31999]"
        real_agents = await _start_real_agents(work, master_port, agents, res, procs)
        await _wait_agents(http, master_port, agents, 120)
        cport, chronos = await _start_chronos(work, master_port, procs, prelaunch)
        await _wait_framework(http, master_port, 60)
        url = f"http://{HOST}:{cport}/v1/scheduler"
        setup_s = time.monotonic() - t_setup

        # ---- the jobs, all due at the same whole second T ----------------------------------
        cpu0 = _cpu(master, chronos, real_agents)
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
        cpu1 = _cpu(master, chronos, real_agents)
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
            "work_dir_fs": _fs_type(work),
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
            "cpu_seconds": {k: round(cpu1[k] - cpu0[k], 2) for k in cpu1},
            "wall_seconds_post_to_end": round(end - t_post, 3),
            "setup_seconds": round(setup_s, 3),
            "curve": curve,
            "lateness": [round(x, 3) for x in lateness],
            "machine": {
                "cpus": os.cpu_count(),
                "python": platform.python_version(),
                "platform": platform.platform(),
            },
        }
        return out
    except BaseException as e:
        logs = "\n".join(f"--- {p.log.name}\n{p.tail()}" for p in procs)
        if isinstance(e, Exception):
            raise RuntimeError(f"chronos bench failed: {e!r}\n{logs}") from e
        raise
    finally:
        await http.aclose()
        # Chronos first (it would launch more), then the agents (SIGUSR1: kill their tasks),
        # then the master.
        for p in reversed(procs):
            p.stop()
        shutil.rmtree(work, ignore_errors=True)
