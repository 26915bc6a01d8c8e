"""Marathon's JSON forms of apps and tasks (GET /v2/apps, /v2/tasks), and its timestamps.

Compatible with the Python client `marathon` (marathon-python 0.13), whose models raise on any
JSON key they do not know: the `render_*` functions therefore emit only the keys that client
accepts (`_APP_KEYS`, `_TASK_KEYS`).
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Iterable, Sequence
from typing import Any

from dcos_core.frameworks.marathon.models import (
    AppDefinition,
    Container,
    HealthCheck,
    HealthResult,
    Instance,
    PortMapping,
    camel_case,
)
from dcos_core.model.task import TaskState

# ---------------------------------------------------------------------------------------------
# timestamps


def iso(ts: float) -> str:
    """Epoch seconds as Marathon's UTC timestamp with milliseconds: `2015-09-25T15:13:48.343Z`."""
    ms = round(ts * 1000)
    whole = _dt.datetime.fromtimestamp(ms // 1000, tz=_dt.UTC)
    return whole.strftime("%Y-%m-%dT%H:%M:%S") + f".{ms % 1000:03d}Z"


def from_iso(text: str) -> float:
    """The inverse of `iso` (also accepts no fraction, or an explicit offset)."""
    s = text.strip()
    if s.endswith("Z"):
        s = s[:-1] + "+00:00"
    parsed = _dt.datetime.fromisoformat(s)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=_dt.UTC)
    return parsed.timestamp()


# ---------------------------------------------------------------------------------------------
# rendering (only keys that marathon-python's models accept)

_APP_KEYS: frozenset[str] = frozenset(
    [
        "acceptedResourceRoles",
        "args",
        "backoffFactor",
        "backoffSeconds",
        "cmd",
        "constraints",
        "container",
        "cpus",
        "dependencies",
        "deployments",
        "disk",
        "env",
        "executor",
        "healthChecks",
        "id",
        "role",
        "instances",
        "killSelection",
        "labels",
        "lastTaskFailure",
        "maxLaunchDelaySeconds",
        "mem",
        "ports",
        "requirePorts",
        "storeUrls",
        "taskRateLimit",
        "tasks",
        "tasksRunning",
        "tasksStaged",
        "tasksHealthy",
        "taskKillGracePeriodSeconds",
        "tasksUnhealthy",
        "upgradeStrategy",
        "unreachableStrategy",
        "uris",
        "user",
        "version",
        "versionInfo",
        "ipAddress",
        "fetch",
        "taskStats",
        "readinessChecks",
        "readinessCheckResults",
        "secrets",
        "portDefinitions",
        "residency",
        "gpus",
        "networks",
    ]
)
_TASK_KEYS: frozenset[str] = frozenset(
    [
        "appId",
        "healthCheckResults",
        "host",
        "id",
        "ports",
        "servicePorts",
        "slaveId",
        "stagedAt",
        "startedAt",
        "version",
        "ipAddresses",
        "state",
        "localVolumes",
        "region",
        "zone",
        "role",
    ]
)
_TASK_FAILURE_KEYS: frozenset[str] = frozenset(
    ["appId", "host", "message", "taskId", "instanceId", "slaveId", "state", "timestamp", "version"]
)
STAGED_STATES: frozenset[str] = frozenset({TaskState.STAGING, TaskState.STARTING})


def _service_port(requested: int, i: int, service_ports: Sequence[int]) -> int:
    return service_ports[i] if i < len(service_ports) and service_ports[i] else requested


def render_health_check(hc: HealthCheck) -> dict[str, Any]:
    out: dict[str, Any] = {"protocol": hc.protocol}
    if hc.path is not None:
        out["path"] = hc.path
    if hc.port_index is not None:
        out["portIndex"] = hc.port_index
    if hc.port is not None:
        out["port"] = hc.port
    if hc.command is not None:
        out["command"] = {"value": hc.command.get("value", "")}
    out.update(
        {
            "gracePeriodSeconds": hc.grace_period_seconds,
            "intervalSeconds": hc.interval_seconds,
            "timeoutSeconds": hc.timeout_seconds,
            "maxConsecutiveFailures": hc.max_consecutive_failures,
            "ignoreHttp1xx": hc.ignore_http1xx,
            "delaySeconds": hc.delay_seconds,
        }
    )
    return out


