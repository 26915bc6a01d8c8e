"""Marathon's validation of app definitions and updates: JSON bodies in, models or every problem.

Input is lenient like Marathon's: JSON `null` means "absent", unknown keys and the read-only keys
that clients send back on PUT (`tasks`, `tasksRunning`, `versionInfo`, ...) are ignored. Invalid
input raises `AppValidationError`, answered as Marathon's 422 body::

    {"message": "Object is not valid",
     "details": [{"path": "/healthChecks(0)", "errors": ["..."]}]}

Paths use Marathon's form: camelCase names, array indices in parentheses.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Any

from pydantic import ValidationError

from dcos_core.errors import ObjectNotValidError, ValidationDetail
from dcos_core.frameworks.marathon.models import (
    CONSTRAINT_OPERATORS,
    AppDefinition,
    AppUpdate,
    UnreachableStrategy,
    app_to_storage,
    raw_mapped,
)
from dcos_core.frameworks.plain_errors import plain_message, shown

# ---------------------------------------------------------------------------------------------
# errors


class AppValidationError(ObjectNotValidError):
    """An app definition or update is not valid (Marathon answers HTTP 422 with `body()`)."""


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
    if raw_mapped(data.get("container")):
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


def apply_update(update: AppUpdate, app: AppDefinition) -> AppDefinition:
    """`app` with the fields `update` gives replaced, validated again (raises AppValidationError).

    The result has `version=None` (the caller stamps the new version). A rollback
    (`update.rollback_version`) cannot be applied here: the caller loads that stored version.
    """
    given = update.given()
    base = app_to_storage(app)
    base.pop("version", None)
    remapped = "container" in given and (raw_mapped(given["container"]) or app.uses_port_mappings)
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
