"""Run the launch benchmark (`dcos_core.master.bench_launch.run`) for a few windows; plot.

    python bench/launch_bench.py                          # JSON lines, one per window
    python bench/launch_bench.py --plot docs/launch-bench.png

Each point: a fresh master and agent (full isolation when run as root), `tasks` /bin/true command
tasks with `window` in flight, the plain-spawn floor in the same run, and ACCEPT -> TASK_RUNNING
latency samples taken one at a time. About 20 s per window on 2 cores.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import Any

from dcos_core.master.bench_launch import TARGET_P99_MS, TARGET_TASKS_PER_S, run


def plot(results: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2, ax3) = plt.subplots(1, 3, figsize=(14, 4.2))
    windows = [str(r["params"]["window"]) for r in results]
    rates = [r["throughput"]["per_s"] for r in results]
    ax1.bar(windows, rates, color="#4477aa")
    ax1.axhline(TARGET_TASKS_PER_S, color="red", linestyle="--", label="target 25/s")
    for x, y in zip(windows, rates, strict=True):
        ax1.text(x, y, f"{y:g}", ha="center", va="bottom")
    ax1.set_xlabel("tasks in flight (window)")
    ax1.set_ylabel("/bin/true tasks launched and finished per s")
    ax1.set_title("isolated tasks through master + agent")
    ax1.legend(loc="lower right")

    best = max(results, key=lambda r: r["throughput"]["per_s"])
    cpu = best["throughput"]["cpu_ms_per_task"]
    ax2.bar(list(cpu), list(cpu.values()), color=["#aa3377", "#228833", "#ccbb44"])
    ax2.set_ylabel("CPU ms per task")
    ax2.set_title(
        f"where the CPU goes (window {best['params']['window']}); "
        f"floor {best['floor']['per_s']:g} spawns/s"
    )

    samples = sorted(s for r in results for s in r["latency_ms"].get("samples_ms", []))
    ys = [(i + 1) / len(samples) for i in range(len(samples))]
    ax3.step(samples, ys, where="post", color="#4477aa")
    ax3.axvline(TARGET_P99_MS, color="red", linestyle="--", label="target p99 150 ms")
    ax3.set_xlabel("ACCEPT -> TASK_RUNNING (ms), one task at a time")
    ax3.set_ylabel("fraction of launches")
    ax3.set_title(f"latency ({len(samples)} launches)")
    ax3.legend(loc="lower right")
    fig.suptitle(f"Task launch on one agent, isolation: {best['isolation']}", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tasks", type=int, default=300)
    ap.add_argument("--windows", default="4,16,32")
    ap.add_argument("--launches", type=int, default=50)
    ap.add_argument("--plot", type=Path)
    args = ap.parse_args()
    results = []
    for w in (int(x) for x in args.windows.split(",")):
        r = asyncio.run(run(tasks=args.tasks, window=w, launches=args.launches))
        results.append(r)
        brief = {k: v for k, v in r.items() if k != "latency_ms"}
        brief["latency_ms"] = {k: v for k, v in r["latency_ms"].items() if k != "samples_ms"}
        print(json.dumps(brief), flush=True)
    if args.plot:
        plot(results, args.plot)
        print(f"plot written to {args.plot}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
