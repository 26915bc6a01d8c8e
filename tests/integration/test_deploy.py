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
import re
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.cluster import wait_for
from tests.integration.deploykit import (
    ROOT,
    Deploy,
    active_agents,
    changed_hosts,
    frameworks,
    installed_version,
    main_pid,
    process_ids,
    run_testinfra,
)
from tests.testhosts import TestHosts

pytestmark = [
    pytest.mark.integration,
    pytest.mark.slow,
    pytest.mark.hosts,
    pytest.mark.timeout(1500),
]


@pytest.fixture
def hosts(tmp_path: Path) -> Iterator[TestHosts]:
    th = TestHosts(tmp_path / "hosts", prefix="dcd", subnet="10.214.0")
    try:
        yield th
    finally:
        th.stop()


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
    wait_for(lambda: len(active_agents(m1.ip)) == 2, 60, "two agents registered")
    wait_for(lambda: {"marathon", "chronos"} <= frameworks(m1.ip), 60, "frameworks registered")
    version = installed_version(m1)
    assert version and installed_version(a1) == installed_version(a2) == version

    # 2. no change
    figures["no_change_redeploy_s"], out = d.run()
    changed = changed_hosts(out)
    assert set(changed) >= {m1.ip, a1.ip, a2.ip} or set(changed) >= {"m1", "a1", "a2"}, out[-3000:]
    assert not any(changed.values()), f"a no-change run changed something: {changed}"

    # 2b. one setting changed: only Chronos' config changes and only Chronos restarts
    services = ("dcos-master", "dcos-marathon", "dcos-chronos")
    pids = {s: main_pid(m1, s) for s in services}
    agent_pids = {h.name: main_pid(h, "dcos-agent") for h in (a1, a2)}
    d.data = {"chronos_options": {"prelaunch": 30}}
    figures["one_setting_deploy_s"], out = d.run()
    changed = changed_hosts(out)
    assert {h for h, n in changed.items() if n} <= {m1.ip, "m1"}, changed
    assert "prelaunch = 30" in m1.run("cat /etc/dcos-core/chronos.toml").stdout
    after = {s: main_pid(m1, s) for s in services}
    assert after["dcos-chronos"] != pids["dcos-chronos"]
    assert after["dcos-master"] == pids["dcos-master"]
    assert after["dcos-marathon"] == pids["dcos-marathon"]
    assert {h.name: main_pid(h, "dcos-agent") for h in (a1, a2)} == agent_pids
    wait_for(lambda: {"marathon", "chronos"} <= frameworks(m1.ip), 60, "chronos back")

    # 3. testinfra
    t = time.monotonic()
    _, figures["testinfra_passed"] = run_testinfra(hosts, [m1, a1, a2])
    figures["testinfra_s"] = round(time.monotonic() - t, 1)
    assert figures["testinfra_passed"] >= 15

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
    before_pids = {h.name: process_ids(h, "http.server") for h in (a1, a2)}
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
    assert {installed_version(h) for h in (m1, a1, a2)} == {new_version}
    wait_for(lambda: len(active_agents(m1.ip)) == 2, 60, "agents back after the upgrade")
    wait_for(lambda: {"marathon", "chronos"} <= frameworks(m1.ip), 60, "frameworks back")
    assert {h.name: process_ids(h, "http.server") for h in (a1, a2)} == before_pids
    wait_for(lambda: {t["id"] for t in running()} == before_ids, 60, "same tasks running")
    assert all(reach(t) for t in running())

    # 6. a third agent joins
    t = time.monotonic()
    (a3,) = [hosts.add("a3")]
    figures["boot_1_host_s"] = round(time.monotonic() - t, 1)
    d.groups["agents"].append("a3")
    figures["add_agent_deploy_s"], out = d.run(copy)
    wait_for(lambda: len(active_agents(m1.ip)) == 3, 60, "three agents")
    changed = changed_hosts(out)
    assert changed.get(a3.ip, changed.get("a3", 0)) > 0
    assert not any(n for h, n in changed.items() if h not in (a3.ip, "a3")), changed
    assert installed_version(a3) == new_version
    print(json.dumps(figures))
    (tmp_path / "figures.json").write_text(json.dumps(figures))


def _bump(version: str) -> str:
    parts = version.split(".")
    parts[-1] = str(int(re.sub(r"\D.*", "", parts[-1]) or 0) + 1)
    return ".".join(parts)
