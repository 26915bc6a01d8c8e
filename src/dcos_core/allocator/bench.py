"""The allocator benchmark, in the shape of Mesos' `HierarchicalAllocator_BENCHMARK_Test`.

`DeclineOffers`-like: agents of `cpus:24;mem:4096;disk:4096;ports:[31000-32000]`, all frameworks
in one role, no filtering. Each round runs `allocate()` (every agent is offered to someone), then
recovers every grant with no filter. Time is read only as a figure (`time.perf_counter`,
`time.process_time`).

Example:
    >>> r = run(agents=20, frameworks=4, rounds=2)
    >>> r["offers_per_round"], len(r["cycle_seconds"])
    (20, 2)
"""

from __future__ import annotations

import statistics
import time
from typing import Any

from dcos_core.allocator.allocator import Allocator
from dcos_core.allocator.types import AllocatorConfig
from dcos_core.clock import FakeClock
from dcos_core.errors import DcosError
from dcos_core.resources import Resources

AGENT_RESOURCES = "cpus:24;mem:4096;disk:4096;ports:[31000-32000]"
ROLE = "role1"

# Mesos "allocation cycle, all frameworks in one role, no filtering" (1.8.0 bars of the chart in
# the 2018-10-08 blog post, read off the chart): (agents, frameworks) -> seconds per cycle.
MESOS_1_8_SECONDS: dict[tuple[int, int], float] = {
    (1000, 100): 0.2,
    (5000, 500): 0.5,
    (10000, 1000): 1.1,
    (20000, 2000): 3.8,
}


def _summary(xs: list[float]) -> dict[str, float]:
    return {"min": min(xs), "median": statistics.median(xs), "max": max(xs)}


def run(
    agents: int,
    frameworks: int,
    rounds: int = 5,
    seed: int = 0,
    *,
    refuse_seconds: float | None = None,
) -> dict[str, Any]:
    """Time adding `agents` and `frameworks`, then `rounds` allocation cycles.

    With `refuse_seconds` every offer is declined with that filter, as Mesos' DeclineOffers
    does (`INT_MAX`): later cycles then skip, per agent, the frameworks that refused it.

    Returns a dict with `add_agents_seconds`, `add_frameworks_seconds`, `cycle_seconds` (wall
    time, one per round), `cycle` (min/median/max), `cycle_cpu_seconds` and `cycle_cpu` (process
    CPU time: less disturbed by other load on the machine), `recover_seconds` (per round) and
    `offers_per_round`.
    """
    alloc = Allocator(AllocatorConfig(), FakeClock(), seed=seed)
    total = Resources.parse(AGENT_RESOURCES)

    t0 = time.perf_counter()
    for i in range(frameworks):
        alloc.add_framework(f"framework-{i:05d}", [ROLE])
    t1 = time.perf_counter()
    for i in range(agents):
        alloc.add_agent(f"agent-{i:05d}", total)
    t2 = time.perf_counter()

    cycles: list[float] = []
    cycles_cpu: list[float] = []
    recovers: list[float] = []
    offers = 0
    for _ in range(rounds):
        s = time.perf_counter()
        c = time.process_time()
        grants = alloc.allocate()
        cycles_cpu.append(time.process_time() - c)
        cycles.append(time.perf_counter() - s)
        offers = len(grants)
        if offers != agents:
            raise DcosError(f"expected {agents} offers in a round, got {offers}")
        s = time.perf_counter()
        for g in grants:
            alloc.recover(g.framework_id, g.agent_id, g.role, g.resources, refuse_seconds)
        recovers.append(time.perf_counter() - s)
    return {
        "agents": agents,
        "frameworks": frameworks,
        "rounds": rounds,
        "seed": seed,
        "refuse_seconds": refuse_seconds,
        "add_frameworks_seconds": t1 - t0,
        "add_agents_seconds": t2 - t1,
        "cycle_seconds": cycles,
        "cycle": _summary(cycles),
        "cycle_cpu_seconds": cycles_cpu,
        "cycle_cpu": _summary(cycles_cpu),
        "recover_seconds": recovers,
        "offers_per_round": offers,
        "mesos_1_8_cycle_seconds": MESOS_1_8_SECONDS.get((agents, frameworks)),
    }
