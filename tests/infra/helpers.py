"""What the host checks share: the deploy's contract (paths, roles, services, default ports) and
small helpers around a testinfra `host`.

Everything here is importable without a host: the pure functions (role files, TOML tables,
socket specs, master JSON) are unit-tested in `tests/unit/infra/test_infra_helpers.py`; the
functions taking a `host` only call `host.run`, `host.file` and `host.socket`.
"""

from __future__ import annotations

import json
import os
import stat
import time
import tomllib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

CONF_DIR = "/etc/dcos-core"
ROLES_FILE = f"{CONF_DIR}/roles"
VERSION_FILE = f"{CONF_DIR}/version"
VENV = "/opt/dcos-core/venv"
VENV_PYTHON = f"{VENV}/bin/python"
DCOS_CORE_BIN = f"{VENV}/bin/dcos-core"
UNIT_DIR = "/etc/systemd/system"
USER = "dcos"
USER_HOME = "/var/lib/dcos-core"
NOLOGIN_SHELLS = frozenset({"/usr/sbin/nologin", "/sbin/nologin", "/bin/false", "/usr/bin/false"})

ROLES = ("master", "agent", "public_agent", "docker", "image", "sealed")
# A module whose ROLE is one of these runs on every host.
ALL_ROLES = frozenset({"all", "*", ""})
# Roles a host's role implies: a public agent runs dcos-agent too, so the agent checks apply.
# ("docker" is written beside "agent" on agents with docker_enabled: the engine's checks;
# "image" in an appliance image before its first boot, and "sealed" once appliance/seal.sh ran.)
IMPLIED_ROLES: Mapping[str, frozenset[str]] = {"public_agent": frozenset({"agent"})}
# The dcos-core services (config file /etc/dcos-core/<svc>.toml, unit dcos-<svc>) per role.
SERVICES_BY_ROLE: Mapping[str, tuple[str, ...]] = {
    "master": ("master", "marathon", "chronos"),
    "agent": ("agent",),
    "public_agent": ("agent", "lb"),
}
SERVICES = ("master", "agent", "marathon", "chronos", "lb")
# dcos_core.config / dcos_core.frameworks.lb.settings defaults, used when a key is absent.
DEFAULT_PORTS: Mapping[str, int] = {
    "master": 5050,
    "agent": 5051,
    "marathon": 8080,
    "chronos": 4400,
}
DEFAULT_IP = "127.0.0.1"
DEFAULT_LB = {"bind_address": "127.0.0.1", "stats_port": 9090, "http_port": 80}
DEFAULT_MASTER_WORK_DIR = "/var/lib/dcos-core/master"
# Where the settings classes live in the installed package (for the "config accepted" check).
SETTINGS_CLASSES: Mapping[str, tuple[str, str]] = {
    "master": ("dcos_core.config", "MasterSettings"),
    "agent": ("dcos_core.config", "AgentSettings"),
    "marathon": ("dcos_core.frameworks.marathon.settings", "MarathonSettings"),
    "chronos": ("dcos_core.frameworks.chronos.settings", "ChronosSettings"),
    "lb": ("dcos_core.frameworks.lb.settings", "LbSettings"),
}


# --------------------------------------------------------------------------------------------
# Roles


def parse_roles(text: str) -> frozenset[str]:
    """The roles in an `/etc/dcos-core/roles` file: one a line; blanks and `#` comments skipped."""
    roles = set()
    for line in text.splitlines():
        word = line.split("#", 1)[0].strip()
        if word:
            roles.add(word)
    return frozenset(roles)


def expand_roles(roles: Iterable[str]) -> frozenset[str]:
    """`roles` plus the roles they imply (public_agent -> agent)."""
    out = set(roles)
    for r in list(out):
        out |= IMPLIED_ROLES.get(r, frozenset())
    return frozenset(out)


def applies(module_role: str | None, host_roles: frozenset[str] | None) -> bool:
    """Whether a module declaring `ROLE = module_role` runs on a host with `host_roles`.

    `None`/"all" modules run everywhere; unknown host roles (`None`: the roles file could not be
    read) keep everything, so that the checks themselves report what is wrong.
    """
    if module_role is None or module_role in ALL_ROLES or host_roles is None:
        return True
    return module_role in expand_roles(host_roles)


