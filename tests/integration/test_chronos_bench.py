"""Smoke test of the Chronos benchmark: 50 jobs due at once on 1 agent; each runs once."""

from __future__ import annotations

import math

import pytest

from bench.chronos import run
from bench.harness import percentile

pytestmark = pytest.mark.integration


async def test_chronos_bench_smoke() -> None:
    r = await run(jobs=50, agents=1, lead=6.0)
    assert (r["jobs"], r["agents"]) == (50, 1)
    assert r["containerizer"].startswith("posix")
    assert r["posts_done_before_due"] is True
    assert r["completed"] is True and r["ran"] == 50
    assert r["ran_more_than_once"] == 0
    late = r["lateness"]
    assert len(late) == 50 and late == sorted(late)
    q = r["lateness_seconds"]
    assert late[0] >= -0.1  # nothing started before its time (0.1 s: clock granularity)
    assert q["min"] <= q["p50"] <= q["p90"] <= q["p99"] <= q["max"] == r["seconds_until_all_ran"]
    assert r["meets_target"] == (q["p99"] <= r["target_p99_s"])
    launched = [k for _t, k, _started in r["curve"] if k >= 0]
    assert launched and launched[-1] == 50
    cpu = r["cpu_seconds"]
    assert cpu["chronos"] > 0 and cpu["master"] > 0 and cpu["agents"] > 0


def test_percentile_nearest_rank() -> None:
    xs = [float(i) for i in range(1, 101)]
    assert percentile(xs, 50) == 50.0
    assert percentile(xs, 99) == 99.0
    assert percentile(xs, 100) == 100.0
    assert percentile([3.0], 99) == 3.0
    assert math.isnan(percentile([], 50))


async def test_chronos_bench_rejects_bad_parameters() -> None:
    with pytest.raises(ValueError):
        await run(jobs=0)
    with pytest.raises(ValueError):
        await run(jobs=1, agents=0)
