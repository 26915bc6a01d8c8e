"""`docker_enabled`: the deploy installs the Docker engine on agents and Marathon runs images there.

Real hosts (systemd-nspawn, `tests.testhosts`): a master and an agent. The agent is a privileged
test host (every capability, the machine's cgroup v1 hierarchies writable), as a real host is, so
`dockerd` runs there with the packaged unit; the deploy installs `docker.io` from the harness'
flat repo. No registry is reachable: the busybox image is `docker import`ed on the agent, as an
operator of an air-gapped cluster would preload it.

1. the deploy with `docker_enabled` and `docker_options` writes daemon.json, installs and starts
   the engine, and gives the agent the docker containerizer;
2. the testinfra checks pass, the Docker engine's among them (`tests/infra/test_docker.py`);
3. a Marathon app with a DOCKER container runs on the agent's engine, with its memory limit,
   inside the cgroup parent set in `docker_options`, and answers over HTTP;
4. changing `docker_options` restarts the engine and nothing else (the agent keeps its PID).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.cluster import wait_for
from tests.docker_engine import IMAGE, busybox_rootfs
from tests.integration.deploykit import (
    Deploy,
    active_agents,
    changed_hosts,
    frameworks,
    main_pid,
    run_testinfra,
)
from tests.testhosts import TestHosts

pytestmark = [
    pytest.mark.integration,
    pytest.mark.slow,
    pytest.mark.hosts,
    pytest.mark.timeout(900),
]


@pytest.fixture
def hosts(tmp_path: Path) -> Iterator[TestHosts]:
    work = tmp_path / "hosts"
    th = TestHosts(work, prefix="dcdk", subnet="10.217.0", packages=["docker.io"], privileged=True)
    try:
        yield th
    finally:
        th.stop()
    # the engine's containers and cgroups went with the guest (they live under its cgroup parent)
    assert not list(Path("/sys/fs/cgroup").glob("*/dcdk")), "cgroups left behind"


def test_docker_engine_on_agents_runs_marathon_docker_apps(
    hosts: TestHosts, tmp_path: Path
) -> None:
    figures: dict[str, Any] = {}
    m1, a1 = hosts.boot(["m1", "a1"])
    d = Deploy(hosts, tmp_path)
    d.groups["masters"] = ["m1"]
    d.groups["agents"] = ["a1"]
    # What a nested engine needs: no overlay on the guest's overlayfs root, no iptables or
    # bridge (tasks use host or no networking), and its cgroups under the guest's own.
    engine = {
        "storage-driver": "vfs",
        "iptables": False,
        "bridge": "none",
        "cgroup-parent": f"{a1.cgroup_parent}/docker",
    }
    d.data = {"docker_enabled": True, "docker_options": engine}

    # 1. deploy
    figures["deploy_s"], _ = d.run()
    wait_for(lambda: len(active_agents(m1.ip)) == 1, 60, "the agent registered")
    wait_for(lambda: "marathon" in frameworks(m1.ip), 60, "Marathon registered")
    assert a1.run("systemctl is-active docker").stdout.strip() == "active"
    assert m1.run("dpkg -s docker.io", check=False).returncode != 0, "docker.io on the master"
    assert a1.run("cat /etc/dcos-core/roles").stdout.split() == ["agent", "docker"]
    assert 'containerizers = "mesos,docker"' in a1.run("cat /etc/dcos-core/agent.toml").stdout
    driver = a1.run("docker info --format '{{.Driver}}'").stdout.strip()
    assert driver == "vfs", f"daemon.json not applied: storage driver {driver}"

    # the image, preloaded as on an air-gapped cluster
    assert a1.merged is not None
    (a1.merged / "root/busybox.tar").write_bytes(busybox_rootfs())
    a1.run(f"docker import /root/busybox.tar {IMAGE}")

    # 2. testinfra, the Docker engine's checks included
    out, figures["testinfra_passed"] = run_testinfra(hosts, [m1, a1])
    passed = [ln for ln in out.splitlines() if ln.startswith("PASSED tests/infra/test_docker")]
    assert len(passed) == 4, out[-3000:]

    # 3. a Marathon app in a Docker container on the agent's engine
    marathon = f"http://{m1.ip}:8080"
    app = {
        "id": "/web-docker",
        "cmd": "echo docker-$HOST > /tmp/index.html && exec httpd -f -p $PORT0 -h /tmp",
        "instances": 1,
        "cpus": 0.1,
        "mem": 48,
        "container": {"type": "DOCKER", "docker": {"image": IMAGE, "network": "HOST"}},
    }
    t = time.monotonic()
    r = httpx.post(f"{marathon}/v2/apps", json=app, timeout=10)
    assert r.status_code == 201, r.text

    def running() -> list[dict[str, Any]]:
        tasks = httpx.get(f"{marathon}/v2/apps/web-docker/tasks", timeout=5).json()["tasks"]
        return [t for t in tasks if t.get("state") == "TASK_RUNNING"]

    wait_for(lambda: len(running()) == 1, 120, "the docker app running")
    (task,) = running()

    def answer() -> str:
        try:
            return httpx.get(f"http://{task['host']}:{task['ports'][0]}/", timeout=3).text
        except httpx.HTTPError:
            return ""

    wait_for(lambda: answer().startswith("docker-"), 60, "the container answers")
    figures["app_running_and_answering_s"] = round(time.monotonic() - t, 1)
    assert task["host"] == a1.ip
    ids = a1.run("docker ps -q --no-trunc").stdout.split()
    assert len(ids) == 1, ids
    fmt = "{{.Config.Image}} {{.HostConfig.Memory}}"
    image, memory = a1.run(f"docker inspect --format '{fmt}' {ids[0]}").stdout.split()
    assert image == IMAGE
    assert int(memory) == 48 * 1024 * 1024
    # the engine's cgroup parent (daemon.json) holds the container, with the limit in the kernel
    limit = Path(f"/sys/fs/cgroup/memory{engine['cgroup-parent']}/{ids[0]}/memory.limit_in_bytes")
    assert int(limit.read_text()) == 48 * 1024 * 1024

    # 4. a changed docker_options restarts the engine, and only the engine
    engine_pid, agent_pid = main_pid(a1, "docker"), main_pid(a1, "dcos-agent")
    master_pid = main_pid(m1, "dcos-master")
    d.data = {"docker_enabled": True, "docker_options": {**engine, "log-level": "warn"}}
    figures["docker_options_change_deploy_s"], out = d.run()
    changed = changed_hosts(out)
    assert {h for h, n in changed.items() if n} <= {a1.ip, "a1"}, changed
    assert '"log-level": "warn"' in a1.run("cat /etc/docker/daemon.json").stdout
    assert main_pid(a1, "docker") != engine_pid
    assert main_pid(a1, "dcos-agent") == agent_pid
    assert main_pid(m1, "dcos-master") == master_pid
    # without live-restore the engine's restart ends the container: Marathon starts a new one
    wait_for(lambda: [t["id"] for t in running()] not in ([], [task["id"]]), 120, "relaunched")
    print(figures)
