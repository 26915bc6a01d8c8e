"""The OpenAPI 3.1 document of Marathon's REST API v2 as dcos-core serves it (`/openapi.json`).

Request bodies come from the pydantic models (`AppDefinition`, `AppUpdate`) with the rules that
`validation.parse_app` enforces: minima, ports in 0-65535, every number within
+-`NUMBER_LIMIT`, app ids as Marathon's paths, a `cmd` or `args` to run. The document promises
what the server checks, no more and no less; a fuzzer that wants smaller cases (fewer instances,
shorter lists) narrows its own copy (`tests/integration/test_marathon_fuzz.py`).

Every operation lists the status codes the handlers really return: 200, 201, 202, 204 for
success, 404 (unknown app, task, group, version or deployment), 409 (an app exists, or is locked
by a deployment: retry with `?force=true`) and 422 (`{"message", "details": [{"path", "errors"}]}`
for bad definitions and bad ids). `/v2/events` (server-sent events) is described but not fuzzable.
"""

from __future__ import annotations

import copy
from typing import Any, Final

from dcos_core import __version__
from dcos_core.frameworks.marathon.models import CONSTRAINT_OPERATORS, AppDefinition, AppUpdate
from dcos_core.frameworks.marathon.validation import ID_SEGMENT_PATTERN, NUMBER_LIMIT

_REF: Final = "#/components/schemas/{model}"
_SEGMENT: Final = ID_SEGMENT_PATTERN.removeprefix("^").removesuffix("$")
ID_PATTERN: Final = rf"^/*((\.{{1,2}}|{_SEGMENT})(/+|$))*$"
"""An app or group id: absolute (`/prod/web`) or relative to its group (`web`, `../db`)."""

# field -> the minimum `parse_app` checks (every number also lies within +-NUMBER_LIMIT)
_APP_MINIMA: Final[dict[str, float]] = {
    "instances": 0,
    "cpus": 0,
    "mem": 0,
    "disk": 0,
    "gpus": 0,
    "backoffSeconds": 0,
    "backoffFactor": 1,
    "maxLaunchDelaySeconds": 0,
    "taskKillGracePeriodSeconds": 0,
}
_PORT: Final = {"minimum": 0, "maximum": 65535}
_NESTED_BOUNDS: Final[dict[str, dict[str, dict[str, Any]]]] = {
    "UpgradeStrategy": {
        "minimumHealthCapacity": {"minimum": 0, "maximum": 1},
        "maximumOverCapacity": {"minimum": 0, "maximum": 1},
    },
    "UnreachableStrategy": {"inactiveAfterSeconds": {"minimum": 0}},
    "PortDefinition": {"port": _PORT},
    "PortMapping": {"containerPort": _PORT, "hostPort": _PORT, "servicePort": _PORT},
    "HealthCheck": {
        "port": _PORT,
        "portIndex": {"minimum": 0},
        "gracePeriodSeconds": {"minimum": 0},
        "intervalSeconds": {"minimum": 1},
        "timeoutSeconds": {"minimum": 1},
        "maxConsecutiveFailures": {"minimum": 0},
        "delaySeconds": {"minimum": 0},
    },
    "ReadinessCheck": {"timeoutSeconds": {"minimum": 1}},
}


def _bound(prop: dict[str, Any], bounds: dict[str, Any]) -> None:
    """Put `bounds` on the numeric member of `prop` (a plain schema or an anyOf with null)."""
    for member in prop.get("anyOf", [prop]):
        if member.get("type") in ("integer", "number"):
            member.update(bounds)


def _limit_numbers(schema: Any) -> None:
    """Every number in `schema` lies within +-NUMBER_LIMIT (Marathon's Int), unless narrower."""
    if isinstance(schema, list):
        for item in schema:
            _limit_numbers(item)
    elif isinstance(schema, dict):
        if schema.get("type") in ("integer", "number"):
            schema.setdefault("minimum", -NUMBER_LIMIT)
            schema.setdefault("maximum", NUMBER_LIMIT)
        for value in schema.values():
            _limit_numbers(value)


def _tune_app(schema: dict[str, Any]) -> None:
    props: dict[str, Any] = schema["properties"]
    for name, minimum in _APP_MINIMA.items():
        if name in props:
            _bound(props[name], {"minimum": minimum})
    for member in props["id"].get("anyOf", [props["id"]]):
        if member.get("type") == "string":
            member["pattern"] = ID_PATTERN
    # `ports`: the legacy form of portDefinitions (AppUpdate has it; parse_app accepts it too)
    props["ports"] = {"type": "array", "items": {"type": "integer", **_PORT}}
    for name in ("cmd", "args", "user", "role", "executor"):
        if name in props:
            props[name].pop("default", None)


