"""The pyinfra deploy on real hosts (systemd-nspawn, systemd as PID 1, SSH), verified by testinfra.

One scenario, in order, on hosts booted by `tests.testhosts` (each in its own network namespace
on a private bridge, no default route; apt only from a local flat repo; Python from the wheelhouse
the deploy builds and uploads):

1. `pyinfra -y inventories/test.py deploy.py` stands up one master (with Marathon and Chronos)
   and two agents;
2. the same command again changes nothing on any host; changing one setting (Chronos'
   `prelaunch`) changes and restarts only Chronos;
3. the testinfra checks (`tests/infra`) pass against the three hosts;
4. a Marathon app with one instance per agent (UNIQUE hostname) is reached on both agents;
5. an upgrade to a rebuilt wheel with a bumped version (a copy of the project) restarts every
   service while the app's tasks keep running (same PIDs, same task ids, still answering);
6. a third agent added to the inventory joins with one more run (nothing changes elsewhere).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.cluster import wait_for
from tests.testhosts import TestHost, TestHosts

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(1500)]

ROOT = Path(__file__).resolve().parents[2]
PYINFRA = Path(sys.executable).parent / "pyinfra"


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
        env = {**os.environ, "DCOS_TEST_HOSTS": str(self.hosts_json), "PYINFRA_YES": "1"}
        t0 = time.monotonic()
        p = subprocess.run(
            [str(PYINFRA), "-y", "inventories/test.py", "deploy.py"],
            cwd=project,
            env=env,
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
        )
        took = round(time.monotonic() - t0, 1)
        out = p.stdout + p.stderr
        self.log.append(out)
        (self.work / f"deploy-{len(self.log)}.log").write_text(out)
        assert p.returncode == 0, f"deploy failed ({p.returncode}):\n{out[-6000:]}"
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


@pytest.fixture
def hosts(tmp_path: Path) -> Iterator[TestHosts]:
    th = TestHosts(tmp_path / "hosts", prefix="dcd", subnet="10.214.0")
    try:
        yield th
    finally:
        th.stop()


def _master_get(ip: str, path: str) -> Any:
    r = httpx.get(f"http://{ip}:5050{path}", timeout=5)
    r.raise_for_status()
    return r.json()


def _active_agents(ip: str) -> list[dict[str, Any]]:
    try:
        return [a for a in _master_get(ip, "/slaves")["slaves"] if a.get("active")]
    except (httpx.HTTPError, ValueError, KeyError):
        return []


def _frameworks(ip: str) -> set[str]:
    try:
        return {f["name"] for f in _master_get(ip, "/frameworks")["frameworks"] if f["active"]}
    except (httpx.HTTPError, ValueError, KeyError):
        return set()


def _version(host: TestHost) -> str:
    return host.run("cat /etc/dcos-core/version").stdout.strip()


def _main_pid(host: TestHost, unit: str) -> int:
    pid = int(host.run(f"systemctl show -p MainPID --value {unit}").stdout.strip())
    assert pid > 0, f"{unit} is not running on {host.name}"
    return pid


def _pids(host: TestHost, pattern: str) -> set[int]:
    """PIDs of the processes whose command line matches `pattern` (not this shell's own)."""
    p = host.run(f"pgrep -f '[{pattern[0]}]{pattern[1:]}' || true")
    return {int(x) for x in p.stdout.split()}


def test_deploy_redeploy_verify_run_upgrade_and_grow(hosts: TestHosts, tmp_path: Path) -> None:
    figures: dict[str, Any] = {}
    t0 = time.monotonic()
    m1, a1, a2 = hosts.boot(["m1", "a1", "a2"])
    figures["boot_3_hosts_s"] = round(time.monotonic() - t0, 1)
    d = Deploy(hosts, tmp_path)
    d.groups["masters"] = ["m1"]
    d.groups["agents"] = ["a1", "a2"]

    # 1. first deploy
    figures["first_deploy_s"], _ = d.run()
    wait_for(lambda: len(_active_agents(m1.ip)) == 2, 60, "two agents registered")
    wait_for(lambda: {"marathon", "chronos"} <= _frameworks(m1.ip), 60, "frameworks registered")
    version = _version(m1)
    assert version and _version(a1) == _version(a2) == version

    # 2. no change
    figures["no_change_redeploy_s"], out = d.run()
    changed = changed_hosts(out)
    assert set(changed) >= {m1.ip, a1.ip, a2.ip} or set(changed) >= {"m1", "a1", "a2"}, out[-3000:]
    assert not any(changed.values()), f"a no-change run changed something: {changed}"

    # 2b. one setting changed: only Chronos' config changes and only Chronos restarts
    services = ("dcos-master", "dcos-marathon", "dcos-chronos")
    pids = {s: _main_pid(m1, s) for s in services}
    agent_pids = {h.name: _main_pid(h, "dcos-agent") for h in (a1, a2)}
    d.data = {"chronos_options": {"prelaunch": 30}}
    figures["one_setting_deploy_s"], out = d.run()
    changed = changed_hosts(out)
    assert {h for h, n in changed.items() if n} <= {m1.ip, "m1"}, changed
    assert "prelaunch = 30" in m1.run("cat /etc/dcos-core/chronos.toml").stdout
    after = {s: _main_pid(m1, s) for s in services}
    assert after["dcos-chronos"] != pids["dcos-chronos"]
    assert after["dcos-master"] == pids["dcos-master"]
    assert after["dcos-marathon"] == pids["dcos-marathon"]
    assert {h.name: _main_pid(h, "dcos-agent") for h in (a1, a2)} == agent_pids
    wait_for(lambda: {"marathon", "chronos"} <= _frameworks(m1.ip), 60, "chronos back")

    # 3. testinfra
    t = time.monotonic()
    p = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "no:cacheprovider",
            "-q",
            "tests/infra",
            f"--hosts={','.join(f'ssh://root@{h.ip}' for h in (m1, a1, a2))}",
            f"--ssh-config={hosts.ssh_config}",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    figures["testinfra_s"] = round(time.monotonic() - t, 1)
    assert p.returncode == 0, p.stdout[-6000:] + p.stderr[-2000:]
    m = re.search(r"(\d+) passed", p.stdout)
    assert m and int(m.group(1)) >= 15, p.stdout[-2000:]
    figures["testinfra_passed"] = int(m.group(1))
    assert " skipped" not in p.stdout and "failed" not in p.stdout

    # 4. a Marathon app across both agents, reached on each
    marathon = f"http://{m1.ip}:8080"
    app = {
        "id": "/web",
        "cmd": "cd $MESOS_SANDBOX && echo hello-$HOST > index.html && "
        "exec python3 -m http.server $PORT0 --bind 0.0.0.0",
        "instances": 2,
        "cpus": 0.1,
        "mem": 64,
        "constraints": [["hostname", "UNIQUE"]],
    }
    r = httpx.post(f"{marathon}/v2/apps", json=app, timeout=10)
    assert r.status_code == 201, r.text

    def running() -> list[dict[str, Any]]:
        tasks = httpx.get(f"{marathon}/v2/apps/web/tasks", timeout=5).json()["tasks"]
        return [t for t in tasks if t.get("state") == "TASK_RUNNING"]

    wait_for(lambda: len(running()) == 2, 120, "two web instances running")
    tasks = running()
    assert {t["host"] for t in tasks} == {a1.ip, a2.ip} or len({t["host"] for t in tasks}) == 2

    def reach(t: dict[str, Any]) -> bool:
        try:
            r = httpx.get(f"http://{t['host']}:{t['ports'][0]}/", timeout=3)
            return r.status_code == 200 and r.text.startswith("hello-")
        except httpx.HTTPError:
            return False

    wait_for(lambda: all(reach(t) for t in running()), 60, "both instances answer")
    before_ids = {t["id"] for t in tasks}
    before_pids = {h.name: _pids(h, "http.server") for h in (a1, a2)}
    assert all(len(p) == 1 for p in before_pids.values()), before_pids

    # 5. upgrade: the same project with a bumped version
    copy = tmp_path / "project-next"
    shutil.copytree(
        ROOT,
        copy,
        ignore=shutil.ignore_patterns(".venv", ".git", "build", ".test-hosts", "__pycache__"),
    )
    pyproject = copy / "pyproject.toml"
    text = pyproject.read_text()
    new_version = _bump(version)
    pyproject.write_text(re.sub(r'(?m)^version = ".*"$', f'version = "{new_version}"', text))
    figures["upgrade_deploy_s"], _ = d.run(copy)
    assert {_version(h) for h in (m1, a1, a2)} == {new_version}
    wait_for(lambda: len(_active_agents(m1.ip)) == 2, 60, "agents back after the upgrade")
    wait_for(lambda: {"marathon", "chronos"} <= _frameworks(m1.ip), 60, "frameworks back")
    assert {h.name: _pids(h, "http.server") for h in (a1, a2)} == before_pids
    wait_for(lambda: {t["id"] for t in running()} == before_ids, 60, "same tasks running")
    assert all(reach(t) for t in running())

    # 6. a third agent joins
    t = time.monotonic()
    (a3,) = [hosts.add("a3")]
    figures["boot_1_host_s"] = round(time.monotonic() - t, 1)
    d.groups["agents"].append("a3")
    figures["add_agent_deploy_s"], out = d.run(copy)
    wait_for(lambda: len(_active_agents(m1.ip)) == 3, 60, "three agents")
    changed = changed_hosts(out)
    assert changed.get(a3.ip, changed.get("a3", 0)) > 0
    assert not any(n for h, n in changed.items() if h not in (a3.ip, "a3")), changed
    assert _version(a3) == new_version
    print(json.dumps(figures))
    (tmp_path / "figures.json").write_text(json.dumps(figures))


def _bump(version: str) -> str:
    parts = version.split(".")
    parts[-1] = str(int(re.sub(r"\D.*", "", parts[-1]) or 0) + 1)
    return ".".join(parts)
