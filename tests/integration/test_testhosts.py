"""The real-host harness (tests/testhosts.py): systemd-nspawn guests on a private bridge.

Boots two Debian 12 guests with systemd as PID 1, checks SSH, the network between them (and that
there is no way out), apt from the flat repo, systemd units, cgroups through /run/hostcg, adding a
host, and that stop() leaves nothing behind. Needs root, systemd-nspawn and mmdebstrap; the first
run builds the cached root filesystem (about 45 s), later runs take a few seconds.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.testhosts import TestHosts, ensure_apt_repo, ensure_rootfs

PREFIX = "dctt"
SUBNET = "10.213.7"
BRIDGE = f"{PREFIX}br0"

pytestmark = [
    pytest.mark.integration,
    pytest.mark.slow,
    pytest.mark.hosts,
]


def leftovers(prefix: str = PREFIX) -> list[str]:
    """Everything on the machine still named after the prefix."""
    found = []
    netns = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    found += [f"netns {n}" for n in netns.split() if n.startswith(f"{prefix}-")]
    links = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True).stdout
    found += [f"link {ln.split(':')[1].strip()}" for ln in links.splitlines() if f" {prefix}" in ln]
    rules = subprocess.run(["iptables", "-w", "-S", "FORWARD"], capture_output=True, text=True)
    found += [f"iptables {r}" for r in rules.stdout.splitlines() if f"{prefix}br0" in r]
    for line in Path("/proc/mounts").read_text().splitlines():
        src, target = line.split()[:2]
        if src.startswith(f"{prefix}-") or f"/netns/{prefix}-" in target:
            found.append(f"mount {src} {target}")
    found += [f"cgroup {p}" for p in Path("/sys/fs/cgroup").glob(f"*/{prefix}")]
    return found


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestHosts]:
    t = time.monotonic()
    ensure_rootfs()
    ensure_apt_repo(["haproxy"])
    print(f"\n[testhosts] cache ready in {time.monotonic() - t:.1f} s")
    with TestHosts(tmp_path_factory.mktemp("testhosts"), prefix=PREFIX, subnet=SUBNET) as th:
        t = time.monotonic()
        th.boot(["h1", "h2"])
        print(f"[testhosts] 2 hosts booted (ssh + systemd running) in {time.monotonic() - t:.1f} s")
        yield th
        t = time.monotonic()
    print(f"[testhosts] stopped in {time.monotonic() - t:.1f} s")


def test_each_host_answers_ssh_with_its_hostname(cluster: TestHosts) -> None:
    for name in ("h1", "h2"):
        out = subprocess.run(
            ["ssh", "-F", str(cluster.ssh_config), name, "hostname; systemctl is-system-running"],
            capture_output=True, text=True, timeout=30, check=True,
        ).stdout.split()  # fmt: skip
        assert out[0] == name
        assert out[1] in ("running", "degraded")
    ip = cluster.hosts["h2"].ip
    by_ip = subprocess.run(
        ["ssh", "-F", str(cluster.ssh_config), ip, "hostname"],
        capture_output=True, text=True, timeout=30, check=True,
    )  # fmt: skip
    assert by_ip.stdout.strip() == "h2"
    assert cluster.hosts["h1"].run("hostname").stdout.strip() == "h1"


def test_hosts_reach_each_other_and_nothing_else(cluster: TestHosts) -> None:
    h1, h2 = cluster.hosts["h1"], cluster.hosts["h2"]
    assert h1.run(f"ping -c1 -W2 {h2.ip}").returncode == 0
    assert h2.run("ping -c1 -W2 h1").returncode == 0  # /etc/hosts knows every test host
    probe = "import socket; socket.create_connection(('h2', 22), timeout=2).close()"
    h1.run(f'python3 -c "{probe}"')
    routes = h1.run("ip route").stdout
    assert "default" not in routes
    assert routes.strip().startswith(f"{SUBNET}.0/24 dev eth0")
    # No route out: connecting to an outside address fails at once.
    out = h1.run("ping -c1 -W1 192.0.2.1", check=False)
    assert out.returncode != 0
    assert "unreachable" in (out.stdout + out.stderr).lower()


def test_apt_installs_from_the_flat_repo_and_services_start(cluster: TestHosts) -> None:
    h2 = cluster.hosts["h2"]
    assert h2.run("cat /etc/apt/sources.list").stdout.strip() == (
        "deb [trusted=yes] file:/srv/repo ./"
    )
    t = time.monotonic()
    h2.run("apt-get update -qq && apt-get install -y -qq haproxy >/dev/null", timeout=180)
    print(f"\n[testhosts] apt-get install haproxy in a guest: {time.monotonic() - t:.1f} s")
    assert h2.run("systemctl is-active haproxy").stdout.strip() == "active"


def test_a_systemd_unit_runs(cluster: TestHosts) -> None:
    h1 = cluster.hosts["h1"]
    unit = (
        "[Unit]\nDescription=test\n[Service]\n"
        "ExecStart=/usr/bin/python3 -m http.server 8080 --bind 0.0.0.0\n"
        "[Install]\nWantedBy=multi-user.target\n"
    )
    h1.run(f"cat > /etc/systemd/system/testhttp.service <<'EOF'\n{unit}EOF")
    cmd = "systemctl daemon-reload && systemctl enable --now testhttp"
    cluster.ssh("h1", cmd, timeout=60)
    assert cluster.ssh("h1", "systemctl is-active testhttp").stdout.strip() == "active"
    probe = (
        "import time, urllib.request\n"
        "for _ in range(50):\n"
        "    try:\n"
        "        print(urllib.request.urlopen('http://h1:8080/', timeout=2).status); break\n"
        "    except OSError: time.sleep(0.1)\n"
    )
    assert cluster.hosts["h2"].run(f"python3 - <<'EOF'\n{probe}EOF").stdout.strip() == "200"


def test_task_cgroups_under_hostcg(cluster: TestHosts) -> None:
    """What an agent needs for cgroup isolation inside a guest: a writable v1 hierarchy."""
    if not Path("/sys/fs/cgroup/memory/cgroup.procs").is_file():
        pytest.skip("no cgroup v1 memory controller on this machine")
    h1 = cluster.hosts["h1"]
    script = """
        set -e
        m=/run/hostcg/memory/t1
        mkdir $m
        echo 67108864 > $m/memory.limit_in_bytes
        set +e
        echo 'b = b"x" * (200 << 20)' > /tmp/hog.py
        sh -c 'echo $$ > "$1/cgroup.procs"; exec python3 /tmp/hog.py' sh $m
        echo rc=$?
        grep oom_kill $m/memory.oom_control
        rmdir $m
    """
    out = h1.run(script).stdout
    assert "rc=137" in out
    assert "oom_kill 1" in out


def test_add_a_third_host(cluster: TestHosts, tmp_path: Path) -> None:
    t = time.monotonic()
    h3 = cluster.add("h3")
    print(f"\n[testhosts] add() of a third host: {time.monotonic() - t:.1f} s")
    assert h3.ip == f"{SUBNET}.12"
    assert cluster.ssh("h3", "hostname").stdout.strip() == "h3"
    assert h3.run("ping -c1 -W2 h1").returncode == 0
    assert cluster.hosts["h1"].run("ping -c1 -W2 h3").returncode == 0
    path = tmp_path / "hosts.json"
    cluster.write_hosts_json(path, {"masters": ["h1"], "agents": ["h2", "h3"]}, {"x": 1})
    doc = json.loads(path.read_text())
    assert doc["ssh_key"] == str(cluster.ssh_key.resolve())
    assert doc["ssh_config"] == str(cluster.ssh_config.resolve())
    assert doc["data"] == {"x": 1}
    assert doc["hosts"] == [
        {"name": "h1", "ip": f"{SUBNET}.10", "groups": ["masters"]},
        {"name": "h2", "ip": f"{SUBNET}.11", "groups": ["agents"]},
        {"name": "h3", "ip": f"{SUBNET}.12", "groups": ["agents"]},
    ]


def test_a_second_run_with_the_same_prefix_is_refused(cluster: TestHosts, tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="held by pid"):
        TestHosts(tmp_path, prefix=PREFIX, subnet="10.213.8")


def test_stop_leaves_nothing_behind(cluster: TestHosts) -> None:
    assert leftovers()
    t = time.monotonic()
    cluster.stop()
    print(f"\n[testhosts] stop() of 3 hosts: {time.monotonic() - t:.1f} s")
    assert leftovers() == []
    cluster.stop()  # idempotent


def test_a_crashed_run_is_cleaned_up_by_the_next(tmp_path: Path) -> None:
    crashed = TestHosts(tmp_path / "a", prefix=PREFIX, subnet=SUBNET)
    crashed.boot(["c1"])
    crashed._release()  # as if the process had died: its locks go, everything else stays
    assert leftovers()
    with TestHosts(tmp_path / "b", prefix=PREFIX, subnet=SUBNET):
        assert leftovers() == []
    crashed_nspawn = crashed.hosts["c1"].nspawn
    assert crashed_nspawn is not None
    assert crashed_nspawn.wait(timeout=10) != 0  # killed through the prefix' cgroup
