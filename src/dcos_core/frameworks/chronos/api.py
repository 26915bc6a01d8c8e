"""Chronos' REST API (2.x under `/scheduler`, 3.x under `/v1/scheduler`) and a Metronome-like API
(`/v1/jobs`, `/v0/scheduled-jobs`) over the one `Chronos` service.

Chronos, as chronos-python uses it: 204 with no body on create, update, run, delete and kill;
errors >= 400 with `{"status", "message"}` (400, 409 for a name taken by a Metronome job, 500 for
an internal error). The Chronos endpoints see Chronos jobs only; `GET /scheduler/job/<name>/runs`
(ours) is the run history of a job of either kind: scheduled time, state, start and end, and every
attempt with its task, exit code, reason, message and sandbox URL.

Metronome: JobSpec and ScheduleSpec JSON, runs as ``{id, jobId, status, createdAt, completedAt,
tasks}`` (plus ``scheduledAt``, ``attempt``, ``reason``, ``message``, ``sandbox``...), errors
404/409/500 ``{"message"}`` and 422 ``{"message", "details": [{"path", "errors"}]}``. The statuses
come from `dcos_core.web`'s one table; `ChronosErrors` and `MetronomeErrors` spell the bodies.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Any, Final

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response

from dcos_core import __version__
from dcos_core.errors import ConflictError, InvalidError, NotFoundError
from dcos_core.frameworks.chronos.ledger import Run, RunState, parse_run_id, run_id
from dcos_core.frameworks.chronos.models import (
    JobValidationError,
    MetronomeSchedule,
    MetronomeValidationError,
    parse_job,
    parse_metronome_job,
    parse_metronome_schedule,
    render_job,
    render_metronome_job,
    render_metronome_schedule,
)
from dcos_core.frameworks.chronos.service import Chronos, JobState, NameTakenError, _iso
from dcos_core.metrics import PROMETHEUS_CONTENT_TYPE, Info, prometheus_text, wants_prometheus
from dcos_core.model.task import TaskState
from dcos_core.web import (
    ErrorDialects,
    MesosphereJsonErrors,
    StatusTable,
    details_body,
    install_error_handlers,
    message_of,
    read_json,
)

PREFIXES: Final = ("/scheduler", "/v1/scheduler")
PERCENTILES: Final = {
    "99thPercentile": 99,
    "98thPercentile": 98,
    "95thPercentile": 95,
    "75thPercentile": 75,
    "median": 50,
    "mean": None,
}


@dataclass(frozen=True)
class ChronosErrors:
    """Chronos' errors: `{"status": <reason phrase>, "message"}`, and 400 where Chronos answers
    it (an unknown job, a conflict other than a taken name: Chronos' `require`)."""

    statuses: StatusTable = field(
        default_factory=lambda: {
            NameTakenError: 409,
            NotFoundError: 400,
            ConflictError: 400,
            MetronomeValidationError: 422,
        }
    )

    def render(self, exc: BaseException, status: int) -> Response:
        if isinstance(exc, JobValidationError):
            return JSONResponse(exc.body(), status_code=status)
        if isinstance(exc, MetronomeValidationError):
            return JSONResponse(details_body(exc), status_code=status)
        body = {"status": HTTPStatus(status).phrase, "message": message_of(exc)}
        return JSONResponse(body, status_code=status)


@dataclass(frozen=True)
class MetronomeErrors(MesosphereJsonErrors):
    """Metronome's errors (Marathon's shapes); a Chronos job's invalid definition keeps its
    Chronos body and 400."""

    statuses: StatusTable = field(
        default_factory=lambda: {JobValidationError: 400, InvalidError: 422}
    )

    def render(self, exc: BaseException, status: int) -> Response:
        if isinstance(exc, JobValidationError):
            return JSONResponse(exc.body(), status_code=status)
        return super().render(exc, status)


def create_chronos_app(c: Chronos) -> FastAPI:
    app = FastAPI(title="dcos-core Chronos", version=__version__, docs_url=None, redoc_url=None)
    install_error_handlers(app, CHRONOS_ERRORS)

    def render(js: JobState) -> dict[str, Any]:
        return render_job(js.job, c.stats(js))

    router = APIRouter()

    @router.get("/jobs")
    async def jobs() -> list[dict[str, Any]]:
        return [render(js) for js in c.chronos_jobs()]

    @router.get("/jobs/search")
    async def search(request: Request) -> list[dict[str, Any]]:
        q = request.query_params
        name, command, anything = q.get("name"), q.get("command"), q.get("any")
        limit = _int_param(request, "limit", 10)
        offset = _int_param(request, "offset", 0)
        out = []
        for js in c.chronos_jobs():
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
                for js in c.chronos_jobs()
            ]
        }

    @router.get("/job/stat/{name}")
    async def job_stat(name: str) -> dict[str, Any]:
        js = c.get_chronos(name)
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
        c.get_chronos(name)
        c.mark_success(name)
        return PlainTextResponse(f"marked job {name} as successful: true")

    @router.get("/job/{name}/runs")
    async def job_runs(name: str, request: Request) -> list[dict[str, Any]]:
        limit = _int_param(request, "limit", 50)
        return [_history_run(r) for r in c.recent_runs(name, limit)]

    @router.get("/job/{name}")
    async def get_job(name: str) -> dict[str, Any]:
        return render(c.get_chronos(name))

    @router.put("/job/{name}")
    async def run_now(name: str) -> Response:
        c.get_chronos(name)
        c.start_now(name)
        return Response(status_code=204)

    @router.delete("/job/{name}")
    async def delete_job(name: str) -> Response:
        c.get_chronos(name)
        c.delete_job(name)
        return Response(status_code=204)

    async def put_job(request: Request, dependency: bool) -> Response:
        c.put_job(parse_job(await read_json(request), dependency=dependency, now=_now(c)))
        return Response(status_code=204)

    @router.api_route("/iso8601", methods=["POST", "PUT"])
    async def iso8601(request: Request) -> Response:
        return await put_job(request, dependency=False)

    @router.api_route("/dependency", methods=["POST", "PUT"])
    async def dependency(request: Request) -> Response:
        return await put_job(request, dependency=True)

    @router.delete("/task/kill/{name}")
    async def kill(name: str) -> Response:
        c.get_chronos(name)
        c.kill_tasks(name)
        return Response(status_code=204)

    @router.get("/graph/csv")
    async def graph_csv() -> PlainTextResponse:
        lines = []
        for js in c.chronos_jobs():
            last = c.job_status(js)
            lines.append(f"node,{js.job.name},{last},{c.job_state(js)}")
        for js in c.chronos_jobs():
            for p in js.job.parents or []:
                lines.append(f"link,{p},{js.job.name}")
        return PlainTextResponse("\n".join(lines) + ("\n" if lines else ""))

    @router.get("/graph/dot")
    async def graph_dot() -> PlainTextResponse:
        out = ["digraph G {"]
        for js in c.chronos_jobs():
            colour = {"success": "green", "failure": "red"}.get(c.job_status(js), "grey")
            out.append(f'  "{js.job.name}" [style=filled fillcolor={colour}];')
        for js in c.chronos_jobs():
            for p in js.job.parents or []:
                out.append(f'  "{p}" -> "{js.job.name}";')
        out.append("}")
        return PlainTextResponse("\n".join(out) + "\n")

    @router.get("/stats/{which}")
    async def stats(which: str) -> list[dict[str, Any]]:
        if which not in PERCENTILES:
            raise InvalidError(
                f"unknown statistic '{which}': expected one of {', '.join(PERCENTILES)}"
            )
        q = PERCENTILES[which]
        out = []
        for js in c.chronos_jobs():
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
    _metronome_routes(app, c)

    @app.get("/ping")
    async def ping() -> PlainTextResponse:
        return PlainTextResponse("pong")

    @app.get("/metrics")
    async def metrics(request: Request) -> Response:
        """Dropwizard JSON (what chronos-python reads), or Prometheus text for a client that
        prefers it (`Accept: text/plain` or OpenMetrics, as Prometheus scrapers send)."""
        if wants_prometheus(request.headers.get("accept")):
            return _prometheus(metrics_json(c))
        return JSONResponse(metrics_json(c))

    @app.get("/metrics/prometheus")
    async def metrics_prometheus() -> Response:
        return _prometheus(metrics_json(c))

    return app


