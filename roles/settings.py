"""The cluster-wide settings of a dcos-core deploy: one table, with defaults.

Every setting can be overridden for the whole inventory, per group and per host, the pyinfra way
(precedence, highest first: `--data key=value` on the command line, host data, group data, the
`all` data / `group_data/all.py`, then the defaults below). An inventory with one master and
some agents needs none of them: only the hosts and SSH access.

setting                  default               what it is
-----------------------  --------------------  ------------------------------------------
cluster_name             "dcos-core"           name shown in unit descriptions and config
                                               headers
dcos_version             None                  dcos-core version to install; None = the version
                                               of this checkout (its wheel is built on the
                                               control machine); another version must already be
                                               in wheelhouse_dir/<version>/ (a rollback)
install_dir              "/opt/dcos-core"      code: the venv <install_dir>/venv, the uploaded
                                               wheelhouse, helper scripts
config_dir               "/etc/dcos-core"      configuration files (root:<system_user>, 0750)
data_dir                 "/var/lib/dcos-core"  home of the system user; work dirs master, agent,
                                               marathon, chronos, lb under it
system_user              "dcos"                system user (nologin) running the master,
                                               Marathon and Chronos; the agent and the load
                                               balancer run as root
ip                       None                  the host's private address, advertised to the
                                               cluster; None = the inventory address if it is an
                                               IP (ssh_hostname or the host name), else its DNS
                                               resolution on the control machine
bind_address             None                  address every service listens on; None = ip (set
                                               "0.0.0.0" to listen everywhere)
master_address           None                  host:port of the master the agents and frameworks
                                               use; None = the first host of group masters (the
                                               seam for HA with ZooKeeper)
master_port              5050                  master API
agent_port               5051                  agent API
marathon_port            8080                  Marathon REST API
chronos_port             4400                  Chronos REST API
lb_http_port             80                    load balancer HTTP (vhost) frontend on public
                                               agents (0 = none)
lb_stats_port            9090                  load balancer stats/health listener (0 = none)
lb_bind_address          None                  address the load balancer listens on; None =
                                               bind_address (set "0.0.0.0" to serve a public
                                               interface too)
lb_groups                "external"            HAPROXY_GROUPs the public agents' load balancer
                                               serves (* = every app)
agent_resources          None                  None = discovered; or "cpus:4;mem:8192", or a
                                               dict {"cpus": 4, "mem": 8192}
agent_attributes         {}                    dict (or "k:v;k2:v2" string) of agent attributes,
                                               e.g. {"rack": "r1"}
public_agent_attributes  {"public_ip": "true"} attributes added on hosts of public_agents (under
                                               agent_attributes)
containerizers           "mesos"               agent containerizers; docker is added when
                                               docker_enabled
isolation                None                  agent isolators; None = the agent picks (cgroups
                                               + namespaces where possible)
docker_enabled           False                 install the Docker engine (docker.io) on agents
                                               and enable the docker containerizer
docker_options           {}                    the Docker engine's /etc/docker/daemon.json on
                                               agents with docker_enabled (e.g.
                                               {"data-root": "/srv/docker", "live-restore":
                                               True}); the engine restarts when it changes
apt_proxy                None                  http://proxy:3142-style URL written to
                                               /etc/apt/apt.conf.d/01dcos-proxy (removed when
                                               None)
wheelhouse_dir           "build/wheelhouse"    control-side build directory of the wheelhouse
                                               (relative to the repository)
agent_upgrade_batch      1                     agents restarted at once when their code or
                                               configuration changed (cluster-wide only)
restart_timeout          60                    seconds a restarted service gets to answer
                                               (master /health, agent rejoin, Marathon/Chronos
                                               /ping)
master_options           {}                    extra [master] settings of dcos-core master (TOML
                                               keys, e.g. {"weights": "eng=2"})
agent_options            {}                    extra [agent] settings (e.g.
                                               {"cgroups_enable_cfs": True})
marathon_options         {}                    extra [marathon] settings
chronos_options          {}                    extra [chronos] settings (e.g. {"prelaunch": 30})
lb_options               {}                    extra [lb] settings
image_roles              "master,agent,public_agent"
                                               roles an appliance image holds (group images):
                                               each is installed, none enabled until first boot

Inventory groups: `masters` (master, Marathon, Chronos), `agents` (agent), `public_agents`
(agent + `dcos-lb` with HAProxy); `images`: a VM being baked into an appliance image (Packer),
which gets the code and units of every role in `image_roles`, and nothing enabled.
`resolve(host)` returns the effective settings of a host with the derived values the roles and
templates use (`address`, `bind`, `master`, `marathon_url`, `version`, `venv`, `roles`, ...).
"""

