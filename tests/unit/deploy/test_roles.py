"""The pure parts of the pyinfra deploy (roles/): settings, templates, wheelhouse, dcos-wait.

Real hosts are deployed by the real-host tests; here everything runs on this machine without
touching its system: templates are rendered with jinja2 as `files.template` renders them, and
the rendered configuration is validated with dcos-core's own settings classes.
"""

from __future__ import annotations

import http.server
import json
import os
import subprocess
import sys
import tarfile
import threading
import time
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[3]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from dcos_core.agent.probe import parse_attributes  # noqa: E402
from dcos_core.config import AgentSettings, MasterSettings  # noqa: E402
from dcos_core.frameworks.chronos.settings import ChronosSettings  # noqa: E402
from dcos_core.frameworks.lb.settings import LbSettings  # noqa: E402
from dcos_core.frameworks.marathon.settings import MarathonSettings  # noqa: E402
from roles import settings, wheelhouse  # noqa: E402
from roles.templating import render  # noqa: E402

ROLES = ROOT / "roles"
WAIT = ROLES / "common" / "files" / "dcos-wait"


def getter(data: dict[str, Any]) -> Any:
    return lambda key, default=None: data.get(key, default)


def no_dns(name: str) -> str:
    raise OSError(f"no DNS in unit tests ({name})")


def host_settings(
    name: str = "10.0.0.11",
    groups: tuple[str, ...] = ("agents",),
    data: dict[str, Any] | None = None,
    masters: list[tuple[str, dict[str, Any]]] | None = None,
) -> dict[str, Any]:
    masters = masters if masters is not None else [("10.0.0.10", {})]
    return settings.derive(
        name,
        getter(data or {}),
        groups,
        [(n, getter(d)) for n, d in masters],
        lambda: "9.9.9",
        resolver=no_dns,
    )


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """DCOS_* variables would leak into the settings classes used to validate configs."""
    for k in list(os.environ):
        if k.startswith("DCOS_"):
            monkeypatch.delenv(k)


# ---------------------------------------------------------------------------------------------
# settings


def test_every_setting_has_a_default_a_description_and_what_it_accepts() -> None:
    """The model declares each setting once; its defaults satisfy its own constraints."""
    assert tuple(settings.DEFAULTS) == settings.NAMES
    for key, field in settings.DeploySettings.model_fields.items():
        assert field.description, key
        assert any(isinstance(m, settings.Accepts) for m in field.metadata), key
    assert settings.DEFAULTS["master_port"] == 5050
    assert settings.DEFAULTS["agent_upgrade_batch"] == 1
    assert settings.DEFAULTS["public_agent_attributes"] == {"public_ip": "true"}
    assert settings.validated("h", settings.DEFAULTS) == settings.DEFAULTS


def test_docs_table_is_generated_from_the_model() -> None:
    """docs/deploy.md holds exactly the generated table (else: --write-docs)."""
    docs = (ROOT / "docs" / "deploy.md").read_text()
    assert settings.with_table(docs) == docs, (
        "docs/deploy.md differs from the settings model: run python -m roles.settings --write-docs"
    )
    assert settings.markdown_table() in docs


def test_docs_generator_rewrites_only_between_the_markers() -> None:
    stale = f"intro\n{settings.TABLE_BEGIN}\n| old | table |\n{settings.TABLE_END}\noutro\n"
    fresh = settings.with_table(stale)
    assert fresh == (
        f"intro\n{settings.TABLE_BEGIN}\n{settings.markdown_table()}\n{settings.TABLE_END}\noutro\n"
    )
    assert settings.with_table(fresh) == fresh
    with pytest.raises(ValueError, match="markers"):
        settings.with_table("no table here\n")