def expected_services(roles: Iterable[str]) -> tuple[str, ...]:
    """The dcos-core services a host with `roles` runs, in `SERVICES` order."""
    wanted = {s for r in roles for s in SERVICES_BY_ROLE.get(r, ())}
    return tuple(s for s in SERVICES if s in wanted)


class _Result(Protocol):
    rc: int
    stdout: str
    stderr: str


class _RunsCommands(Protocol):
    def run(self, command: str, *args: str) -> _Result: ...


def read_host_roles(host: _RunsCommands) -> tuple[frozenset[str] | None, str]:
    """`(roles, problem)` of a host: roles from its roles file (empty if there is none), or
    `None` with the reason when the host could not be asked (unreachable, permission denied)."""
    try:
        res = host.run("cat %s", ROLES_FILE)
    except Exception as e:  # paramiko and friends raise on connection errors
        return None, f"{type(e).__name__}: {e}".strip()
    if res.rc == 0:
        return parse_roles(res.stdout), ""
    if "No such file" in (res.stderr or ""):
        return frozenset(), f"no {ROLES_FILE}"
    problem = (res.stderr or res.stdout or "").strip().splitlines()
    return None, f"rc {res.rc}: {problem[-1] if problem else 'no output'}"


class RoleSelector:
    """Decides, item by item, whether a check runs on a host; reads each host's roles once."""

    def __init__(
        self, read: Callable[[Any], tuple[frozenset[str] | None, str]] = read_host_roles
    ) -> None:
        self._read = read
        self.roles: dict[str, tuple[frozenset[str] | None, str]] = {}
        self.deselected: dict[str, list[str]] = {}

    def keep(self, host_key: str, host: Any, module_role: str | None, module: str) -> bool:
        """Whether module `module` (declaring `module_role`) runs on `host` (named `host_key`)."""
        if host_key not in self.roles:
            self.roles[host_key] = self._read(host)
        if applies(module_role, self.roles[host_key][0]):
            return True
        mods = self.deselected.setdefault(host_key, [])
        if module not in mods:
            mods.append(module)
        return False

    def summary(self) -> str:
        """One line: each host's roles and the modules deselected there ("" if no host seen)."""
        parts = []
        for key, (roles, problem) in sorted(self.roles.items()):
            if roles is None:
                parts.append(f"{key}=? ({problem}; all checks kept)")
                continue
            text = ",".join(sorted(roles)) or f"none ({problem or 'empty ' + ROLES_FILE})"
            dropped = self.deselected.get(key)
            parts.append(f"{key}={text}" + (f" -{'/'.join(dropped)}" if dropped else ""))
        return "dcos-core roles: " + "; ".join(parts) if parts else ""


def hosts_requested(option: Any) -> bool:
    """Whether the user named hosts (testinfra's `--hosts`, `--connection`, `--ansible-inventory`).

    Without them testinfra would check the machine pytest runs on, which is not a deployed host.
    """
    return bool(
        getattr(option, "hosts", None)
        or getattr(option, "connection", None)
        or getattr(option, "ansible_inventory", None)
    )


# --------------------------------------------------------------------------------------------
# SSH connection sharing. testinfra's ssh backend passes ControlMaster=auto and ControlPersist
# but no ControlPath (and ignores --ssh-extra-args), so every command opens a new connection,
# about 0.3 s each; with a ControlPath all commands to a host share one.


def wants_control_path(host: Any) -> bool:
    """Whether `host` uses testinfra's ssh backend without a ControlPath of its own."""
    backend = getattr(host, "backend", None)
    return (
        hasattr(backend, "controlpath")
        and not backend.controlpath
        and bool(getattr(backend, "controlpersist", 0))
    )


def set_control_path(host: Any, directory: str) -> None:
    """Share one connection per host through sockets in `directory` (keep its path short:
    a unix socket path has at most 107 bytes, and the socket names are 40 characters)."""
    # testinfra %-formats the ssh command line: %%C reaches ssh as %C (hash of host, port, user).
    host.backend.controlpath = f"{directory}/%%C"


# --------------------------------------------------------------------------------------------
# Configuration files


def parse_service_toml(text: str, svc: str) -> dict[str, Any]:
    """The `[svc]` table of a service's TOML file (empty if the file has none).

    Raises ValueError naming the problem when the text is not TOML or `[svc]` is not a table.
    """
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ValueError(f"{svc}.toml is not valid TOML: {e}") from None
    table = data.get(svc, {})
    if not isinstance(table, dict):
        raise ValueError(f"[{svc}] in {svc}.toml is not a table")
    return table


