"""Pure HAProxy configuration from Marathon apps (marathon-lb label semantics, a subset).

`backends_from_apps` turns `GET /v2/apps?embed=apps.tasks` apps into one `Service` per service
port; `render_haproxy` renders the services a balancer serves into a complete `haproxy.cfg`.
Both are deterministic: the same apps (in any order) render byte-identical text, so an unchanged
cluster never triggers a reload.

Labels (per service port index `n`; `HAPROXY_GROUP` applies to every port):
    HAPROXY_GROUP, HAPROXY_{n}_GROUP  comma list of groups (default `external`)
    HAPROXY_{n}_ENABLED               `false` hides the port
    HAPROXY_{n}_PORT                  bind port, overriding the service port
    HAPROXY_{n}_BIND_ADDR             bind address, overriding the balancer's
    HAPROXY_{n}_MODE                  `tcp` (default) or `http` (default when the port has a
                                      vhost or an HTTP health check)
    HAPROXY_{n}_VHOST                 comma list of host names routed from the HTTP frontend
    HAPROXY_{n}_PATH                  path prefix required with the vhost
    HAPROXY_{n}_BALANCE               HAProxy balance algorithm (default `roundrobin`)

Servers are the app's TASK_RUNNING tasks whose health check results are all alive (and, when
the app has health checks, that have at least one result), addressed `host:ports[n]`.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any, Literal

import jinja2

from dcos_core.frameworks.lb.settings import LbSettings
from dcos_core.model.task import TaskState

__all__ = [
    "Server",
    "Service",
    "backends_from_apps",
    "render_haproxy",
    "sanitize",
    "served",
    "task_is_up",
]

log = logging.getLogger(__name__)

DEFAULT_GROUP = "external"
HTTP_HEALTH_PROTOCOLS = frozenset({"HTTP", "HTTPS", "MESOS_HTTP", "MESOS_HTTPS"})
_UNSAFE = re.compile(r"[^A-Za-z0-9_.:-]")
_HOST_OK = re.compile(r"^[A-Za-z0-9*.-]+$")
_PATH_OK = re.compile(r"^/[^\s#\\]*$")
_BALANCE = frozenset({"roundrobin", "static-rr", "leastconn", "first", "source", "random"})

Mode = Literal["tcp", "http"]


@dataclass(frozen=True, order=True)
class Server:
    """One backend server: a running, healthy task's port."""

    host: str
    port: int
    name: str


@dataclass(frozen=True)
class Service:
    """One exposed port of one app: a frontend (on `port`) and a backend (`servers`)."""

    app_id: str
    index: int
    port: int
    backend: str
    mode: Mode
    groups: tuple[str, ...]
    servers: tuple[Server, ...]
    vhosts: tuple[str, ...] = ()
    path: str | None = None
    bind_address: str | None = None
    balance: str = "roundrobin"
    http_check_path: str | None = None


def sanitize(text: str) -> str:
    """A name HAProxy accepts as a proxy or server name."""
    return _UNSAFE.sub("_", text)


def _label(labels: Mapping[str, Any], index: int, name: str) -> str | None:
    value = labels.get(f"HAPROXY_{index}_{name}")
    return None if value is None else str(value).strip()


def _csv(value: str | None) -> tuple[str, ...]:
    return tuple(v.strip() for v in (value or "").split(",") if v.strip())


def _service_ports(app: Mapping[str, Any]) -> list[int]:
    """Service ports like marathon-lb: container port mappings, else portDefinitions/ports."""
    container = app.get("container") or {}
    for mappings in (
        container.get("portMappings"),
        (container.get("docker") or {}).get("portMappings"),
    ):
        if mappings:
            return [int(m.get("servicePort") or 0) for m in mappings]
    if app.get("portDefinitions"):
        return [int(p.get("port") or 0) for p in app["portDefinitions"]]
    return [int(p) for p in app.get("ports") or []]


def _health_checks_for(app: Mapping[str, Any], index: int, service_port: int) -> list[Any]:
    found = []
    for hc in app.get("healthChecks") or []:
        if "port" in hc and hc.get("port") is not None:
            if int(hc["port"]) == service_port:
                found.append(hc)
        elif int(hc.get("portIndex") or 0) == index:
            found.append(hc)
    return found


def task_is_up(task: Mapping[str, Any], app_has_health_checks: bool) -> bool:
    """TASK_RUNNING with every health check result alive (at least one if the app checks)."""
    if task.get("state") != TaskState.RUNNING:
        return False
    results = task.get("healthCheckResults") or []
    if app_has_health_checks and not results:
        return False
    return all(bool(r.get("alive")) for r in results)


def _servers(app: Mapping[str, Any], index: int) -> tuple[Server, ...]:
    checked = bool(app.get("healthChecks"))
    servers: dict[str, Server] = {}
    for task in app.get("tasks") or []:
        ports = task.get("ports") or []
        host = str(task.get("host") or "")
        if index >= len(ports) or not host or not _HOST_OK.match(host):
            continue
        if not task_is_up(task, checked):
            continue
        name = sanitize(str(task.get("id") or f"{host}_{ports[index]}"))
        while name in servers:  # two ids that sanitize alike
            name += "_"
        servers[name] = Server(host=host, port=int(ports[index]), name=name)
    return tuple(sorted(servers.values()))


