"""The settings of a dcos-core deploy: one pydantic model, `DeploySettings`.

Every setting can be overridden for the whole inventory, per group and per host, the pyinfra way
(precedence, highest first: `--data key=value` on the command line, host data, group data, the
`all` data / `group_data/all.py`, then the model's defaults). An inventory with one master and
some agents needs none of them: only the hosts and SSH access.

The model is the one place a setting is declared: its type, default, constraints and description.
The settings table of docs/deploy.md is generated from it (`python -m roles.settings --write-docs`;
a unit test fails when the docs drift) and `python -m roles.settings --markdown` prints it. A host
whose settings break the model stops the deploy before any operation, with one line naming the
host and every bad setting with its reason (`SettingsError`).

Inventory groups: `masters` (master, Marathon, Chronos), `agents` (agent), `public_agents`
(agent + `dcos-lb` with HAProxy); `images`: a VM being baked into an appliance image (Packer),
which gets the code and units of every role in `image_roles`, and nothing enabled.
`resolve(host)` returns the effective settings of a host with the derived values the roles and
templates use (`address`, `bind`, `master`, `marathon_url`, `version`, `venv`, `roles`, ...).

This module also runs at an appliance's first boot (`appliance/firstboot.py`, in the image's
venv): it needs pydantic, never pyinfra (imported only by `resolve`).
"""

from __future__ import annotations

import copy
import ipaddress
import json
import re
import socket
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    Strict,
    StrictFloat,
    StrictInt,
    ValidationError,
)

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


# ---------------------------------------------------------------------------------------------
# what each kind of setting accepts


@dataclass(frozen=True)
class Accepts:
    """What a setting accepts, in words: the docs' column, and the reason when a value is not.

    Pydantic checks the value (types and constraints next to this marker); a validator that
    finds a value outside that set raises `NotAccepted` to give this text as the reason, or a
    `ValueError` whose message is a more precise one.
    """

    text: str


class NotAccepted(ValueError):
    """Raised by a validator: the reason is what the setting accepts (its `Accepts` text)."""


def _absolute_dir(value: str) -> str:
    if not value.startswith("/") or value == "/":
        raise NotAccepted()
    return value


def _user_name(value: str) -> str:
    if not _USER.fullmatch(value):
        raise NotAccepted()
    return value


def _role_list(value: str) -> str:
    if not set(split_roles(value)) <= set(ROLE_NAMES):
        raise NotAccepted()
    return value


def _attributes(value: dict[str, Any] | str) -> dict[str, Any] | str:
    try:
        format_attributes(value)
    except SettingsError as e:
        raise ValueError(str(e)) from None
    return value


def _daemon_json(value: dict[str, Any]) -> dict[str, Any]:
    if not all(value):  # the keys: str by the type, and not empty
        raise NotAccepted()
    try:
        json.dumps(value)
    except (TypeError, ValueError) as e:
        raise ValueError(f"must be JSON-serializable ({e})") from None
    return value


def _toml_options(role: str) -> BeforeValidator:
    """Checks `<role>_options` before its type: keys the template sets, names, value types."""
    templated = TEMPLATED_KEYS[role]

    def check(value: Any) -> Any:
        if not isinstance(value, dict):
            return value  # the type check rejects it with the Accepts text
        clash = sorted(templated & set(value))
        if clash:
            raise ValueError(f"{', '.join(clash)} are set by the deploy; use the matching setting")
        for key, item in value.items():
            if not isinstance(key, str) or not _TOML_KEY.fullmatch(key):
                raise ValueError(f"{key!r} is not a setting name")
            if not isinstance(item, str | int | float | bool):
                raise ValueError(f"{key}: only strings, numbers and booleans are supported")
        return value

    return BeforeValidator(check)