def service_address(table: Mapping[str, Any], svc: str) -> tuple[str, int]:
    """`(ip, port)` a master/agent/marathon/chronos listens on, from its TOML table."""
    return str(table.get("ip", DEFAULT_IP)), int(table.get("port", DEFAULT_PORTS[svc]))


def lb_stats_address(table: Mapping[str, Any]) -> tuple[str, int]:
    """`(bind_address, stats_port)` of dcos-lb's HAProxy stats listener (port 0: disabled)."""
    return (
        str(table.get("bind_address", DEFAULT_LB["bind_address"])),
        int(table.get("stats_port", DEFAULT_LB["stats_port"])),
    )


def _is_v6(ip: str) -> bool:
    return ":" in ip


def listen_specs(ip: str, port: int) -> list[str]:
    """testinfra socket specs, any of which listening means "listening on ip:port".

    A wildcard listener (0.0.0.0, or :: which takes IPv4 too on Linux) serves every address.
    testinfra's own spec for a specific address does not count wildcard listeners, hence the list.
    """
    ip = ip.strip("[]")
    if ip in ("0.0.0.0", ""):
        return [f"tcp://0.0.0.0:{port}", f"tcp://:::{port}"]
    if ip == "::":
        return [f"tcp://:::{port}"]
    if _is_v6(ip):
        return [f"tcp://{ip}:{port}", f"tcp://:::{port}"]
    return [f"tcp://{ip}:{port}", f"tcp://0.0.0.0:{port}", f"tcp://:::{port}"]


def http_base(ip: str, port: int) -> str:
    """`http://…` to reach a service listening on `ip:port` from the host itself."""
    ip = ip.strip("[]")
    if ip in ("0.0.0.0", ""):
        ip = "127.0.0.1"
    elif ip == "::":
        ip = "::1"
    return f"http://[{ip}]:{port}" if _is_v6(ip) else f"http://{ip}:{port}"


def master_url(value: str) -> str:
    """Base URL of the master an agent or framework names (`"IP:PORT"` or `http://…`).

    Raises ValueError for forms these checks cannot follow (`zk://…`, from the HA setup).
    """
    value = value.strip()
    if value.startswith(("http://", "https://")):
        return value.rstrip("/")
    if "://" in value:
        raise ValueError(f"cannot follow master {value!r} (only host:port or http://…)")
    return f"http://{value}"


# --------------------------------------------------------------------------------------------
# HTTP from the host itself (the hosts have no route to the control machine, and a service
# on 127.0.0.1 is reachable only there): the venv's Python with urllib, proxies ignored.

HTTP_GET_SCRIPT = """\
import json, sys, urllib.error, urllib.request
opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
try:
    with opener.open(sys.argv[1], timeout=float(sys.argv[2])) as r:
        status, body = r.status, r.read()
except urllib.error.HTTPError as e:
    status, body = e.code, e.read()
except Exception as e:
    status, body = 0, (type(e).__name__ + ': ' + str(e)).encode()
print(json.dumps({'status': status, 'body': body.decode('utf-8', 'replace')}))
"""


class HttpResult:
    """Status (0: no answer) and body of a GET made on a host."""

    def __init__(self, status: int, body: str) -> None:
        self.status = status
        self.body = body

    def json(self) -> Any:
        return json.loads(self.body)

    def __repr__(self) -> str:
        return f"HttpResult({self.status}, {self.body[:200]!r})"


def parse_http_result(stdout: str) -> HttpResult:
    """The result `HTTP_GET_SCRIPT` printed (its last line)."""
    lines = stdout.strip().splitlines()
    if not lines:
        return HttpResult(0, "no output")
    data = json.loads(lines[-1])
    return HttpResult(int(data["status"]), str(data["body"]))


def http_get(host: Any, url: str, timeout: float = 5.0) -> HttpResult:
    """GET `url` from `host` with the venv's Python."""
    res = host.run("%s -c %s %s %s", VENV_PYTHON, HTTP_GET_SCRIPT, url, str(timeout))
    if res.rc != 0:
        return HttpResult(0, f"rc {res.rc}: {(res.stderr or res.stdout).strip()[-500:]}")
    return parse_http_result(res.stdout)