def _mode(label: str | None, vhosts: tuple[str, ...], http_check: bool, app_id: str) -> Mode:
    if label == "tcp":
        return "tcp"
    if label == "http":
        return "http"
    if label:
        log.warning("app %s: unknown HAPROXY mode %r, using the default", app_id, label)
    return "http" if vhosts or http_check else "tcp"


def _app_services(app: Mapping[str, Any]) -> list[Service]:
    app_id = str(app.get("id") or "")
    if not app_id:
        return []
    labels: Mapping[str, Any] = app.get("labels") or {}
    app_groups = _csv(str(labels.get("HAPROXY_GROUP") or "")) or (DEFAULT_GROUP,)
    service_ports = _service_ports(app)
    indices = set(range(len(service_ports)))
    for key in labels:
        m = re.fullmatch(r"HAPROXY_(\d+)_PORT", str(key))
        if m:
            indices.add(int(m.group(1)))
    services = []
    for index in sorted(indices):
        if (_label(labels, index, "ENABLED") or "true").lower() in ("false", "0", "no"):
            continue
        port_label = _label(labels, index, "PORT")
        try:
            port = int(port_label) if port_label else service_ports[index]
        except (ValueError, IndexError):
            log.warning("app %s: bad HAPROXY_%d_PORT %r, port skipped", app_id, index, port_label)
            continue
        if not 0 < port < 65536:
            continue
        hcs = _health_checks_for(app, index, port)
        http_hc = [hc for hc in hcs if str(hc.get("protocol", "")).upper() in HTTP_HEALTH_PROTOCOLS]
        vhosts = tuple(v for v in _csv(_label(labels, index, "VHOST")) if _HOST_OK.match(v))
        mode = _mode(
            (_label(labels, index, "MODE") or "").lower() or None, vhosts, bool(http_hc), app_id
        )
        if mode == "tcp" and vhosts:
            log.warning("app %s: HAPROXY_%d_VHOST needs http mode, vhosts ignored", app_id, index)
            vhosts = ()
        path = _label(labels, index, "PATH")
        if path and not _PATH_OK.match(path):
            log.warning("app %s: bad HAPROXY_%d_PATH %r ignored", app_id, index, path)
            path = None
        balance = (_label(labels, index, "BALANCE") or "roundrobin").lower()
        if balance not in _BALANCE:
            log.warning("app %s: unknown balance %r, using roundrobin", app_id, balance)
            balance = "roundrobin"
        check_path = None
        if mode == "http" and http_hc:
            candidate = str(http_hc[0].get("path") or "/")
            check_path = candidate if _PATH_OK.match(candidate) else "/"
        bind = _label(labels, index, "BIND_ADDR") or None
        services.append(
            Service(
                app_id=app_id,
                index=index,
                port=port,
                backend=sanitize(f"{app_id.lstrip('/').replace('/', '_')}_{port}"),
                mode=mode,
                groups=_csv(_label(labels, index, "GROUP")) or app_groups,
                servers=_servers(app, index),
                vhosts=vhosts,
                path=path or None,
                bind_address=bind if bind and _HOST_OK.match(bind.strip("[]:")) else None,
                balance=balance,
                http_check_path=check_path,
            )
        )
    return services


def backends_from_apps(apps: Iterable[Mapping[str, Any]]) -> list[Service]:
    """Every app's exposed ports, sorted by (port, app id, index); groups are not applied."""
    services = [s for app in apps for s in _app_services(app)]
    return sorted(services, key=lambda s: (s.port, s.app_id, s.index))


def served(services: Sequence[Service], settings: LbSettings) -> list[Service]:
    """The services of this balancer's groups, one per bind port (first by app id wins)."""
    groups = set(settings.group_list)
    reserved = {p for p in (settings.http_port, settings.stats_port) if p}
    taken: dict[tuple[str, int], str] = {}
    chosen = []
    for s in sorted(services, key=lambda s: (s.port, s.app_id, s.index)):
        if "*" not in groups and not groups.intersection(s.groups):
            continue
        address = s.bind_address or settings.bind_address
        if s.port in reserved:
            log.warning("app %s: port %d is the balancer's own, not exposed", s.app_id, s.port)
            continue
        owner = taken.get((address, s.port)) or taken.get(("*", s.port))
        if owner is not None:
            log.warning("app %s: port %d already used by %s, not exposed", s.app_id, s.port, owner)
            continue
        taken[(address, s.port)] = s.app_id
        chosen.append(s)
    return chosen


@cache
def _template() -> jinja2.Template:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("dcos_core.frameworks.lb", "templates"),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,
    )
    return env.get_template("haproxy.cfg.j2")


def _bind(address: str, port: int) -> str:
    return f"[{address}]:{port}" if ":" in address else f"{address}:{port}"


def render_haproxy(services: Sequence[Service], settings: LbSettings) -> str:
    """The complete `haproxy.cfg` for the services this balancer serves (see `served`)."""
    chosen = served(services, settings)
    vhost_services = [s for s in chosen if s.vhosts and s.mode == "http"]
    # Rules with a path are more specific than bare host rules: they go first.
    vhost_services.sort(key=lambda s: (s.path is None, s.backend))
    return _template().render(
        settings=settings,
        work_dir=str(settings.work_dir),
        services=chosen,
        vhost_services=vhost_services if settings.http_port else [],
        http_bind=_bind(settings.bind_address, settings.http_port),
        stats_bind=_bind(settings.bind_address, settings.stats_port),
        bind=_bind,
        hard_stop_after=f"{int(settings.hard_stop_after * 1000)}ms",
    )
