"""Marathon's app definition and the runtime records of its tasks, as pydantic models (pure).

Compatible with Marathon 1.x REST API v2 (`types/app.raml`): camelCase keys, Marathon's defaults.
Input is lenient like Marathon's: unknown keys are ignored. Building a model from a request body
goes through `validation.parse_app` (Marathon's rules, every problem reported at once); JSON for
clients comes from `render` (only the keys marathon-python accepts).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from dcos_core.model.task import TaskState

# ---------------------------------------------------------------------------------------------
# models


def camel_case(name: str) -> str:
    """snake_case -> camelCase like marathon-python does (`ignore_http1xx` -> `ignoreHttp1xx`)."""
    first, *rest = name.split("_")
    return first + "".join(w.capitalize() for w in rest)


class _Model(BaseModel):
    model_config = ConfigDict(
        populate_by_name=True, alias_generator=camel_case, extra="ignore", allow_inf_nan=False
    )


class PortDefinition(_Model):
    """A port of a host-networking app: `port` is the (requested) service port, 0 = assign one."""

    port: int = 0
    protocol: Literal["tcp", "udp", "udp,tcp"] = "tcp"
    name: str | None = None
    labels: dict[str, str] = Field(default_factory=dict)


HealthProtocol = Literal[
    "HTTP", "HTTPS", "TCP", "COMMAND", "MESOS_HTTP", "MESOS_HTTPS", "MESOS_TCP"
]
HTTP_PROTOCOLS: frozenset[str] = frozenset({"HTTP", "HTTPS", "MESOS_HTTP", "MESOS_HTTPS"})


class HealthCheck(_Model):
    """An app health check (`types/healthCheck.raml`; defaults of Marathon 1.x)."""

    protocol: HealthProtocol = "HTTP"
    path: str | None = None
    port_index: int | None = None
    port: int | None = None
    command: dict[str, str] | None = None
    grace_period_seconds: int = 300
    interval_seconds: int = 60
    timeout_seconds: int = 20
    max_consecutive_failures: int = 3
    ignore_http1xx: bool = False
    delay_seconds: int = 15

    @field_validator("command", mode="before")
    @classmethod
    def _command_from_string(cls, v: Any) -> Any:
        if isinstance(v, str):
            return {"value": v}
        if isinstance(v, dict) and "value" in v:
            return {"value": v["value"]}
        return v

    @model_validator(mode="after")
    def _defaults(self) -> HealthCheck:
        if self.protocol in HTTP_PROTOCOLS and self.path is None:
            self.path = "/"
        if self.protocol != "COMMAND" and self.port is None and self.port_index is None:
            self.port_index = 0
        return self


class ReadinessCheck(_Model):
    name: str = "readinessCheck"
    protocol: Literal["HTTP", "HTTPS"] = "HTTP"
    path: str = "/"
    port_name: str = "http-api"
    interval_seconds: int = 30
    timeout_seconds: int = 10
    http_status_codes_for_ready: list[int] = Field(default_factory=lambda: [200])
    preserve_last_response: bool = False


class UpgradeStrategy(_Model):
    minimum_health_capacity: float = 1.0
    maximum_over_capacity: float = 1.0


class UnreachableStrategy(_Model):
    inactive_after_seconds: int = 0
    expunge_after_seconds: int = 0


class PortMapping(_Model):
    """A container port mapping (BRIDGE/USER networking); `service_port` 0 = assign one."""

    container_port: int = 0
    host_port: int = 0
    service_port: int = 0
    protocol: Literal["tcp", "udp", "udp,tcp"] = "tcp"
    name: str | None = None
    labels: dict[str, str] = Field(default_factory=dict)


class DockerSpec(_Model):
    """`container.docker`. For a MESOS container, `image` is the Mesos containerizer's image."""

    image: str = ""
    network: Literal["BRIDGE", "HOST", "USER", "NONE"] | None = None
    port_mappings: list[PortMapping] = Field(default_factory=list)
    parameters: list[dict[str, str]] = Field(default_factory=list)
    privileged: bool = False
    force_pull_image: bool = False

    @field_validator("parameters")
    @classmethod
    def _key_and_value(cls, v: list[dict[str, str]]) -> list[dict[str, str]]:
        for p in v:
            if set(p) != {"key", "value"}:
                raise ValueError('every docker parameter is {"key": ..., "value": ...}')
        return v


