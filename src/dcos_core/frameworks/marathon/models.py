"""Marathon's app definition, its validation and its JSON forms (pure: no I/O).

Compatible with Marathon 1.x REST API v2 (`types/app.raml`) and with the Python client
`marathon` (marathon-python 0.13), whose models raise on any JSON key they do not know: the
`render_*` functions therefore emit only the keys that client accepts (`_APP_KEYS`, `_TASK_KEYS`).

Input is lenient like Marathon's: JSON `null` means "absent", unknown keys and the read-only keys
that clients send back on PUT (`tasks`, `tasksRunning`, `versionInfo`, ...) are ignored. Invalid
input raises `AppValidationError`, whose `body()` is Marathon's 422 body::

    {"message": "Object is not valid",
     "details": [{"path": "/healthChecks(0)", "errors": ["..."]}]}

Paths use Marathon's form: camelCase names, array indices in parentheses.
"""

from __future__ import annotations

import datetime as _dt
import math
import re
from collections.abc import Iterable, Sequence
from typing import Any, Literal, TypedDict

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from dcos_core.errors import InvalidError
from dcos_core.frameworks.plain_errors import plain_message, shown

# ---------------------------------------------------------------------------------------------
# errors


class ValidationDetail(TypedDict):
    """One entry of a 422 body's `details`."""

    path: str
    errors: list[str]


class AppValidationError(InvalidError):
    """An app definition or update is not valid (Marathon answers HTTP 422 with `body()`)."""

    def __init__(self, details: list[ValidationDetail], message: str = "Object is not valid"):
        self.details = details
        self.message = message
        summary = "; ".join(f"{d['path']}: {', '.join(d['errors'])}" for d in details)
        super().__init__(f"{message}: {summary}" if summary else message)

    def body(self) -> dict[str, Any]:
        """Marathon's JSON body for this error."""
        return {
            "message": self.message,
            "details": [{"path": d["path"], "errors": list(d["errors"])} for d in self.details],
        }


class _Errors:
    """Collects (path, message) pairs, grouped by path in first-seen order."""

    def __init__(self) -> None:
        self._by_path: dict[str, list[str]] = {}

    def add(self, path: str, message: str) -> None:
        msgs = self._by_path.setdefault(path or "/", [])
        if message not in msgs:
            msgs.append(message)

    def __bool__(self) -> bool:
        return bool(self._by_path)

    def __contains__(self, path: str) -> bool:
        return path in self._by_path

    def details(self) -> list[ValidationDetail]:
        return [{"path": p, "errors": e} for p, e in self._by_path.items()]

    def raise_if_any(self) -> None:
        if self._by_path:
            raise AppValidationError(self.details())


# ---------------------------------------------------------------------------------------------
# path ids

ID_SEGMENT_PATTERN = (
    r"^(([a-z0-9]|[a-z0-9][a-z0-9\-]*[a-z0-9])\.)*([a-z0-9]|[a-z0-9][a-z0-9\-]*[a-z0-9])$"
)
_SEGMENT = re.compile(ID_SEGMENT_PATTERN)


def _id_error(path: str, field: str) -> AppValidationError:
    return AppValidationError(
        [
            {
                "path": field,
                "errors": [
                    f"'{_printable(path)}' is not a valid id: expected names of lowercase"
                    " letters, digits, '-' and '.' (starting and ending with a letter or digit)"
                    " separated by '/', such as /prod/web"
                ],
            }
        ]
    )


def normalize_id(path: str, base: str = "/", *, field: str = "/id") -> str:
    """The absolute, canonical form of a Marathon path id.

    Relative ids ("x", "./x", "../x") are resolved against the group `base`; empty segments
    (`//x`, as marathon-python sends in `/v2/apps//x`) and a trailing "/" are dropped.
    The root group is "/". Raises `AppValidationError` (at `field`) for an invalid segment or
    a path that climbs above the root.
    """
    if not isinstance(path, str):
        raise AppValidationError(
            [{"path": field, "errors": [f"got {shown(path)}, expected a string such as /web"]}]
        )
    raw = path.strip()
    parts = [] if raw.startswith("/") else [s for s in base.split("/") if s not in ("", ".")]
    for seg in raw.split("/"):
        if seg in ("", "."):
            continue
        if seg == "..":
            if not parts:
                raise _id_error(path, field)
            parts.pop()
            continue
        if not _SEGMENT.match(seg):
            raise _id_error(path, field)
        parts.append(seg)
    return "/" + "/".join(parts)


