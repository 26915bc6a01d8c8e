"""What the deploy tests share: running `deploy.py` against test hosts, and reading the result.

- `pyinfra_deploy(env, inventory)`: `pyinfra -y INVENTORY deploy.py`, timed, failing the test
  when the deploy fails;
- `Deploy(hosts, work)`: the inventory groups and data of a run; `run(project)` runs
  `pyinfra -y inventories/test.py deploy.py` from `project` and fails the test when it fails;
- `changed_hosts(output)`: how many operations changed something, per host;
- `run_testinfra(hosts, targets)`: the `tests/infra` checks against some hosts;
- small readers of the master's state and of a host's units and processes.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from tests.testhosts import TestHost, TestHosts

ROOT = Path(__file__).resolve().parents[2]
PYINFRA = Path(sys.executable).parent / "pyinfra"


def pyinfra_deploy(
    env: dict[str, str],
    inventory: str = "inventories/test.py",
    project: Path = ROOT,
    timeout: float = 900,
) -> tuple[float, str]:
    """`pyinfra -y INVENTORY deploy.py` from `project` with `env` added to the environment:
    (seconds, output). A failed deploy is an AssertionError with the output's tail."""
    t0 = time.monotonic()
    p = subprocess.run(
        [str(PYINFRA), "-y", inventory, "deploy.py"],
        cwd=project,
        env={**os.environ, "PYINFRA_YES": "1", **env},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    took = round(time.monotonic() - t0, 1)
    out = p.stdout + p.stderr
    assert p.returncode == 0, f"deploy failed ({p.returncode}):\n{out[-6000:]}"
    return took, out


class Deploy:
    """Runs the deploy (from `project`) against the hosts listed in `hosts_json`."""

    def __init__(self, hosts: TestHosts, work: Path) -> None:
        self.hosts = hosts
        self.work = work
        self.hosts_json = work / "hosts.json"
        self.groups: dict[str, list[str]] = {"masters": [], "agents": [], "public_agents": []}
        self.log: list[str] = []
        self.data: dict[str, Any] = {}

    def write(self) -> None:
        self.hosts.write_hosts_json(self.hosts_json, self.groups, self.data)

    def run(self, project: Path = ROOT) -> tuple[float, str]:
        self.write()
        out = ""
        try:
            took, out = pyinfra_deploy({"DCOS_TEST_HOSTS": str(self.hosts_json)}, project=project)
        except AssertionError as e:
            out = str(e)
            raise
        finally:
            self.log.append(out)
            (self.work / f"deploy-{len(self.log)}.log").write_text(out)
        return took, out


def changed_hosts(output: str) -> dict[str, int]:
    """Host -> number of operations that changed something on it.

    pyinfra 3 prints one line per host and operation: `[host] Success` when the operation
    changed something, `[host] No changes` when it did not.
    """
    out: dict[str, int] = {}
    plain = re.sub(r"\x1b\[[0-9;]*m", "", output)
    for m in re.finditer(r"^\s*\[([^\]]+)\] (Success|No changes)", plain, re.M):
        out.setdefault(m.group(1), 0)
        if m.group(2) == "Success":
            out[m.group(1)] += 1
    return out


def master_get(ip: str, path: str) -> Any:
    r = httpx.get(f"http://{ip}:5050{path}", timeout=5)
    r.raise_for_status()
    return r.json()


def active_agents(ip: str) -> list[dict[str, Any]]:
    try:
        return [a for a in master_get(ip, "/slaves")["slaves"] if a.get("active")]
    except (httpx.HTTPError, ValueError, KeyError):
        return []


def frameworks(ip: str) -> set[str]:
    try:
        return {f["name"] for f in master_get(ip, "/frameworks")["frameworks"] if f["active"]}
    except (httpx.HTTPError, ValueError, KeyError):
        return set()


def installed_version(host: TestHost) -> str:
    return host.run("cat /etc/dcos-core/version").stdout.strip()


def main_pid(host: TestHost, unit: str) -> int:
    pid = int(host.run(f"systemctl show -p MainPID --value {unit}").stdout.strip())
    assert pid > 0, f"{unit} is not running on {host.name}"
    return pid


def process_ids(host: TestHost, pattern: str) -> set[int]:
    """PIDs of the processes whose command line matches `pattern` (not this shell's own)."""
    p = host.run(f"pgrep -f '[{pattern[0]}]{pattern[1:]}' || true")
    return {int(x) for x in p.stdout.split()}


def run_testinfra(hosts: TestHosts, targets: list[TestHost]) -> tuple[str, int]:
    """Run the `tests/infra` checks against `targets`: (pytest's output, checks passed).

    Fails the test when a check fails or is skipped."""
    p = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "no:cacheprovider",
            "-q",
            "-rA",
            "tests/infra",
            f"--hosts={','.join(f'ssh://root@{h.ip}' for h in targets)}",
            f"--ssh-config={hosts.ssh_config}",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert p.returncode == 0, p.stdout[-6000:] + p.stderr[-2000:]
    m = re.search(r"(\d+) passed", p.stdout)
    assert m, p.stdout[-2000:]
    assert " skipped" not in p.stdout and "failed" not in p.stdout, p.stdout[-3000:]
    return p.stdout, int(m.group(1))
