"""Run the master benchmark (`dcos_core.master.bench.run`) for a small grid; optionally plot.

    python bench/master_bench.py                       # JSON lines, one per grid point
    python bench/master_bench.py --plot docs/master-bench.png

Grid: 4 simulated agents, the scheduler acknowledging every update (with the ACCEPT ->
TASK_RUNNING latency samples on a real agent), then the same without acknowledgements (the
status path alone). A run stays under ~2 minutes: every wait of the bench is capped.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import Any

from dcos_core.master.bench import TARGET_P99_MS, run


def plot(results: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    lat = next(r["latency_ms"] for r in results if r["latency_ms"].get("samples"))
    samples = sorted(lat["samples_ms"])
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.2))
    ax1.hist(samples, bins=40, color="#4477aa")
    ax1.axvline(
        TARGET_P99_MS, color="red", linestyle="--", label=f"target p99 {TARGET_P99_MS:g} ms"
    )
    ax1.set_xlabel("ACCEPT -> TASK_RUNNING (ms)")
    ax1.set_ylabel("samples")
    ax1.legend()
    ys = [(i + 1) / len(samples) for i in range(len(samples))]
    ax2.step(samples, ys, where="post", color="#4477aa")
    ax2.axvline(TARGET_P99_MS, color="red", linestyle="--")
    ax2.axhline(0.99, color="grey", linestyle=":")
    ax2.set_xlabel("ACCEPT -> TASK_RUNNING (ms)")
    ax2.set_ylabel("CDF")
    ax2.set_xlim(0, max(TARGET_P99_MS * 1.1, samples[-1] * 1.05))
    parts = []
    for r in results:
        t = r["throughput"]
        parts.append(
            f"{t['agents']} agents, {'ack' if t['ack'] else 'no ack'}: "
            f"{t['accepted_per_s']:.0f} upd/s accepted, {t['delivered_per_s']:.0f} delivered"
            + (f", {t['acks_per_s']:.0f} acks/s" if t["ack"] else "")
        )
    cpus = results[0]["machine"]["cpus"]
    fig.suptitle(
        f"dcos-core master, {cpus} cores: latency p50 {lat['p50']:.0f} / p99 {lat['p99']:.0f} / "
        f"max {lat['max']:.0f} ms ({lat['samples']} samples)\n" + "\n".join(parts),
        fontsize=9,
    )
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--agents", type=int, default=4, help="simulated agents")
    ap.add_argument("--updates", type=int, default=5000, help="status updates per grid point")
    ap.add_argument("--tasks", type=int, default=300, help="tasks the updates are spread over")
    ap.add_argument("--launches", type=int, default=200, help="ACCEPT->RUNNING samples")
    ap.add_argument("--plot", type=Path, help="write a latency histogram/CDF PNG here")
    args = ap.parse_args(argv)
    grid = [
        {"ack": True, "launches": args.launches},
        {"ack": False, "launches": 0},
    ]
    results = []
    for point in grid:
        r = asyncio.run(
            run(
                agents=args.agents,
                updates=args.updates,
                launches=point["launches"],
                tasks=args.tasks,
                ack=point["ack"],
            )
        )
        results.append(r)
        print(json.dumps(r), flush=True)
    if args.plot is not None:
        plot(results, args.plot)
        print(f"wrote {args.plot}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
