"""Chronos' exactly-once checker (in the spirit of Jepsen): runs under SIGKILL chaos.

20 jobs with periods of 2-5 s run for two minutes while Chronos and the master are killed with
SIGKILL and restarted at random moments (seeded). Every job appends one line per start to a log
file on the host: "<job> <scheduled ms> <attempt> <task id> <write ms>". Afterwards every
scheduled time (computed exactly from the schedule with `dcos_core.frameworks.chronos.schedule`)
must have exactly one line, written within the job's lateness bound (`epsilon`) and not before
the scheduled time (Chronos prelaunches tasks; their commands must still start on time). Missed
(no line), doubled (more than one line), late and early runs are reported; all must be 0.
"""

from __future__ import annotations

import json
import math
import os
import random
import time
from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from dcos_core.frameworks.chronos.schedule import occurrences, parse_iso8601_schedule
from tests.cluster import Cluster, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SEED = int(os.environ.get("CHRONOS_CHAOS_SEED", "20240611"))
JOBS = 20
CHAOS_SECONDS = float(os.environ.get("CHRONOS_CHAOS_SECONDS", "120"))
EPSILON_S = 60  # the lateness bound: no occurrence counts as missed during the chaos
SETTLE_SECONDS = 15.0
PAUSE = tuple(float(x) for x in os.environ.get("CHRONOS_CHAOS_PAUSE", "5,15").split(","))


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    os.chmod(tmp_path, 0o755)  # tasks append to a file in here
    c = Cluster(tmp_path, agent_resources="cpus:8;mem:8192;disk:4096;ports:[31000-31999]")
    try:
        c.start(agents=2)
        c.start_chronos()
        yield c
    finally:
        c.stop()