def _render_port_mapping(m: PortMapping, service_port: int) -> dict[str, Any]:
    out: dict[str, Any] = {
        "containerPort": m.container_port,
        "hostPort": m.host_port,
        "servicePort": service_port,
        "protocol": m.protocol,
        "labels": dict(m.labels),
    }
    if m.name is not None:
        out["name"] = m.name
    return out


def _render_container(c: Container, service_ports: Sequence[int]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "type": c.type,
        "volumes": [
            {"containerPath": v.container_path, "hostPath": v.host_path, "mode": v.mode}
            for v in c.volumes
        ],
    }
    if c.docker is not None:
        d = c.docker
        docker: dict[str, Any] = {
            "image": d.image,
            "parameters": [dict(p) for p in d.parameters],
            "privileged": d.privileged,
            "forcePullImage": d.force_pull_image,
        }
        if d.network is not None:
            docker["network"] = d.network
        out["docker"] = docker
    if c.port_mappings:
        out["portMappings"] = [
            _render_port_mapping(m, _service_port(m.service_port, i, service_ports))
            for i, m in enumerate(c.port_mappings)
        ]
    return out


def _render_task_failure(failure: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in failure.items():
        camel = camel_case(key)
        if camel in _TASK_FAILURE_KEYS:
            out[camel] = value
    ts = out.get("timestamp")
    if isinstance(ts, int | float):
        out["timestamp"] = iso(float(ts))
    return out


def _counts(instances: Iterable[Instance]) -> dict[str, int]:
    """`tasksStaged`, `tasksRunning`, `tasksHealthy`, `tasksUnhealthy`. Health is counted for
    running instances only: one being killed (TASK_KILLING) or unreachable keeps its last
    health results, but counting them would report more healthy instances than running ones
    during a rolling update. So healthy + unhealthy <= running, always."""
    staged = running = healthy = unhealthy = 0
    for inst in instances:
        if inst.state in STAGED_STATES:
            staged += 1
            continue
        if inst.state != TaskState.RUNNING:
            continue
        running += 1
        h = inst.healthy
        if h is True:
            healthy += 1
        elif h is False:
            unhealthy += 1
    return {"staged": staged, "running": running, "healthy": healthy, "unhealthy": unhealthy}


def _task_stats(app: AppDefinition, instances: Sequence[Instance]) -> dict[str, Any]:
    groups: dict[str, list[Instance]] = {"totalSummary": list(instances)}
    if app.version is not None:
        groups["withLatestConfig"] = [i for i in instances if i.version == app.version]
        groups["withOutdatedConfig"] = [i for i in instances if i.version != app.version]
    return {k: {"stats": {"counts": _counts(v)}} for k, v in groups.items() if v}


def render_app(
    app: AppDefinition,
    *,
    instances: Sequence[Instance] = (),
    deployments: Sequence[str] = (),
    version_info: dict[str, float] | None = None,
    last_task_failure: dict[str, Any] | None = None,
    embed_tasks: bool = False,
    embed_counts: bool = True,
    embed_task_stats: bool = False,
    service_ports: Sequence[int] = (),
) -> dict[str, Any]:
    """The AppInfo JSON of `app` (Marathon's GET /v2/apps form).

    `service_ports` are the assigned service ports, one per port of the app (they replace the
    zeros of `portDefinitions[i].port` / `portMappings[i].servicePort` and form `ports`).
    `version_info` holds `lastScalingAt`/`lastConfigChangeAt` as epoch seconds.
    `last_task_failure` takes Marathon's keys (camelCase or snake_case; `timestamp` as epoch
    seconds or an ISO string); others are dropped.
    """
    requested = app.service_port_requests()
    ports = [_service_port(p, i, service_ports) for i, p in enumerate(requested)]
    out: dict[str, Any] = {
        "id": app.id,
        "cmd": app.cmd,
        "args": list(app.args) if app.args is not None else None,
        "user": app.user,
        "env": dict(app.env),
        "instances": app.instances,
        "cpus": app.cpus,
        "mem": app.mem,
        "disk": app.disk,
        "gpus": app.gpus,
        "executor": app.executor,
        "constraints": [list(c) for c in app.constraints],
        "uris": list(app.uris),
        "fetch": [f.model_dump(mode="json", by_alias=True, exclude_none=True) for f in app.fetch],
        "storeUrls": list(app.store_urls),
        "backoffSeconds": app.backoff_seconds,
        "backoffFactor": app.backoff_factor,
        "maxLaunchDelaySeconds": app.max_launch_delay_seconds,
        "container": (
            _render_container(app.container, service_ports) if app.container is not None else None
        ),
        "healthChecks": [render_health_check(hc) for hc in app.health_checks],
        "readinessChecks": [
            rc.model_dump(mode="json", by_alias=True) for rc in app.readiness_checks
        ],
        "dependencies": list(app.dependencies),
        "upgradeStrategy": {
            "minimumHealthCapacity": app.upgrade_strategy.minimum_health_capacity,
            "maximumOverCapacity": app.upgrade_strategy.maximum_over_capacity,
        },
        "unreachableStrategy": (
            app.unreachable_strategy
            if isinstance(app.unreachable_strategy, str)
            else {
                "inactiveAfterSeconds": app.unreachable_strategy.inactive_after_seconds,
                "expungeAfterSeconds": app.unreachable_strategy.expunge_after_seconds,
            }
        ),
        "killSelection": app.kill_selection,
        "labels": dict(app.labels),
        "acceptedResourceRoles": (
            list(app.accepted_resource_roles) if app.accepted_resource_roles is not None else None
        ),
        "ports": ports,
        "portDefinitions": (
            []
            if app.uses_port_mappings
            else [
                {
                    "port": ports[i],
                    "protocol": pd.protocol,
                    "labels": dict(pd.labels),
                    **({"name": pd.name} if pd.name is not None else {}),
                }
                for i, pd in enumerate(app.port_definitions)
            ]
        ),
        "requirePorts": app.require_ports,
        "deployments": [{"id": d} for d in deployments],
    }
    if app.task_kill_grace_period_seconds is not None:
        out["taskKillGracePeriodSeconds"] = app.task_kill_grace_period_seconds
    if app.role is not None:
        out["role"] = app.role
    if app.networks:
        out["networks"] = [dict(n) for n in app.networks]
    if app.version is not None:
        out["version"] = app.version
    if version_info is not None:
        out["versionInfo"] = {
            "lastScalingAt": iso(version_info["lastScalingAt"]),
            "lastConfigChangeAt": iso(version_info["lastConfigChangeAt"]),
        }
    if embed_counts:
        counts = _counts(instances)
        out["tasksStaged"] = counts["staged"]
        out["tasksRunning"] = counts["running"]
        out["tasksHealthy"] = counts["healthy"]
        out["tasksUnhealthy"] = counts["unhealthy"]
    if embed_tasks:
        out["tasks"] = [render_task(i, ports) for i in instances]
    if embed_task_stats:
        out["taskStats"] = _task_stats(app, instances)
    if last_task_failure is not None:
        out["lastTaskFailure"] = _render_task_failure(last_task_failure)
    assert set(out) <= _APP_KEYS, set(out) - _APP_KEYS
    return out


def render_health_result(h: HealthResult) -> dict[str, Any]:
    return {
        "alive": h.alive,
        "consecutiveFailures": h.consecutive_failures,
        "firstSuccess": iso(h.first_success) if h.first_success is not None else None,
        "lastFailure": iso(h.last_failure) if h.last_failure is not None else None,
        "lastSuccess": iso(h.last_success) if h.last_success is not None else None,
        "lastFailureCause": h.last_failure_cause,
        "taskId": h.task_id,
    }


def render_task(inst: Instance, service_ports: Sequence[int]) -> dict[str, Any]:
    """The task JSON of one instance (GET /v2/tasks, /v2/apps/{id}/tasks, embedded tasks)."""
    out: dict[str, Any] = {
        "id": inst.task_id,
        "appId": inst.app_id,
        "host": inst.host,
        "slaveId": inst.agent_id,
        "ports": list(inst.ports),
        "servicePorts": list(service_ports),
        "version": inst.version,
        "state": inst.state,
        "healthCheckResults": [render_health_result(h) for h in inst.health],
        "ipAddresses": [
            {"ipAddress": ip, "protocol": "IPv6" if ":" in ip else "IPv4"}
            for ip in inst.ip_addresses
        ],
    }
    if inst.staged_at is not None:
        out["stagedAt"] = iso(inst.staged_at)
    if inst.started_at is not None:
        out["startedAt"] = iso(inst.started_at)
    assert set(out) <= _TASK_KEYS, set(out) - _TASK_KEYS
    return out
