"""Marathon's REST API v2 (compatible with Marathon 1.x for apps, tasks, deployments, groups,
queue, info, leader, events) over the `Marathon` service.

App ids are paths, so `/v2/apps/...` is parsed by hand: `/v2/apps/prod/web/tasks/<id>` is the
task `<id>` of the app `/prod/web`. Double slashes (marathon-python sends `/v2/apps//web`) are
collapsed. Errors have Marathon's shapes: 404 `{"message"}`, 409 `{"message", "deployments"}`,
422 `{"message": "Object is not valid", "details": [{"path", "errors"}]}`, and an internal error
500 `{"message"}` (`MarathonErrors`, through `dcos_core.web`'s one status table).
"""

from __future__ import annotations

import asyncio
import json
import math
import re
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, Final

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from dcos_core import __version__
from dcos_core.errors import InvalidError, NotFoundError
from dcos_core.frameworks.marathon.deployments import Deployment
from dcos_core.frameworks.marathon.models import AppDefinition, app_from_storage
from dcos_core.frameworks.marathon.openapi import openapi_schema
from dcos_core.frameworks.marathon.service import AppLockedError, AppRuntime, Marathon
from dcos_core.frameworks.marathon.validation import (
    AppValidationError,
    apply_update,
    normalize_id,
    parse_app,
    parse_app_update,
)
from dcos_core.frameworks.plain_errors import shown
from dcos_core.metrics import PROMETHEUS_CONTENT_TYPE, Info, prometheus_text, wants_prometheus
from dcos_core.model.task import TaskState
from dcos_core.web import ErrorDialects, MesosphereJsonErrors, install_error_handlers, read_json

MARATHON_COMPAT_VERSION: Final = "1.10.0"
SSE_HEARTBEAT: Final = 15.0
_TRUE: Final = {"true", "1", "yes"}


def _flag(request: Request, name: str, default: bool = False) -> bool:
    v = request.query_params.get(name)
    return default if v is None else v.strip().lower() in _TRUE


def _error(status: int, message: str, **extra: Any) -> JSONResponse:
    return JSONResponse({"message": message, **extra}, status_code=status)


def _deployment_result(dep: Deployment, status: int = 200) -> JSONResponse:
    return JSONResponse(
        {"deploymentId": dep.id, "version": dep.version},
        status_code=status,
        headers={"Marathon-Deployment-Id": dep.id},
    )


@dataclass(frozen=True)
class MarathonErrors(MesosphereJsonErrors):
    """Marathon's error bodies; a 409 for an app locked by deployments lists them."""

    def render(self, exc: BaseException, status: int) -> Response:
        if isinstance(exc, AppLockedError):
            deployments = [{"id": d} for d in exc.deployment_ids]
            return _error(status, str(exc), deployments=deployments)
        return super().render(exc, status)


MARATHON_ERRORS: Final = ErrorDialects(MarathonErrors())


