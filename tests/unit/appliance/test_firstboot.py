"""The appliance's first boot (`appliance/firstboot.py`) against a root filesystem in a directory.

The settings sources, the checks and their messages, the files written (rendered from the deploy's
own templates) and the systemctl calls, with a recorded `systemctl` standing in for systemd. The
real thing runs in a booted image in tests/integration/test_appliance_image.py.
"""

from __future__ import annotations

import json
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import pytest

from appliance import firstboot
from roles import settings

MASTER = "10.0.0.5:5050"


class FakeSystemd:
    """Records systemctl/mount calls; units are enabled/active as the calls leave them."""

    def __init__(self) -> None:
        self.calls: list[list[str]] = []
        self.enabled: set[str] = set()
        self.active: set[str] = set()

    def __call__(self, cmd: list[str]) -> subprocess.CompletedProcess[str]:
        self.calls.append(cmd)
        out, rc = "", 0
        if cmd[0] == "systemctl":
            verb, unit = cmd[1], cmd[-1]
            if verb == "is-enabled":
                out = "enabled" if unit in self.enabled else "disabled"
            elif verb == "is-active":
                out = "active" if unit in self.active else "inactive"
            elif verb == "enable":
                self.enabled.add(unit)
            elif verb == "disable":
                self.enabled.discard(unit)
                self.active.discard(unit)
            elif verb in ("start", "restart"):
                self.active.add(unit)
        elif cmd[0] == "ip":
            out = "2: eth0    inet 10.0.1.7/24 brd 10.0.1.255 scope global eth0\n"
        return subprocess.CompletedProcess(cmd, rc, out, "")

    def changes(self) -> list[str]:
        return [
            " ".join(c[1:])
            for c in self.calls
            if c[0] == "systemctl" and not c[1].startswith("is-")
        ]


class FakeSystem(firstboot.System):
    def hostname(self) -> str:
        return "vm1"

    def route_source(self, host: str, port: int) -> str | None:
        return "10.0.1.7"


@pytest.fixture
def systemd() -> FakeSystemd:
    return FakeSystemd()


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """An appliance's root: image.json as the image build writes it."""
    s = settings.derive(
        "127.0.0.1",
        lambda k, d=None: d,
        [settings.IMAGES],
        [],
        lambda: "1.2.3",
        resolver=lambda h: h,
    )
    image = {key: s[key] for key in settings.NAMES}
    image.update(dcos_version="1.2.3", image_roles=",".join(s["install_roles"]))
    (tmp_path / "etc/dcos-core").mkdir(parents=True)
    (tmp_path / "etc/dcos-core/image.json").write_text(json.dumps(image))
    return tmp_path


def run(root: Path, systemd: FakeSystemd, *args: str) -> int:
    return firstboot.main(["--root", str(root), *args], FakeSystem(root=root, run=systemd))


def user_data(body: str) -> str:
    return "#cloud-config\n" + body


def toml(root: Path, svc: str) -> dict[str, Any]:
    return tomllib.loads((root / f"etc/dcos-core/{svc}.toml").read_text())[svc]


def test_agent_from_a_config_drive(root: Path, systemd: FakeSystemd, capsys) -> None:
    drive = root / "dev/disk/by-label/CIDATA"  # a directory stands for the mounted drive
    drive.mkdir(parents=True)
    (drive / "user-data").write_text(
        user_data(
            f"dcos_core:\n  role: agent\n  master: {MASTER}\n  attributes: {{rack: r1}}\n"
            "ssh_authorized_keys: [ssh-ed25519 AAAAkey test]\n"
        )
    )
    assert run(root, systemd) == 0
    agent = toml(root, "agent")
    assert agent["master"] == MASTER
    assert agent["ip"] == agent["hostname"] == "10.0.1.7"  # the address routing to the master
    assert agent["attributes"] == "rack:r1"
    assert agent["recover"] == "reconnect"
    assert (root / "etc/dcos-core/roles").read_text() == "agent\n"
    assert not (root / "etc/dcos-core/master.toml").exists()
    assert systemd.changes() == ["enable dcos-agent.service", "start --no-block dcos-agent.service"]
    keys = (root / "root/.ssh/authorized_keys").read_text()
    assert keys == "ssh-ed25519 AAAAkey test\n"  # no cloud-init here: first boot applies them
    status = json.loads((root / "etc/dcos-core/firstboot.json").read_text())
    assert status["role"] == "agent" and status["source"].startswith("config drive CIDATA")
    assert "role agent, address 10.0.1.7, master 10.0.0.5:5050" in capsys.readouterr().out


def test_the_same_config_as_a_deploy_writes(root: Path, systemd: FakeSystemd) -> None:
    """First boot renders the deploy's templates from the deploy's settings code."""
    (root / "etc/dcos-core/appliance.toml").write_text(
        'role = "public_agent"\nmaster = "10.0.0.5:5050"\nip = "10.0.2.9"\n'
    )
    assert run(root, systemd) == 0
    s = settings.derive(
        "vm1",
        {"master_address": MASTER, "ip": "10.0.2.9"}.get,
        [settings.PUBLIC_AGENTS],
        [],
        lambda: "1.2.3",
        resolver=lambda h: h,
    )
    from roles.templating import render

    roles = Path(settings.__file__).parent
    for svc, tpl in (
        ("agent", "agent/templates/agent.toml.j2"),
        ("lb", "agent/templates/lb.toml.j2"),
    ):
        assert (root / f"etc/dcos-core/{svc}.toml").read_text() == render(roles / tpl, s=s)
    assert toml(root, "agent")["attributes"] == "public_ip:true"
    assert (root / "etc/dcos-core/roles").read_text() == "agent\npublic_agent\n"
    assert "start --no-block dcos-lb.service" in systemd.changes()