from __future__ import annotations

import copy
import ipaddress
import json
import re
import socket
from collections.abc import Callable, Mapping, Sequence
from typing import Any

SPEC: tuple[tuple[str, Any, str], ...] = (
    ("cluster_name", "dcos-core", "name shown in unit descriptions and config headers"),
    (
        "dcos_version",
        None,
        "dcos-core version to install; None = the version of this checkout (its wheel is "
        "built on the control machine); another version must already be in "
        "`wheelhouse_dir/<version>/` (a rollback)",
    ),
    (
        "install_dir",
        "/opt/dcos-core",
        "code: the venv `<install_dir>/venv`, the uploaded wheelhouse, helper scripts",
    ),
    ("config_dir", "/etc/dcos-core", "configuration files (`root:<system_user>`, 0750)"),
    (
        "data_dir",
        "/var/lib/dcos-core",
        "home of the system user; work dirs `master`, `agent`, `marathon`, `chronos`, "
        "`lb` under it",
    ),
    (
        "system_user",
        "dcos",
        "system user (nologin) running the master, Marathon and Chronos; the agent and "
        "the load balancer run as root",
    ),
    (
        "ip",
        None,
        "the host's private address, advertised to the cluster; None = the inventory "
        "address if it is an IP (`ssh_hostname` or the host name), else its DNS "
        "resolution on the control machine",
    ),
    (
        "bind_address",
        None,
        'address every service listens on; None = `ip` (set `"0.0.0.0"` to listen everywhere)',
    ),
    (
        "master_address",
        None,
        "`host:port` of the master the agents and frameworks use; None = the first host "
        "of group `masters` (the seam for HA with ZooKeeper)",
    ),
    ("master_port", 5050, "master API"),
    ("agent_port", 5051, "agent API"),
    ("marathon_port", 8080, "Marathon REST API"),
    ("chronos_port", 4400, "Chronos REST API"),
    ("lb_http_port", 80, "load balancer HTTP (vhost) frontend on public agents (0 = none)"),
    ("lb_stats_port", 9090, "load balancer stats/health listener (0 = none)"),
    (
        "lb_bind_address",
        None,
        'address the load balancer listens on; None = `bind_address` (set `"0.0.0.0"` '
        "to serve a public interface too)",
    ),
    (
        "lb_groups",
        "external",
        "`HAPROXY_GROUP`s the public agents' load balancer serves (`*` = every app)",
    ),
    (
        "agent_resources",
        None,
        'None = discovered; or `"cpus:4;mem:8192"`, or a dict `{"cpus": 4, "mem": 8192}`',
    ),
    (
        "agent_attributes",
        {},
        'dict (or `"k:v;k2:v2"` string) of agent attributes, e.g. `{"rack": "r1"}`',
    ),
    (
        "public_agent_attributes",
        {"public_ip": "true"},
        "attributes added on hosts of `public_agents` (under `agent_attributes`)",
    ),
    ("containerizers", "mesos", "agent containerizers; `docker` is added when `docker_enabled`"),
    (
        "isolation",
        None,
        "agent isolators; None = the agent picks (cgroups + namespaces where possible)",
    ),
    (
        "docker_enabled",
        False,
        "install the Docker engine (`docker.io`) on agents and enable the docker containerizer",
    ),
    (
        "docker_options",
        {},
        "the Docker engine's `/etc/docker/daemon.json` on agents with `docker_enabled` (e.g. "
        '`{"data-root": "/srv/docker", "live-restore": True}`); the engine restarts when it '
        "changes",
    ),
    (
        "apt_proxy",
        None,
        "`http://proxy:3142`-style URL written to `/etc/apt/apt.conf.d/01dcos-proxy` "
        "(removed when None)",
    ),
    (
        "wheelhouse_dir",
        "build/wheelhouse",
        "control-side build directory of the wheelhouse (relative to the repository)",
    ),
    (
        "agent_upgrade_batch",
        1,
        "agents restarted at once when their code or configuration changed (cluster-wide only)",
    ),
    (
        "restart_timeout",
        60,
        "seconds a restarted service gets to answer (master `/health`, agent rejoin, "
        "Marathon/Chronos `/ping`)",
    ),
    (
        "master_options",
        {},
        'extra `[master]` settings of `dcos-core master` (TOML keys, e.g. `{"weights": "eng=2"}`)',
    ),
    ("agent_options", {}, 'extra `[agent]` settings (e.g. `{"cgroups_enable_cfs": True}`)'),
    ("marathon_options", {}, "extra `[marathon]` settings"),
    ("chronos_options", {}, 'extra `[chronos]` settings (e.g. `{"prelaunch": 30}`)'),
    ("lb_options", {}, "extra `[lb]` settings"),
    (
        "image_roles",
        "master,agent,public_agent",
        "roles an appliance image holds (hosts of group `images`): each is installed, none is "
        "enabled until the first boot picks one (`appliance/`)",
    ),
)