def create_marathon_app(m: Marathon, *, hostname: str = "127.0.0.1", port: int = 8080) -> FastAPI:
    app = FastAPI(title="dcos-core Marathon", version=__version__, docs_url=None, redoc_url=None)
    app.openapi = lambda: openapi_schema()  # type: ignore[method-assign]
    install_error_handlers(app, MARATHON_ERRORS)
    http = HttpStats()
    app.add_middleware(HttpStatsMiddleware, stats=http)
    leader = f"{hostname}:{port}"

    def post_event(request: Request, definition: dict[str, Any]) -> None:
        m.events.publish(
            "api_post_event",
            clientIp=request.client.host if request.client else "",
            uri=str(request.url.path),
            appDefinition=definition,
        )

    # ---- misc ------------------------------------------------------------------------------

    @app.get("/ping")
    async def ping() -> PlainTextResponse:
        return PlainTextResponse("pong")

    @app.get("/v2/info")
    async def info() -> dict[str, Any]:
        return {
            "name": "marathon",
            "version": MARATHON_COMPAT_VERSION,
            "buildref": f"dcos-core-{__version__}",
            "elected": True,
            "leader": leader,
            "frameworkId": m.framework_id,
            "marathon_config": {
                "checkpoint": True,
                "failover_timeout": 604800,
                "framework_name": "marathon",
                "ha": False,
                "hostname": hostname,
                "local_port_min": 10000,
                "local_port_max": 20000,
                "master": "",
                "mesos_role": m.role,
                "mesos_user": "root",
                "task_launch_timeout": 300000,
                "reconciliation_initial_delay": 15000,
                "reconciliation_interval": 600000,
                "decline_offer_duration": 60000,
                "features": [],
            },
            "zookeeper_config": {"zk": None},
            "http_config": {"http_port": port, "https_port": 8443},
            "event_subscriber": None,
        }

    @app.get("/v2/leader")
    async def get_leader() -> dict[str, Any]:
        return {"leader": leader}

    @app.delete("/v2/leader")
    async def delete_leader() -> JSONResponse:
        return _error(200, "Leadership abdicated (there is only one Marathon: it stays leader)")

    @app.get("/metrics")
    async def metrics(request: Request) -> Response:
        """Dropwizard JSON (what Marathon clients read), or Prometheus text for a client that
        prefers it (`Accept: text/plain` or OpenMetrics, as Prometheus scrapers send)."""
        if wants_prometheus(request.headers.get("accept")):
            return _prometheus(metrics_json(m, http))
        return JSONResponse(metrics_json(m, http))

    @app.get("/metrics/prometheus")
    async def metrics_prometheus() -> Response:
        """Prometheus text (Marathon 1.7+ serves its Prometheus reporter here)."""
        return _prometheus(metrics_json(m, http))

    # ---- apps ------------------------------------------------------------------------------

    def embeds(request: Request) -> set[str]:
        out = set()
        for v in request.query_params.getlist("embed"):
            out.add(v.removeprefix("apps.").removeprefix("app."))
        return out

    @app.get("/v2/apps")
    async def list_apps(request: Request) -> dict[str, Any]:
        emb = embeds(request)
        cmd = request.query_params.get("cmd")
        ident = request.query_params.get("id")
        label = request.query_params.get("label")
        out = []
        for rt in sorted(m.apps.values(), key=lambda r: r.app.id):
            if cmd and cmd not in (rt.app.cmd or ""):
                continue
            if ident and ident.lower() not in rt.app.id.lower():
                continue
            if label and not _label_matches(label, rt.app.labels):
                continue
            out.append(m.render(rt, embed_tasks="tasks" in emb))
        return {"apps": out}

    @app.post("/v2/apps")
    async def create_app(request: Request) -> JSONResponse:
        body = await read_json(request)
        new = parse_app(body)
        if new.id in m.apps:
            return _error(409, f"An app with id [{new.id}] already exists.")
        force = _flag(request, "force")
        dep = m.deploy([new], force=force)
        rt = m.get(new.id)
        rendered = m.render(rt, embed_tasks=False)
        rendered["deployments"] = [{"id": dep.id}]
        post_event(request, rendered)
        return JSONResponse(
            rendered,
            status_code=201,
            headers={"Location": f"/v2/apps{new.id}", "Marathon-Deployment-Id": dep.id},
        )

    @app.put("/v2/apps")
    async def update_apps(request: Request) -> JSONResponse:
        body = await read_json(request)
        if not isinstance(body, list):
            raise AppValidationError([{"path": "/", "errors": ["expected a list of apps"]}])
        apps: list[AppDefinition] = []
        for i, item in enumerate(body):
            if not isinstance(item, dict):
                raise AppValidationError(
                    [{"path": f"/({i})", "errors": ["expected an app object"]}]
                )
            ident = normalize_id(str(item.get("id", "")))
            if ident in m.apps and _flag(request, "partialUpdate", True):
                apps.append(_apply_update(m, ident, item, f"({i})"))
            else:
                apps.append(parse_app(item))
        dep = m.deploy(apps, force=_flag(request, "force"))
        return _deployment_result(dep)

    @app.api_route("/v2/apps/{rest:path}", methods=["GET", "PUT", "PATCH", "DELETE", "POST"])
    async def app_routes(rest: str, request: Request) -> Response:
        parts = [p for p in rest.split("/") if p]
        method = request.method
        # /v2/apps/<id>/tasks[/<task>] | /versions[/<v>] | /restart
        for i, p in enumerate(parts):
            if p in ("tasks", "versions", "restart") and i > 0:
                app_id = normalize_id("/" + "/".join(parts[:i]))
                return await app_sub(app_id, p, parts[i + 1 :], method, request)
        app_id = normalize_id("/" + "/".join(parts))
        force = _flag(request, "force")
        if method == "GET":
            rt = m.get(app_id)
            return JSONResponse({"app": m.render(rt, embed_tasks=True)})
        if method in ("PUT", "PATCH"):
            body = await read_json(request)
            if not isinstance(body, dict):
                raise AppValidationError([{"path": "/", "errors": ["expected an object"]}])
            if isinstance(body.get("version"), str) and set(body) <= {"version", "id"}:
                dep = m.rollback(app_id, body["version"], force=force)
                return _deployment_result(dep)
            partial = method == "PATCH" or _flag(request, "partialUpdate", True)
            if app_id not in m.apps:
                new = parse_app({**body, "id": app_id})
                dep = m.deploy([new], force=force)
                post_event(request, m.render(m.get(app_id), embed_tasks=False))
                return _deployment_result(dep, 201)
            if partial:
                new = _apply_update(m, app_id, body, "")
            else:
                new = parse_app({**body, "id": app_id})
            dep = m.deploy([new], force=force)
            post_event(request, m.render(m.get(app_id), embed_tasks=False))
            return _deployment_result(dep)
        if method == "DELETE":
            m.get(app_id)
            dep = m.delete(app_id, force=force)
            return _deployment_result(dep)
        return _error(405, f"{method} is not allowed on {request.url.path}")

    async def app_sub(
        app_id: str, what: str, rest: list[str], method: str, request: Request
    ) -> Response:
        rt = m.get(app_id)
        if what == "restart" and method == "POST":
            dep = m.restart(app_id, force=_flag(request, "force"))
            return _deployment_result(dep)
        if what == "versions" and method == "GET":
            versions = m.repo.versions(app_id)
            if not rest:
                return JSONResponse({"versions": sorted(versions, reverse=True)})
            stored = versions.get(rest[0])
            if stored is None:
                raise NotFoundError(f"App '{app_id}' does not exist in version {rest[0]}")
            a = app_from_storage(stored)
            past = AppRuntime(a, rt.config_version, rt.version_info, rt.service_ports)
            return JSONResponse(m.render(past, embed_tasks=False))
        if what == "tasks":
            if method == "GET":
                if rest:
                    t = m.instances.get(rest[0])
                    if t is None or t.inst.app_id != app_id:
                        raise NotFoundError(f"Task '{rest[0]}' does not exist")
                    return JSONResponse({"task": m.render_task(t.inst)})
                return JSONResponse({"tasks": [m.render_task(i) for i in m.instances_of(app_id)]})
            if method == "DELETE":
                scale = _flag(request, "scale")
                wipe = _flag(request, "wipe")
                force = _flag(request, "force")
                if rest:
                    ids = [rest[0]]
                    if rest[0] not in m.instances:
                        raise NotFoundError(f"Task '{rest[0]}' does not exist")
                else:
                    host = request.query_params.get("host")
                    ids = [i.task_id for i in m.instances_of(app_id) if not host or i.host == host]
                result = m.kill_tasks(ids, scale=scale, wipe=wipe, force=force)
                if isinstance(result, Deployment):
                    return _deployment_result(result)
                rendered = [m.render_task(i) for i in result]
                if rest:
                    return JSONResponse({"task": rendered[0]})
                return JSONResponse({"tasks": rendered})
        _ = rt
        return _error(405, f"{method} is not allowed on {request.url.path}")

    # ---- tasks -----------------------------------------------------------------------------

    @app.get("/v2/tasks")
    async def list_tasks(request: Request) -> Response:
        wanted = {s.lower() for s in request.query_params.getlist("status")}
        tasks = [
            m.render_task(t.inst)
            for t in m.instances.values()
            if not wanted or _status_name(t.inst.state) in wanted
        ]
        if "text/plain" in request.headers.get("accept", "") and "json" not in request.headers.get(
            "accept", ""
        ):
            lines = [f"{t['appId']}\t{t['host']}:{p}" for t in tasks for p in t["ports"]]
            return PlainTextResponse("\n".join(lines))
        return JSONResponse({"tasks": tasks})

    @app.post("/v2/tasks/delete")
    async def delete_tasks(request: Request) -> JSONResponse:
        body = await read_json(request)
        ids = body.get("ids") if isinstance(body, dict) else None
        if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
            raise AppValidationError(
                [{"path": "/ids", "errors": ['expected a list of task ids: {"ids": ["..."]}']}]
            )
        known = [i for i in ids if i in m.instances]
        result = m.kill_tasks(
            known,
            scale=_flag(request, "scale"),
            wipe=_flag(request, "wipe"),
            force=_flag(request, "force"),
        )
        if isinstance(result, Deployment):
            return _deployment_result(result)
        return JSONResponse({"tasks": [m.render_task(i) for i in result]})

    # ---- deployments -----------------------------------------------------------------------

    @app.get("/v2/deployments")
    async def list_deployments() -> list[dict[str, Any]]:
        return [d.json() for d in sorted(m.deployments.values(), key=lambda d: d.created)]

    @app.delete("/v2/deployments/{dep_id}")
    async def delete_deployment(dep_id: str, request: Request) -> Response:
        force = _flag(request, "force")
        dep = m.cancel_deployment(dep_id, force=force)
        if dep is None:
            return Response(status_code=202)
        return _deployment_result(dep)

    # ---- queue -----------------------------------------------------------------------------

    @app.get("/v2/queue")
    async def queue() -> dict[str, Any]:
        return {"queue": m.queue()}

    @app.delete("/v2/queue/{rest:path}")
    async def reset_delay(rest: str) -> Response:
        if not rest.endswith("/delay"):
            return _error(404, f"/v2/queue/{rest} is not known: expected /v2/queue/<app id>/delay")
        m.reset_delay(normalize_id("/" + rest.removesuffix("/delay")))
        return Response(status_code=204)

    # ---- groups ----------------------------------------------------------------------------

    def group_json(gid: str, embed_apps: bool = True) -> dict[str, Any]:
        prefix = gid.rstrip("/") + "/"
        apps = [rt for rt in m.apps.values() if rt.app.id.startswith(prefix)]
        direct = [rt for rt in apps if "/" not in rt.app.id[len(prefix) :]]
        children = sorted(
            {prefix + rt.app.id[len(prefix) :].split("/")[0] for rt in apps}
            - {rt.app.id for rt in direct}
        )
        version = max((rt.app.version or "" for rt in apps), default="") or None
        return {
            "id": gid,
            "apps": [
                m.render(rt, embed_tasks=False) for rt in sorted(direct, key=lambda r: r.app.id)
            ]
            if embed_apps
            else [],
            "groups": [group_json(c, embed_apps) for c in children],
            "dependencies": [],
            "version": version,
            "pods": [],
        }

    def flatten_group(body: Any, base: str) -> list[AppDefinition]:
        if not isinstance(body, dict):
            raise AppValidationError([{"path": "/", "errors": ["expected a group object"]}])
        for key in ("apps", "groups", "dependencies"):
            if body.get(key) is not None and not isinstance(body[key], list):
                raise AppValidationError([{"path": f"/{key}", "errors": ["expected a list"]}])
        if body.get("id") is not None and not isinstance(body["id"], str):
            raise AppValidationError([{"path": "/id", "errors": ["expected a string"]}])
        gid = normalize_id(str(body.get("id") or base), base)
        out = [parse_app(a, gid) for a in body.get("apps") or []]
        deps = [normalize_id(d, gid) for d in body.get("dependencies") or []]
        if deps:
            out = [
                a.model_copy(update={"dependencies": sorted(set(a.dependencies) | set(deps))})
                for a in out
            ]
        for g in body.get("groups") or []:
            out += flatten_group(g, gid)
        return out

    @app.get("/v2/groups")
    async def root_group() -> dict[str, Any]:
        return group_json("/")

    @app.post("/v2/groups")
    async def create_group(request: Request) -> JSONResponse:
        body = await read_json(request)
        apps = flatten_group(body, "/")
        existing = [a.id for a in apps if a.id in m.apps]
        if existing:
            return _error(409, f"Group or app already exists: {', '.join(existing)}")
        dep = m.deploy(apps, force=_flag(request, "force"))
        return _deployment_result(dep, 201)

    @app.api_route("/v2/groups/{rest:path}", methods=["GET", "PUT", "DELETE", "POST"])
    async def group_routes(rest: str, request: Request) -> Response:
        parts = [p for p in rest.split("/") if p]
        gid = normalize_id("/" + "/".join(parts)) if parts else "/"
        force = _flag(request, "force")
        prefix = gid.rstrip("/") + "/"
        members = [a for a in m.apps if a.startswith(prefix)]
        if request.method == "GET":
            if gid != "/" and not members:
                raise NotFoundError(f"Group '{gid}' does not exist")
            return JSONResponse(group_json(gid))
        if request.method in ("PUT", "POST"):
            body = await read_json(request)
            if not isinstance(body, dict):
                raise AppValidationError([{"path": "/", "errors": ["expected a group object"]}])
            if "scaleBy" in body:
                factor = body["scaleBy"]
                if (
                    isinstance(factor, bool)
                    or not isinstance(factor, int | float)
                    or not math.isfinite(factor)
                    or not 0 <= factor <= 1000
                ):
                    raise AppValidationError(
                        [
                            {
                                "path": "/scaleBy",
                                "errors": [
                                    f"got {shown(factor)}, expected a number between 0 and 1000"
                                ],
                            }
                        ]
                    )
                apps = [
                    m.apps[a].app.model_copy(
                        update={"instances": round(m.apps[a].app.instances * factor)}
                    )
                    for a in members
                ]
                return _deployment_result(m.deploy(apps, force=force))
            if isinstance(body.get("version"), str) and len(body) == 1:
                raise InvalidError(
                    "rolling a group back to a version is not supported yet: roll back each app"
                    ' with PUT /v2/apps/<id> {"version": ...}',
                    "version",
                )
            apps = flatten_group({**body, "id": gid}, gid)
            dep = m.deploy(apps, force=force)
            return _deployment_result(dep, 201 if not members else 200)
        if request.method == "DELETE":
            if not members:
                raise NotFoundError(f"Group '{gid}' does not exist")
            return _deployment_result(m.deploy([], members, force=force))
        return _error(405, f"{request.method} is not allowed on {request.url.path}")

    # ---- events ----------------------------------------------------------------------------

    @app.get("/v2/events")
    async def events(request: Request) -> StreamingResponse:
        types = request.query_params.getlist("event_type")
        sub_id, q = m.events.subscribe(types)
        client = request.client.host if request.client else ""

        async def stream() -> AsyncIterator[bytes]:
            try:
                attached = {
                    "remoteAddress": client,
                    "eventType": "event_stream_attached",
                    "timestamp": _now(),
                }
                if not types or "event_stream_attached" in types:
                    yield _sse(attached)
                while True:
                    try:
                        ev = await asyncio.wait_for(q.get(), SSE_HEARTBEAT)
                    except TimeoutError:
                        yield b"\n"  # keep-alive (an empty line: ignored by clients)
                        continue
                    if ev is None:
                        return
                    yield _sse(ev)
            finally:
                m.events.unsubscribe(sub_id)

        return StreamingResponse(
            stream(),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )

    return app