# --------------------------------------------------------------------------------------------
# The master's JSON


def agent_active(slaves: Mapping[str, Any], agent_id: str) -> bool:
    """Whether the master's `/slaves` JSON lists agent `agent_id` as active."""
    return any(s.get("id") == agent_id and s.get("active") for s in slaves.get("slaves", []))


def active_frameworks(frameworks: Mapping[str, Any], name: str) -> list[dict[str, Any]]:
    """The active frameworks named `name` in the master's `/frameworks` (or `/state`) JSON."""
    return [
        f for f in frameworks.get("frameworks", []) if f.get("name") == name and f.get("active")
    ]


# --------------------------------------------------------------------------------------------
# Files and users in one command each (every command is an SSH round trip).

STAT_FORMAT = "%U %G %f %n"  # owner, group, raw mode in hex (type + permissions), path


@dataclass(frozen=True)
class Stat:
    user: str
    group: str
    mode: int  # permission bits, e.g. 0o640
    is_dir: bool
    is_file: bool

    def owner_mode(self) -> str:
        """`user:group 0mode`, e.g. `root:dcos 0640` (what the checks compare)."""
        return f"{self.user}:{self.group} {self.mode:04o}"


def parse_stat(stdout: str) -> dict[str, Stat]:
    """`stat -c STAT_FORMAT` output -> path: Stat (paths stat could not see are absent)."""
    out = {}
    for line in stdout.splitlines():
        parts = line.split(" ", 3)
        if len(parts) != 4:
            continue
        user, group, raw, path = parts
        mode = int(raw, 16)
        out[path] = Stat(user, group, stat.S_IMODE(mode), stat.S_ISDIR(mode), stat.S_ISREG(mode))
    return out


def stat_paths(host: Any, *paths: str) -> dict[str, Stat]:
    """Owner, group, mode and type of `paths` on `host`, in one command."""
    res = host.run("stat -L -c %s -- " + " ".join(["%s"] * len(paths)), STAT_FORMAT, *paths)
    return parse_stat(res.stdout)


@dataclass(frozen=True)
class Passwd:
    name: str
    uid: int
    gid: int
    home: str
    shell: str


def parse_passwd(line: str) -> Passwd | None:
    """A `getent passwd NAME` line (None if it is not one)."""
    fields = line.strip().split(":")
    if len(fields) != 7 or not fields[2].isdigit() or not fields[3].isdigit():
        return None
    return Passwd(fields[0], int(fields[2]), int(fields[3]), fields[5], fields[6])


# --------------------------------------------------------------------------------------------
# Users


def sys_uid_max(login_defs: str) -> int:
    """The highest system-account uid from `/etc/login.defs` text (999 when it says nothing)."""
    for line in login_defs.splitlines():
        parts = line.split("#", 1)[0].split()
        if len(parts) == 2 and parts[0] == "SYS_UID_MAX" and parts[1].isdigit():
            return int(parts[1])
    return 999


# --------------------------------------------------------------------------------------------
# Waiting: services that were just (re)started take a moment to register; a passing check
# returns at once.

T = TypeVar("T")

# Seconds a check waits for a service to answer or register (env DCOS_INFRA_WAIT).
WAIT = float(os.environ.get("DCOS_INFRA_WAIT", "30"))


def eventually(
    fn: Callable[[], T],
    ok: Callable[[T], bool],
    timeout: float | None = None,
    interval: float = 1.0,
    *,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> T:
    """Call `fn` until `ok(result)` or `timeout` (default `WAIT`) seconds passed; return the
    last result."""
    deadline = clock() + (WAIT if timeout is None else timeout)
    while True:
        result = fn()
        if ok(result) or clock() >= deadline:
            return result
        sleep(interval)


def listening(host: Any, ip: str, port: int) -> bool:
    """Whether something on `host` listens on `ip:port` (or on a wildcard address)."""
    return any(host.socket(spec).is_listening for spec in listen_specs(ip, port))


def read_toml(host: Any, svc: str) -> dict[str, Any]:
    """The `[svc]` table of `/etc/dcos-core/<svc>.toml` on `host`."""
    return parse_service_toml(host.file(f"{CONF_DIR}/{svc}.toml").content_string, svc)