class Volume(_Model):
    container_path: str
    host_path: str | None = None
    mode: Literal["RO", "RW"] = "RW"


class Container(_Model):
    """`container`. Port mappings given under `docker` (Marathon < 1.5) move to this level."""

    type: Literal["DOCKER", "MESOS"] = "DOCKER"
    docker: DockerSpec | None = None
    volumes: list[Volume] = Field(default_factory=list)
    port_mappings: list[PortMapping] = Field(default_factory=list)

    @model_validator(mode="after")
    def _hoist_port_mappings(self) -> Container:
        if self.docker is not None and self.docker.port_mappings:
            if not self.port_mappings:
                self.port_mappings = self.docker.port_mappings
            self.docker.port_mappings = []
        return self

    @property
    def mapped_networking(self) -> bool:
        """True if ports are container port mappings (BRIDGE/USER), not port definitions."""
        network = self.docker.network if self.docker is not None else None
        return bool(self.port_mappings) or network in ("BRIDGE", "USER")


class FetchUri(_Model):
    uri: str
    executable: bool = False
    extract: bool = True
    cache: bool = False
    dest_path: str | None = None


KillSelection = Literal["YOUNGEST_FIRST", "OLDEST_FIRST"]
CONSTRAINT_OPERATORS: tuple[str, ...] = (
    "UNIQUE",
    "CLUSTER",
    "GROUP_BY",
    "LIKE",
    "UNLIKE",
    "MAX_PER",
    "IS",
)


def _default_port_definitions() -> list[PortDefinition]:
    return [PortDefinition(port=0, name="default")]


class AppDefinition(_Model):
    """One version of an app (what Marathon stores). Build from JSON with `parse_app`."""

    id: str
    cmd: str | None = None
    args: list[str] | None = None
    user: str | None = None
    env: dict[str, str] = Field(default_factory=dict)
    instances: int = 1
    cpus: float = 1.0
    mem: float = 128.0
    disk: float = 0.0
    gpus: int = 0
    executor: str = ""
    constraints: list[list[str]] = Field(default_factory=list)
    uris: list[str] = Field(default_factory=list)
    fetch: list[FetchUri] = Field(default_factory=list)
    store_urls: list[str] = Field(default_factory=list)
    backoff_seconds: float = 1.0
    backoff_factor: float = 1.15
    max_launch_delay_seconds: float = 300.0
    container: Container | None = None
    health_checks: list[HealthCheck] = Field(default_factory=list)
    readiness_checks: list[ReadinessCheck] = Field(default_factory=list)
    dependencies: list[str] = Field(default_factory=list)
    upgrade_strategy: UpgradeStrategy = Field(default_factory=UpgradeStrategy)
    labels: dict[str, str] = Field(default_factory=dict)
    accepted_resource_roles: list[str] | None = None
    port_definitions: list[PortDefinition] = Field(default_factory=_default_port_definitions)
    require_ports: bool = False
    kill_selection: KillSelection = "YOUNGEST_FIRST"
    task_kill_grace_period_seconds: float | None = None
    unreachable_strategy: UnreachableStrategy | Literal["disabled"] = Field(
        default_factory=UnreachableStrategy
    )
    role: str | None = None
    networks: list[dict[str, Any]] = Field(default_factory=list)
    version: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _ports(cls, data: Any) -> Any:
        """Legacy `ports` -> `portDefinitions`; no default port under BRIDGE/USER networking."""
        if not isinstance(data, dict):
            return data
        data = dict(data)
        ports = data.pop("ports", None)
        if "portDefinitions" in data or "port_definitions" in data:
            return data
        if raw_mapped(data.get("container")):
            data["portDefinitions"] = []
        elif isinstance(ports, list):
            data["portDefinitions"] = [{"port": p} for p in ports]
        return data

    @property
    def ports(self) -> list[int]:
        """The requested service ports (legacy `ports`): 0 = assign one."""
        return self.service_port_requests()

    @property
    def uses_port_mappings(self) -> bool:
        return self.container is not None and self.container.mapped_networking

    def service_port_requests(self) -> list[int]:
        """One entry per port of the app: the requested service port, 0 = assign one."""
        if self.uses_port_mappings:
            assert self.container is not None
            return [m.service_port for m in self.container.port_mappings]
        return [p.port for p in self.port_definitions]

    def port_names(self) -> list[str | None]:
        if self.uses_port_mappings:
            assert self.container is not None
            return [m.name for m in self.container.port_mappings]
        return [p.name for p in self.port_definitions]

    @property
    def docker_image(self) -> str | None:
        c = self.container
        return c.docker.image if c is not None and c.docker is not None and c.docker.image else None