def metrics_json(c: Chronos) -> dict[str, Any]:
    """`GET /metrics`: Dropwizard's JSON (chronos-python's `metrics()` needs `version` and
    `gauges`). Runs are counted by state now; `runs.succeeded`/`runs.failed` since the start."""
    jobs = list(c.jobs.values())
    runs = list(c.runs.values())
    active = (RunState.LAUNCHING, RunState.RUNNING)
    return {
        "version": "3.0.0",
        "gauges": {
            "jobs.count": {"value": len(jobs)},
            "jobs.scheduled": {"value": sum(1 for js in jobs if js.job.schedule)},
            "jobs.dependent": {"value": sum(1 for js in jobs if js.job.parents)},
            "jobs.metronome": {"value": sum(1 for js in jobs if js.spec is not None)},
            "jobs.disabled": {"value": sum(1 for js in jobs if js.job.disabled)},
            "runs.unfinished": {"value": len(runs)},
            "runs.pending": {"value": sum(1 for r in runs if r.state == RunState.PENDING)},
            "runs.running": {"value": sum(1 for r in runs if r.state in active)},
            "uptime.seconds": {"value": round(max(0.0, c.clock.time() - c.started), 3)},
        },
        "counters": {
            "tasks.launched": {"count": c.launched_total},
            "runs.succeeded": {"count": c.finished_total[RunState.SUCCEEDED.value]},
            "runs.failed": {"count": c.finished_total[RunState.FAILED.value]},
        },
        "histograms": {},
        "meters": {},
        "timers": {},
    }