#: The defaults of every setting (see the module docstring for what each one is).
DEFAULTS: dict[str, Any] = {key: default for key, default, _ in SPEC}

MASTERS, AGENTS, PUBLIC_AGENTS, IMAGES = "masters", "agents", "public_agents", "images"
#: The roles a host can have (an appliance image's `image_roles` are among them).
ROLE_NAMES = ("master", "agent", "public_agent")

_USER = re.compile(r"[a-z_][a-z0-9_-]{0,31}")
_TOML_KEY = re.compile(r"[A-Za-z0-9_-]+")

#: Keys the templates set themselves: `*_options` may not repeat them.
TEMPLATED_KEYS: dict[str, frozenset[str]] = {
    "master": frozenset({"ip", "port", "hostname", "work_dir"}),
    "agent": frozenset(
        {
            "master",
            "ip",
            "port",
            "hostname",
            "work_dir",
            "resources",
            "attributes",
            "containerizers",
            "isolation",
            "recover",
        }
    ),
    "marathon": frozenset({"master", "ip", "port", "hostname", "work_dir"}),
    "chronos": frozenset({"master", "ip", "port", "hostname", "work_dir"}),
    "lb": frozenset({"marathon", "bind_address", "http_port", "stats_port", "work_dir", "groups"}),
}


class SettingsError(ValueError):
    """A setting has a value the deploy cannot use (the message names the host and the key)."""


def defaults() -> dict[str, Any]:
    """A deep copy of DEFAULTS (safe to mutate): the `data_defaults` of every role."""
    return copy.deepcopy(DEFAULTS)


def merged(get: Callable[[str, Any], Any]) -> dict[str, Any]:
    """The settings as seen through `get(key, default)` (pyinfra's `host.data.get`)."""
    return {key: copy.deepcopy(get(key, default)) for key, default, _ in SPEC}


def is_ip(text: str | None) -> bool:
    """True for an IPv4/IPv6 literal."""
    if not text:
        return False
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def host_address(
    name: str,
    get: Callable[[str, Any], Any],
    resolver: Callable[[str], str] = socket.gethostbyname,
) -> str:
    """The private address of a host: its `ip` data, else its inventory address.

    The inventory address is `ssh_hostname` when set, else the host's name; a DNS name is
    resolved on the control machine (set `ip` when SSH goes through another address).

    Example:
        >>> host_address("10.0.0.5", lambda k, d=None: d)
        '10.0.0.5'
        >>> host_address("m1", {"ip": "10.0.0.9"}.get)
        '10.0.0.9'
    """
    ip = get("ip", None)
    if ip:
        return str(ip)
    ssh_hostname = get("ssh_hostname", None)
    target = str(ssh_hostname or name)
    if is_ip(target):
        return target
    try:
        return resolver(target)
    except OSError as e:
        raise SettingsError(
            f"{name}: cannot resolve {target!r} to an address ({e}); set `ip` for this host"
        ) from None


def master_address(
    masters: Sequence[tuple[str, Callable[[str, Any], Any]]],
    override: str | None = None,
    resolver: Callable[[str], str] = socket.gethostbyname,
) -> str:
    """`host:port` of the master the agents and frameworks talk to.

    Until high availability (ZooKeeper) lands this is the first host of group `masters`; an
    explicit `master_address` setting wins. This is the one place to change when masters elect
    a leader (it would then return a `zk://` URL or a list).

    Example:
        >>> master_address([("10.0.0.2", lambda k, d=None: d)])
        '10.0.0.2:5050'
    """
    if override:
        return str(override)
    if not masters:
        raise SettingsError(
            "the inventory has no host in group `masters` (or set `master_address`)"
        )
    name, get = masters[0]
    return f"{host_address(name, get, resolver)}:{int(get('master_port', DEFAULTS['master_port']))}"


