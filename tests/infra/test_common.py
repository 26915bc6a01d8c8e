"""Every deployed host: the system user, /etc/dcos-core, the venv and its version, the configs."""

from __future__ import annotations

import pytest

from tests.infra import helpers as h

ROLE = "all"


@pytest.fixture(scope="module")
def roles(host):
    return h.parse_roles(host.file(h.ROLES_FILE).content_string)


def test_system_user(host):
    res = host.run("getent passwd %s; echo ---; cat /etc/login.defs", h.USER)
    passwd, _, login_defs = res.stdout.partition("---\n")
    user = h.parse_passwd(passwd)
    assert user, f"no user {h.USER}"
    assert user.home == h.USER_HOME
    assert user.shell in h.NOLOGIN_SHELLS, f"{h.USER} can log in with {user.shell}"
    uid_max = h.sys_uid_max(login_defs)
    assert user.uid <= uid_max, f"{h.USER} uid {user.uid} is not a system uid (<= {uid_max})"


def test_conf_dir(host):
    d = h.stat_paths(host, h.CONF_DIR).get(h.CONF_DIR)
    assert d and d.is_dir, f"no directory {h.CONF_DIR}"
    assert d.owner_mode() == f"root:{h.USER} 0750", f"{h.CONF_DIR} is {d.owner_mode()}"


def test_roles_file(host, roles):
    assert roles, f"{h.ROLES_FILE} names no role"
    assert roles <= set(h.ROLES), f"unknown roles {sorted(roles - set(h.ROLES))}"


def test_config_files(host, roles):
    """The services of the host's roles have their TOML; every TOML is root:dcos 0640 and parses."""
    paths = [  # the services' files (an appliance's own appliance.toml is the operator's)
        f"{h.CONF_DIR}/{name}"
        for name in host.file(h.CONF_DIR).listdir()
        if name.endswith(".toml") and name.removesuffix(".toml") in h.SERVICES
    ]
    present = {p.rsplit("/", 1)[1].removesuffix(".toml") for p in paths}
    missing = set(h.expected_services(roles)) - present
    assert not missing, f"missing {sorted(f'{h.CONF_DIR}/{s}.toml' for s in missing)}"
    stats = h.stat_paths(host, *paths)
    for path in sorted(paths):
        got = stats[path].owner_mode() if path in stats else "missing"
        assert got == f"root:{h.USER} 0640", f"{path} is {got}"
    for svc in sorted(present & set(h.SERVICES)):
        h.parse_service_toml(host.file(f"{h.CONF_DIR}/{svc}.toml").content_string, svc)


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
    stats = h.stat_paths(host, h.VENV, h.DCOS_CORE_BIN)
    venv, exe = stats.get(h.VENV), stats.get(h.DCOS_CORE_BIN)
    assert venv and venv.is_dir, f"no directory {h.VENV}"
    assert venv.user == "root", f"{h.VENV} is owned by {venv.user}"
    assert not venv.mode & 0o022, f"{h.VENV} is writable by group or others ({venv.mode:04o})"
    assert exe and exe.is_file, f"no {h.DCOS_CORE_BIN}"
    assert exe.user == "root" and exe.mode & 0o111, f"{h.DCOS_CORE_BIN}: {exe.owner_mode()}"
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