class AppUpdate(_Model):
    """A PUT/PATCH body: only the fields given change (`apply`); `{"version": v}` is a rollback."""

    id: str | None = None
    cmd: str | None = None
    args: list[str] | None = None
    user: str | None = None
    env: dict[str, str] | None = None
    instances: int | None = None
    cpus: float | None = None
    mem: float | None = None
    disk: float | None = None
    gpus: int | None = None
    executor: str | None = None
    constraints: list[list[str]] | None = None
    uris: list[str] | None = None
    fetch: list[FetchUri] | None = None
    store_urls: list[str] | None = None
    backoff_seconds: float | None = None
    backoff_factor: float | None = None
    max_launch_delay_seconds: float | None = None
    container: Container | None = None
    health_checks: list[HealthCheck] | None = None
    readiness_checks: list[ReadinessCheck] | None = None
    dependencies: list[str] | None = None
    upgrade_strategy: UpgradeStrategy | None = None
    labels: dict[str, str] | None = None
    accepted_resource_roles: list[str] | None = None
    port_definitions: list[PortDefinition] | None = None
    ports: list[int] | None = None
    require_ports: bool | None = None
    kill_selection: KillSelection | None = None
    task_kill_grace_period_seconds: float | None = None
    unreachable_strategy: UnreachableStrategy | Literal["disabled"] | None = None
    role: str | None = None
    networks: list[dict[str, Any]] | None = None
    rollback_version: str | None = Field(default=None, alias="version")

    def given(self) -> dict[str, Any]:
        """The fields this update sets, as camelCase JSON (without `id` and `version`)."""
        out = self.model_dump(
            mode="json", by_alias=True, exclude_unset=True, exclude={"id", "rollback_version"}
        )
        return {k: v for k, v in out.items() if v is not None}


class HealthResult(_Model):
    """The health of one task for one health check."""

    task_id: str
    alive: bool = False
    consecutive_failures: int = 0
    first_success: float | None = None
    last_failure: float | None = None
    last_success: float | None = None
    last_failure_cause: str | None = None


class Instance(_Model):
    """The runtime state of one Marathon task (times are epoch seconds)."""

    task_id: str
    app_id: str
    version: str
    agent_id: str
    host: str
    ports: list[int] = Field(default_factory=list)
    state: str = TaskState.STAGING.value
    staged_at: float | None = None
    started_at: float | None = None
    health: list[HealthResult] = Field(default_factory=list)
    ip_addresses: list[str] = Field(default_factory=list)
    unreachable_since: float | None = None

    @property
    def healthy(self) -> bool | None:
        """None without health results; else True iff every check is alive."""
        if not self.health:
            return None
        return all(h.alive for h in self.health)


def raw_mapped(container: Any) -> bool:
    """`Container.mapped_networking` on raw JSON (or on a `Container`)."""
    if isinstance(container, Container):
        return container.mapped_networking
    if not isinstance(container, dict):
        return False
    if container.get("portMappings") or container.get("port_mappings"):
        return True
    docker = container.get("docker")
    if not isinstance(docker, dict):
        return False
    if docker.get("portMappings") or docker.get("port_mappings"):
        return True
    return docker.get("network") in ("BRIDGE", "USER")


# ---------------------------------------------------------------------------------------------
# storage


def app_to_storage(app: AppDefinition) -> dict[str, Any]:
    """A JSON-safe dict of `app` (camelCase, every field), for the persistence layer."""
    return app.model_dump(mode="json", by_alias=True)


def app_from_storage(data: dict[str, Any]) -> AppDefinition:
    """The inverse of `app_to_storage` (no re-validation of Marathon's rules)."""
    return AppDefinition.model_validate(data)