def _iso(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def test_every_scheduled_time_runs_exactly_once_under_sigkill_chaos(
    cluster: Cluster, tmp_path: Path
) -> None:
    rng = random.Random(SEED)
    runs_log = tmp_path / "runs.log"
    t0 = time.monotonic()
    history: list[str] = []

    def note(text: str) -> None:
        line = f"[{time.monotonic() - t0:7.2f}s {datetime.now(UTC):%H:%M:%S.%f}] {text}"
        history.append(line)
        print(line, flush=True)

    # ---- the jobs --------------------------------------------------------------------------
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=4)
    jobs: dict[str, tuple[str, int]] = {}  # name -> (schedule, period s)
    for i in range(JOBS):
        name = f"cj-{i:02d}"
        period = rng.randint(2, 5)
        schedule = f"R/{_iso(start + timedelta(milliseconds=rng.randrange(0, 1000)))}/PT{period}S"
        jobs[name] = (schedule, period)
        body = {
            "name": name,
            "owner": "ops@example.com",
            "command": (
                'echo "$CHRONOS_JOB_NAME $CHRONOS_SCHEDULED_MS $CHRONOS_RUN_ATTEMPT'
                f' $MESOS_TASK_ID $(date +%s%3N)" >> {runs_log}'
            ),
            "schedule": schedule,
            "epsilon": f"PT{EPSILON_S}S",
            "retries": 2,
            "cpus": 0.01,
            "mem": 16,
            "disabled": False,
        }
        r = cluster.http.post(f"{cluster.chronos_url}/scheduler/iso8601", json=body)
        assert r.status_code in (200, 201, 204), r.text
    note(f"seed {SEED}: {JOBS} jobs from {_iso(start)}, chaos for {CHAOS_SECONDS:.0f} s")

    # ---- chaos -----------------------------------------------------------------------------
    kills = {"chronos": 0, "master": 0}
    chaos_end = time.monotonic() + CHAOS_SECONDS
    while True:
        pause = rng.uniform(PAUSE[0], PAUSE[1])
        if time.monotonic() + pause >= chaos_end:
            time.sleep(max(0.0, chaos_end - time.monotonic()))
            break
        time.sleep(pause)
        victims = rng.choice([["chronos"], ["master"], ["chronos", "master"]])
        down = rng.uniform(0.5, 4.0)
        order = victims[:]
        rng.shuffle(order)
        for v in order:
            proc = cluster.chronos if v == "chronos" else cluster.master
            assert proc is not None
            proc.kill9()
            kills[v] += 1
            note(f"SIGKILL {v} (pid {proc.pid})")
        time.sleep(down)
        for v in sorted(victims, key=lambda v: v != "master"):  # the master first
            if v == "master":
                cluster.start_master()
            else:
                cluster.start_chronos()
            note(f"restarted {v} after {down:.2f} s down")
    end_wall = datetime.now(UTC)
    note(f"chaos over: {kills}; settling for {SETTLE_SECONDS:.0f} s")
    cluster.wait_agents(2, timeout=60)
    time.sleep(SETTLE_SECONDS)
    # Disabled, not deleted: a delete kills the running tasks (half-written lines).
    for name in jobs:
        job = cluster.http.get(f"{cluster.chronos_url}/scheduler/job/{name}").json()
        job["disabled"] = True
        r = cluster.http.put(f"{cluster.chronos_url}/scheduler/iso8601", json=job)
        assert r.status_code in (200, 201, 204), r.text

    def idle() -> bool:
        r = cluster.http.get(f"{cluster.chronos_url}/scheduler/jobs/summary")
        return all(j["state"] == "idle" for j in r.json()["jobs"])

    wait_for(idle, 30, "all runs finished")
    note("jobs disabled and idle; checking")

    # ---- the checker -----------------------------------------------------------------------
    observed: dict[tuple[str, int], list[list[str]]] = defaultdict(list)
    bad_lines = []
    for ln in runs_log.read_text().splitlines() if runs_log.exists() else []:
        parts = ln.split()
        if len(parts) != 5 or parts[0] not in jobs:
            bad_lines.append(ln)
            continue
        observed[(parts[0], int(parts[1]))].append(parts)
    expected_total = missed = doubled = late = early = 0
    lateness: list[float] = []
    problems: list[str] = []
    per_job: dict[str, dict[str, Any]] = {}
    for name, (schedule, period) in sorted(jobs.items()):
        ri = parse_iso8601_schedule(schedule)
        first = ri.start - timedelta(milliseconds=1)
        times = occurrences(ri, first, end_wall - timedelta(seconds=period))
        stats = {
            "period": period,
            "expected": len(times),
            "missed": 0,
            "doubled": 0,
            "late": 0,
            "early": 0,
        }
        for t in times:
            ms = round(t.timestamp() * 1000)
            lines = observed.get((name, ms), [])
            if not lines:
                stats["missed"] += 1
                problems.append(f"MISSED  {name} {_iso(t)} ({ms})")
                continue
            if len(lines) > 1:
                stats["doubled"] += 1
                problems.append(f"DOUBLED {name} {_iso(t)} ({ms}): {lines}")
            written = min(int(x[4]) for x in lines)
            lateness.append((written - ms) / 1000)
            if written < ms:  # `date +%s%3N` truncates: a start on time is never below
                stats["early"] += 1
                problems.append(f"EARLY   {name} {_iso(t)} ({ms}): {(ms - written) / 1000} s")
            if written - ms > EPSILON_S * 1000:
                stats["late"] += 1
                problems.append(f"LATE    {name} {_iso(t)} ({ms}): {(written - ms) / 1000:.1f} s")
        expected_ms = {round(t.timestamp() * 1000) for t in times}
        extra = {
            ms: ls for (job, ms), ls in observed.items() if job == name and ms not in expected_ms
        }
        # Occurrences after the checked window may have run (once); any doubled one counts.
        for ms, ls in sorted(extra.items()):
            if len(ls) > 1:
                stats["doubled"] += 1
                problems.append(f"DOUBLED {name} (after window) {ms}: {ls}")
        expected_total += stats["expected"]
        missed += stats["missed"]
        doubled += stats["doubled"]
        late += stats["late"]
        early += stats["early"]
        per_job[name] = stats

    print(
        f"\n{'job':8} {'period':>6} {'expected':>8} {'missed':>6} {'doubled':>7} {'late':>4} "
        f"{'early':>5}"
    )
    for name, s in per_job.items():
        print(
            f"{name:8} {s['period']:>6} {s['expected']:>8} {s['missed']:>6} "
            f"{s['doubled']:>7} {s['late']:>4} {s['early']:>5}"
        )
    print(f"{'total':8} {'':>6} {expected_total:>8} {missed:>6} {doubled:>7} {late:>4} {early:>5}")
    lateness.sort()
    pct = {
        q: lateness[max(0, math.ceil(q / 100 * len(lateness)) - 1)] if lateness else None
        for q in (50, 99, 100)
    }
    print(f"lateness (s): p50 {pct[50]}, p99 {pct[99]}, max {pct[100]}")
    print(f"kills: {kills}; lines: {sum(map(len, observed.values()))}; bad lines: {bad_lines}")
    for p in problems:
        print(p)
    summary = {
        "seed": SEED,
        "chaos_seconds": CHAOS_SECONDS,
        "kills": kills,
        "expected": expected_total,
        "missed": missed,
        "doubled": doubled,
        "late": late,
        "early": early,
        "lateness_s": {"p50": pct[50], "p99": pct[99], "max": pct[100]},
        "bad_lines": bad_lines,
        "jobs": per_job,
        "problems": problems,
        "history": history,
        "runtime_s": round(time.monotonic() - t0, 1),
    }
    (tmp_path / "exactly_once.json").write_text(json.dumps(summary, indent=2))
    assert expected_total >= JOBS * (CHAOS_SECONDS // 5 - 2)
    assert kills["chronos"] > 0 and kills["master"] > 0
    assert not bad_lines
    assert (missed, doubled, late, early) == (0, 0, 0, 0), "\n".join(problems[:50])
