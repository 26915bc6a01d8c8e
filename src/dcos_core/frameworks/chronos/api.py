"""Chronos' REST API (2.x under `/scheduler`, 3.x under `/v1/scheduler`) over the `Chronos`
service, as chronos-python uses it: 204 with no body on create, update, run, delete and kill;
errors >= 400 with `{"status", "message"}`."""

from __future__ import annotations

import json
import statistics
from datetime import UTC, datetime
from typing import Any, Final

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response

from dcos_core import __version__
from dcos_core.errors import ConflictError, DcosError, InvalidError, NotFoundError
from dcos_core.frameworks.chronos.models import JobValidationError, parse_job, render_job
from dcos_core.frameworks.chronos.service import Chronos, JobState, _iso

PREFIXES: Final = ("/scheduler", "/v1/scheduler")
PERCENTILES: Final = {
    "99thPercentile": 99,
    "98thPercentile": 98,
    "95thPercentile": 95,
    "75thPercentile": 75,
    "median": 50,
    "mean": None,
}


def _error(status: int, text: str, message: str) -> JSONResponse:
    return JSONResponse({"status": text, "message": message}, status_code=status)


def create_chronos_app(c: Chronos) -> FastAPI:
    app = FastAPI(title="dcos-core Chronos", version=__version__, docs_url=None, redoc_url=None)

    @app.exception_handler(JobValidationError)
    async def _invalid(_r: Request, e: JobValidationError) -> JSONResponse:
        return JSONResponse(e.body(), status_code=400)

    @app.exception_handler(NotFoundError)
    async def _missing(_r: Request, e: NotFoundError) -> JSONResponse:
        return _error(400, "Bad Request", str(e))  # Chronos: `require` -> 400

    @app.exception_handler(InvalidError)
    async def _bad(_r: Request, e: InvalidError) -> JSONResponse:
        return _error(400, "Bad Request", str(e))

    @app.exception_handler(ConflictError)
    async def _conflict(_r: Request, e: ConflictError) -> JSONResponse:
        return _error(400, "Bad Request", str(e))

    @app.exception_handler(DcosError)
    async def _other(_r: Request, e: DcosError) -> JSONResponse:
        return _error(400, "Bad Request", str(e))

    def render(js: JobState) -> dict[str, Any]:
        return render_job(js.job, c.stats(js))

    async def body_json(request: Request) -> Any:
        try:
            return json.loads(await request.body() or b"null")
        except ValueError as e:
            raise InvalidError(f"invalid JSON: {e}") from None

    router = APIRouter()

    @router.get("/jobs")
    async def jobs() -> list[dict[str, Any]]:
        return [render(js) for js in sorted(c.jobs.values(), key=lambda j: j.job.name)]

    @router.get("/jobs/search")
    async def search(request: Request) -> list[dict[str, Any]]:
        q = request.query_params
        name, command, anything = q.get("name"), q.get("command"), q.get("any")
        limit = int(q.get("limit", "10") or 10)
        offset = int(q.get("offset", "0") or 0)
        out = []
        for js in sorted(c.jobs.values(), key=lambda j: j.job.name):
            n, cmd = js.job.name.lower(), js.job.command.lower()
            if name and name.lower() not in n:
                continue
            if command and command.lower() not in cmd:
                continue
            if anything and anything.lower() not in n and anything.lower() not in cmd:
                continue
            out.append(render(js))
        return out[offset : offset + limit]

    @router.get("/jobs/summary")
    async def summary() -> dict[str, Any]:
        return {
            "jobs": [
                {
                    "name": js.job.name,
                    "status": c.job_status(js),
                    "state": c.job_state(js),
                    "schedule": js.job.schedule or "",
                    "parents": list(js.job.parents or []),
                    "disabled": js.job.disabled,
                    "missingParents": js.missing_parents,
                }
                for js in sorted(c.jobs.values(), key=lambda j: j.job.name)
            ]
        }

    @router.get("/job/stat/{name}")
    async def job_stat(name: str) -> dict[str, Any]:
        js = c.get(name)
        runs = [r for r in js.history if r.started_at and r.finished_at]
        times = [r.finished_at - r.started_at for r in runs]  # type: ignore[operator]
        return {
            "histogram": _histogram(times),
            "taskStatHistory": [
                {
                    "taskId": r.task_id or "",
                    "jobName": r.job,
                    "slaveId": r.agent_id or "",
                    "taskState": _task_state(r.state.value),
                    "scheduledTime": _iso(r.scheduled),
                    "taskStartTs": _iso(r.started_at),
                    "taskEndTs": _iso(r.finished_at),
                    "attempts": len(r.attempts),
                    "message": r.message,
                    "reason": r.reason,
                }
                for r in reversed(js.history)
            ],
        }

    @router.put("/job/success/{name}")
    async def mark_success(name: str) -> PlainTextResponse:
        c.mark_success(name)
        return PlainTextResponse(f"marked job {name} as successful: true")

    @router.get("/job/{name}")
    async def get_job(name: str) -> dict[str, Any]:
        return render(c.get(name))

    @router.put("/job/{name}")
    async def run_now(name: str) -> Response:
        c.start_now(name)
        return Response(status_code=204)

    @router.delete("/job/{name}")
    async def delete_job(name: str) -> Response:
        c.delete_job(name)
        return Response(status_code=204)

    @router.api_route("/iso8601", methods=["POST", "PUT"])
    async def iso8601(request: Request) -> Response:
        job = parse_job(await body_json(request), dependency=False, now=_now(c))
        c.put_job(job)
        return Response(status_code=204)

    @router.api_route("/dependency", methods=["POST", "PUT"])
    async def dependency(request: Request) -> Response:
        job = parse_job(await body_json(request), dependency=True, now=_now(c))
        c.put_job(job)
        return Response(status_code=204)

    @router.delete("/task/kill/{name}")
    async def kill(name: str) -> Response:
        c.kill_tasks(name)
        return Response(status_code=204)

    @router.get("/graph/csv")
    async def graph_csv() -> PlainTextResponse:
        lines = []
        for js in sorted(c.jobs.values(), key=lambda j: j.job.name):
            last = c.job_status(js)
            lines.append(f"node,{js.job.name},{last},{c.job_state(js)}")
        for js in sorted(c.jobs.values(), key=lambda j: j.job.name):
            for p in js.job.parents or []:
                lines.append(f"link,{p},{js.job.name}")
        return PlainTextResponse("\n".join(lines) + ("\n" if lines else ""))

    @router.get("/graph/dot")
    async def graph_dot() -> PlainTextResponse:
        out = ["digraph G {"]
        for js in sorted(c.jobs.values(), key=lambda j: j.job.name):
            colour = {"success": "green", "failure": "red"}.get(c.job_status(js), "grey")
            out.append(f'  "{js.job.name}" [style=filled fillcolor={colour}];')
        for js in sorted(c.jobs.values(), key=lambda j: j.job.name):
            for p in js.job.parents or []:
                out.append(f'  "{p}" -> "{js.job.name}";')
        out.append("}")
        return PlainTextResponse("\n".join(out) + "\n")

    @router.get("/stats/{which}")
    async def stats(which: str) -> list[dict[str, Any]]:
        if which not in PERCENTILES:
            raise InvalidError(f"unknown statistic '{which}' (one of {', '.join(PERCENTILES)})")
        q = PERCENTILES[which]
        out = []
        for js in c.jobs.values():
            times = [
                r.finished_at - r.started_at
                for r in js.history
                if r.started_at is not None and r.finished_at is not None
            ]
            if not times:
                continue
            value = statistics.fmean(times) if q is None else _percentile(times, q)
            out.append({"jobNameLabel": js.job.name, "time": round(value, 3)})
        return sorted(out, key=lambda x: -x["time"])

    for prefix in PREFIXES:
        app.include_router(router, prefix=prefix)

    @app.get("/ping")
    async def ping() -> PlainTextResponse:
        return PlainTextResponse("pong")

    @app.get("/metrics")
    async def metrics() -> dict[str, Any]:
        return {
            "version": "3.0.0",
            "gauges": {
                "jobs.count": {"value": len(c.jobs)},
                "runs.unfinished": {"value": len(c.runs)},
            },
            "counters": {"tasks.launched": {"count": c.launched_total}},
            "histograms": {},
            "meters": {},
            "timers": {},
        }

    return app


def _percentile(values: list[float], q: float) -> float:
    s = sorted(values)
    k = max(0, min(len(s) - 1, round(q / 100 * (len(s) - 1))))
    return s[k]


def _histogram(times: list[float]) -> dict[str, Any]:
    if not times:
        return {
            "75thPercentile": 0.0,
            "95thPercentile": 0.0,
            "98thPercentile": 0.0,
            "99thPercentile": 0.0,
            "median": 0.0,
            "mean": 0.0,
            "count": 0,
        }
    return {
        "75thPercentile": _percentile(times, 75),
        "95thPercentile": _percentile(times, 95),
        "98thPercentile": _percentile(times, 98),
        "99thPercentile": _percentile(times, 99),
        "median": _percentile(times, 50),
        "mean": statistics.fmean(times),
        "count": len(times),
    }


def _task_state(state: str) -> str:
    return {
        "SUCCEEDED": "TASK_FINISHED",
        "FAILED": "TASK_FAILED",
        "RUNNING": "TASK_RUNNING",
        "LAUNCHING": "TASK_STAGING",
    }.get(state, state)


def _now(c: Chronos) -> datetime:
    return datetime.fromtimestamp(c.clock.time(), UTC)
