"""Appliance images before their first boot (`/etc/dcos-core/roles` says `image`).

Run by the image build against the build VM (packer/: a `shell-local` step) and by the image test
against the built image's root filesystem (`--connection=chroot`): every role of the image is
installed with its unit, nothing is enabled or configured yet, and the first boot is ready to run.
"""

from __future__ import annotations

import json
import shlex

import pytest

from tests.infra import helpers as h

ROLE = "image"
APPLIANCE = "/opt/dcos-core/appliance"
IMAGE_JSON = f"{h.CONF_DIR}/image.json"
UNITS = {
    "master": ("dcos-master", "dcos-marathon", "dcos-chronos"),
    "agent": ("dcos-agent",),
    "public_agent": ("dcos-lb",),
}


@pytest.fixture(scope="module")
def image(host):
    return json.loads(host.file(IMAGE_JSON).content_string)


@pytest.fixture(scope="module")
def held(image):
    return [r.strip() for r in image["image_roles"].split(",") if r.strip()]


def test_image_settings(host, image):
    f = host.file(IMAGE_JSON)
    assert f.user == "root" and f.mode == 0o644
    version = host.file(h.VERSION_FILE).content_string.strip()
    assert image["dcos_version"] == version, "image.json and /etc/dcos-core/version disagree"


def test_every_role_installed_nothing_enabled(host, held):
    units = [u for role in held for u in UNITS[role]]
    assert units, "the image holds no role"
    for unit in units:
        assert host.file(f"{h.UNIT_DIR}/{unit}.service").is_file, f"{unit}.service missing"
        assert not host.service(unit).is_enabled, f"{unit} is enabled before the first boot"


def test_not_configured_yet(host):
    tomls = [n for n in host.file(h.CONF_DIR).listdir() if n.removesuffix(".toml") in h.SERVICES]
    assert not tomls, f"configuration in an unbooted image: {tomls}"
    assert not host.file(f"{h.CONF_DIR}/firstboot.json").exists


def test_public_agent_needs(host, held):
    if "public_agent" in held:
        assert host.package("haproxy").is_installed
        assert not host.service("haproxy").is_enabled


def test_firstboot_unit_enabled(host):
    assert host.file(f"{h.UNIT_DIR}/dcos-firstboot.service").is_file
    assert host.service("dcos-firstboot").is_enabled, "dcos-firstboot is not enabled"


def test_firstboot_plans_each_role(host, held):
    """The image's own venv runs firstboot.py: it renders each role's configuration (--check)."""
    for role in held:
        settings = f'role = "{role}"\nip = "10.9.9.9"\n'
        if role != "master":
            settings += 'master = "10.9.9.1:5050"\n'
        script = (
            "set -e; t=$(mktemp -d); mkdir -p $t/etc/dcos-core;"
            f" cp {IMAGE_JSON} $t/etc/dcos-core/;"
            f" printf %s {shlex.quote(settings)} > $t/etc/dcos-core/appliance.toml;"
            f" {h.VENV_PYTHON} {APPLIANCE}/firstboot.py --root $t --check; rc=$?; rm -rf $t;"
            " exit $rc"
        )
        res = host.run("sh -c %s", script)
        assert res.rc == 0, f"firstboot --check as {role}: {res.stderr or res.stdout}"
        assert f"role {role}, address 10.9.9.9" in res.stdout
        for unit in UNITS[role]:
            assert f"--- /etc/dcos-core/{unit.removeprefix('dcos-')}.toml" in res.stdout