# ---- metrics ---------------------------------------------------------------------------------


@dataclass
class HttpStats:
    """What the API served: requests in progress, and responses by status class."""

    active: int = 0
    responses: Counter[str] = field(default_factory=Counter)


class HttpStatsMiddleware:
    """ASGI middleware counting into `HttpStats` (an event stream is active while it is open)."""

    def __init__(self, app: ASGIApp, stats: HttpStats) -> None:
        self.app = app
        self.stats = stats

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        stats = self.stats

        async def counted(message: Message) -> None:
            if message["type"] == "http.response.start":
                stats.responses[f"{int(message['status']) // 100}xx"] += 1
            await send(message)

        stats.active += 1
        try:
            await self.app(scope, receive, counted)
        finally:
            stats.active -= 1


def metrics_json(m: Marathon, http: HttpStats) -> dict[str, Any]:
    """`GET /metrics`: Dropwizard's JSON with Marathon 1.x metric names."""
    states: Counter[str] = Counter(t.inst.state for t in m.instances.values())
    uptime = max(0.0, m.clock.time() - m.started)
    return {
        "version": "4.0.0",
        "gauges": {
            "marathon.apps.active.gauge": {"value": len(m.apps)},
            "marathon.deployments.active.gauge": {"value": len(m.deployments)},
            "marathon.instances.launch-overdue.gauge": {"value": m.queued_total()},
            "marathon.instances.running.gauge": {"value": states[TaskState.RUNNING]},
            "marathon.instances.staged.gauge": {"value": states[TaskState.STAGING]},
            "marathon.instances.inflight-kills.gauge": {
                "value": sum(1 for t in m.instances.values() if t.killing)
            },
            # one task per instance: the tasks' counts are the instances'
            "marathon.tasks.running.gauge": {"value": states[TaskState.RUNNING]},
            "marathon.tasks.staged.gauge": {"value": states[TaskState.STAGING]},
            "marathon.http.event-streams.active.gauge": {"value": m.events.subscribers},
            "marathon.http.requests.active.gauge": {"value": http.active},
            "marathon.uptime.gauge": {"value": round(uptime, 3)},
        },
        "counters": {
            "marathon.tasks.launched.counter": {"count": m.launched_total},
            "marathon.events.published.counter": {"count": m.events.published},
        },
        "histograms": {},
        "meters": {
            f"marathon.http.responses.{cls}.rate": {
                "count": http.responses[cls],
                "mean_rate": http.responses[cls] / uptime if uptime else 0.0,
                "units": "events/second",
            }
            for cls in ("1xx", "2xx", "3xx", "4xx", "5xx")
        },
        "timers": {},
    }


