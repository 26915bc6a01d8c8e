"""From an app definition to Mesos: placement requests and v1 `TaskInfo`s (pure).

Task ids look like Marathon 1.x's: `<app id without the leading slash, "/" -> "_">.<uuid>`, so that
`app_id_of(task_id)` recovers the app after a restart. Environment variables are Marathon's:
`MARATHON_APP_ID`, `MARATHON_APP_VERSION`, `MARATHON_APP_RESOURCE_*`, `MARATHON_APP_LABEL_*`,
`PORT0...`, `PORTS`, `PORT_<servicePort>`, `PORT_<NAME>`, `HOST` (the agent adds `MESOS_*`).
"""

from __future__ import annotations

import re
import uuid
from typing import Any

from dcos_core.frameworks.marathon.models import AppDefinition
from dcos_core.frameworks.placement import Match, Request
from dcos_core.frameworks.sdk_protocol import task_info


def task_id_for(app_id: str) -> str:
    """A fresh task id for an instance of `app_id`.

    Example:
        >>> task_id_for("/prod/web").startswith("prod_web.")
        True
    """
    return f"{app_id.strip('/').replace('/', '_')}.{uuid.uuid4()}"


def app_id_of(task_id: str) -> str:
    """The app id encoded in a task id made by `task_id_for`.

    Example:
        >>> app_id_of("prod_web.6f1c")
        '/prod/web'
    """
    return "/" + task_id.rsplit(".", 1)[0].replace("_", "/")


def host_port_requests(app: AppDefinition) -> tuple[int, ...]:
    """The host ports an instance needs: 0 = any; a fixed port with requirePorts/hostPort."""
    c = app.container
    if c is not None and c.docker is not None and c.docker.network == "BRIDGE":
        mappings = c.docker.port_mappings or c.port_mappings or []
        return tuple(m.host_port for m in mappings)
    if c is not None and c.docker is not None and c.docker.network in ("USER", "NONE"):
        return ()
    return tuple(p.port if app.require_ports else 0 for p in app.port_definitions)


def placement_request(app: AppDefinition) -> Request:
    return Request(
        cpus=app.cpus,
        mem=app.mem,
        disk=app.disk,
        gpus=app.gpus,
        ports=host_port_requests(app),
        require_ports=app.require_ports,
        accepted_roles=tuple(app.accepted_resource_roles) if app.accepted_resource_roles else None,
        constraints=tuple(tuple(c) for c in app.constraints),
    )


def _env_name(s: str) -> str:
    return re.sub(r"[^A-Za-z0-9_]", "_", s).upper()


def environment(
    app: AppDefinition,
    version: str,
    host: str,
    host_ports: tuple[int, ...],
    service_ports: list[int],
) -> dict[str, str]:
    env: dict[str, str] = {}
    for k, v in app.env.items():
        if isinstance(v, str):
            env[k] = v
    env.update(
        {
            "MARATHON_APP_ID": app.id,
            "MARATHON_APP_VERSION": version,
            "MARATHON_APP_RESOURCE_CPUS": f"{app.cpus:g}",
            "MARATHON_APP_RESOURCE_MEM": f"{app.mem:g}",
            "MARATHON_APP_RESOURCE_DISK": f"{app.disk:g}",
            "MARATHON_APP_RESOURCE_GPUS": str(app.gpus),
            "MARATHON_APP_LABELS": " ".join(_env_name(k) for k in sorted(app.labels)),
            "HOST": host,
        }
    )
    for k, v in app.labels.items():
        if len(v) <= 512:
            env[f"MARATHON_APP_LABEL_{_env_name(k)}"] = v
    docker = app.container.docker if app.container else None
    if docker is not None:
        env["MARATHON_APP_DOCKER_IMAGE"] = docker.image
    names = [p.name for p in app.port_definitions]
    for i, port in enumerate(host_ports):
        env[f"PORT{i}"] = str(port)
        if i < len(service_ports) and service_ports[i]:
            env[f"PORT_{service_ports[i]}"] = str(port)
        if i < len(names) and names[i]:
            env[f"PORT_{_env_name(names[i] or '')}"] = str(port)
    if host_ports:
        env["PORT"] = str(host_ports[0])
        env["PORTS"] = ",".join(str(p) for p in host_ports)
    return env


def container_info(app: AppDefinition, host_ports: tuple[int, ...]) -> dict[str, Any] | None:
    """The v1 `ContainerInfo` of an app (None for a plain command on the host)."""
    c = app.container
    if c is None:
        return None
    volumes = [
        {"container_path": v.container_path, "host_path": v.host_path, "mode": v.mode}
        for v in c.volumes
        if v.host_path
    ]
    if c.type == "MESOS":
        out: dict[str, Any] = {"type": "MESOS"}
        if c.docker is not None and c.docker.image:
            out["mesos"] = {"image": {"type": "DOCKER", "docker": {"name": c.docker.image}}}
        if volumes:
            out["volumes"] = volumes
        return out
    assert c.docker is not None
    d = c.docker
    docker: dict[str, Any] = {
        "image": d.image,
        "network": d.network or "HOST",
        "privileged": d.privileged,
        "force_pull_image": d.force_pull_image,
    }
    if d.parameters:
        docker["parameters"] = [{"key": p["key"], "value": p["value"]} for p in d.parameters]
    if (d.network or "HOST") == "BRIDGE":
        mappings = d.port_mappings or c.port_mappings or []
        docker["port_mappings"] = [
            {"host_port": hp, "container_port": m.container_port, "protocol": m.protocol}
            for m, hp in zip(mappings, host_ports, strict=False)
        ]
    out = {"type": "DOCKER", "docker": docker}
    if volumes:
        out["volumes"] = volumes
    return out


def build_task_info(
    app: AppDefinition,
    version: str,
    task_id: str,
    match: Match,
    host: str,
    service_ports: list[int],
) -> dict[str, Any]:
    """The v1 `TaskInfo` launching one instance of `app` on `match`."""
    env = environment(app, version, host, match.host_ports, service_ports)
    docker_image = app.container is not None and app.container.docker is not None
    if app.cmd:
        command, shell, arguments = app.cmd, True, None
    elif app.args:
        command, shell, arguments = app.args[0], False, list(app.args)
    else:  # a Docker image's own entrypoint
        command, shell, arguments = "", False, []
    info = task_info(
        app.id.strip("/").replace("/", "."),
        task_id,
        match.agent_id,
        match.resources,
        command,
        shell=shell,
        arguments=arguments,
        environment=env,
        user=app.user,
        uris=list(app.uris) if app.uris else None,
        container=container_info(app, match.host_ports),
        kill_grace_period=app.task_kill_grace_period_seconds,
        labels={k: v for k, v in app.labels.items() if len(v) <= 512},
    )
    docker = docker_image and app.container is not None and app.container.type == "DOCKER"
    if docker and not app.cmd and not app.args:
        info["command"] = {"shell": False, "environment": info["command"]["environment"]}
        if app.user:
            info["command"]["user"] = app.user
    if match.host_ports:
        info["discovery"] = {
            "visibility": "FRAMEWORK",
            "name": info["name"],
            "ports": {
                "ports": [
                    {"number": hp, "protocol": "tcp", **({"name": p.name} if p.name else {})}
                    for hp, p in zip(match.host_ports, app.port_definitions, strict=False)
                ]
            },
        }
    return info
