"""Run the Chronos benchmark (`dcos_core.frameworks.chronos.bench.run`); plot the lateness.

    python bench/chronos_bench.py                             # one JSON line
    python bench/chronos_bench.py --plot docs/chronos-bench.png
    python bench/chronos_bench.py --tmp-dir /dev/shm          # work dirs on tmpfs (no disk fsync)
    python bench/chronos_bench.py --prelaunch 0 --prelaunch 15 --plot docs/chronos-bench.png
    python bench/chronos_bench.py --full > out.jsonl; python bench/chronos_bench.py \
        --from-jsonl out.jsonl --plot docs/chronos-bench.png  # plot saved runs

A fresh master, 3 agents (posix containerizer: no isolation) and `dcos-core chronos`; 1,000 jobs
POSTed to /v1/scheduler/iso8601, all due at the same second T (`R1/<T>/PT1H`); each task appends
its real start time to a file; lateness = start - T, per job. Target: p99 <= 2 s. `--prelaunch`
is Chronos' (default 15 s: tasks launched ahead, commands held until T; 0: launched at T).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import Any

from dcos_core.frameworks.chronos.bench import TARGET_P99_S, run


def plot(results: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    colors = ["#4477aa", "#ee6677", "#228833", "#ccbb44"]
    fig, (hist, cdf) = plt.subplots(1, 2, figsize=(13, 4.4))
    top = max(max(r["lateness"], default=0.0) for r in results)
    top = max(top, TARGET_P99_S) * 1.05
    for r, color in zip(results, colors, strict=False):
        late = r["lateness"]
        q = r["lateness_seconds"]
        label = (
            f"prelaunch {r.get('prelaunch_seconds', 0):g} s, "
            f"work dirs on {r.get('work_dir_fs', '?')}: "
            f"p50 {q['p50']:.1f} s, p99 {q['p99']:.1f} s, max {q['max']:.1f} s"
        )
        hist.hist(late, bins=60, range=(0, top), color=color, alpha=0.6, label=label)
        n = len(late)
        cdf.step(late, [(i + 1) / n for i in range(n)], where="post", color=color, label=label)
        launched = [(t, k) for t, k, _started in r.get("curve", []) if k >= 0]
        if launched:
            cdf.plot(
                [t for t, _ in launched],
                [k / r["jobs"] for _, k in launched],
                color=color,
                linestyle=":",
                label=f"launched by Chronos (prelaunch {r.get('prelaunch_seconds', 0):g} s)",
            )
    for ax in (hist, cdf):
        ax.axvline(
            TARGET_P99_S, color="red", linestyle="--", label=f"target p99 {TARGET_P99_S:g} s"
        )
        ax.set_xlim(0, top)
        ax.set_xlabel("lateness: actual start - scheduled time (s)")
    cdf.axhline(0.99, color="grey", linestyle=":", linewidth=0.8)
    hist.set_ylabel("jobs")
    cdf.set_ylabel("fraction of jobs started")
    cdf.set_ylim(0, 1.02)
    hist.legend(loc="upper right", fontsize=8)
    cdf.legend(loc="lower right", fontsize=8)
    r0 = results[0]
    fig.suptitle(
        f"Chronos: {r0['jobs']:,} jobs due in the same second on {r0['agents']} agents "
        "(posix containerizer, 2 cores)",
        fontsize=10,
    )
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--jobs", type=int, default=1000)
    ap.add_argument("--agents", type=int, default=3)
    ap.add_argument("--lead", type=float, help="seconds from the first POST to T")
    ap.add_argument("--concurrency", type=int, default=32, help="POSTs in flight")
    ap.add_argument("--timeout", type=float, default=120.0, help="wait after T (s)")
    ap.add_argument("--tmp-dir", type=Path, action="append", help="may be repeated: one run each")
    ap.add_argument(
        "--prelaunch", type=float, action="append", help="Chronos --prelaunch (s); may be repeated"
    )
    ap.add_argument("--plot", type=Path)
    ap.add_argument(
        "--from-jsonl",
        type=Path,
        action="append",
        help="plot saved results (lines printed with --full) instead of running",
    )
    ap.add_argument("--full", action="store_true", help="keep the lateness list and the curve")
    args = ap.parse_args()
    results = []
    if args.from_jsonl:
        for path in args.from_jsonl:
            results += [json.loads(line) for line in path.read_text().splitlines() if line]
        if args.plot:
            plot(results, args.plot)
        return 0
    runs = [(t, p) for p in args.prelaunch or [15.0] for t in args.tmp_dir or [None]]
    for tmp_dir, prelaunch in runs:
        r = asyncio.run(
            run(
                args.jobs,
                args.agents,
                lead=args.lead,
                concurrency=args.concurrency,
                timeout=args.timeout,
                tmp_dir=tmp_dir,
                prelaunch=prelaunch,
            )
        )
        results.append(r)
        line = r if args.full else {k: v for k, v in r.items() if k not in ("lateness", "curve")}
        print(json.dumps(line), flush=True)
    if args.plot:
        plot(results, args.plot)
        print(f"plot written to {args.plot}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