def _prometheus(dropwizard: dict[str, Any]) -> Response:
    """Dropwizard JSON in the Prometheus text format: `chronos_` + the name with `.` as `_`,
    gauges as gauges, counters as counters (`_total`)."""
    text = prometheus_text(
        {k: float(v["value"]) for k, v in dropwizard["gauges"].items()},
        counters={k: float(v["count"]) for k, v in dropwizard["counters"].items()},
        prefix="chronos_",
        help_text="Chronos metric {name}",
        info=Info("chronos_build", "The Chronos serving these metrics", {"version": __version__}),
    )
    return Response(text, media_type=PROMETHEUS_CONTENT_TYPE)


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
        "SUCCEEDED": TaskState.FINISHED,
        "FAILED": TaskState.FAILED,
        "RUNNING": TaskState.RUNNING,
        "LAUNCHING": TaskState.STAGING,
    }.get(state, state)


def _now(c: Chronos) -> datetime:
    return datetime.fromtimestamp(c.clock.time(), UTC)


# ---------------------------------------------------------------------------------------------
# run history (both kinds of jobs)


def _int_param(request: Request, name: str, default: int) -> int:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise InvalidError(f"got '{raw}', expected a whole number", name) from None
    if value < 0:
        raise InvalidError(f"got {value}, expected 0 or more", name)
    return value


def _attempts(run: Run, fmt: Any) -> list[dict[str, Any]]:
    """Every attempt of `run` that ended, then the one in flight (if any), times by `fmt`."""
    out = [
        {
            "taskId": a.get("task_id", ""),
            "state": a.get("state", ""),
            "startedAt": fmt(a.get("started_at")),
            "finishedAt": fmt(a.get("at")),
            "exitCode": a.get("exit_code"),
            "reason": a.get("reason", ""),
            "message": a.get("message", ""),
            "agentId": a.get("agent_id") or "",
            "host": a.get("host", ""),
            "sandbox": a.get("sandbox", ""),
        }
        for a in run.attempts
    ]
    if run.task_id and run.state in (RunState.LAUNCHING, RunState.RUNNING):
        out.append(
            {
                "taskId": run.task_id,
                "state": TaskState.RUNNING if run.state == RunState.RUNNING else TaskState.STAGING,
                "startedAt": fmt(run.started_at),
                "finishedAt": fmt(None),
                "exitCode": None,
                "reason": "",
                "message": "",
                "agentId": run.agent_id or "",
                "host": run.host,
                "sandbox": run.sandbox,
            }
        )
    return out


