"""Run the Marathon benchmark (`dcos_core.frameworks.marathon.bench.run`), both scenarios; plot.

    python bench/marathon_bench.py                          # JSON lines, one per scenario
    python bench/marathon_bench.py --plot docs/marathon-bench.png
    python bench/marathon_bench.py --scenarios simulated --sim-instances 2000 --sim-agents 200
    python bench/marathon_bench.py --curves > out.jsonl; python bench/marathon_bench.py \
        --from-jsonl out.jsonl --plot docs/marathon-bench.png     # plot saved runs

Each scenario: a fresh master, agents and `dcos-core marathon`; one app of `sleep 3600`
(0.01 cpus, 8 MB) POSTed with all its instances; time until every instance is running and the
deployment is done, then DELETE and time until every task is gone. `real` runs agent processes
with the posix containerizer (no isolation); `simulated` plays the agents in the bench process.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import Any

from dcos_core.frameworks.marathon.bench import TARGET_REAL_S, TARGET_SIMULATED_S, run


def plot(results: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(results), figsize=(6.5 * len(results), 4.2), squeeze=False)
    for ax, r in zip(axes[0], results, strict=True):
        xs = [p[0] for p in r["curve"]]
        ys = [p[1] for p in r["curve"]]
        target = TARGET_REAL_S if r["scenario"] == "real" else TARGET_SIMULATED_S
        ax.plot(xs, ys, color="#4477aa", label="instances running")
        ax.axvline(target, color="red", linestyle="--", label=f"target {target:g} s")
        ax.axhline(r["instances"], color="grey", linestyle=":", linewidth=0.8)
        done = r["seconds_to_all_running"]
        ax.annotate(
            f"all {r['instances']:,} running: {done:.1f} s",
            xy=(done, r["instances"]),
            xytext=(0.03, 0.6),
            textcoords="axes fraction",
            arrowprops={"arrowstyle": "->", "color": "#555555"},
        )
        ax.set_xlim(0, max(target, done) * 1.08)
        ax.set_ylim(0, r["instances"] * 1.05)
        ax.set_xlabel("seconds since POST /v2/apps")
        ax.set_ylabel("tasksRunning")
        kind = (
            "real agents, posix containerizer"
            if r["scenario"] == "real"
            else "simulated agents (bench process)"
        )
        ax.set_title(f"{r['instances']:,} instances on {r['agents']:,} {kind}", fontsize=10)
        ax.legend(loc="upper left")
    fig.suptitle("Marathon: POST /v2/apps -> all instances running (2 cores)", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--scenarios", default="real,simulated")
    ap.add_argument("--real-instances", type=int, default=1000)
    ap.add_argument("--real-agents", type=int, default=10)
    ap.add_argument("--sim-instances", type=int, default=10000)
    ap.add_argument("--sim-agents", type=int, default=1000)
    ap.add_argument("--apps", type=int, default=1)
    ap.add_argument("--timeout", type=float, default=300.0, help="cap on each wait (s)")
    ap.add_argument("--delete-timeout", type=float, help="cap on the deletion (s)")
    ap.add_argument("--plot", type=Path)
    ap.add_argument(
        "--from-jsonl",
        type=Path,
        action="append",
        help="plot saved results (lines printed with --curves) instead of running",
    )
    ap.add_argument("--curves", action="store_true", help="keep the curves in the JSON lines")
    args = ap.parse_args()
    results = []
    if args.from_jsonl:
        for path in args.from_jsonl:
            results += [json.loads(line) for line in path.read_text().splitlines() if line]
        if args.plot:
            plot(results, args.plot)
        return 0
    for scenario in args.scenarios.split(","):
        if scenario == "real":
            n, agents = args.real_instances, args.real_agents
        else:
            n, agents = args.sim_instances, args.sim_agents
        r = asyncio.run(
            run(
                scenario,
                n,
                agents,
                args.apps,
                timeout=args.timeout,
                delete_timeout=args.delete_timeout,
            )
        )
        results.append(r)
        line = r if args.curves else {k: v for k, v in r.items() if k != "curve"}
        print(json.dumps(line), flush=True)
    if args.plot:
        plot(results, args.plot)
        print(f"plot written to {args.plot}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