def parent_id(app_id: str) -> str:
    """The group of an absolute id ("/a/b" -> "/a", "/a" -> "/")."""
    head = app_id.rstrip("/").rsplit("/", 1)[0]
    return head or "/"


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
# models


def _camel(name: str) -> str:
    """snake_case -> camelCase like marathon-python does (`ignore_http1xx` -> `ignoreHttp1xx`)."""
    first, *rest = name.split("_")
    return first + "".join(w.capitalize() for w in rest)


class _Model(BaseModel):
    model_config = ConfigDict(
        populate_by_name=True, alias_generator=_camel, extra="ignore", allow_inf_nan=False
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
        if _raw_mapped(data.get("container")):
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

    def apply(self, app: AppDefinition) -> AppDefinition:
        """`app` with the given fields replaced, validated again (raises AppValidationError).

        The result has `version=None` (the caller stamps the new version). A rollback
        (`rollback_version`) cannot be applied here: the caller loads that stored version.
        """
        given = self.given()
        base = app_to_storage(app)
        base.pop("version", None)
        remapped = "container" in given and (
            _raw_mapped(given["container"]) or app.uses_port_mappings
        )
        if "ports" in given or "portDefinitions" in given or remapped:
            base.pop("portDefinitions", None)
        if "cmd" in given:
            base.pop("args", None)
        if "args" in given:
            base.pop("cmd", None)
        if "uris" in given:
            base.pop("fetch", None)
        if "fetch" in given:
            base.pop("uris", None)
        merged = {**base, **given, "id": app.id}
        return parse_app(merged)


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
    state: str = "TASK_STAGING"
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


# ---------------------------------------------------------------------------------------------
# parsing

READ_ONLY_KEYS: frozenset[str] = frozenset(
    {
        "version",
        "versionInfo",
        "tasks",
        "tasksRunning",
        "tasksStaged",
        "tasksHealthy",
        "tasksUnhealthy",
        "deployments",
        "lastTaskFailure",
        "taskStats",
        "tasksStats",
        "readinessCheckResults",
        "taskRateLimit",
    }
)


def _strip_nulls(value: Any) -> Any:
    """JSON null means absent (Marathon's Option fields): drop null members of objects."""
    if isinstance(value, dict):
        return {k: _strip_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_strip_nulls(v) for v in value]
    return value


def _raw_mapped(container: Any) -> bool:
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


NUMBER_LIMIT: int = 2**31 - 1  # Marathon's Int fields; Doubles (cpus, ...) get the same bound


def _printable(key: Any) -> str:
    return str(key).encode("utf-8", "backslashreplace").decode("utf-8")


def _check_values(value: Any, path: str, errors: _Errors) -> None:
    """Report numbers beyond +-NUMBER_LIMIT (or not finite) and strings that are not valid
    Unicode (lone surrogates, which JSON's `\\ud800` escapes carry) anywhere in `value`: a
    validated model's dump (`by_alias`), so unknown keys (ignored) are not checked."""
    if isinstance(value, bool):
        return
    if isinstance(value, int | float):
        if not math.isfinite(value) or abs(value) > NUMBER_LIMIT:
            errors.add(
                path or "/", f"got {value}, expected a finite number within +-{NUMBER_LIMIT}"
            )
    elif isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            errors.add(path or "/", "must be valid Unicode (no lone surrogates)")
    elif isinstance(value, dict):
        for k, v in value.items():
            sub = f"{path}/{_printable(k)}"
            _check_values(k, sub, errors)
            _check_values(v, sub, errors)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            _check_values(v, f"{path}({i})", errors)


def _precheck(data: dict[str, Any], errors: _Errors) -> dict[str, Any]:
    """Drop read-only keys, reject unsupported features, coerce constraint values to strings."""
    out = {k: v for k, v in data.items() if k not in READ_ONLY_KEYS}
    env = out.get("env")
    if isinstance(env, dict):
        kept: dict[str, Any] = {}
        for name, value in env.items():
            if isinstance(value, dict) and "secret" in value:
                errors.add(f"/env/{name}", "secrets are not supported yet")
            else:
                kept[name] = value
        out["env"] = kept
    if out.pop("secrets", None):
        errors.add("/secrets", "secrets are not supported yet")
    if "residency" in out:
        out.pop("residency")
        errors.add("/residency", "resident apps (persistent volumes) are not supported")
    ip = out.pop("ipAddress", None) or out.pop("ip_address", None)
    if ip:
        errors.add("/ipAddress", "ipAddress is not supported; use container networking")
    constraints = out.get("constraints")
    if isinstance(constraints, list):
        out["constraints"] = [
            [str(x) if isinstance(x, int | float) and not isinstance(x, bool) else x for x in c]
            if isinstance(c, list)
            else c
            for c in constraints
        ]
    if out.get("args") == []:
        out.pop("args")
    return out


def _resolve_ports(data: dict[str, Any], errors: _Errors) -> None:
    """Check `ports` against `portDefinitions` and the networking mode (in place)."""
    ports = data.get("ports")
    pds = data.get("portDefinitions", data.get("port_definitions"))
    if _raw_mapped(data.get("container")):
        # `ports` echoes the service ports of the mappings (marathon-python sends it back)
        data.pop("ports", None)
        if pds:
            errors.add(
                "/portDefinitions",
                "portDefinitions must be empty with BRIDGE or USER networking; "
                "use container.portMappings",
            )
        data.pop("port_definitions", None)
        data["portDefinitions"] = []
        return
    if ports is None:
        return
    if not isinstance(ports, list) or not all(
        isinstance(p, int) and not isinstance(p, bool) for p in ports
    ):
        errors.add("/ports", f"got {shown(ports)}, expected a list of port numbers")
        data.pop("ports")
        return
    if pds is None:
        return  # AppDefinition._ports converts them
    if (
        not isinstance(pds, list)
        or [(pd.get("port", 0) if isinstance(pd, dict) else pd) for pd in pds] != ports
    ):
        errors.add(
            "/ports",
            "give 'ports' or 'portDefinitions', not both (or the same ports in both)",
        )
    data.pop("ports")


def _loc_to_path(loc: Sequence[int | str]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"({part})"
        elif part.startswith(("literal[", "function-")) or part == "UnreachableStrategy":
            continue  # a union member's tag, not a JSON key
        else:
            out += f"/{part}"
    return out or "/"


def _pydantic_errors(exc: ValidationError, errors: _Errors) -> None:
    for err in exc.errors(include_url=False):
        path = _loc_to_path(err["loc"])
        if err["type"] == "missing" and path in errors:
            continue  # dropped after an error of its own (an invalid id): said already
        errors.add(path, plain_message(err))


def _range(errors: _Errors, path: str, value: float, low: float, label: str | None = None) -> None:
    if value < low:
        errors.add(path, f"got {value}, expected {label or low} or more")


def _check_port(errors: _Errors, path: str, port: int) -> None:
    if not 0 <= port <= 65535:
        errors.add(path, f"got {port}, expected a port number between 0 and 65535")


def _check_constraint(errors: _Errors, path: str, c: list[str]) -> None:
    if len(c) not in (2, 3):
        errors.add(
            path,
            f"got {len(c)} elements, expected [field, operator] or [field, operator, value]"
            ' such as ["hostname", "UNIQUE"]',
        )
        return
    field, op = c[0], c[1]
    value = c[2] if len(c) == 3 else None
    if not field:
        errors.add(path, "the constraint's field (its first element) must not be empty")
    if op not in CONSTRAINT_OPERATORS:
        errors.add(
            path,
            f"unknown constraint operator {shown(op)}: expected one of"
            f" {', '.join(CONSTRAINT_OPERATORS)}",
        )
        return
    if op == "UNIQUE" and value:
        errors.add(path, f"a UNIQUE constraint takes no value, got {shown(value)}")
    elif op in ("LIKE", "UNLIKE", "MAX_PER", "IS") and value is None:
        errors.add(path, f"a {op} constraint needs a value (its third element)")
    elif op in ("LIKE", "UNLIKE") and value is not None:
        try:
            re.compile(value)
        except re.error:
            errors.add(path, f"a {op} constraint needs a regular expression, got {shown(value)}")
    elif op in ("MAX_PER", "GROUP_BY") and value:
        try:
            int(value)
        except ValueError:
            errors.add(path, f"a {op} constraint needs a whole number, got {shown(value)}")


NOTHING_TO_RUN = (
    "nothing to run: give 'cmd' (a shell command) or 'args' (a command line), not both,"
    " or a 'container' with an image"
)


def _semantic_checks(app: AppDefinition, errors: _Errors) -> None:
    """Marathon's cross-field rules (`AppValidation.scala`), on a structurally valid app."""
    if app.id == "/":
        errors.add("/id", "the root group '/' is not a valid app id: expected one such as /web")
    image = app.docker_image
    both = app.cmd is not None and app.args is not None
    neither = app.cmd is None and app.args is None and image is None
    if both or neither:
        errors.add("/", NOTHING_TO_RUN)
    if app.cmd is not None and not app.cmd.strip():
        errors.add("/cmd", "must not be empty")

    _range(errors, "/instances", app.instances, 0)
    _range(errors, "/cpus", app.cpus, 0, "0.0")
    _range(errors, "/mem", app.mem, 0, "0.0")
    _range(errors, "/disk", app.disk, 0, "0.0")
    _range(errors, "/gpus", app.gpus, 0)
    if app.cpus == 0 and app.mem == 0:
        errors.add("/cpus", "an app must ask for some cpus or mem")
    _range(errors, "/backoffSeconds", app.backoff_seconds, 0, "0.0")
    _range(errors, "/backoffFactor", app.backoff_factor, 1.0)
    _range(errors, "/maxLaunchDelaySeconds", app.max_launch_delay_seconds, 0, "0.0")
    if app.task_kill_grace_period_seconds is not None:
        _range(errors, "/taskKillGracePeriodSeconds", app.task_kill_grace_period_seconds, 0, "0")

    for name, value in (
        ("minimumHealthCapacity", app.upgrade_strategy.minimum_health_capacity),
        ("maximumOverCapacity", app.upgrade_strategy.maximum_over_capacity),
    ):
        if not 0 <= value <= 1:
            errors.add(
                f"/upgradeStrategy/{name}", f"got {value}, expected a number between 0 and 1"
            )

    us = app.unreachable_strategy
    if isinstance(us, UnreachableStrategy):
        _range(errors, "/unreachableStrategy/inactiveAfterSeconds", us.inactive_after_seconds, 0)
        if us.expunge_after_seconds < us.inactive_after_seconds:
            errors.add(
                "/unreachableStrategy/expungeAfterSeconds",
                f"got {us.expunge_after_seconds}, expected inactiveAfterSeconds"
                f" ({us.inactive_after_seconds}) or more",
            )

    for i, constraint in enumerate(app.constraints):
        _check_constraint(errors, f"/constraints({i})", constraint)

    if app.uris and app.fetch and sorted(app.uris) != sorted(f.uri for f in app.fetch):
        errors.add("/uris", "give 'fetch' or the older 'uris', not both")

    c = app.container
    if c is not None:
        if c.type == "DOCKER" and c.docker is None:
            errors.add("/container/docker", "is required for a DOCKER container")
        if c.docker is not None and not c.docker.image.strip():
            errors.add("/container/docker/image", "must not be empty")
        network = c.docker.network if c.docker is not None else None
        if c.port_mappings and network not in ("BRIDGE", "USER"):
            errors.add(
                "/container/portMappings",
                "portMappings are only allowed with BRIDGE or USER networking",
            )
        for i, m in enumerate(c.port_mappings):
            _check_port(errors, f"/container/portMappings({i})/containerPort", m.container_port)
            _check_port(errors, f"/container/portMappings({i})/hostPort", m.host_port)
            _check_port(errors, f"/container/portMappings({i})/servicePort", m.service_port)
        for i, v in enumerate(c.volumes):
            if not v.container_path:
                errors.add(f"/container/volumes({i})/containerPath", "must not be empty")
    for i, pd in enumerate(app.port_definitions):
        _check_port(errors, f"/portDefinitions({i})/port", pd.port)
    names = [n for n in app.port_names() if n]
    where = "/container/portMappings" if app.uses_port_mappings else "/portDefinitions"
    if len(names) != len(set(names)):
        twice = sorted({n for n in names if names.count(n) > 1})
        errors.add(where, f"port names must be unique: {', '.join(twice)} used twice")
    nonzero = [p for p in app.service_port_requests() if p]
    if len(nonzero) != len(set(nonzero)):
        twice_ports = sorted({p for p in nonzero if nonzero.count(p) > 1})
        errors.add(
            where,
            "service ports must be unique (0 assigns one): "
            f"{', '.join(map(str, twice_ports))} used twice",
        )

    n_ports = len(app.service_port_requests())
    for i, hc in enumerate(app.health_checks):
        path = f"/healthChecks({i})"
        if hc.protocol == "COMMAND":
            if not hc.command or not hc.command.get("value"):
                errors.add(f"{path}/command", "is required for a COMMAND health check")
        elif hc.port is None and hc.port_index is not None and not 0 <= hc.port_index < n_ports:
            errors.add(
                path,
                f"portIndex {hc.port_index} does not exist: the app has {n_ports} port(s),"
                " counted from 0",
            )
        if hc.port is not None:
            _check_port(errors, f"{path}/port", hc.port)
        _range(errors, f"{path}/gracePeriodSeconds", hc.grace_period_seconds, 0)
        _range(errors, f"{path}/intervalSeconds", hc.interval_seconds, 1)
        _range(errors, f"{path}/timeoutSeconds", hc.timeout_seconds, 1)
        _range(errors, f"{path}/maxConsecutiveFailures", hc.max_consecutive_failures, 0)
        _range(errors, f"{path}/delaySeconds", hc.delay_seconds, 0)

    for i, rc in enumerate(app.readiness_checks):
        path = f"/readinessChecks({i})"
        if rc.port_name not in names:
            errors.add(
                f"{path}/portName",
                f"no port is named {shown(rc.port_name)}: expected one of"
                f" {', '.join(names) or '(no named ports)'}",
            )
        if rc.timeout_seconds >= rc.interval_seconds:
            errors.add(
                path,
                f"timeoutSeconds ({rc.timeout_seconds}) must be smaller than intervalSeconds"
                f" ({rc.interval_seconds})",
            )
        _range(errors, f"{path}/timeoutSeconds", rc.timeout_seconds, 1)


def _as_object(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise AppValidationError([{"path": "/", "errors": ["expected a JSON object"]}])
    stripped: dict[str, Any] = _strip_nulls(body)
    return stripped


def parse_app(body: Any, base: str = "/") -> AppDefinition:
    """A validated `AppDefinition` from a JSON body (POST, or PUT with partialUpdate=false).

    The id is resolved against the group `base`, relative dependencies against the app's group.
    Read-only keys and unknown keys are ignored; `version` too. Raises `AppValidationError`.
    """
    data = _as_object(body)
    errors = _Errors()
    data = _precheck(data, errors)
    if "id" not in data or data["id"] == "":
        errors.add("/id", "is required: the app's id, such as /web")
    else:
        try:
            data["id"] = normalize_id(data["id"], base)
        except AppValidationError as exc:
            for d in exc.details:
                for msg in d["errors"]:
                    errors.add(d["path"], msg)
            data.pop("id")
    deps = data.get("dependencies")
    if isinstance(deps, list) and isinstance(data.get("id"), str):
        resolved: list[Any] = []
        for i, dep in enumerate(deps):
            try:
                resolved.append(
                    normalize_id(dep, parent_id(data["id"]), field=f"/dependencies({i})")
                )
            except AppValidationError as exc:
                for d in exc.details:
                    for msg in d["errors"]:
                        errors.add(d["path"], msg)
        data["dependencies"] = resolved
    _resolve_ports(data, errors)
    try:
        app = AppDefinition.model_validate(data)
    except ValidationError as exc:
        _pydantic_errors(exc, errors)
        raise AppValidationError(errors.details()) from None
    _check_values(app.model_dump(by_alias=True), "", errors)
    errors.raise_if_any()
    _semantic_checks(app, errors)
    errors.raise_if_any()
    return app


def parse_app_update(body: Any) -> AppUpdate:
    """An `AppUpdate` from a PUT/PATCH body; `{"version": v, ...}` is a rollback to `v`.

    Only the structure is checked here; `AppUpdate.apply` checks the merged app.
    """
    data = _as_object(body)
    if isinstance(data.get("version"), str) and data["version"]:
        return AppUpdate(version=data["version"])
    errors = _Errors()
    data = _precheck(data, errors)
    if "id" in data:
        try:
            data["id"] = normalize_id(data["id"])
        except AppValidationError as exc:
            for d in exc.details:
                for msg in d["errors"]:
                    errors.add(d["path"], msg)
            data.pop("id")
    _resolve_ports(data, errors)
    try:
        update = AppUpdate.model_validate(data)
    except ValidationError as exc:
        _pydantic_errors(exc, errors)
        raise AppValidationError(errors.details()) from None
    _check_values(update.model_dump(by_alias=True, exclude_unset=True), "", errors)
    errors.raise_if_any()
    return update


# ---------------------------------------------------------------------------------------------
# storage


def app_to_storage(app: AppDefinition) -> dict[str, Any]:
    """A JSON-safe dict of `app` (camelCase, every field), for the persistence layer."""
    return app.model_dump(mode="json", by_alias=True)


def app_from_storage(data: dict[str, Any]) -> AppDefinition:
    """The inverse of `app_to_storage` (no re-validation of Marathon's rules)."""
    return AppDefinition.model_validate(data)


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
STAGED_STATES: frozenset[str] = frozenset({"TASK_STAGING", "TASK_STARTING"})


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
        camel = _camel(key)
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
        if inst.state != "TASK_RUNNING":
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