def test_a_master_advertises_its_own_address(root: Path, systemd: FakeSystemd) -> None:
    ud = root / firstboot.USER_DATA
    ud.parent.mkdir(parents=True)
    ud.write_text(user_data("dcos_core:\n  role: master\n  chronos_options: {prelaunch: 30}\n"))
    assert run(root, systemd) == 0
    assert toml(root, "master")["ip"] == "10.0.1.7"  # first global address (`ip addr`)
    assert toml(root, "marathon")["master"] == "10.0.1.7:5050"
    assert toml(root, "chronos")["prelaunch"] == 30
    assert [c for c in systemd.changes() if c.startswith("start")] == [
        "start --no-block dcos-master.service",
        "start --no-block dcos-marathon.service",
        "start --no-block dcos-chronos.service",
    ]


def test_the_file_wins_over_user_data(root: Path, systemd: FakeSystemd) -> None:
    ud = root / firstboot.USER_DATA
    ud.parent.mkdir(parents=True)
    ud.write_text(user_data("dcos_core:\n  role: master\n"))
    (root / "etc/dcos-core/appliance.toml").write_text(f'role = "agent"\nmaster = "{MASTER}"\n')
    assert run(root, systemd) == 0
    assert (root / "etc/dcos-core/roles").read_text() == "agent\n"


def test_user_data_without_dcos_core_falls_through(root: Path, systemd: FakeSystemd) -> None:
    ud = root / firstboot.USER_DATA
    ud.parent.mkdir(parents=True)
    ud.write_text("#!/bin/sh\necho hello\n")  # a user-data script: not ours
    drive = root / "dev/disk/by-label/config-2/openstack/latest"
    drive.mkdir(parents=True)
    (drive / "user_data").write_text(user_data(f"dcos_core: {{role: agent, master: '{MASTER}'}}\n"))
    assert run(root, systemd) == 0
    status = json.loads((root / "etc/dcos-core/firstboot.json").read_text())
    assert status["source"] == "config drive config-2 openstack/latest/user_data"


@pytest.mark.parametrize(
    ("settings_toml", "key", "reason"),
    [
        ("", "role", "no boot settings found"),  # (no file: nothing anywhere)
        ('role = "worker"', "role", "'worker' is not one of master, agent, public_agent"),
        ('role = "agent"', "master", "missing: an agent needs the master's host:port"),
        ('role = "agent"\nmaster = "10.0.0.5"', "master", "is not host:port"),
        (f'role = "agent"\nmaster = "{MASTER}"\nmaster_prot = 1', "master_prot", "unknown setting"),
        (f'role = "agent"\nmaster = "{MASTER}"\ndata_dir = "/x"', "data_dir", "fixed when the"),
        (f'role = "agent"\nmaster = "{MASTER}"\nagent_port = 0', "agent_port", "port number"),
        ('role = "agent"\nmaster = [', "", "not valid TOML"),
    ],
)
def test_bad_settings_are_reported_and_nothing_starts(
    root: Path, systemd: FakeSystemd, capsys, settings_toml: str, key: str, reason: str
) -> None:
    if settings_toml:
        (root / "etc/dcos-core/appliance.toml").write_text(settings_toml + "\n")
    assert run(root, systemd) == 1
    err = capsys.readouterr().err
    assert err.startswith("dcos-firstboot: cannot configure this host")
    assert (f"`{key}`: " if key else "  - ") in err and reason in err, err
    assert "systemctl restart dcos-firstboot" in err
    assert systemd.changes() == []
    assert not (root / "etc/dcos-core/agent.toml").exists()


def test_rerun_after_a_fix_and_nothing_changes_the_second_time(
    root: Path, systemd: FakeSystemd
) -> None:
    f = root / "etc/dcos-core/appliance.toml"
    f.write_text('role = "agent"\n')
    assert run(root, systemd) == 1
    f.write_text(f'role = "agent"\nmaster = "{MASTER}"\n')
    assert run(root, systemd) == 0
    assert "dcos-agent.service" in systemd.active
    n = len(systemd.changes())
    assert run(root, systemd) == 0
    assert systemd.changes()[n:] == []  # same settings: nothing written, nothing restarted
    f.write_text('role = "agent"\nmaster = "10.0.0.6:5050"\n')
    assert run(root, systemd) == 0
    assert systemd.changes()[n:] == ["restart --no-block dcos-agent.service"]


def test_a_new_role_stops_the_old_one(root: Path, systemd: FakeSystemd) -> None:
    f = root / "etc/dcos-core/appliance.toml"
    f.write_text('role = "master"\n')
    assert run(root, systemd) == 0
    f.write_text(f'role = "agent"\nmaster = "{MASTER}"\n')
    assert run(root, systemd) == 0
    assert systemd.active == {"dcos-agent.service"}
    assert systemd.enabled == {"dcos-agent.service"}
    assert "disable --now dcos-master.service" in systemd.changes()


def test_check_prints_the_plan_and_changes_nothing(
    root: Path, systemd: FakeSystemd, capsys
) -> None:
    (root / "etc/dcos-core/appliance.toml").write_text(f'role = "agent"\nmaster = "{MASTER}"\n')
    assert run(root, systemd, "--check") == 0
    out = capsys.readouterr().out
    assert "--- /etc/dcos-core/agent.toml" in out and "would start dcos-agent.service" in out
    assert not (root / "etc/dcos-core/agent.toml").exists() and systemd.changes() == []


def test_not_an_appliance(tmp_path: Path, systemd: FakeSystemd, capsys) -> None:
    assert run(tmp_path, systemd) == 1
    assert "/etc/dcos-core/image.json is unreadable" in capsys.readouterr().err
