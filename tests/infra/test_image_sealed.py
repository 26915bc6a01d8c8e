"""A built appliance image (after `appliance/seal.sh`): nothing of the build machine is left.

`seal.sh` adds the role `sealed` to `/etc/dcos-core/roles`, which selects these checks: they run
against the image's root filesystem (`--connection=chroot --hosts=ROOTFS`), not against the build
VM, which uses its SSH key and host keys until the very end.
"""

from __future__ import annotations

from tests.infra import helpers as h

ROLE = "sealed"


def test_no_ssh_host_keys(host):
    keys = host.run("ls /etc/ssh/ | grep '^ssh_host_' || true").stdout.split()
    assert not keys, f"host keys baked into the image (every VM would share them): {keys}"


def test_no_build_keys(host):
    for path in ("/root/.ssh/authorized_keys",):
        assert not host.file(path).exists, f"{path}: the build key is still authorised"
    res = host.run("ls /home/*/.ssh/authorized_keys 2>/dev/null || true")
    assert not res.stdout.strip(), f"build user keys left: {res.stdout.strip()}"


def test_empty_machine_id(host):
    """Each VM gets its own machine-id at first boot (systemd fills an empty file)."""
    f = host.file("/etc/machine-id")
    assert f.exists and f.content_string.strip() == ""


def test_no_boot_settings_or_state(host):
    for path in (f"{h.CONF_DIR}/appliance.toml", f"{h.CONF_DIR}/firstboot.json"):
        assert not host.file(path).exists, f"{path} is part of the image"
    cloud = host.file("/var/lib/cloud/instance")
    assert not cloud.exists, "cloud-init state left (cloud-init clean)"
