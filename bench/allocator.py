"""Allocator benchmark CLI: prints JSON lines; `--plot` draws cycle time against Mesos 1.8.

Example:
    python bench/allocator_bench.py --agents 10000 --frameworks 1000 --rounds 5
    python bench/allocator_bench.py --plot docs/allocator-cycle.png
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
from typing import Any

from dcos_core.allocator.bench import MESOS_1_8_SECONDS, run

GRID: list[tuple[int, int]] = [(1000, 100), (5000, 500), (10000, 1000), (20000, 2000)]


def plot(results: list[dict[str, Any]], path: str) -> None:
    """Bar chart of the median cycle time per size, next to the Mesos 1.8 figures."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

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
    fig.tight_layout()
    fig.savefig(path, dpi=110)


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
    p.add_argument("--plot", metavar="PNG", help="run the size grid and write a chart")
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
        print(json.dumps(r), flush=True)
    if args.plot:
        plot(results, args.plot)
    return 0


if __name__ == "__main__":
    sys.exit(main())
