"""Smoke test of the master benchmark: it runs end to end and reports sane shapes."""

from __future__ import annotations

import pytest

from bench.master import run

pytestmark = pytest.mark.integration


async def test_master_bench_smoke() -> None:
    result = await run(agents=2, updates=500, launches=5)
    tp = result["throughput"]
    assert tp["updates_accepted"] > 0
    assert tp["accepted_per_s"] > 0
    assert tp["delivered_per_s"] > 0
    assert tp["acks_per_s"] > 0
    lat = result["latency_ms"]
    assert lat["samples"] == 5
    assert len(lat["samples_ms"]) == 5
    assert all(s > 0 for s in lat["samples_ms"])