def format_attributes(attributes: Mapping[str, Any] | str | None) -> str | None:
    """`{"rack": "r1", "zone": "a"}` -> `"rack:r1;zone:a"` (a string is kept as given).

    Example:
        >>> format_attributes({"rack": "r1", "weight": 2.5})
        'rack:r1;weight:2.5'
        >>> format_attributes({}) is None
        True
    """
    if attributes is None:
        return None
    if isinstance(attributes, str):
        return attributes.strip() or None
    parts = []
    for key, value in attributes.items():
        text = _scalar_text(value)
        if not str(key) or any(c in str(key) for c in ":; ") or ";" in text or not text:
            raise SettingsError(f"agent attribute {key!r}: {value!r} is not a name:value pair")
        parts.append(f"{key}:{text}")
    return ";".join(parts) or None


def format_resources(resources: Mapping[str, Any] | str | None) -> str | None:
    """`{"cpus": 4, "mem": 8192}` -> `"cpus:4;mem:8192"`; a string is kept; None = discovered.

    Example:
        >>> format_resources({"cpus": 4, "ports": "[31000-32000]"})
        'cpus:4;ports:[31000-32000]'
    """
    if resources is None:
        return None
    if isinstance(resources, str):
        return resources.strip() or None
    parts = [f"{name}:{_scalar_text(value)}" for name, value in resources.items()]
    return ";".join(parts) or None


def _scalar_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def effective_containerizers(containerizers: str, docker_enabled: bool) -> str:
    """The agent's containerizers: `docker` is added when the Docker engine is deployed.

    Example:
        >>> effective_containerizers("mesos", True)
        'mesos,docker'
    """
    names = [c.strip() for c in containerizers.split(",") if c.strip()]
    if docker_enabled and "docker" not in names:
        names.append("docker")
    return ",".join(names)


def split_roles(text: str) -> list[str]:
    """`"master, agent"` -> `["master", "agent"]`."""
    return [r.strip() for r in text.split(",") if r.strip()]


def host_roles(groups: Sequence[str] | set[str]) -> list[str]:
    """The roles of a host from its inventory groups, in deploy order.

    Example:
        >>> host_roles(["public_agents"])
        ['agent', 'public_agent']
    """
    roles = []
    if MASTERS in groups:
        roles.append("master")
    if AGENTS in groups or PUBLIC_AGENTS in groups:
        roles.append("agent")
    if PUBLIC_AGENTS in groups:
        roles.append("public_agent")
    return roles


def _check(name: str, s: dict[str, Any]) -> None:
    """Raise SettingsError for values no role could use."""

    def bad(key: str, why: str) -> SettingsError:
        return SettingsError(f"{name}: setting `{key}` = {s[key]!r}: {why}")

    for key in ("master_port", "agent_port", "marathon_port", "chronos_port"):
        if not isinstance(s[key], int) or isinstance(s[key], bool) or not 0 < s[key] < 65536:
            raise bad(key, "must be a port number 1-65535")
    for key in ("lb_http_port", "lb_stats_port"):
        if not isinstance(s[key], int) or isinstance(s[key], bool) or not 0 <= s[key] < 65536:
            raise bad(key, "must be a port number 0-65535 (0 = off)")
    batch = s["agent_upgrade_batch"]
    if not isinstance(batch, int) or isinstance(batch, bool) or batch < 1:
        raise bad("agent_upgrade_batch", "must be an integer >= 1")
    if not isinstance(s["restart_timeout"], int | float) or s["restart_timeout"] <= 0:
        raise bad("restart_timeout", "must be a positive number of seconds")
    if not isinstance(s["docker_enabled"], bool):
        raise bad("docker_enabled", "must be True or False")
    if not isinstance(s["image_roles"], str) or not set(split_roles(s["image_roles"])) <= set(
        ROLE_NAMES
    ):
        raise bad("image_roles", f"must be a comma-separated list of {', '.join(ROLE_NAMES)}")
    if not isinstance(s["docker_options"], dict) or not all(
        isinstance(k, str) and k for k in s["docker_options"]
    ):
        raise bad("docker_options", "must be a dict of daemon.json keys")
    try:
        json.dumps(s["docker_options"])
    except (TypeError, ValueError) as e:
        raise bad("docker_options", f"must be JSON-serializable ({e})") from None
    for key in ("install_dir", "config_dir", "data_dir"):
        if not isinstance(s[key], str) or not s[key].startswith("/") or s[key] == "/":
            raise bad(key, "must be an absolute directory path")
    if not isinstance(s["system_user"], str) or not _USER.fullmatch(s["system_user"]):
        raise bad("system_user", "must be a user name")
    for key in ("agent_attributes", "public_agent_attributes"):
        if not isinstance(s[key], dict | str):
            raise bad(key, "must be a dict or a 'k:v;k2:v2' string")
    if s["agent_resources"] is not None and not isinstance(s["agent_resources"], dict | str):
        raise bad("agent_resources", "must be None, a dict or a 'cpus:4;mem:8192' string")
    for role, keys in TEMPLATED_KEYS.items():
        key = f"{role}_options"
        if not isinstance(s[key], dict):
            raise bad(key, "must be a dict of TOML keys")
        clash = sorted(keys & set(s[key]))
        if clash:
            raise bad(key, f"{', '.join(clash)} are set by the deploy; use the matching setting")
        for k, v in s[key].items():
            if not isinstance(k, str) or not _TOML_KEY.fullmatch(k):
                raise bad(key, f"{k!r} is not a setting name")
            if not isinstance(v, str | int | float | bool):
                raise bad(key, f"{k}: only strings, numbers and booleans are supported")