# Numbers given where text is expected (`--data cluster_name=7`, YAML `dcos_version: 1.0`)
# become that text, as the templates would print them.
Text = Annotated[str, Field(coerce_numbers_to_str=True), Accepts("a string")]
OptionalText = Annotated[str | None, Field(coerce_numbers_to_str=True), Accepts("a string or None")]
Directory = Annotated[str, AfterValidator(_absolute_dir), Accepts("an absolute directory path")]
UserName = Annotated[str, AfterValidator(_user_name), Accepts("a user name")]
Port = Annotated[int, Strict(), Field(ge=1, le=65535), Accepts("a port number 1-65535")]
PortOrOff = Annotated[
    int, Strict(), Field(ge=0, le=65535), Accepts("a port number 0-65535 (0 = off)")
]
Flag = Annotated[bool, Strict(), Accepts("True or False")]
Attributes = Annotated[
    dict[str, Any] | str,
    AfterValidator(_attributes),
    Accepts("a dict or a 'k:v;k2:v2' string"),
]
TomlOptions = Annotated[
    dict[str, str | int | float | bool], Accepts("a dict of TOML keys and scalar values")
]


class DeploySettings(BaseModel):
    """The settings of one host of a deploy (host data > group data > all data > default).

    Every field is a setting of the inventory (docs/deploy.md lists them, generated from here);
    the values the roles derive from them (addresses, the master, the version) are `derive`'s.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)

    cluster_name: Text = Field(
        "dcos-core", description="name shown in unit descriptions and config headers"
    )
    dcos_version: OptionalText = Field(
        None,
        description="dcos-core version to install; None = the version of this checkout (its "
        "wheel is built on the control machine); another version must already be in "
        "`wheelhouse_dir/<version>/` (a rollback)",
    )
    install_dir: Directory = Field(
        "/opt/dcos-core",
        description="code: the venv `<install_dir>/venv`, the uploaded wheelhouse, helper scripts",
    )
    config_dir: Directory = Field(
        "/etc/dcos-core", description="configuration files (`root:<system_user>`, 0750)"
    )
    data_dir: Directory = Field(
        "/var/lib/dcos-core",
        description="home of the system user; work dirs `master`, `agent`, `marathon`, "
        "`chronos`, `lb` under it",
    )
    system_user: UserName = Field(
        "dcos",
        description="system user (nologin) running the master, Marathon and Chronos; the agent "
        "and the load balancer run as root",
    )
    ip: OptionalText = Field(
        None,
        description="the host's private address, advertised to the cluster; None = the "
        "inventory address if it is an IP (`ssh_hostname` or the host name), else its DNS "
        "resolution on the control machine",
    )
    bind_address: OptionalText = Field(
        None,
        description='address every service listens on; None = `ip` (set `"0.0.0.0"` to listen '
        "everywhere)",
    )
    master_address: OptionalText = Field(
        None,
        description="`host:port` of the master the agents and frameworks use; None = the first "
        "host of group `masters` (the seam for HA with ZooKeeper)",
    )
    master_port: Port = Field(5050, description="master API")
    agent_port: Port = Field(5051, description="agent API")
    marathon_port: Port = Field(8080, description="Marathon REST API")
    chronos_port: Port = Field(4400, description="Chronos REST API")
    lb_http_port: PortOrOff = Field(
        80, description="load balancer HTTP (vhost) frontend on public agents (0 = none)"
    )
    lb_stats_port: PortOrOff = Field(
        9090, description="load balancer stats/health listener (0 = none)"
    )
    lb_bind_address: OptionalText = Field(
        None,
        description='address the load balancer listens on; None = `bind_address` (set `"0.0.0.0"` '
        "to serve a public interface too)",
    )
    lb_groups: Text = Field(
        "external",
        description="`HAPROXY_GROUP`s the public agents' load balancer serves (`*` = every app)",
    )
    agent_resources: Annotated[
        dict[str, Any] | str | None, Accepts("None, a dict or a 'cpus:4;mem:8192' string")
    ] = Field(
        None,
        description='None = discovered; or `"cpus:4;mem:8192"`, or a dict '
        '`{"cpus": 4, "mem": 8192}`',
    )
    agent_attributes: Attributes = Field(
        {}, description='agent attributes, e.g. `{"rack": "r1"}` or `"rack:r1;zone:a"`'
    )
    public_agent_attributes: Attributes = Field(
        {"public_ip": "true"},
        description="attributes added on hosts of `public_agents` (under `agent_attributes`)",
    )
    containerizers: Text = Field(
        "mesos", description="agent containerizers; `docker` is added when `docker_enabled`"
    )
    isolation: OptionalText = Field(
        None,
        description="agent isolators; None = the agent picks (cgroups + namespaces where possible)",
    )
    docker_enabled: Flag = Field(
        False,
        description="install the Docker engine (`docker.io`) on agents and enable the docker "
        "containerizer",
    )
    docker_options: Annotated[
        dict[str, Any], AfterValidator(_daemon_json), Accepts("a dict of daemon.json keys")
    ] = Field(
        {},
        description="the Docker engine's `/etc/docker/daemon.json` on agents with "
        '`docker_enabled` (e.g. `{"data-root": "/srv/docker", "live-restore": True}`); the '
        "engine restarts when it changes",
    )
    apt_proxy: OptionalText = Field(
        None,
        description="`http://proxy:3142`-style URL written to `/etc/apt/apt.conf.d/01dcos-proxy` "
        "(removed when None)",
    )
    wheelhouse_dir: Text = Field(
        "build/wheelhouse",
        description="control-side build directory of the wheelhouse (relative to the repository)",
    )
    agent_upgrade_batch: Annotated[int, Strict(), Field(ge=1), Accepts("an integer >= 1")] = Field(
        1,
        description="agents restarted at once when their code or configuration changed "
        "(cluster-wide only)",
    )
    restart_timeout: Annotated[
        StrictInt | StrictFloat, Field(gt=0), Accepts("a positive number of seconds")
    ] = Field(
        60,
        description="seconds a restarted service gets to answer (master `/health`, agent "
        "rejoin, Marathon/Chronos `/ping`)",
    )
    master_options: Annotated[TomlOptions, _toml_options("master")] = Field(
        {},
        description="extra `[master]` settings of `dcos-core master` (TOML keys, e.g. "
        '`{"weights": "eng=2"}`)',
    )
    agent_options: Annotated[TomlOptions, _toml_options("agent")] = Field(
        {}, description='extra `[agent]` settings (e.g. `{"cgroups_enable_cfs": True}`)'
    )
    marathon_options: Annotated[TomlOptions, _toml_options("marathon")] = Field(
        {}, description="extra `[marathon]` settings"
    )
    chronos_options: Annotated[TomlOptions, _toml_options("chronos")] = Field(
        {}, description='extra `[chronos]` settings (e.g. `{"prelaunch": 30}`)'
    )
    lb_options: Annotated[TomlOptions, _toml_options("lb")] = Field(
        {}, description="extra `[lb]` settings"
    )
    image_roles: Annotated[
        str,
        AfterValidator(_role_list),
        Accepts(f"a comma-separated list of {', '.join(ROLE_NAMES)}"),
    ] = Field(
        ",".join(ROLE_NAMES),
        description="roles an appliance image holds (hosts of group `images`): each is "
        "installed, none is enabled until the first boot picks one (`appliance/`)",
    )


# ---------------------------------------------------------------------------------------------
# derived values


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


# ---------------------------------------------------------------------------------------------
# a host's settings


#: The names of the settings, in the model's (and the docs') order.
NAMES: tuple[str, ...] = tuple(DeploySettings.model_fields)
#: The defaults of every setting.
DEFAULTS: dict[str, Any] = DeploySettings().model_dump()


def defaults() -> dict[str, Any]:
    """A deep copy of DEFAULTS (safe to mutate): the `data_defaults` of every role."""
    return copy.deepcopy(DEFAULTS)


def merged(get: Callable[[str, Any], Any]) -> dict[str, Any]:
    """The settings as seen through `get(key, default)` (pyinfra's `host.data.get`)."""
    return {key: copy.deepcopy(get(key, DEFAULTS[key])) for key in NAMES}


def validated(name: str, values: Mapping[str, Any]) -> dict[str, Any]:
    """`values` checked against `DeploySettings` (missing ones get their default).

    Raises SettingsError naming the host and every bad setting, on one line.

    Example:
        >>> validated("a1", {"agent_port": 5999})["agent_port"]
        5999
        >>> try:
        ...     validated("a1", {"agent_port": 0, "docker_enabled": "yes"})
        ... except SettingsError as e:
        ...     print(e)
        a1: setting `agent_port` = 0: must be a port number \
1-65535; setting `docker_enabled` = 'yes': must be True or False
    """
    try:
        return DeploySettings.model_validate(values).model_dump()
    except ValidationError as e:
        problems = "; ".join(
            f"setting `{key}` = {values.get(key)!r}: {reason}" for key, reason in _reasons(e)
        )
        raise SettingsError(f"{name}: {problems}") from None


def _reasons(error: ValidationError) -> list[tuple[str, str]]:
    """(setting, reason) of each bad setting: a validator's own message, else its Accepts."""
    reasons: dict[str, str] = {}
    for problem in error.errors():
        key = str(problem["loc"][0])
        if key in reasons:  # a union reports each member: one reason per setting is enough
            continue
        cause = problem.get("ctx", {}).get("error")
        if isinstance(cause, ValueError) and not isinstance(cause, NotAccepted):
            reasons[key] = str(cause)
        elif (accepts := _accepts(key)) is not None:
            reasons[key] = f"must be {accepts}"
        else:
            reasons[key] = problem["msg"]
    return list(reasons.items())


def _accepts(key: str) -> str | None:
    field = DeploySettings.model_fields.get(key)
    marks = [m for m in (field.metadata if field else []) if isinstance(m, Accepts)]
    return marks[-1].text if marks else None


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
    s = validated(name, merged(get))
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


# ---------------------------------------------------------------------------------------------
# the docs table


#: docs/deploy.md holds the generated table between these two lines.
TABLE_BEGIN = "<!-- settings table: generated by `python -m roles.settings --write-docs` -->"
TABLE_END = "<!-- end of the settings table -->"
DOCS = Path(__file__).resolve().parents[1] / "docs" / "deploy.md"


def markdown_table() -> str:
    """The settings as a markdown table: name, what it accepts, default, description."""
    rows = ["| setting | accepts | default | what it is |", "|---|---|---|---|"]
    for key, field in DeploySettings.model_fields.items():
        rows.append(
            f"| `{key}` | {_accepts(key)} | `{_python(DEFAULTS[key])}` | {field.description} |"
        )
    return "\n".join(rows)


def with_table(doc: str) -> str:
    """`doc` (docs/deploy.md) with the text between its table markers generated afresh."""
    head, begin, rest = doc.partition(TABLE_BEGIN)
    _, end, tail = rest.partition(TABLE_END)
    if not begin or not end:
        raise ValueError(f"the settings table markers are missing: {TABLE_BEGIN} ... {TABLE_END}")
    return f"{head}{TABLE_BEGIN}\n{markdown_table()}\n{TABLE_END}{tail}"


def _python(value: Any) -> str:
    return '"' + value + '"' if isinstance(value, str) else repr(value).replace("'", '"')


def main(argv: Sequence[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(
        prog="python -m roles.settings", description="The deploy's settings table."
    )
    what = parser.add_mutually_exclusive_group(required=True)
    what.add_argument("--markdown", action="store_true", help="print the table")
    what.add_argument("--write-docs", action="store_true", help=f"write the table into {DOCS.name}")
    what.add_argument(
        "--check-docs", action="store_true", help=f"exit 1 if {DOCS.name} differs from the model"
    )
    args = parser.parse_args(argv)
    if args.markdown:
        print(markdown_table())
        return 0
    doc = DOCS.read_text()
    fresh = with_table(doc)
    if args.check_docs:
        if fresh != doc:
            print(f"{DOCS}: the settings table is stale: python -m roles.settings --write-docs")
            return 1
        return 0
    if fresh != doc:
        DOCS.write_text(fresh)
    print(f"{DOCS}: {'updated' if fresh != doc else 'up to date'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
