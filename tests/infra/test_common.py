"""Every deployed host: the system user, /etc/dcos-core, the venv and its version, the configs."""

from __future__ import annotations

import pytest

from tests.infra import helpers as h

ROLE = "all"


@pytest.fixture(scope="module")
def roles(host):
    return h.parse_roles(host.file(h.ROLES_FILE).content_string)


def test_system_user(host):
    user = host.user(h.USER)
    assert user.exists, f"no user {h.USER}"
    assert user.home == h.USER_HOME
    assert user.shell in h.NOLOGIN_SHELLS, f"{h.USER} can log in with {user.shell}"
    login_defs = host.file("/etc/login.defs")
    uid_max = h.sys_uid_max(login_defs.content_string if login_defs.exists else "")
    assert user.uid <= uid_max, f"{h.USER} uid {user.uid} is not a system uid (<= {uid_max})"


def test_conf_dir(host):
    d = host.file(h.CONF_DIR)
    assert d.is_directory
    got = f"{d.user}:{d.group} {d.mode:04o}"
    assert got == f"root:{h.USER} 0750", f"{h.CONF_DIR} is {got}"


def test_roles_file(host, roles):
    assert roles, f"{h.ROLES_FILE} names no role"
    assert roles <= set(h.ROLES), f"unknown roles {sorted(roles - set(h.ROLES))}"


def test_config_files(host, roles):
    """The services of the host's roles have their TOML; every TOML is root:dcos 0640 and parses."""
    present = {
        name.removesuffix(".toml")
        for name in host.file(h.CONF_DIR).listdir()
        if name.endswith(".toml")
    }
    missing = set(h.expected_services(roles)) - present
    assert not missing, f"missing {sorted(f'{h.CONF_DIR}/{s}.toml' for s in missing)}"
    for svc in sorted(present):
        f = host.file(f"{h.CONF_DIR}/{svc}.toml")
        got = f"{f.user}:{f.group} {f.mode:04o}"
        assert got == f"root:{h.USER} 0640", f"{f.path} is {got}"
        if svc in h.SERVICES:
            h.parse_service_toml(f.content_string, svc)


def test_config_accepted_by_installed_dcos_core(host, roles):
    """The installed dcos-core's own settings classes accept each service's file."""
    script = (
        "import importlib, sys\n"
        "from pathlib import Path\n"
        "from dcos_core.config import load_settings\n"
        "mod, cls, path, svc = sys.argv[1:]\n"
        "load_settings(getattr(importlib.import_module(mod), cls), {}, Path(path), svc)\n"
    )
    problems = []
    for svc in h.expected_services(roles):
        mod, cls = h.SETTINGS_CLASSES[svc]
        path = f"{h.CONF_DIR}/{svc}.toml"
        res = host.run("%s -c %s %s %s %s %s", h.VENV_PYTHON, script, mod, cls, path, svc)
        if res.rc != 0:
            lines = (res.stderr or res.stdout).strip().splitlines() or ["no output"]
            problems.append(f"{path}: {lines[-1]}")
    assert not problems, "\n".join(problems)


def test_venv(host):
    venv = host.file(h.VENV)
    assert venv.is_directory
    assert venv.user == "root"
    assert not venv.mode & 0o022, f"{h.VENV} is writable by group or others ({venv.mode:o})"
    exe = host.file(h.DCOS_CORE_BIN)
    assert exe.exists and exe.user == "root" and exe.mode & 0o111
    host.run_expect([0], "%s --help", h.DCOS_CORE_BIN)


def test_installed_version_is_the_deployed_one(host):
    wanted = host.file(h.VERSION_FILE).content_string.strip()
    assert wanted, f"{h.VERSION_FILE} is empty"
    got = host.check_output(
        "%s -c %s",
        h.VENV_PYTHON,
        "import importlib.metadata as m; print(m.version('dcos-core'))",
    ).strip()
    assert got == wanted, f"venv has dcos-core {got}, {h.VERSION_FILE} says {wanted}"