def component_schemas() -> dict[str, Any]:
    """`components.schemas`: the models' JSON schemas (camelCase) with `parse_app`'s bounds."""
    out: dict[str, Any] = {}
    for model in (AppDefinition, AppUpdate):
        s = copy.deepcopy(model.model_json_schema(by_alias=True, ref_template=_REF))
        out.update(s.pop("$defs", {}))
        out[model.__name__] = s
    for name, fields in _NESTED_BOUNDS.items():
        for field, bounds in fields.items():
            _bound(out[name]["properties"][field], bounds)
    params = out["DockerSpec"]["properties"]["parameters"]
    params["items"] = {"$ref": _REF.format(model="DockerParameter")}
    out["DockerParameter"] = {
        "type": "object",
        "properties": {"key": {"type": "string"}, "value": {"type": "string"}},
        "required": ["key", "value"],
    }
    _tune_app(out["AppDefinition"])
    _tune_app(out["AppUpdate"])
    # an app needs something to run: cmd, args or a container image
    # (cmd or args, not both; the validator also takes a container image alone)
    out["AppDefinition"]["oneOf"] = [
        {"required": ["cmd"], "not": {"required": ["args"]}},
        {"required": ["args"], "not": {"required": ["cmd"]}},
    ]
    for name in ("AppDefinition", "AppUpdate"):
        props = out[name]["properties"]
        # JSON null means absent: a null cmd would not satisfy "cmd or args"
        props["cmd"] = {"type": "string", "pattern": r"\S"}
        props["args"] = {"type": "array", "items": {"type": "string"}, "minItems": 1}
        props["constraints"] = {
            "type": "array",
            "items": {
                "type": "array",
                "prefixItems": [
                    {"type": "string", "minLength": 1},
                    {"enum": list(CONSTRAINT_OPERATORS)},
                    {"type": "string"},
                ],
                "minItems": 2,
                "maxItems": 3,
                "items": False,
            },
            "description": "[field, operator] or [field, operator, value]",
        }
    # a docker image must be named (a DOCKER container needs `docker`: `parse_app` says so)
    out["DockerSpec"]["required"] = ["image"]
    out["DockerSpec"]["properties"]["image"].update(pattern=r"\S")
    out["Volume"]["properties"]["containerPath"]["minLength"] = 1
    out["AppDefinition"]["properties"]["version"] = {
        "type": "string",
        "readOnly": True,
        "description": "ignored on input",
    }
    app_list = {"type": "array", "items": {"$ref": _REF.format(model="AppDefinition")}}
    deps = {"type": "array", "items": {"type": "string", "pattern": ID_PATTERN}}
    out["Group"] = {
        "type": "object",
        "properties": {
            "id": {"type": "string", "pattern": ID_PATTERN},
            "apps": app_list,
            "dependencies": deps,
            "groups": {"type": "array", "items": {"$ref": _REF.format(model="Group")}},
        },
    }
    out["GroupUpdate"] = {
        "type": "object",
        "description": "a group definition; or `{scaleBy}` (scale every app); or `{version}`",
        "properties": {
            **out["Group"]["properties"],
            "scaleBy": {"type": "number", "minimum": 0},
        },
    }
    out["TaskIds"] = {
        "type": "object",
        "properties": {"ids": {"type": "array", "items": {"type": "string"}}},
        "required": ["ids"],
    }
    out["Error"] = {
        "type": "object",
        "properties": {"message": {"type": "string"}},
        "required": ["message"],
    }
    out["ValidationError"] = {
        "type": "object",
        "properties": {
            "message": {"type": "string"},
            "details": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "path": {"type": "string"},
                        "errors": {"type": "array", "items": {"type": "string"}},
                    },
                    "required": ["path", "errors"],
                },
            },
        },
        "required": ["message", "details"],
    }
    out["DeploymentResult"] = {
        "type": "object",
        "properties": {"deploymentId": {"type": "string"}, "version": {"type": "string"}},
        "required": ["deploymentId", "version"],
    }
    _limit_numbers(out)
    return out


# ---- responses and parameters -----------------------------------------------------------------


def _json(schema: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"application/json": {"schema": schema or {"type": "object"}}}


def _ref(name: str) -> dict[str, Any]:
    return {"$ref": _REF.format(model=name)}


