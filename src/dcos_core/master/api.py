"""The master's HTTP surface: Mesos v1 scheduler and operator APIs, legacy JSON, internal calls."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any
from urllib.parse import parse_qs

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse, PlainTextResponse, StreamingResponse

from dcos_core.errors import (
    InvalidError,
    NotAcceptableError,
    NotFoundError,
    NotReadyError,
    UnsupportedMediaTypeError,
)
from dcos_core.ids import new_uuid
from dcos_core.master import calls, views
from dcos_core.master.service import Master
from dcos_core.master.streams import EventStream
from dcos_core.protocol.internal import Heartbeat, RegisterAgent, StatusUpdate
from dcos_core.protocol.v1 import unwrap
from dcos_core.web import install_error_handlers, limit_request_bodies, read_json

JSON_TYPE = "application/json"


async def read_call(request: Request) -> dict[str, Any]:
    """Decode a v1 API call body with the checks (and status codes) of Mesos."""
    ctype = request.headers.get("content-type")
    if not ctype:
        raise InvalidError("Expecting 'Content-Type' to be present")
    media = ctype.split(";")[0].strip().lower()
    if media == "application/x-protobuf":
        raise UnsupportedMediaTypeError(
            "This master speaks JSON only: send Content-Type: application/json"
        )
    if media != JSON_TYPE:
        raise UnsupportedMediaTypeError(f"Expecting 'Content-Type' of {JSON_TYPE}")
    try:
        body = await read_json(request)
    except InvalidError as e:
        raise InvalidError(f"Failed to parse body into JSON: {e}") from None
    if not isinstance(body, dict):
        raise InvalidError("Failed to convert JSON into Call protobuf: not a JSON object")
    if not isinstance(body.get("type"), str):
        raise InvalidError("Failed to validate Call: Expecting 'type' to be present")
    return body


def _check_accept(request: Request) -> None:
    accept = request.headers.get("accept", "*/*").lower()
    if not any(t in accept for t in (JSON_TYPE, "*/*", "application/*", "application/recordio")):
        raise NotAcceptableError(f"Expecting 'Accept' to allow {JSON_TYPE}")


def _stream_response(
    stream: EventStream, on_end: Callable[[], None], headers: dict[str, str]
) -> StreamingResponse:
    async def body() -> AsyncIterator[bytes]:
        try:
            async for chunk in stream.records():
                yield chunk
        finally:
            stream.close()
            on_end()

    return StreamingResponse(body(), media_type=JSON_TYPE, headers=headers)


def create_master_app(master: Master, *, cpus_total: int) -> FastAPI:
    """Build the master's FastAPI app around a `Master` (`cpus_total`: the host's, for metrics)."""
    app = FastAPI(
        title="dcos-core master",
        version=views.version(master)["dcos_core_version"],
        docs_url=None,  # no Swagger UI: it loads from a CDN and is blank offline
        redoc_url=None,
    )
    app.state.master = master
    install_error_handlers(app)  # Mesos' dialects: plain text on /api/v1, JSON elsewhere
    limit_request_bodies(app, master.settings.max_body_size)

    def ready() -> None:
        if not master.recovered:
            raise NotReadyError("Master has not finished recovery")

    # -------------------------------------------------------------------------------------------
    # v1 scheduler API

    @app.post("/api/v1/scheduler")
    async def scheduler(request: Request) -> Response:
        ready()
        body = await read_call(request)
        call_type = body["type"]
        if call_type == "SUBSCRIBE":
            _check_accept(request)
            if request.headers.get("mesos-stream-id"):
                raise InvalidError(
                    "Subscribe calls should not include the 'Mesos-Stream-Id' header"
                )
            fw, stream = master.subscribe(calls.parse_subscribe(body))
            return _stream_response(
                stream,
                lambda: master.stream_closed(fw.framework_id, stream.stream_id),
                {"Mesos-Stream-Id": stream.stream_id, "Cache-Control": "no-cache"},
            )
        if not calls.is_scheduler_call(call_type):
            raise InvalidError(
                f"Failed to validate scheduler::Call: unknown call type '{call_type}'"
            )
        fid = body.get("framework_id")
        fw = master.framework_for_call(
            unwrap(fid, "framework_id") if fid else None, request.headers.get("mesos-stream-id")
        )
        master.scheduler_call(fw, calls.parse_scheduler_call(call_type, body))
        return Response(status_code=200 if call_type == "UPDATE_FRAMEWORK" else 202)

    # -------------------------------------------------------------------------------------------
    # v1 operator API

    def _typed(call_type: str, key: str, payload: dict[str, Any]) -> JSONResponse:
        return JSONResponse({"type": call_type, key: payload})

    getters: dict[str, tuple[str, Callable[[Master], dict[str, Any]]]] = {
        "GET_HEALTH": ("get_health", lambda m: {"healthy": True}),
        "GET_VERSION": ("get_version", lambda m: {"version_info": views.version(m)}),
        "GET_STATE": ("get_state", views.get_state),
        "GET_AGENTS": ("get_agents", views.get_agents),
        "GET_FRAMEWORKS": ("get_frameworks", views.get_frameworks),
        "GET_TASKS": ("get_tasks", views.get_tasks),
        "GET_EXECUTORS": ("get_executors", lambda m: {"executors": [], "orphan_executors": []}),
        "GET_ROLES": ("get_roles", views.get_roles),
        "GET_WEIGHTS": ("get_weights", views.get_weights),
        "GET_QUOTA": ("get_quota", views.get_quota),
        "GET_MASTER": ("get_master", views.get_master),
        "GET_METRICS": (
            "get_metrics",
            lambda m: {
                "metrics": [
                    {"name": k, "value": v}
                    for k, v in sorted(views.metrics_snapshot(m, cpus_total).items())
                ]
            },
        ),
        "GET_FLAGS": (
            "get_flags",
            lambda m: {
                "flags": [{"name": k, "value": v} for k, v in views.state_v0(m)["flags"].items()]
            },
        ),
    }

    @app.post("/api/v1")
    async def operator(request: Request) -> Response:
        ready()
        body = await read_call(request)
        call_type = body["type"]
        if call_type in getters:
            key, fn = getters[call_type]
            return _typed(call_type, key, fn(master))
        if calls.is_operator_update(call_type):
            master.operator_call(calls.parse_operator_call(call_type, body))
            return Response(status_code=200)
        if call_type == "SUBSCRIBE":
            _check_accept(request)
            stream = EventStream(new_uuid(), master.settings.heartbeat_interval)
            stream.send(
                {
                    "type": "SUBSCRIBED",
                    "subscribed": {
                        "get_state": views.get_state(master),
                        "heartbeat_interval_seconds": master.settings.heartbeat_interval,
                    },
                }
            )
            master.operator_streams.add(stream)
            return _stream_response(stream, lambda: master.operator_streams.discard(stream), {})
        raise InvalidError(
            f"Failed to validate master::Call: unknown or unsupported type '{call_type}'"
        )

    # -------------------------------------------------------------------------------------------
    # legacy JSON endpoints (both at /master/X and /X)

    def legacy(path: str, fn: Callable[[], Any]) -> None:
        async def handler() -> JSONResponse:
            ready()
            return JSONResponse(fn())

        for prefix in ("/master", ""):
            app.add_api_route(prefix + path, handler, methods=["GET"])

    legacy("/state", lambda: views.state_v0(master))
    legacy("/state-summary", lambda: views.state_summary(master))
    legacy(
        "/frameworks",
        lambda: {
            k: v
            for k, v in views.state_v0(master).items()
            if k in ("frameworks", "completed_frameworks", "unregistered_frameworks")
        },
    )
    legacy(
        "/slaves",
        lambda: {
            k: v for k, v in views.state_v0(master).items() if k in ("slaves", "recovered_slaves")
        },
    )
    legacy(
        "/tasks",
        lambda: {
            "tasks": [
                t
                for f in views.state_v0(master)["frameworks"]
                for t in f["tasks"] + f["unreachable_tasks"] + f["completed_tasks"]
            ]
        },
    )
    legacy(
        "/roles",
        lambda: {
            "roles": [
                {
                    "name": r["name"],
                    "weight": r["weight"],
                    "frameworks": [f["value"] for f in r["frameworks"]],
                }
                for r in views.get_roles(master)["roles"]
            ]
        },
    )
    legacy("/weights", lambda: views.get_weights(master)["weight_infos"])
    legacy("/quota", lambda: views.get_quota(master)["status"])
    legacy("/flags", lambda: {"flags": views.state_v0(master)["flags"]})

    @app.get("/master/frameworks/{framework_id}/allocation")
    async def why(framework_id: str) -> JSONResponse:
        """Why a framework got no offers in the last allocation runs (per role)."""
        return JSONResponse({"framework_id": framework_id, "roles": master.why_not(framework_id)})

    @app.post("/master/teardown")
    @app.post("/teardown")
    async def teardown_v0(request: Request) -> Response:
        """`curl -d frameworkId=<id> .../master/teardown` (a form, as Mesos takes it)."""
        ready()
        form = parse_qs((await request.body()).decode(errors="replace"))
        fid = (form.get("frameworkId") or [request.query_params.get("frameworkId") or ""])[0]
        if not fid:
            raise InvalidError("Missing 'frameworkId' (send frameworkId=<id> as a form)")
        fw = master.frameworks.get(fid)
        if fw is None:
            raise NotFoundError(f"Framework {fid!r} not found")
        master.teardown(fw)
        return Response(status_code=200)

    @app.get("/version")
    async def version() -> JSONResponse:
        return JSONResponse(views.version(master))

    @app.get("/health")
    @app.get("/master/health")
    async def health() -> Response:
        return Response(status_code=200 if master.recovered else 503)

    @app.get("/master/redirect")
    @app.get("/redirect")
    async def redirect() -> Response:
        s = master.settings
        return Response(status_code=307, headers={"Location": f"//{s.hostname or s.ip}:{s.port}"})

    @app.get("/metrics/snapshot")
    async def metrics_snapshot() -> JSONResponse:
        return JSONResponse(views.metrics_snapshot(master, cpus_total))

    @app.get("/metrics")
    async def metrics_prometheus() -> PlainTextResponse:
        return PlainTextResponse(
            views.prometheus_text(master, cpus_total), media_type="text/plain; version=0.0.4"
        )

    # -------------------------------------------------------------------------------------------
    # internal: agents

    @app.post("/internal/agent/register")
    async def register(msg: RegisterAgent) -> JSONResponse:
        ready()
        return JSONResponse(master.register_agent(msg).model_dump())

    @app.post("/internal/agent/heartbeat")
    async def heartbeat(msg: Heartbeat) -> JSONResponse:
        master.heartbeat(msg.agent_id)
        return JSONResponse({})

    @app.post("/internal/agent/status")
    async def status(msg: StatusUpdate) -> Response:
        master.status_update(msg)
        return Response(status_code=202)

    return app