def _exit_code(run: Run) -> int | None:
    return run.attempts[-1].get("exit_code") if run.attempts else None


def _history_run(run: Run) -> dict[str, Any]:
    """A run in `GET /scheduler/job/<name>/runs` (Chronos time format, "" for none)."""
    return {
        "runId": run_id(run.scheduled),
        "scheduledTime": _iso(run.scheduled),
        "kind": run.kind,
        "state": run.state.value,
        "plannedAt": _iso(run.planned_at),
        "startedAt": _iso(run.started_at),
        "finishedAt": _iso(run.finished_at),
        "attempt": run.attempt,
        "taskId": run.task_id or "",
        "host": run.host,
        "sandbox": run.sandbox,
        "exitCode": _exit_code(run),
        "reason": run.reason,
        "message": run.message,
        "attempts": _attempts(run, _iso),
    }


# ---------------------------------------------------------------------------------------------
# Metronome

METRONOME_PREFIXES: Final = ("/v1/jobs", "/v0/scheduled-jobs")
CHRONOS_ERRORS: Final = ErrorDialects(
    ChronosErrors(), tuple((prefix, MetronomeErrors()) for prefix in METRONOME_PREFIXES)
)
EMBEDS: Final = frozenset({"activeRuns", "schedules", "history", "historySummary"})
_METRONOME_STATUS: Final = {
    RunState.LAUNCHING: "STARTING",
    RunState.RUNNING: "ACTIVE",
    RunState.SUCCEEDED: "SUCCESS",
    RunState.FAILED: "FAILED",
    RunState.SKIPPED: "SKIPPED",
}


def _mtime(t: float | None) -> str | None:
    """Metronome's timestamp format (``2016-07-15T13:02:59.735+0000``), None for none."""
    if t is None:
        return None
    ms = round(t * 1000)
    return datetime.fromtimestamp(ms // 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.") + (
        f"{ms % 1000:03d}+0000"
    )


def _metronome_status(run: Run) -> str:
    if run.state == RunState.PENDING:
        return "INITIAL" if run.attempt == 0 else "STARTING"  # a retry waiting to relaunch
    return _METRONOME_STATUS[run.state]


def metronome_run(run: Run) -> dict[str, Any]:
    """A JobRun as Metronome shows it, plus our fields (scheduled time, attempts, sandbox)."""
    tasks = [
        {
            "id": a["taskId"],
            "status": a["state"],
            "startedAt": a["startedAt"],
            "completedAt": a["finishedAt"],
            "exitCode": a["exitCode"],
            "reason": a["reason"],
            "message": a["message"],
            "agentId": a["agentId"],
            "host": a["host"],
            "sandbox": a["sandbox"] or None,
        }
        for a in _attempts(run, _mtime)
    ]
    return {
        "id": run_id(run.scheduled),
        "jobId": run.job,
        "status": _metronome_status(run),
        "createdAt": _mtime(run.planned_at),
        "completedAt": _mtime(run.finished_at),
        "tasks": tasks,
        "scheduledAt": _mtime(run.scheduled),
        "kind": run.kind,
        "scheduleId": run.schedule_id or None,
        "attempt": run.attempt,
        "exitCode": _exit_code(run),
        "reason": run.reason,
        "message": run.message,
        "sandbox": run.sandbox or None,
    }


