"""Deploy benchmark: wall time of the first deploy and of the no-change re-run, for 3 and 5 hosts.

    python -m bench.deploy                          # 3 and 5 hosts, one JSON line each
    python -m bench.deploy --hosts 3 --hosts 5 --plot docs/deploy-bench.png

Each size boots that many real hosts (systemd-nspawn, systemd as PID 1, SSH; `tests.testhosts`):
one master (with Marathon and Chronos) and the rest agents, then times
`pyinfra -y inventories/test.py deploy.py` twice (the second run must change nothing) and tears
the hosts down. The wheelhouse is built (or reused from `build/`) before the clock starts, so the
first deploy is timed as an operator who has built it once sees it. Target: the no-change re-run
of 5 hosts in <= 10 s. pyinfra's published figures for 500 hosts: 49.5 s first, 31.2 s second.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any

from tests.integration.deploykit import pyinfra_deploy
from tests.testhosts import TestHosts

from bench.harness import emit, finish, machine, plot_args, pyplot, save

TARGET_NO_CHANGE_5_S = 10.0


def _deploy(hosts_json: Path) -> tuple[float, str]:
    return pyinfra_deploy({"DCOS_TEST_HOSTS": str(hosts_json)}, timeout=1200)


def run(n: int, work: Path) -> dict[str, Any]:
    names = ["m1", *[f"a{i}" for i in range(1, n)]]
    th = TestHosts(work / f"hosts-{n}", prefix="dcb", subnet="10.215.0")
    try:
        t0 = time.monotonic()
        th.boot(names)
        boot = time.monotonic() - t0
        hosts_json = work / f"hosts-{n}.json"
        th.write_hosts_json(hosts_json, {"masters": ["m1"], "agents": names[1:]})
        first, _ = _deploy(hosts_json)
        second, out = _deploy(hosts_json)
        changed = out.count("] Success")
        return {
            "hosts": n,
            "boot_s": round(boot, 1),
            "first_deploy_s": round(first, 1),
            "no_change_redeploy_s": round(second, 1),
            "no_change_run_changed_operations": changed,
            "machine": machine(),
        }
    finally:
        th.stop()


def plot(results: list[dict[str, Any]], path: Path) -> None:
    plt = pyplot()

    fig, ax = plt.subplots(figsize=(7, 4))
    xs = range(len(results))
    w = 0.38
    first = [r["first_deploy_s"] for r in results]
    second = [r["no_change_redeploy_s"] for r in results]
    ax.bar([x - w / 2 for x in xs], first, w, label="first deploy", color="#4477aa")
    ax.bar([x + w / 2 for x in xs], second, w, label="no-change re-run", color="#228833")
    for x, a, b in zip(xs, first, second, strict=True):
        ax.text(x - w / 2, a, f"{a:.1f} s", ha="center", va="bottom", fontsize=8)
        ax.text(x + w / 2, b, f"{b:.1f} s", ha="center", va="bottom", fontsize=8)
    ax.axhline(TARGET_NO_CHANGE_5_S, color="red", linestyle="--", label="target: re-run of 5 hosts")
    ax.set_xticks(list(xs), [f"{r['hosts']} hosts" for r in results])
    ax.set_ylabel("wall time (s)")
    ax.set_title("pyinfra deploy of dcos-core on systemd-nspawn hosts (2 cores)", fontsize=10)
    ax.legend(fontsize=8)
    save(fig, path)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--hosts", type=int, action="append", help="cluster sizes (default 3 and 5)")
    plot_args(ap)
    args = ap.parse_args()
    results = []
    with tempfile.TemporaryDirectory(prefix="dcos-deploy-bench-") as tmp:
        for n in args.hosts or [3, 5]:
            r = run(n, Path(tmp))
            results.append(r)
            emit(r)
    return finish(plot, results, args.plot)


if __name__ == "__main__":
    raise SystemExit(main())