def _prometheus(dropwizard: dict[str, Any]) -> Response:
    """Dropwizard JSON in the Prometheus text format: names with `.` and `-` as `_`, gauges as
    gauges, counters and meters (their count) as counters (`_total`)."""
    gauges = {k: float(v["value"]) for k, v in dropwizard["gauges"].items()}
    counters = {k: float(v["count"]) for k, v in dropwizard["counters"].items()}
    counters.update({k: float(v["count"]) for k, v in dropwizard["meters"].items()})
    text = prometheus_text(
        gauges, counters=counters, help_text="Marathon metric {name}", info=_MARATHON_INFO
    )
    return Response(text, media_type=PROMETHEUS_CONTENT_TYPE)


_MARATHON_INFO: Final = Info(
    "marathon_build", "The Marathon serving these metrics", {"version": MARATHON_COMPAT_VERSION}
)


def _apply_update(m: Marathon, app_id: str, body: dict[str, Any], where: str) -> AppDefinition:
    upd = parse_app_update(body)
    return apply_update(upd, m.get(app_id).app)


def _label_matches(selector: str, labels: dict[str, str]) -> bool:
    """Marathon label selectors: `key`, `key==v`, `key!=v`, `key in (a,b)`, comma = and."""
    for term in re.split(r",(?![^()]*\))", selector):
        term = term.strip()
        if not term:
            continue
        if mt := re.fullmatch(r"(\S+)\s+(in|notin)\s+\((.*)\)", term):
            key, op, vals = mt.group(1), mt.group(2), {v.strip() for v in mt.group(3).split(",")}
            ok = labels.get(key) in vals
            if (op == "in") != ok:
                return False
        elif "!=" in term:
            key, val = term.split("!=", 1)
            if labels.get(key.strip()) == val.strip():
                return False
        elif "==" in term:
            key, val = term.split("==", 1)
            if labels.get(key.strip()) != val.strip():
                return False
        elif term not in labels:
            return False
    return True


def _status_name(state: str) -> str:
    names: dict[str, str] = {TaskState.RUNNING: "running", TaskState.STAGING: "staging"}
    return names.get(state, state.lower())


def _sse(event: dict[str, Any]) -> bytes:
    return (
        f"event: {event['eventType']}\ndata: {json.dumps(event, separators=(',', ':'))}\n\n"
    ).encode()


def _now() -> str:
    from dcos_core.frameworks.marathon.events import iso_now

    return iso_now()