def _history(js: JobState, *, full: bool) -> dict[str, Any]:
    out: dict[str, Any] = {
        "successCount": js.success_count,
        "failureCount": js.error_count,
        "lastSuccessAt": _mtime(js.last_success),
        "lastFailureAt": _mtime(js.last_error),
    }
    if full:
        newest = sorted(js.history, key=lambda r: r.scheduled, reverse=True)

        def finished(state: RunState) -> list[dict[str, Any]]:
            return [
                {
                    "id": run_id(r.scheduled),
                    "createdAt": _mtime(r.planned_at),
                    "finishedAt": _mtime(r.finished_at),
                }
                for r in newest
                if r.state == state
            ]

        out["successfulFinishedRuns"] = finished(RunState.SUCCEEDED)
        out["failedFinishedRuns"] = finished(RunState.FAILED)
        out["skippedRuns"] = [  # ours: occurrences not run (FORBID, starting deadline)
            {"id": run_id(r.scheduled), "scheduledAt": _mtime(r.scheduled), "message": r.message}
            for r in newest
            if r.state == RunState.SKIPPED
        ]
    return out


def _embeds(request: Request) -> set[str]:
    out: set[str] = set()
    for value in request.query_params.getlist("embed"):
        out.update(x.strip() for x in value.split(",") if x.strip())
    return out & EMBEDS


def _bool_param(request: Request, name: str) -> bool:
    return request.query_params.get(name, "false").strip().lower() in ("true", "1", "yes")


