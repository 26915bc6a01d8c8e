"""The allocator benchmark, in the shape of Mesos' `HierarchicalAllocator_BENCHMARK_Test`.

`DeclineOffers`-like: agents of `cpus:24;mem:4096;disk:4096;ports:[31000-32000]`, all frameworks
in one role, no filtering. Each round runs `allocate()` (every agent is offered to someone), then
recovers every grant with no filter. Time is read only as a figure (`time.perf_counter`,
`time.process_time`).

Example:
    >>> r = run(agents=20, frameworks=4, rounds=2)
    >>> r["offers_per_round"], len(r["cycle_seconds"])
    (20, 2)

Run:
    python -m bench.allocator --agents 10000 --frameworks 1000 --rounds 5   # one JSON line
    python -m bench.allocator --plot docs/allocator-cycle.png              # the grid + chart
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from bench.harness import emit, finish, pyplot, save
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


GRID: list[tuple[int, int]] = [(1000, 100), (5000, 500), (10000, 1000), (20000, 2000)]


def plot(results: list[dict[str, Any]], path: Path) -> None:
    """Bar chart of the median cycle time per size, next to the Mesos 1.8 figures."""
    plt = pyplot()
    labels = [f"{r['agents'] // 1000}k agents\n{r['frameworks']} fw" for r in results]
    ours = [r["cycle"]["median"] for r in results]
    lows = [r["cycle"]["median"] - r["cycle"]["min"] for r in results]
    highs = [r["cycle"]["max"] - r["cycle"]["median"] for r in results]
    mesos = [MESOS_1_8_SECONDS.get((r["agents"], r["frameworks"]), 0.0) for r in results]
    xs = list(range(len(results)))
    fig, ax = plt.subplots(figsize=(8, 4.5))
    w = 0.38
    ax.bar([x - w / 2 for x in xs], mesos, w, label="Mesos 1.8 (C++, blog chart)", color="#999")
    ax.bar(
        [x + w / 2 for x in xs],
        ours,
        w,
        yerr=[lows, highs],
        capsize=3,
        label="dcos-core (Python, median; min-max)",
        color="#2a7ab0",
    )
    for x, v, hi in zip(xs, ours, highs, strict=True):
        ax.annotate(f"{v:.2f}s", (x + w / 2, v + hi), ha="center", va="bottom", fontsize=8)
    for x, v in zip(xs, mesos, strict=True):
        ax.annotate(f"{v:.1f}s", (x - w / 2, v), ha="center", va="bottom", fontsize=8)
    ax.set_xticks(xs, labels)
    ax.set_ylabel("seconds per allocation cycle")
    ax.set_title("Allocation cycle, all frameworks in one role, no filtering")
    ax.legend()
    fig.text(
        0.01,
        0.01,
        f"{platform.processor() or platform.machine()}, {platform.python_version()}",
        fontsize=7,
        color="#666",
    )
    save(fig, path)


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, run the benchmark(s), print one JSON line per size."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--agents", type=int, default=10000)
    p.add_argument("--frameworks", type=int, default=1000)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--refuse-seconds",
        type=float,
        default=None,
        help="decline every offer with this filter (Mesos DeclineOffers uses INT_MAX)",
    )
    p.add_argument("--plot", type=Path, metavar="PNG", help="run the size grid and write a chart")
    args = p.parse_args(argv)
    sizes = GRID if args.plot else [(args.agents, args.frameworks)]
    results = []
    for agents, frameworks in sizes:
        r = run(
            agents,
            frameworks,
            rounds=args.rounds,
            seed=args.seed,
            refuse_seconds=args.refuse_seconds,
        )
        results.append(r)
        emit(r)
    return finish(plot, results, args.plot)


if __name__ == "__main__":
    sys.exit(main())