def derive(
    name: str,
    get: Callable[[str, Any], Any],
    groups: Sequence[str] | set[str],
    masters: Sequence[tuple[str, Callable[[str, Any], Any]]],
    source_version: Callable[[], str],
    resolver: Callable[[str], str] = socket.gethostbyname,
) -> dict[str, Any]:
    """A host's effective settings (pure: everything comes in as arguments).

    `get(key, default)` reads the host's data (host > group > all > `default`), `masters` are
    the (name, get) of the hosts of group `masters` in inventory order and `source_version()`
    the version of this checkout.
    """
    s = merged(get)
    _check(name, s)
    address = host_address(name, get, resolver)
    image = IMAGES in groups
    if image:  # everything of image_roles installed; the first boot decides what runs
        install_roles = split_roles(s["image_roles"])
        if "public_agent" in install_roles and "agent" not in install_roles:
            install_roles.insert(0, "agent")
        roles = ["image"]
        # no cluster yet: configuration is written at first boot, never from these values
        masters = masters or [(name, get)]
    else:
        roles = install_roles = host_roles(groups)
        if s["docker_enabled"] and "agent" in roles:
            roles = [*roles, "docker"]  # /etc/dcos-core/roles: the Docker engine's checks apply
    attributes = format_attributes(s["agent_attributes"])
    if "public_agent" in install_roles:
        public = format_attributes(s["public_agent_attributes"])
        attributes = ";".join(a for a in (public, attributes) if a) or None
    master = master_address(masters, s["master_address"], resolver)
    master_host = master.rsplit(":", 1)[0]
    bind = s["bind_address"] or address
    s.update(
        name=name,
        address=address,
        bind=bind,
        # where a check on the host itself reaches the services
        local=address if bind in ("0.0.0.0", "::") else bind,
        lb_bind=s["lb_bind_address"] or bind,
        master=master,
        marathon_url=f"http://{master_host}:{s['marathon_port']}",
        version=str(s["dcos_version"] or source_version()),
        venv=f"{s['install_dir']}/venv",
        dcos_core=f"{s['install_dir']}/venv/bin/dcos-core",
        wait=f"{s['install_dir']}/bin/dcos-wait",
        roles=roles,
        install_roles=install_roles,
        image=image,
        attributes=attributes,
        resources=format_resources(s["agent_resources"]),
        agent_containerizers=effective_containerizers(s["containerizers"], s["docker_enabled"]),
        docker_daemon_json=json.dumps(s["docker_options"], indent=2, sort_keys=True) + "\n",
    )
    return s


def resolve(host: Any = None) -> dict[str, Any]:
    """The effective settings of a pyinfra host (the current one by default)."""
    from pyinfra import host as current_host
    from pyinfra import inventory

    from roles import wheelhouse

    host = host or current_host
    masters = [(h.name, h.data.get) for h in inventory.get_group(MASTERS, [])]
    return derive(
        host.name,
        host.data.get,
        host.groups,
        masters,
        wheelhouse.source_version,
    )


def markdown_table() -> str:
    """The settings as a markdown table (docs/deploy.md repeats it)."""
    rows = ["| setting | default | what it is |", "|---|---|---|"]
    for key, default, description in SPEC:
        rows.append(f"| `{key}` | `{_python(default)}` | {description} |")
    return "\n".join(rows)


def _python(value: Any) -> str:
    return '"' + value + '"' if isinstance(value, str) else repr(value).replace("'", '"')