def _metronome_routes(app: FastAPI, c: Chronos) -> None:
    def render(js: JobState, embeds: set[str] | frozenset[str] = frozenset()) -> dict[str, Any]:
        assert js.spec is not None
        out = render_metronome_job(js.spec)
        if "activeRuns" in embeds:
            out["activeRuns"] = [metronome_run(r) for r in c.active_runs(js.job.name)]
        if "history" in embeds:
            out["history"] = _history(js, full=True)
        if "historySummary" in embeds:
            out["historySummary"] = _history(js, full=False)
        return out

    async def body(request: Request) -> Any:
        try:
            return await read_json(request)
        except InvalidError as e:
            raise MetronomeValidationError(
                [{"path": "/", "errors": [str(e)]}], "Invalid JSON"
            ) from None

    def the_run(job_id: str, rid: str) -> Run:
        c.get_metronome(job_id)
        scheduled = parse_run_id(rid)
        run = c.find_run(job_id, scheduled) if scheduled is not None else None
        if run is None:
            raise NotFoundError(f"JobRun '{rid}' of job '{job_id}' does not exist")
        return run

    def the_schedule(js: JobState, sid: str) -> MetronomeSchedule:
        assert js.spec is not None
        for s in js.spec.schedules:
            if s.id == sid:
                return s
        raise NotFoundError(f"Schedule '{sid}' of job '{js.job.name}' does not exist")

    def set_schedules(js: JobState, schedules: list[MetronomeSchedule]) -> JobState:
        assert js.spec is not None
        return c.put_metronome(js.spec.model_copy(update={"schedules": schedules}), create=False)

    # ---- jobs ------------------------------------------------------------------------------

    for prefix in METRONOME_PREFIXES:

        @app.get(prefix)
        async def list_jobs(request: Request) -> list[dict[str, Any]]:
            embeds = _embeds(request)
            return [render(js, embeds) for js in c.metronome_jobs()]

        @app.post(prefix)
        async def create_job(request: Request) -> JSONResponse:
            spec = parse_metronome_job(await body(request))
            return JSONResponse(render(c.put_metronome(spec, create=True)), status_code=201)

        @app.get(prefix + "/{job_id}")
        async def get_job(job_id: str, request: Request) -> dict[str, Any]:
            return render(c.get_metronome(job_id), _embeds(request))

        @app.put(prefix + "/{job_id}")
        async def update_job(job_id: str, request: Request) -> dict[str, Any]:
            js = c.get_metronome(job_id)
            assert js.spec is not None
            data = await body(request)
            if isinstance(data, dict):
                if data.get("id", job_id) != job_id:
                    raise MetronomeValidationError(
                        [{"path": "/id", "errors": [f"must be the job's id '{job_id}'"]}]
                    )
                data = {**data, "id": job_id}
            spec = parse_metronome_job(data)
            if isinstance(data, dict) and "schedules" not in data:  # kept (see /schedules)
                spec = spec.model_copy(update={"schedules": js.spec.schedules})
            return render(c.put_metronome(spec, create=False))

        @app.delete(prefix + "/{job_id}")
        async def delete_job(job_id: str, request: Request) -> dict[str, Any]:
            js = c.get_metronome(job_id)
            if c.active_runs(job_id) and not _bool_param(request, "stopCurrentJobRuns"):
                raise ConflictError(
                    f"Job '{job_id}' has active runs: stop them first, or delete with"
                    " stopCurrentJobRuns=true"
                )
            out = render(js)
            c.delete_job(job_id)
            return out

    # ---- schedules -------------------------------------------------------------------------

    @app.get("/v1/jobs/{job_id}/schedules")
    async def list_schedules(job_id: str) -> list[dict[str, Any]]:
        js = c.get_metronome(job_id)
        assert js.spec is not None
        return [render_metronome_schedule(s) for s in js.spec.schedules]

    @app.post("/v1/jobs/{job_id}/schedules")
    async def create_schedule(job_id: str, request: Request) -> JSONResponse:
        js = c.get_metronome(job_id)
        assert js.spec is not None
        sched = parse_metronome_schedule(await body(request))
        if any(s.id == sched.id for s in js.spec.schedules):
            raise ConflictError(f"Schedule '{sched.id}' of job '{job_id}' already exists")
        set_schedules(js, [*js.spec.schedules, sched])
        return JSONResponse(render_metronome_schedule(sched), status_code=201)

    @app.get("/v1/jobs/{job_id}/schedules/{schedule_id}")
    async def get_schedule(job_id: str, schedule_id: str) -> dict[str, Any]:
        return render_metronome_schedule(the_schedule(c.get_metronome(job_id), schedule_id))

    @app.put("/v1/jobs/{job_id}/schedules/{schedule_id}")
    async def update_schedule(job_id: str, schedule_id: str, request: Request) -> dict[str, Any]:
        js = c.get_metronome(job_id)
        assert js.spec is not None
        the_schedule(js, schedule_id)
        data = await body(request)
        if isinstance(data, dict):
            if data.get("id", schedule_id) != schedule_id:
                raise MetronomeValidationError(
                    [{"path": "/id", "errors": [f"must be the schedule's id '{schedule_id}'"]}]
                )
            data = {**data, "id": schedule_id}
        sched = parse_metronome_schedule(data)
        set_schedules(js, [sched if s.id == schedule_id else s for s in js.spec.schedules])
        return render_metronome_schedule(sched)

    @app.delete("/v1/jobs/{job_id}/schedules/{schedule_id}")
    async def delete_schedule(job_id: str, schedule_id: str) -> dict[str, Any]:
        js = c.get_metronome(job_id)
        assert js.spec is not None
        sched = the_schedule(js, schedule_id)
        set_schedules(js, [s for s in js.spec.schedules if s.id != schedule_id])
        return render_metronome_schedule(sched)

    # ---- runs ------------------------------------------------------------------------------

    @app.get("/v1/jobs/{job_id}/runs")
    async def list_runs(job_id: str) -> list[dict[str, Any]]:
        c.get_metronome(job_id)
        return [metronome_run(r) for r in c.active_runs(job_id)]

    @app.post("/v1/jobs/{job_id}/runs")
    async def start_run(job_id: str) -> JSONResponse:
        c.get_metronome(job_id)
        return JSONResponse(metronome_run(c.start_now(job_id)), status_code=201)

    @app.get("/v1/jobs/{job_id}/runs/{run_id}")
    async def get_run(job_id: str, run_id: str) -> dict[str, Any]:
        return metronome_run(the_run(job_id, run_id))

    @app.post("/v1/jobs/{job_id}/runs/{run_id}/actions/stop")
    async def stop_run(job_id: str, run_id: str) -> dict[str, Any]:
        run = the_run(job_id, run_id)
        if run.state.finished:
            raise ConflictError(f"JobRun '{run_id}' of job '{job_id}' has already finished")
        return metronome_run(c.stop_run(job_id, run.scheduled))
