"""The appliance base image (appliance/base_image.py) boots under QEMU and is what it should be.

Built once per recipe into the test cache (about 2 minutes cold), then booted through
tests/vm.py on a private TapBridge (pinned DHCP address, no default route, SSH straight to the
VM), leaving nothing behind: no QEMU, no dnsmasq, no links, no iptables rules, no overlay. The
other network, QEMU's user networking with `restrict=on`, boots this image in every run of the
image test (tests/integration/test_appliance_image.py: Packer's qemu builder).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from appliance.base_image import HOSTKEYS_UNIT, OWN_UNITS, ROOT_LABEL, ensure_base_image
from tests.testhosts import CACHE, ensure_ssh_key
from tests.vm import VM, TapBridge, process_alive

pytestmark = [
    pytest.mark.integration,
    pytest.mark.slow,
    pytest.mark.hosts,
    pytest.mark.timeout(900),
]

PREFIX = "dcvm"
SUBNET = "10.219.0"


@pytest.fixture(scope="module")
def ssh_key() -> Path:
    return ensure_ssh_key(CACHE)


@pytest.fixture(scope="module")
def base_image(ssh_key: Path) -> Path:
    return ensure_base_image(CACHE, authorized_key=ssh_key.with_suffix(".pub"))


def _facts(vm: VM) -> dict[str, str]:
    """Answers of a booted VM to a few questions, in one SSH round trip."""
    questions = {
        "root_source": "findmnt -n -o SOURCE /",
        "by_label": f"readlink -f /dev/disk/by-label/{ROOT_LABEL}",
        "fstab": "grep -v '^#' /etc/fstab",
        "machine_id": "cat /etc/machine-id",
        "host_keys": "ls /etc/ssh/ | grep '^ssh_host_.*_key$' | tr '\\n' ' '",
        "keygen": f"{{ systemctl show -p ConditionResult --value {HOSTKEYS_UNIT}; "
        f"systemctl show -p ExecMainStatus --value {HOSTKEYS_UNIT}; }} | tr '\\n' ' '",
        "hostname": "hostname",
        "root_password": "passwd -S root | cut -d' ' -f2",
        "sshd": "sshd -T | grep -E '^(permitrootlogin|passwordauthentication|usedns) '"
        " | sort | tr '\\n' ' '",
        "masked": "systemctl is-enabled apt-daily.timer systemd-timesyncd.service"
        " e2scrub_all.timer | tr '\\n' ' '",
        "apt": "cat /etc/apt/sources.list | tr '\\n' ' '",
        "routes": "ip route | tr '\\n' ';'",
        "addresses": "ip -4 -o addr show scope global | awk '{print $2, $4}' | tr '\\n' ' '",
    }
    script = "; ".join(f'echo "{k}=$({cmd})"' for k, cmd in questions.items())
    out = vm.ssh(script, timeout=60).stdout
    facts = dict(line.split("=", 1) for line in out.splitlines() if "=" in line)
    return {k: v.strip() for k, v in facts.items()}


def _system_state(vm: VM) -> str:
    """`running` or `degraded` (asserted); prints the failed units and checks that none of
    them is one the recipe sets up."""
    state = vm.ssh("systemctl is-system-running --wait", check=False, timeout=240).stdout.strip()
    failed = vm.ssh("systemctl --failed --no-legend --plain", check=False).stdout
    if state != "running":
        print(f"system state {state}; failed units:\n{failed}")
    assert state in ("running", "degraded"), f"{state}\n{vm.console()[-3000:]}"
    units = {line.split()[0] for line in failed.splitlines() if line.strip()}
    assert not units & set(OWN_UNITS), failed
    return state


def test_boots_on_private_bridge(base_image: Path, ssh_key: Path, tmp_path: Path) -> None:
    with TapBridge(tmp_path / "net", prefix=PREFIX, subnet=SUBNET) as net:
        dnsmasq = net.dnsmasq_pid
        assert dnsmasq is not None
        with VM(base_image, tmp_path / "vm", ssh_key=ssh_key, net=net) as vm:
            assert vm.ip == f"{SUBNET}.10"
            vm.wait_ssh(240)
            print(f"\nprivate bridge: boot to ssh {vm.timings['boot_to_ssh_s']:.1f} s")
            _system_state(vm)
            facts = _facts(vm)
            print(facts)
            assert facts["root_source"] == facts["by_label"] == "/dev/vda1"
            assert facts["fstab"].split()[:3] == [f"LABEL={ROOT_LABEL}", "/", "ext4"]
            assert len(facts["machine_id"]) == 32, facts["machine_id"]
            keys = set(facts["host_keys"].split())
            assert keys == {"ssh_host_ed25519_key", "ssh_host_ecdsa_key"}
            assert facts["keygen"].split() == ["yes", "0"]  # ran at this (first) boot, succeeded
            assert facts["hostname"] == "dcos-core"
            assert facts["root_password"] == "L"
            assert facts["sshd"].split() == [
                "passwordauthentication", "no", "permitrootlogin", "without-password",
                "usedns", "no",
            ]  # fmt: skip
            assert facts["masked"].split() == ["masked"] * 3
            assert "deb http://deb.debian.org/debian bookworm main" in facts["apt"]
            assert facts["addresses"].split()[1] == f"{vm.ip}/24"
            assert "default" not in facts["routes"]
            assert vm.port_on_bridge is not None
            assert vm.port_on_bridge.mac in net.leasefile.read_text()
            # the ssh_config, as `ssh -F` and testinfra's --ssh-config use it
            p = subprocess.run(["ssh", "-F", str(vm.ssh_config), "vm", "hostname"],
                               capture_output=True, text=True, timeout=30)  # fmt: skip
            assert p.stdout.strip() == "dcos-core", p.stderr
            pid, tap, overlay = vm.pid, vm.port_on_bridge.tap, vm.overlay
            assert pid is not None and overlay.is_file()
        print(f"private bridge: stop {vm.timings['stop_s']:.1f} s")
        assert not process_alive(pid)
        assert not overlay.exists()
        assert not Path(f"/sys/class/net/{tap}").exists()  # the VM's tap is gone
    assert not process_alive(dnsmasq)
    assert TapBridge.leftovers(PREFIX) == []
