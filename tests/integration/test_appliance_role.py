"""The appliance role and the first boot on a real systemd host (systemd-nspawn, fast).

The full image (Packer, QEMU, a config drive) is tests/integration/test_appliance_image.py; this
test runs the same two programs on a test host in a few seconds each:

1. `pyinfra -y inventories/image.py deploy.py` (what Packer runs) makes the host an unbooted
   appliance: the testinfra image checks pass and nothing runs;
2. `dcos-firstboot` with no settings fails, and says what is missing on its console output and in
   the journal;
3. written settings (`/etc/dcos-core/appliance.toml`, role master) and a re-run: the master,
   Marathon and Chronos run, configured by the deploy's templates, and the testinfra checks of a
   deployed master pass;
4. a second host, settings with role agent and the first host as master: it registers.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cluster import wait_for
from tests.integration.deploykit import active_agents, frameworks, pyinfra_deploy, run_testinfra
from tests.testhosts import TestHost, TestHosts

pytestmark = [
    pytest.mark.integration,
    pytest.mark.slow,
    pytest.mark.hosts,
    pytest.mark.timeout(900),
]


@pytest.fixture
def hosts(tmp_path: Path) -> Iterator[TestHosts]:
    th = TestHosts(tmp_path / "hosts", prefix="dcap", subnet="10.220.0")
    try:
        yield th
    finally:
        th.stop()


def bake(hosts: TestHosts, host: TestHost, roles: str) -> float:
    """Run the image build's deploy against `host`; its duration."""
    env = {
        "DCOS_IMAGE_HOST": host.ip,
        "DCOS_IMAGE_SSH_KEY_FILE": str(hosts.ssh_key),
        "DCOS_IMAGE_ROLES": roles,
    }
    return pyinfra_deploy(env, inventory="inventories/image.py", timeout=600)[0]


def firstboot(host: TestHost) -> subprocess.CompletedProcess[str]:
    return host.run("systemctl restart dcos-firstboot", check=False, timeout=120)


def test_bake_then_first_boot_as_master_and_agent(hosts: TestHosts) -> None:
    figures: dict[str, float] = {}
    m1, a1 = hosts.boot(["m1", "a1"])
    figures["bake_s"] = bake(hosts, m1, "master,agent,public_agent")
    assert m1.run("cat /etc/dcos-core/roles").stdout == "image\n"
    _, passed = run_testinfra(hosts, [m1])
    assert passed >= 10
    assert m1.run("systemctl is-active dcos-master", check=False).stdout.strip() == "inactive"

    # no settings anywhere: the unit fails and says so
    assert firstboot(m1).returncode != 0
    log = m1.run("journalctl -u dcos-firstboot --no-pager -o cat").stdout
    assert "cannot configure this host" in log and "no boot settings found" in log, log
    assert "systemctl restart dcos-firstboot" in log

    # settings written: a re-run makes it a master
    m1.run("printf 'role = \"master\"\\n' > /etc/dcos-core/appliance.toml")
    t = time.monotonic()
    p = firstboot(m1)
    assert p.returncode == 0, m1.run("journalctl -u dcos-firstboot --no-pager -o cat").stdout
    wait_for(lambda: {"marathon", "chronos"} <= frameworks(m1.ip), 120, "frameworks registered")
    figures["firstboot_to_frameworks_s"] = round(time.monotonic() - t, 1)
    status = json.loads(m1.run("cat /etc/dcos-core/firstboot.json").stdout)
    assert status["role"] == "master" and status["address"] == m1.ip
    assert m1.run("cat /etc/dcos-core/roles").stdout == "master\n"
    assert m1.run("systemctl is-enabled dcos-agent", check=False).stdout.strip() == "disabled"
    _, figures["testinfra_master_passed"] = run_testinfra(hosts, [m1])

    # an agent image (agent role only) joins that master
    figures["bake_agent_s"] = bake(hosts, a1, "agent")
    a1.run(
        'printf \'role = "agent"\\nmaster = "%s:5050"\\nattributes = {rack = "r9"}\\n\''
        f" {m1.ip} > /etc/dcos-core/appliance.toml"
    )
    assert firstboot(a1).returncode == 0
    wait_for(lambda: len(active_agents(m1.ip)) == 1, 60, "the agent registered")
    (agent,) = active_agents(m1.ip)
    assert agent["attributes"].get("rack") == "r9"
    assert agent["hostname"] == a1.ip
    print(figures)
