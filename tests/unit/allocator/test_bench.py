"""The benchmark module runs in the shape of Mesos' DeclineOffers and reports its figures."""

from __future__ import annotations

from collections import Counter

from bench.allocator import AGENT_RESOURCES, ROLE, run
from dcos_core.allocator import Allocator, AllocatorConfig
from dcos_core.clock import FakeClock
from dcos_core.resources import Resources


def test_run_reports_figures() -> None:
    """run() returns one cycle time per round and one offer per agent per round."""
    r = run(agents=200, frameworks=20, rounds=3, seed=1)
    assert r["offers_per_round"] == 200
    assert len(r["cycle_seconds"]) == 3
    assert r["cycle"]["min"] <= r["cycle"]["median"] <= r["cycle"]["max"]
    assert r["add_agents_seconds"] > 0 and r["add_frameworks_seconds"] > 0
    assert r["mesos_1_8_cycle_seconds"] is None  # no published figure for 200 x 20


def test_benchmark_shape_is_fair() -> None:
    """In the benchmark shape every framework gets exactly agents / frameworks offers."""
    alloc = Allocator(AllocatorConfig(), FakeClock(), seed=3)
    for i in range(10):
        alloc.add_framework(f"f{i}", [ROLE])
    for i in range(100):
        alloc.add_agent(f"a{i}", Resources.parse(AGENT_RESOURCES))
    grants = alloc.allocate()
    # 100 equal agents, 10 frameworks: shares move in steps of 1/100 -> 10 agents each
    assert set(Counter(g.framework_id for g in grants).values()) == {10}