_DESCRIPTIONS: Final = {
    200: "OK",
    201: "Created",
    202: "Accepted",
    204: "No Content",
    404: "Not found",
    409: "Conflict (exists, or locked by a deployment: use force)",
    422: "Invalid definition or id",
}


def _responses(*codes: int, ok: dict[str, Any] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for code in codes:
        r: dict[str, Any] = {"description": _DESCRIPTIONS[code]}
        if code in (200, 201):
            r["content"] = _json(ok)
        elif code == 404 or code == 409:
            r["content"] = _json(_ref("Error"))
        elif code == 422:
            r["content"] = _json(_ref("ValidationError"))
        out[str(code)] = r
    return out


def _query(name: str, schema: dict[str, Any], description: str = "") -> dict[str, Any]:
    p: dict[str, Any] = {"name": name, "in": "query", "required": False, "schema": schema}
    if description:
        p["description"] = description
    return p


def _path(name: str) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "string", "minLength": 1}
    return {"name": name, "in": "path", "required": True, "schema": schema}


def _text_get(operation_id: str, description: str) -> dict[str, Any]:
    ok = {"description": description, "content": {"text/plain": {"schema": {"type": "string"}}}}
    return {"get": {"operationId": operation_id, "responses": {"200": ok}}}


_BOOL: Final = {"type": "boolean"}
_FORCE: Final = _query("force", _BOOL, "override the lock of a running deployment")
_APP_ID: Final = _path("appId")
_TASK_ID: Final = _path("taskId")
_KILL: Final = [
    _FORCE,
    _query("scale", _BOOL, "shrink the app by the tasks killed"),
    _query("wipe", _BOOL),
]


def _body(name: str) -> dict[str, Any]:
    return {"required": True, "content": _json(_ref(name))}


