#!/usr/bin/env python3
"""Boot local test hosts (systemd-nspawn, systemd as PID 1) for the test inventory; see
docs/test-hosts.md.

  test-hosts.py up --masters 1 --agents 2 [--public-agents 0] [--work .test-hosts]
      boots m1.., a1.., p1.., writes WORK/hosts.json (read by inventories/test.py through
      DCOS_TEST_HOSTS) and WORK/ssh_config, and stays in the foreground: Ctrl-C or SIGTERM
      powers the hosts off and removes everything.
  test-hosts.py down [--work .test-hosts]
      stops a running `up` of the same prefix (SIGTERM to its pid) and removes whatever a
      crashed run left behind.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.testhosts import TestHosts, cleanup, lock_holder  # noqa: E402


def _names(prefix: str, count: int) -> list[str]:
    return [f"{prefix}{i}" for i in range(1, count + 1)]


def up(args: argparse.Namespace) -> int:
    groups = {
        "masters": _names("m", args.masters),
        "agents": _names("a", args.agents),
        "public_agents": _names("p", args.public_agents),
    }
    names = [n for members in groups.values() for n in members]
    if not names:
        print("nothing to boot", file=sys.stderr)
        return 2
    stop = False

    def on_signal(signum: int, frame: Any) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    work = Path(args.work).resolve()
    packages = [p for p in args.packages.split(",") if p]
    t = time.monotonic()
    print(f"==> preparing the cached root filesystem and apt repo ({packages})", flush=True)
    with TestHosts(work, prefix=args.prefix, subnet=args.subnet, packages=packages) as th:
        print(f"==> booting {' '.join(names)}", flush=True)
        th.boot(names)
        hosts_json = work / "hosts.json"
        th.write_hosts_json(hosts_json, {g: m for g, m in groups.items() if m})
        print(f"==> {len(names)} hosts up in {time.monotonic() - t:.1f} s", flush=True)
        for h in th.hosts.values():
            print(f"    {h.name:4} {h.ip}")
        env = "" if hosts_json == (ROOT / ".test-hosts/hosts.json") else f"{hosts_json} "
        print(
            f"\n    ssh -F {th.ssh_config} {names[0]}\n"
            f"    {'DCOS_TEST_HOSTS=' + env if env else ''}"
            "pyinfra -y inventories/test.py deploy.py\n"
            f"    pytest tests/infra --ssh-config={th.ssh_config} "
            f"--hosts={','.join('ssh://' + n for n in names)}\n"
            "\n==> Ctrl-C (or SIGTERM) stops the hosts and removes everything",
            flush=True,
        )
        while not stop:
            for h in th.hosts.values():
                if h.nspawn is not None and h.nspawn.poll() is not None:
                    print(f"!!! {h.name} stopped (see {work / (h.name + '.log')})", flush=True)
                    stop = True
            time.sleep(0.5)
        print("==> stopping", flush=True)
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut teardown
    for stale in ("hosts.json", "ssh_config"):
        (work / stale).unlink(missing_ok=True)
    print(f"==> stopped (boot logs in {work})", flush=True)
    return 0


def down(args: argparse.Namespace) -> int:
    pid = lock_holder(args.prefix)
    if pid and pid > 0:
        print(f"==> stopping the running test hosts (pid {pid})", flush=True)
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 60
        while lock_holder(args.prefix) and time.monotonic() < deadline:
            time.sleep(0.2)
        if lock_holder(args.prefix):
            print(f"pid {pid} still holds the test hosts", file=sys.stderr)
            return 1
    cleanup(args.prefix)
    (Path(args.work) / "hosts.json").unlink(missing_ok=True)
    print(f"==> nothing named {args.prefix}* left", flush=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("up", "down"):
        p = sub.add_parser(name)
        p.add_argument("--work", default=str(ROOT / ".test-hosts"), help="%(default)s")
        p.add_argument("--prefix", default="dcx", help="names of netns/links/cgroups")
        if name == "up":
            p.add_argument("--subnet", default="10.213.0", help="first three octets")
            p.add_argument("--masters", type=int, default=1)
            p.add_argument("--agents", type=int, default=2)
            p.add_argument("--public-agents", type=int, default=0)
            p.add_argument(
                "--packages",
                default="haproxy",
                help="comma-separated Debian packages for the guests' apt repo (%(default)s)",
            )
    args = parser.parse_args(argv)
    if os.geteuid() != 0:
        print("test hosts need root (network namespaces, mounts, systemd-nspawn)", file=sys.stderr)
        return 2
    return up(args) if args.command == "up" else down(args)


if __name__ == "__main__":
    sys.exit(main())
