"""Smoke test of the Marathon benchmark: both scenarios, small; every instance runs, then goes."""

from __future__ import annotations

import itertools

import pytest

from bench.marathon import run

pytestmark = pytest.mark.integration


def _sane(r: dict[str, object], instances: int) -> None:
    assert r["completed"] is True and r["deleted"] is True
    curve = r["curve"]
    assert isinstance(curve, list)
    assert curve[-1][1] == instances  # the last sample: every instance running
    assert all(a[1] <= b[1] for a, b in itertools.pairwise(curve))  # no task failed
    total = r["seconds_to_all_running"]
    first = r["seconds_to_first_running"]
    assert isinstance(total, float) and isinstance(first, float)
    assert 0 < first <= total
    assert r["instances_per_s"] == pytest.approx(instances / total, rel=0.01, abs=0.1)
    assert isinstance(r["delete_seconds"], float) and r["delete_seconds"] > 0
    cpu = r["cpu_seconds"]
    assert isinstance(cpu, dict) and cpu["marathon"] > 0 and cpu["master"] > 0


async def test_marathon_bench_real_smoke() -> None:
    r = await run("real", instances=30, agents=2)
    assert (r["scenario"], r["instances"], r["agents"]) == ("real", 30, 2)
    assert r["containerizer"].startswith("posix")
    _sane(r, 30)
    assert r["cpu_seconds"]["agents"] > 0


async def test_marathon_bench_simulated_smoke() -> None:
    r = await run("simulated", instances=200, agents=20, apps=2)
    assert (r["scenario"], r["instances"], r["agents"], r["apps"]) == ("simulated", 200, 20, 2)
    _sane(r, 200)
    sim = r["simulated_agents"]
    assert sim["run_task"] == 200 and sim["kill_task"] == 200
    assert sim["status_updates_sent"] == 600 and sim["status_update_errors"] == 0
    # STARTING, RUNNING, KILLED of each task; the last KILLED acks may still be on their way
    assert 400 <= sim["acknowledgements"] <= 600


async def test_marathon_bench_rejects_bad_parameters() -> None:
    with pytest.raises(ValueError):
        await run("nope", instances=1, agents=1)
    with pytest.raises(ValueError):
        await run("simulated", instances=1, agents=1, apps=2)