def _paths() -> dict[str, Any]:
    app_ok = {"type": "object", "properties": {"app": {"type": "object"}}, "required": ["app"]}
    deployment = _ref("DeploymentResult")
    return {
        "/ping": _text_get("ping", "pong"),
        "/metrics": {"get": {"operationId": "metrics", "responses": _responses(200)}},
        "/metrics/prometheus": _text_get("metricsPrometheus", "Prometheus text format 0.0.4"),
        "/v2/info": {"get": {"operationId": "info", "responses": _responses(200)}},
        "/v2/leader": {
            "get": {"operationId": "getLeader", "responses": _responses(200)},
            "delete": {"operationId": "abdicate", "responses": _responses(200)},
        },
        "/v2/apps": {
            "get": {
                "operationId": "listApps",
                "parameters": [
                    _query(
                        "embed",
                        {
                            "type": "string",
                            "enum": [
                                "apps.tasks",
                                "apps.counts",
                                "apps.deployments",
                                "apps.lastTaskFailure",
                                "apps.taskStats",
                            ],
                        },
                    ),
                    _query("cmd", {"type": "string"}, "apps whose cmd contains this"),
                    _query("id", {"type": "string"}, "apps whose id contains this"),
                    _query("label", {"type": "string"}, "a label selector (k, k==v, k in (a,b))"),
                ],
                "responses": _responses(200),
            },
            "post": {
                "operationId": "createApp",
                "parameters": [_FORCE],
                "requestBody": _body("AppDefinition"),
                "responses": _responses(201, 409, 422),
            },
            "put": {
                "operationId": "updateApps",
                "parameters": [_FORCE, _query("partialUpdate", _BOOL)],
                "requestBody": {
                    "required": True,
                    "content": _json({"type": "array", "items": _ref("AppDefinition")}),
                },
                "responses": _responses(200, 409, 422, ok=deployment),
            },
        },
        "/v2/apps/{appId}": {
            "parameters": [_APP_ID],
            "get": {
                "operationId": "getApp",
                "responses": _responses(200, 404, 422, ok=app_ok),
            },
            "put": {
                "operationId": "replaceApp",
                "description": "create or update; `{version}` alone rolls back",
                "parameters": [_FORCE, _query("partialUpdate", _BOOL)],
                "requestBody": _body("AppUpdate"),
                "responses": _responses(200, 201, 404, 409, 422, ok=deployment),
            },
            "patch": {
                "operationId": "patchApp",
                "parameters": [_FORCE],
                "requestBody": _body("AppUpdate"),
                "responses": _responses(200, 201, 404, 409, 422, ok=deployment),
            },
            "delete": {
                "operationId": "deleteApp",
                "parameters": [_FORCE],
                "responses": _responses(200, 404, 409, 422, ok=deployment),
            },
        },
        "/v2/apps/{appId}/restart": {
            "parameters": [_APP_ID],
            "post": {
                "operationId": "restartApp",
                "parameters": [_FORCE],
                "responses": _responses(200, 404, 409, 422, ok=deployment),
            },
        },
        "/v2/apps/{appId}/tasks": {
            "parameters": [_APP_ID],
            "get": {"operationId": "appTasks", "responses": _responses(200, 404, 422)},
            "delete": {
                "operationId": "killAppTasks",
                "parameters": [*_KILL, _query("host", {"type": "string"})],
                "responses": _responses(200, 404, 409, 422),
            },
        },
        "/v2/apps/{appId}/tasks/{taskId}": {
            "parameters": [_APP_ID, _TASK_ID],
            "get": {"operationId": "appTask", "responses": _responses(200, 404, 422)},
            "delete": {
                "operationId": "killAppTask",
                "parameters": _KILL,
                "responses": _responses(200, 404, 409, 422),
            },
        },
        "/v2/apps/{appId}/versions": {
            "parameters": [_APP_ID],
            "get": {"operationId": "appVersions", "responses": _responses(200, 404, 422)},
        },
        "/v2/apps/{appId}/versions/{version}": {
            "parameters": [_APP_ID, _path("version")],
            "get": {"operationId": "appVersion", "responses": _responses(200, 404, 422)},
        },
        "/v2/tasks": {
            "get": {
                "operationId": "listTasks",
                "parameters": [
                    _query(
                        "status",
                        {"type": "string", "enum": ["running", "staging", "task_killing"]},
                    )
                ],
                "responses": {
                    "200": {
                        "description": "tasks (JSON; `Accept: text/plain` gives app/host:port)",
                        "content": {
                            "application/json": {"schema": {"type": "object"}},
                            "text/plain": {"schema": {"type": "string"}},
                        },
                    }
                },
            }
        },
        "/v2/tasks/delete": {
            "post": {
                "operationId": "killTasks",
                "parameters": _KILL,
                "requestBody": _body("TaskIds"),
                "responses": _responses(200, 409, 422),
            }
        },
        "/v2/deployments": {
            "get": {
                "operationId": "listDeployments",
                "responses": _responses(200, ok={"type": "array", "items": {"type": "object"}}),
            }
        },
        "/v2/deployments/{deploymentId}": {
            "parameters": [_path("deploymentId")],
            "delete": {
                "operationId": "cancelDeployment",
                "description": "roll back (a new deployment, 200) or with force just stop (202)",
                "parameters": [_FORCE],
                "responses": _responses(200, 202, 404, 409, ok=deployment),
            },
        },
        "/v2/groups": {
            "get": {"operationId": "rootGroup", "responses": _responses(200)},
            "post": {
                "operationId": "createGroup",
                "parameters": [_FORCE],
                "requestBody": _body("Group"),
                "responses": _responses(201, 409, 422, ok=deployment),
            },
        },
        "/v2/groups/{groupId}": {
            "parameters": [_path("groupId")],
            "get": {"operationId": "getGroup", "responses": _responses(200, 404, 422)},
            "put": {
                "operationId": "updateGroup",
                "parameters": [_FORCE],
                "requestBody": _body("GroupUpdate"),
                "responses": _responses(200, 201, 404, 409, 422, ok=deployment),
            },
            "delete": {
                "operationId": "deleteGroup",
                "parameters": [_FORCE],
                "responses": _responses(200, 404, 409, 422, ok=deployment),
            },
        },
        "/v2/queue": {"get": {"operationId": "queue", "responses": _responses(200)}},
        "/v2/queue/{appId}/delay": {
            "parameters": [_APP_ID],
            "delete": {"operationId": "resetDelay", "responses": _responses(204, 404, 422)},
        },
        "/v2/events": {
            "get": {
                "operationId": "events",
                "description": "server-sent events (endless: not for fuzzing)",
                "parameters": [_query("event_type", {"type": "string"})],
                "responses": {
                    "200": {
                        "description": "an event stream",
                        "content": {"text/event-stream": {"schema": {"type": "string"}}},
                    }
                },
            }
        },
    }


def openapi_schema() -> dict[str, Any]:
    """The OpenAPI 3.1 document of the Marathon API (a fresh dict on each call)."""
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "dcos-core Marathon",
            "version": __version__,
            "description": "Marathon 1.x REST API v2 (apps, tasks, deployments, groups, queue)",
        },
        "paths": _paths(),
        "components": {"schemas": component_schemas()},
    }