def test_settings_cli_prints_and_checks_the_table(tmp_path: Path) -> None:
    run = [sys.executable, "-m", "roles.settings"]
    printed = subprocess.run(
        [*run, "--markdown"], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert printed.stdout == settings.markdown_table() + "\n"
    checked = subprocess.run([*run, "--check-docs"], cwd=ROOT, capture_output=True, text=True)
    assert checked.returncode == 0, checked.stdout


def test_defaults_are_copies() -> None:
    d = settings.defaults()
    d["agent_attributes"]["x"] = "y"
    assert settings.DEFAULTS["agent_attributes"] == {}


def test_bare_inventory_needs_no_settings() -> None:
    """A host given only by its IP: it listens on that IP, the agent talks to the first master."""
    s = host_settings()
    assert s["address"] == s["bind"] == s["local"] == "10.0.0.11"
    assert s["master"] == "10.0.0.10:5050"
    assert s["marathon_url"] == "http://10.0.0.10:8080"
    assert s["version"] == "9.9.9"
    assert s["venv"] == "/opt/dcos-core/venv"
    assert s["dcos_core"] == "/opt/dcos-core/venv/bin/dcos-core"
    assert s["roles"] == ["agent"]
    assert s["attributes"] is None and s["resources"] is None
    assert s["agent_containerizers"] == "mesos"


def test_host_data_overrides_and_derived_values() -> None:
    s = host_settings(
        name="a1.example.com",
        data={
            "ip": "10.1.0.5",
            "bind_address": "0.0.0.0",
            "agent_port": 5999,
            "agent_attributes": {"rack": "r1", "weight": 2.0},
            "agent_resources": {"cpus": 4, "mem": 8192, "ports": "[31000-31999]"},
            "docker_enabled": True,
            "dcos_version": "1.2.3",
        },
    )
    assert s["address"] == "10.1.0.5" and s["bind"] == "0.0.0.0"
    assert s["local"] == "10.1.0.5"  # checks on the host reach it on its address
    assert s["agent_port"] == 5999
    assert s["attributes"] == "rack:r1;weight:2"
    assert s["resources"] == "cpus:4;mem:8192;ports:[31000-31999]"
    assert s["agent_containerizers"] == "mesos,docker"
    assert s["roles"] == ["agent", "docker"]  # the Docker engine's host checks apply
    assert json.loads(s["docker_daemon_json"]) == {}
    assert s["version"] == "1.2.3"


def test_an_image_host_installs_image_roles_and_needs_no_masters() -> None:
    s = host_settings(groups=(settings.IMAGES,), masters=[])
    assert s["image"] is True and s["roles"] == ["image"]
    assert s["install_roles"] == ["master", "agent", "public_agent"]
    agent_only = host_settings(
        groups=(settings.IMAGES,), masters=[], data={"image_roles": "public_agent"}
    )
    assert agent_only["install_roles"] == ["agent", "public_agent"]  # a public agent is an agent
    with pytest.raises(settings.SettingsError, match="image_roles"):
        host_settings(groups=(settings.IMAGES,), masters=[], data={"image_roles": "worker"})
    assert host_settings()["image"] is False


def test_docker_options_become_daemon_json() -> None:
    s = host_settings(
        data={"docker_enabled": True, "docker_options": {"live-restore": True, "data-root": "/d"}}
    )
    assert s["docker_daemon_json"] == '{\n  "data-root": "/d",\n  "live-restore": true\n}\n'
    # docker_enabled on a host that is no agent installs nothing: no docker checks either
    m = host_settings(name="10.0.0.10", groups=("masters",), data={"docker_enabled": True})
    assert m["roles"] == ["master"]


def test_public_agent_roles_and_attributes() -> None:
    s = host_settings(groups=("public_agents",), data={"agent_attributes": "zone:a"})
    assert s["roles"] == ["agent", "public_agent"]
    assert s["attributes"] == "public_ip:true;zone:a"
    assert parse_attributes(s["attributes"])[0]["name"] == "public_ip"
    assert s["lb_bind"] == s["bind"]
    assert host_settings(groups=("public_agents",), data={"lb_bind_address": "0.0.0.0"})[
        "lb_bind"
    ] == ("0.0.0.0")


def test_roles_from_groups() -> None:
    assert settings.host_roles(["masters"]) == ["master"]
    assert settings.host_roles(["masters", "agents"]) == ["master", "agent"]
    assert settings.host_roles(["agents", "public_agents"]) == ["agent", "public_agent"]
    assert settings.host_roles(["prod"]) == []


def test_host_address_sources() -> None:
    assert settings.host_address("m1", getter({"ip": "10.0.0.9"})) == "10.0.0.9"
    assert settings.host_address("m1", getter({"ssh_hostname": "10.0.0.8"})) == "10.0.0.8"
    assert settings.host_address("10.0.0.7", getter({})) == "10.0.0.7"
    assert settings.host_address("m1", getter({}), resolver=lambda n: "10.9.9.9") == "10.9.9.9"
    with pytest.raises(settings.SettingsError, match="set `ip`"):
        settings.host_address("m1.invalid", getter({}), resolver=no_dns)


def test_master_address_is_the_first_master_or_the_override() -> None:
    masters = [("m1", getter({"ip": "10.0.0.1", "master_port": 6050})), ("m2", getter({}))]
    assert settings.master_address(masters, resolver=no_dns) == "10.0.0.1:6050"
    assert settings.master_address(masters, "zk://z1:2181/mesos") == "zk://z1:2181/mesos"
    with pytest.raises(settings.SettingsError, match="masters"):
        settings.master_address([], None)
    assert host_settings(masters=[], data={"master_address": "10.5.5.5:5050"})["master"] == (
        "10.5.5.5:5050"
    )


def test_formatting_helpers() -> None:
    assert settings.format_attributes({"rack": "r1", "ssd": True}) == "rack:r1;ssd:true"
    assert settings.format_attributes({}) is None
    assert settings.format_attributes("a:b") == "a:b"
    with pytest.raises(settings.SettingsError):
        settings.format_attributes({"rack": "r1;zone:b"})
    with pytest.raises(settings.SettingsError):
        settings.format_attributes({"ra:ck": "r1"})
    assert settings.format_resources({"cpus": 2.0, "mem": 512.5}) == "cpus:2;mem:512.5"
    assert settings.format_resources(None) is None
    assert settings.effective_containerizers("mesos,docker", True) == "mesos,docker"
    assert settings.effective_containerizers("mesos", False) == "mesos"


@pytest.mark.parametrize(
    ("data", "match"),
    [
        ({"master_port": 0}, "`master_port` = 0: must be a port number 1-65535"),
        ({"master_port": "5050"}, "`master_port` = '5050': must be a port number"),
        ({"master_port": True}, "`master_port` = True: must be a port number"),
        (
            {"lb_http_port": 70000},
            r"`lb_http_port` = 70000: must be a port number 0-65535 \(0 = off",
        ),
        ({"agent_upgrade_batch": 0}, "`agent_upgrade_batch` = 0: must be an integer >= 1"),
        ({"docker_enabled": "yes"}, "`docker_enabled` = 'yes': must be True or False"),
        ({"data_dir": "var/lib"}, "`data_dir` = 'var/lib': must be an absolute directory path"),
        ({"install_dir": "/"}, "`install_dir` = '/': must be an absolute directory path"),
        ({"system_user": "Bad User"}, "`system_user` = 'Bad User': must be a user name"),
        ({"cluster_name": None}, "`cluster_name` = None: must be a string"),
        ({"agent_attributes": ["rack"]}, "`agent_attributes` = \\['rack'\\]: must be a dict or"),
        ({"agent_attributes": {"rack": "r1;zone:b"}}, "`agent_attributes` = .*not a name:value"),
        ({"agent_resources": 4}, "`agent_resources` = 4: must be None, a dict or"),
        ({"agent_options": {"port": 1}}, "`agent_options` = .*port are set by the deploy"),
        ({"master_options": {"weights": {"a": 1}}}, "weights: only strings"),
        ({"chronos_options": {"bad key": 1}}, "'bad key' is not a setting name"),
        ({"lb_options": "x"}, "`lb_options` = 'x': must be a dict of TOML keys"),
        ({"restart_timeout": 0}, "`restart_timeout` = 0: must be a positive number of seconds"),
        ({"docker_options": ["vfs"]}, "`docker_options` = \\['vfs'\\]: must be a dict of daemon"),
        ({"docker_options": {"": 1}}, "must be a dict of daemon.json keys"),
        ({"docker_options": {"x": object()}}, "`docker_options` = .*: must be JSON-serializable"),
        ({"image_roles": "master,worker"}, "`image_roles` = 'master,worker': must be a comma-sep"),
    ],
)
def test_bad_settings_name_host_key_and_reason(data: dict[str, Any], match: str) -> None:
    """One line: the host, the setting, its value and why the deploy cannot use it."""
    with pytest.raises(settings.SettingsError, match=match) as e:
        host_settings(name="10.0.0.11", data=data)
    assert str(e.value).startswith("10.0.0.11: setting `")
    assert "\n" not in str(e.value)


def test_every_bad_setting_is_reported_at_once() -> None:
    with pytest.raises(settings.SettingsError) as e:
        host_settings(
            name="a1", data={"master_port": 0, "docker_enabled": "yes", "cluster_name": "ok"}
        )
    assert str(e.value) == (
        "a1: setting `master_port` = 0: must be a port number 1-65535; "
        "setting `docker_enabled` = 'yes': must be True or False"
    )


def test_values_keep_their_type() -> None:
    """Options keep bools, ints and floats apart; numbers given for text become that text."""
    s = host_settings(
        data={
            "agent_options": {"cgroups_enable_cfs": True, "n": 1, "x": 1.5, "s": "1"},
            "restart_timeout": 2.5,
            "dcos_version": 1.0,  # `--data dcos_version=1.0` arrives as a float
            "cluster_name": 7,
        }
    )
    assert s["agent_options"] == {"cgroups_enable_cfs": True, "n": 1, "x": 1.5, "s": "1"}
    assert [type(v) for v in s["agent_options"].values()] == [bool, int, float, str]
    assert s["restart_timeout"] == 2.5 and host_settings()["restart_timeout"] == 60
    assert type(host_settings()["restart_timeout"]) is int  # templates print it as given
    assert (s["version"], s["cluster_name"]) == ("1.0", "7")


def test_settings_do_not_share_the_inventory_dicts() -> None:
    group = {"docker_options": {"log-opts": {"max-size": "10m"}}}
    s = host_settings(data=group)
    s["docker_options"]["log-opts"]["max-size"] = "1g"
    assert group["docker_options"]["log-opts"]["max-size"] == "10m"


# ---------------------------------------------------------------------------------------------
# templates


def toml_of(template: Path, s: dict[str, Any]) -> dict[str, Any]:
    return tomllib.loads(render(template, s=s))


def test_master_config_is_valid_master_settings() -> None:
    s = host_settings(
        name="10.0.0.10", groups=("masters",), data={"master_options": {"weights": "a=2"}}
    )
    table = toml_of(ROLES / "master/templates/master.toml.j2", s)["master"]
    m = MasterSettings(**table)
    assert (m.ip, m.port, m.hostname) == ("10.0.0.10", 5050, "10.0.0.10")
    assert str(m.work_dir) == "/var/lib/dcos-core/master"
    assert m.weights == "a=2"


def test_framework_configs_point_at_the_master() -> None:
    s = host_settings(
        name="10.0.0.10",
        groups=("masters",),
        data={"chronos_options": {"prelaunch": 30}, "marathon_port": 8081},
    )
    mt = MarathonSettings(**toml_of(ROLES / "frameworks/templates/marathon.toml.j2", s)["marathon"])
    ch = ChronosSettings(**toml_of(ROLES / "frameworks/templates/chronos.toml.j2", s)["chronos"])
    assert mt.master == ch.master == "10.0.0.10:5050"
    assert (mt.ip, mt.port, str(mt.work_dir)) == ("10.0.0.10", 8081, "/var/lib/dcos-core/marathon")
    assert (ch.port, ch.prelaunch, str(ch.work_dir)) == (4400, 30, "/var/lib/dcos-core/chronos")


def test_agent_config_minimal_and_full() -> None:
    tpl = ROLES / "agent/templates/agent.toml.j2"
    a = AgentSettings(**toml_of(tpl, host_settings())["agent"])
    assert (a.master, a.ip, a.port, a.recover) == ("10.0.0.10:5050", "10.0.0.11", 5051, "reconnect")
    assert a.resources is None and a.attributes is None and a.isolation is None
    assert a.containerizers == "mesos"
    s = host_settings(
        data={
            "agent_resources": "cpus:2;mem:1024",
            "agent_attributes": {"rack": "r1"},
            "isolation": "posix/cpu,posix/mem",
            "docker_enabled": True,
            "agent_options": {"cgroups_enable_cfs": True, "default_user": "nobody"},
        }
    )
    a = AgentSettings(**toml_of(tpl, s)["agent"])
    assert (a.resources, a.attributes) == ("cpus:2;mem:1024", "rack:r1")
    assert a.isolation == "posix/cpu,posix/mem"
    assert a.containerizers == "mesos,docker"
    assert a.cgroups_enable_cfs is True


def test_lb_config_is_valid_lb_settings() -> None:
    s = host_settings(
        groups=("public_agents",), data={"lb_bind_address": "0.0.0.0", "lb_groups": "*"}
    )
    lb = LbSettings(**toml_of(ROLES / "agent/templates/lb.toml.j2", s)["lb"])
    assert lb.marathon == "http://10.0.0.10:8080"
    assert (lb.bind_address, lb.http_port, lb.stats_port) == ("0.0.0.0", 80, 9090)
    assert lb.group_list == ("*",)


def test_strings_are_toml_escaped() -> None:
    s = host_settings(data={"agent_options": {"default_user": 'we"ird\\name<>'}})
    table = toml_of(ROLES / "agent/templates/agent.toml.j2", s)["agent"]
    assert table["default_user"] == 'we"ird\\name<>'


def unit(template: str, s: dict[str, Any]) -> dict[str, list[str]]:
    """The `Key=value` lines of a rendered unit, by key."""
    out: dict[str, list[str]] = {}
    for line in render(ROLES / template, s=s).splitlines():
        if "=" in line and not line.startswith("#"):
            key, _, value = line.partition("=")
            out.setdefault(key, []).append(value)
    return out


def test_units_run_the_venv_with_the_config() -> None:
    s = host_settings(name="10.0.0.10", groups=("masters",))
    for template, svc, user in [
        ("master/templates/dcos-master.service.j2", "master", "dcos"),
        ("frameworks/templates/dcos-marathon.service.j2", "marathon", "dcos"),
        ("frameworks/templates/dcos-chronos.service.j2", "chronos", "dcos"),
        ("agent/templates/dcos-agent.service.j2", "agent", "root"),
        ("agent/templates/dcos-lb.service.j2", "lb", "root"),
    ]:
        u = unit(template, s)
        assert u["ExecStart"] == [
            f"/opt/dcos-core/venv/bin/dcos-core {svc} --config /etc/dcos-core/{svc}.toml"
        ], template
        assert u["User"] == [user], template
        assert u["WantedBy"] == ["multi-user.target"]
        assert u["Restart"] == ["always"]


def test_agent_unit_lets_tasks_survive_a_restart() -> None:
    u = unit("agent/templates/dcos-agent.service.j2", host_settings())
    assert u["KillMode"] == ["process"]
    assert u["Delegate"] == ["yes"]
    assert u["After"] == ["network-online.target"]
    u = unit("agent/templates/dcos-agent.service.j2", host_settings(data={"docker_enabled": True}))
    assert u["After"] == ["network-online.target docker.service"]


def test_apt_proxy_template() -> None:
    s = host_settings(data={"apt_proxy": "http://10.0.0.1:3142"})
    text = render(ROLES / "common/templates/apt-proxy.j2", s=s)
    assert 'Acquire::http::Proxy "http://10.0.0.1:3142";' in text


# ---------------------------------------------------------------------------------------------
# wheelhouse

BACKEND = '''
"""A tiny PEP 517 backend: a pure wheel whose zip times come from SOURCE_DATE_EPOCH."""
import base64, hashlib, os, time, tomllib, zipfile

def _meta():
    with open("pyproject.toml", "rb") as f:
        p = tomllib.load(f)["project"]
    return p["name"], p["version"]

def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    name, version = _meta()
    dist = f"{name.replace('-', '_')}-{version}"
    when = time.gmtime(int(os.environ.get("SOURCE_DATE_EPOCH", time.time())))[:6]
    files = {}
    for root, _, names in os.walk("src"):
        for n in sorted(names):
            path = os.path.join(root, n)
            with open(path, "rb") as f:
                files[os.path.relpath(path, "src")] = f.read()
    files[f"{dist}.dist-info/METADATA"] = (
        f"Metadata-Version: 2.1\\nName: {name}\\nVersion: {version}\\n".encode()
    )
    files[f"{dist}.dist-info/WHEEL"] = (
        b"Wheel-Version: 1.0\\nGenerator: test\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n"
    )
    record = []
    for arc, data in sorted(files.items()):
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append(f"{arc},sha256={digest},{len(data)}")
    record.append(f"{dist}.dist-info/RECORD,,")
    files[f"{dist}.dist-info/RECORD"] = ("\\n".join(record) + "\\n").encode()
    whl = f"{dist}-py3-none-any.whl"
    with zipfile.ZipFile(os.path.join(wheel_directory, whl), "w") as z:
        for arc, data in sorted(files.items()):
            z.writestr(zipfile.ZipInfo(arc, when), data)
    return whl
'''


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "proj"
    (root / "src" / "fake_pkg").mkdir(parents=True)
    (root / "src" / "fake_pkg" / "__init__.py").write_text("VALUE = 1\n")
    (root / "backend.py").write_text(BACKEND)
    (root / "pyproject.toml").write_text(
        '[build-system]\nrequires = []\nbuild-backend = "backend"\nbackend-path = ["."]\n\n'
        '[project]\nname = "fake-pkg"\nversion = "1.0"\ndependencies = []\n'
    )
    (root / "README.md").write_text("fake\n")
    return root


def build(project: Path, **kw: Any) -> wheelhouse.Wheelhouse:
    return wheelhouse.build(project, project / "build" / "wheelhouse", build_isolation=False, **kw)


@pytest.fixture
def built_project(project: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    # the backend is looked up at the copy's root: ship it in SOURCE_FILES for the test
    monkeypatch.setattr(wheelhouse, "SOURCE_FILES", (*wheelhouse.SOURCE_FILES, "backend.py"))
    # no pip wheel in the test wheelhouse: nothing is fetched from an index
    monkeypatch.setattr(wheelhouse, "INSTALLER", None)
    return project


def test_wheelhouse_is_cached_and_deterministic(built_project: Path) -> None:
    first = build(built_project)
    assert first.built and first.version == "1.0" and first.name == "fake-pkg"
    assert first.tarball == built_project / "build/wheelhouse/1.0/fake-pkg-1.0-wheelhouse.tar"
    assert first.sha256 == wheelhouse.sha256_file(first.tarball)
    t = time.monotonic()
    again = build(built_project)
    assert time.monotonic() - t < 1.0
    assert not again.built and again.sha256 == first.sha256  # reused: pip did not run
    forced = build(built_project, force=True)
    assert forced.built and forced.sha256 == first.sha256  # rebuilt: the same bytes
    with tarfile.open(first.tarball) as tar:
        members = tar.getmembers()
    assert [m.name for m in members] == ["wheels/fake_pkg-1.0-py3-none-any.whl"]
    assert all(
        (m.mtime, m.uid, m.gid, m.mode) == (wheelhouse.SOURCE_DATE_EPOCH, 0, 0, 0o644)
        for m in members
    )


def test_wheelhouse_changes_with_the_code_and_the_version(built_project: Path) -> None:
    first = build(built_project)
    (built_project / "src/fake_pkg/__init__.py").write_text("VALUE = 2\n")
    changed = build(built_project)
    assert changed.built and changed.sha256 != first.sha256
    (built_project / "src/fake_pkg/__pycache__").mkdir()
    (built_project / "src/fake_pkg/__pycache__/x.pyc").write_bytes(b"junk")
    assert not build(built_project).built  # bytecode is not source
    pyproject = built_project / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace('version = "1.0"', 'version = "1.1"'))
    bumped = build(built_project)
    assert bumped.built and bumped.version == "1.1"
    assert bumped.tarball.name == "fake-pkg-1.1-wheelhouse.tar"
    # the 1.0 wheelhouse stays available to pin or roll back to
    old = wheelhouse.existing("1.0", built_project / "build/wheelhouse", "fake-pkg")
    assert old.sha256 == changed.sha256


def test_ensure_builds_once_and_refuses_unknown_versions(
    built_project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(wheelhouse, "_cache", {})
    a = wheelhouse.ensure(None, "build/wheelhouse", root=built_project)
    b = wheelhouse.ensure("1.0", built_project / "build/wheelhouse", root=built_project)
    assert a is b
    with pytest.raises(wheelhouse.WheelhouseError, match=r"0\.9"):
        wheelhouse.ensure("0.9", "build/wheelhouse", root=built_project)


def test_deterministic_tar_sorts_and_normalises(tmp_path: Path) -> None:
    (tmp_path / "b").write_bytes(b"bbb")
    (tmp_path / "a").write_bytes(b"a")
    os.utime(tmp_path / "a", (1, 1))
    out1, out2 = tmp_path / "1.tar", tmp_path / "2.tar"
    wheelhouse.deterministic_tar([("x/b", tmp_path / "b"), ("x/a", tmp_path / "a")], out1)
    os.utime(tmp_path / "a", (99999, 99999))
    wheelhouse.deterministic_tar([("x/a", tmp_path / "a"), ("x/b", tmp_path / "b")], out2)
    assert out1.read_bytes() == out2.read_bytes()
    with tarfile.open(out1) as tar:
        assert tar.getnames() == ["x/a", "x/b"]


def test_source_version_is_the_checkout() -> None:
    assert wheelhouse.source_version() == wheelhouse.project()["version"]


# ---------------------------------------------------------------------------------------------
# dcos-wait


class _Handler(http.server.BaseHTTPRequestHandler):
    routes: dict[str, tuple[int, Any]] = {}

    def do_GET(self) -> None:
        status, body = self.routes.get(self.path, (404, {}))
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def server() -> Iterator[tuple[str, dict[str, tuple[int, Any]]]]:
    routes: dict[str, tuple[int, Any]] = {}
    handler = type("H", (_Handler,), {"routes": routes})
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{srv.server_address[1]}", routes
    finally:
        srv.shutdown()
        srv.server_close()


def wait(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(WAIT), *args, "--timeout", "0.4", "--interval", "0.05"],
        capture_output=True,
        text=True,
        timeout=30,
    )


def test_dcos_wait_http(server: tuple[str, dict[str, tuple[int, Any]]]) -> None:
    url, routes = server
    routes["/health"] = (200, {})
    routes["/starting"] = (503, {})
    ok = wait("http", f"{url}/health")
    assert ok.returncode == 0 and "ready" in ok.stdout
    bad = wait("http", f"{url}/starting")
    assert bad.returncode == 1 and "HTTP 503" in bad.stderr


def test_dcos_wait_agent_rejoin(server: tuple[str, dict[str, tuple[int, Any]]]) -> None:
    url, routes = server
    routes["/state"] = (200, {"id": "S1", "registered": False})
    routes["/slaves"] = (200, {"slaves": [{"id": "S1", "active": True}]})
    r = wait("agent", "--agent", url, "--master", url)
    assert r.returncode == 1 and "not registered" in r.stderr
    routes["/state"] = (200, {"id": "S1", "registered": True})
    routes["/slaves"] = (200, {"slaves": [{"id": "S0", "active": True}]})
    r = wait("agent", "--agent", url, "--master", url)
    assert r.returncode == 1 and "does not list agent S1" in r.stderr
    routes["/slaves"] = (200, {"slaves": [{"id": "S1", "active": True}]})
    assert wait("agent", "--agent", url, "--master", url).returncode == 0
    routes["/slaves"] = (200, {"slaves": [{"id": "S1", "active": False, "deactivated": True}]})
    assert wait("agent", "--agent", url, "--master", url).returncode == 0


# ---------------------------------------------------------------------------------------------
# inventories


def test_test_inventory_reads_the_harness_json(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = {
        "ssh_key": "/k",
        "ssh_config": "/c",
        "hosts": [
            {"name": "m1", "ip": "10.9.0.10", "groups": ["masters"]},
            {"name": "a1", "ip": "10.9.0.11", "groups": ["agents"]},
            {"name": "p1", "ip": "10.9.0.12", "groups": ["public_agents"]},
        ],
        "data": {"cluster_name": "t", "isolation": "posix/cpu"},
    }
    (tmp_path / "hosts.json").write_text(json.dumps(spec))
    monkeypatch.setenv("DCOS_TEST_HOSTS", str(tmp_path / "hosts.json"))
    ns: dict[str, Any] = {"__file__": str(ROOT / "inventories/test.py")}
    exec(compile((ROOT / "inventories/test.py").read_text(), "test.py", "exec"), ns)
    assert [h for h, _ in ns["masters"]] == ["10.9.0.10"]
    assert [h for h, _ in ns["agents"]] == ["10.9.0.11"]
    host, data = ns["public_agents"][0]
    assert host == "10.9.0.12"
    assert data["ssh_user"] == "root" and data["ssh_key"] == "/k"
    assert data["ssh_strict_host_key_checking"] == "no"
    assert data["ssh_known_hosts_file"] == "/dev/null"
    assert data["ip"] == "10.9.0.12"
    assert data["isolation"] == "posix/cpu"  # the JSON's data wins over the inventory's
    assert data["cluster_name"] == "t"


def test_prod_inventory_example_is_valid() -> None:
    ns: dict[str, Any] = {"__file__": str(ROOT / "inventories/prod.py")}
    exec(compile((ROOT / "inventories/prod.py").read_text(), "prod.py", "exec"), ns)
    masters = [(h, getter({**ns["masters"][1], **d})) for h, d in ns["masters"][0]]
    for group in ("masters", "agents", "public_agents"):
        hosts, group_data = ns[group]
        for name, data in hosts:
            s = settings.derive(
                name,
                getter({**group_data, **data}),
                (group,),
                masters,
                lambda: "1.0",
                resolver=no_dns,
            )
            assert s["master"] == "10.0.0.10:5050"
            if group != "masters":
                AgentSettings(**toml_of(ROLES / "agent/templates/agent.toml.j2", s)["agent"])


def test_a_bad_setting_stops_the_deploy_with_one_line_before_any_operation(
    tmp_path: Path,
) -> None:
    """pyinfra shows the host, each bad setting and why, without a traceback; nothing runs.

    The host is this machine (`@local`) in a dry run: the deploy stops while collecting
    operations, before facts are read or the wheelhouse is built.
    """
    inventory = tmp_path / "inventory.py"
    inventory.write_text(
        'masters = [("@local", {"ip": "127.0.0.1", "master_port": 0, "docker_enabled": "yes"})]\n'
    )
    pyinfra = Path(sys.executable).parent / "pyinfra"
    run = subprocess.run(
        [str(pyinfra), "-y", str(inventory), "deploy.py", "--dry"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    out = run.stdout + run.stderr
    assert run.returncode == 1, out
    assert (
        "pyinfra error in deploy.py line" in out
        and ": @local: setting `master_port` = 0: must be a port number 1-65535; "
        "setting `docker_enabled` = 'yes': must be True or False\n"
        in out
    ), out
    assert "Traceback" not in out
    assert "--> Beginning operation run" not in out
    assert "wheelhouse /" not in out  # roles.wheelhouse logs the tarball it built
