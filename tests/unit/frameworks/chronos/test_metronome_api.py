"""The Metronome-like `/v1/jobs` API and the run history endpoint, over ASGI with an injected
clock and no cluster: every route, the 404/409/422 bodies, and that bad input changes nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import httpx
import pytest

from dcos_core.clock import FakeClock
from dcos_core.frameworks.chronos.api import create_chronos_app
from dcos_core.frameworks.chronos.ledger import RunState
from dcos_core.frameworks.chronos.service import Chronos
from dcos_core.state.memory import InMemoryStore

T0 = datetime.fromisoformat("2026-01-01T00:00:00.250+00:00").timestamp()

JOB: dict[str, Any] = {
    "id": "prod.backup",
    "description": "nightly backup",
    "labels": {"owner": "ops"},
    "run": {"cmd": "echo backup", "cpus": 0.1, "mem": 32, "disk": 0},
}
SCHEDULE: dict[str, Any] = {
    "id": "nightly",
    "cron": "30 2 * * *",
    "timezone": "Europe/Berlin",
    "startingDeadlineSeconds": 60,
    "concurrencyPolicy": "FORBID",
    "enabled": True,
}


@pytest.fixture
async def api() -> AsyncIterator[tuple[httpx.AsyncClient, Chronos]]:
    c = Chronos(InMemoryStore(), clock=FakeClock(T0))
    transport = httpx.ASGITransport(app=create_chronos_app(c))
    async with httpx.AsyncClient(transport=transport, base_url="http://chronos") as h:
        yield h, c


def stored(c: Chronos) -> dict[str, Any]:
    return {k: e.value for k, e in c.store.list("chronos").items()}


async def test_create_get_list_and_errors(api: Any) -> None:
    h, c = api
    r = await h.post("/v1/jobs", json={**JOB, "schedules": [SCHEDULE]})
    assert r.status_code == 201
    job = r.json()
    assert job["id"] == "prod.backup" and job["labels"] == {"owner": "ops"}
    assert job["run"]["cmd"] == "echo backup" and job["run"]["restart"] == {"policy": "NEVER"}
    assert job["schedules"] == [SCHEDULE]
    assert (await h.get("/v1/jobs/prod.backup")).json() == job
    assert (await h.get("/v1/jobs")).json() == [job]

    r = await h.get("/v1/jobs/nope")
    assert (r.status_code, r.json()) == (404, {"message": "Job 'nope' does not exist"})
    r = await h.post("/v1/jobs", json=JOB)
    assert r.status_code == 409 and "already exists" in r.json()["message"]

    before = stored(c)
    bad_cron = {**JOB, "id": "x", "schedules": [{**SCHEDULE, "cron": "61 * * * *"}]}
    r = await h.post("/v1/jobs", json=bad_cron)
    assert r.status_code == 422
    assert r.json()["message"] == "Object is not valid"
    assert [d["path"] for d in r.json()["details"]] == ["/schedules/0/cron"]
    bad_zone = {**JOB, "id": "x", "schedules": [{**SCHEDULE, "timezone": "Mars/Olympus"}]}
    r = await h.post("/v1/jobs", json=bad_zone)
    assert r.status_code == 422 and r.json()["details"][0]["path"] == "/schedules/0/timezone"
    r = await h.post("/v1/jobs", json={"id": "x", "run": {"cmd": "x", "cpus": 1, "mem": 1}})
    assert r.status_code == 422
    assert {d["path"] for d in r.json()["details"]} == {"/run/mem", "/run/disk"}
    r = await h.post("/v1/jobs", json={**JOB, "id": "Bad_Id"})
    assert r.status_code == 422 and r.json()["details"][0]["path"] == "/id"
    r = await h.post("/v1/jobs", content=b"{not json")
    assert r.status_code == 422 and r.json()["details"][0]["path"] == "/"
    r = await h.post("/v1/jobs", json=[1, 2])
    assert r.status_code == 422
    assert stored(c) == before and list(c.jobs) == ["prod.backup"]


async def test_embeds(api: Any) -> None:
    h, c = api
    await h.post("/v1/jobs", json=JOB)
    run = (await h.post("/v1/jobs/prod.backup/runs")).json()
    c.stop_run("prod.backup", c.active_runs("prod.backup")[0].scheduled)
    c.clock.advance(1)
    await h.post("/v1/jobs/prod.backup/runs")
    r = await h.get(
        "/v1/jobs/prod.backup",
        params=[("embed", "activeRuns"), ("embed", "history"), ("embed", "historySummary")],
    )
    job = r.json()
    assert [x["status"] for x in job["activeRuns"]] == ["INITIAL"]
    assert job["historySummary"] == {
        "successCount": 0,
        "failureCount": 1,
        "lastSuccessAt": None,
        "lastFailureAt": "2026-01-01T00:00:00.250+0000",
    }
    history = job["history"]
    assert {k: history[k] for k in job["historySummary"]} == job["historySummary"]
    assert history["successfulFinishedRuns"] == []
    assert history["failedFinishedRuns"] == [
        {
            "id": run["id"],
            "createdAt": "2026-01-01T00:00:00.250+0000",
            "finishedAt": "2026-01-01T00:00:00.250+0000",
        }
    ]
    listed = (await h.get("/v1/jobs?embed=historySummary,activeRuns")).json()
    assert set(listed[0]) >= {"historySummary", "activeRuns"} and "history" not in listed[0]
    assert "activeRuns" not in (await h.get("/v1/jobs")).json()[0]


async def test_update_and_delete(api: Any) -> None:
    h, c = api
    await h.post("/v1/jobs", json={**JOB, "schedules": [SCHEDULE]})
    changed = {**JOB, "run": {**JOB["run"], "cmd": "echo v2"}}
    r = await h.put("/v1/jobs/prod.backup", json=changed)
    assert r.status_code == 200 and r.json()["run"]["cmd"] == "echo v2"
    assert r.json()["schedules"] == [SCHEDULE]  # no schedules in the body: kept
    assert c.jobs["prod.backup"].job.command == "echo v2"
    r = await h.put("/v1/jobs/prod.backup", json={**changed, "schedules": []})
    assert r.json()["schedules"] == []
    r = await h.put("/v1/jobs/prod.backup", json={**changed, "id": "other"})
    assert r.status_code == 422 and r.json()["details"][0]["path"] == "/id"
    r = await h.put("/v1/jobs/prod.backup", json={"run": {"cmd": "x"}})
    assert r.status_code == 422
    r = await h.put("/v1/jobs/nope", json=changed)
    assert r.status_code == 404

    await h.post("/v1/jobs/prod.backup/runs")
    r = await h.delete("/v1/jobs/prod.backup")
    assert r.status_code == 409 and "stopCurrentJobRuns=true" in r.json()["message"]
    r = await h.delete("/v1/jobs/prod.backup", params={"stopCurrentJobRuns": "true"})
    assert r.status_code == 200 and r.json()["id"] == "prod.backup"
    assert (await h.get("/v1/jobs/prod.backup")).status_code == 404
    assert c.runs == {} and stored(c).keys() <= {"chronos/framework_id"}
    assert (await h.delete("/v1/jobs/prod.backup")).status_code == 404


async def test_schedules(api: Any) -> None:
    h, c = api
    await h.post("/v1/jobs", json=JOB)
    url = "/v1/jobs/prod.backup/schedules"
    assert (await h.get(url)).json() == []
    r = await h.post(url, json={"id": "every-minute", "cron": "* * * * *"})
    assert r.status_code == 201
    assert r.json() == {
        "id": "every-minute",
        "cron": "* * * * *",
        "timezone": "UTC",
        "startingDeadlineSeconds": 900,
        "concurrencyPolicy": "ALLOW",
        "enabled": True,
    }
    r = await h.post(url, json={"id": "every-minute", "cron": "0 * * * *"})
    assert r.status_code == 409 and "already exists" in r.json()["message"]
    r = await h.post(url, json={"id": "x", "cron": "not cron at all"})
    assert r.status_code == 422 and r.json()["details"][0]["path"] == "/cron"
    assert (await h.get(url + "/every-minute")).json()["cron"] == "* * * * *"
    r = await h.get(url + "/nope")
    assert r.status_code == 404 and r.json()["message"].startswith("Schedule 'nope'")
    assert (await h.get("/v1/jobs/nope/schedules")).status_code == 404

    c.clock.advance(90)  # 00:01:30: the 00:01 occurrence is planned on the next tick
    c._plan(c.clock.time())
    assert len(c.active_runs("prod.backup")) == 1
    r = await h.put(url + "/every-minute", json={"cron": "*/10 * * * *", "enabled": True})
    assert r.status_code == 200 and r.json()["cron"] == "*/10 * * * *"
    r = await h.put(url + "/every-minute", json={"id": "renamed", "cron": "* * * * *"})
    assert r.status_code == 422
    assert (await h.put(url + "/nope", json={"cron": "* * * * *"})).status_code == 404
    c.clock.advance(60 * 8)  # 00:09:30: nothing of */10 yet, nothing of the old schedule
    c._plan(c.clock.time())
    assert len(c.active_runs("prod.backup")) == 1
    r = await h.delete(url + "/every-minute")
    assert r.status_code == 200 and r.json()["id"] == "every-minute"
    assert (await h.get(url)).json() == []
    c.clock.advance(60)
    c._plan(c.clock.time())
    assert len(c.active_runs("prod.backup")) == 1  # 00:10 was not planned: the schedule is gone


async def test_runs(api: Any) -> None:
    h, c = api
    await h.post("/v1/jobs", json=JOB)
    r = await h.post("/v1/jobs/prod.backup/runs")
    assert r.status_code == 201
    run = r.json()
    assert run["id"] == "20260101000000250"
    assert {k: run[k] for k in ("jobId", "status", "createdAt", "completedAt", "tasks")} == {
        "jobId": "prod.backup",
        "status": "INITIAL",
        "createdAt": "2026-01-01T00:00:00.250+0000",
        "completedAt": None,
        "tasks": [],
    }
    assert run["scheduledAt"] == run["createdAt"] and run["kind"] == "manual"
    assert (await h.get("/v1/jobs/prod.backup/runs")).json() == [run]
    assert (await h.get(f"/v1/jobs/prod.backup/runs/{run['id']}")).json() == run

    # launched and running: STARTING, then ACTIVE with its task
    r0 = c.active_runs("prod.backup")[0]
    r0.state, r0.attempt, r0.task_id = RunState.LAUNCHING, 1, r0.task_id_for(1)
    r0.agent_id, r0.host = "a1", "10.0.0.5:5051"
    assert (await h.get(f"/v1/jobs/prod.backup/runs/{run['id']}")).json()["status"] == "STARTING"
    c.framework_id = "F"
    c.on_status(
        {
            "task_id": {"value": r0.task_id},
            "state": "TASK_RUNNING",
            "container_status": {"container_id": {"value": "cid"}},
        }
    )
    active = (await h.get(f"/v1/jobs/prod.backup/runs/{run['id']}")).json()
    assert active["status"] == "ACTIVE"
    (task,) = active["tasks"]
    assert task["id"] == r0.task_id and task["status"] == "TASK_RUNNING"
    assert task["startedAt"] == active["createdAt"] and task["completedAt"] is None
    assert task["sandbox"] == active["sandbox"]
    assert active["sandbox"].startswith("http://10.0.0.5:5051/files/browse?path=a1%2Fframeworks")

    r = await h.post(f"/v1/jobs/prod.backup/runs/{run['id']}/actions/stop")
    assert r.status_code == 200 and r.json()["status"] == "ACTIVE"  # the kill is on its way
    c.clock.advance(2)
    c.on_status({"task_id": {"value": r0.task_id}, "state": "TASK_KILLED", "message": "killed"})
    done = (await h.get(f"/v1/jobs/prod.backup/runs/{run['id']}")).json()
    assert done["status"] == "FAILED" and done["completedAt"] == "2026-01-01T00:00:02.250+0000"
    assert done["tasks"][0]["status"] == "TASK_KILLED" and done["reason"] == "killed"
    assert (await h.get("/v1/jobs/prod.backup/runs")).json() == []
    r = await h.post(f"/v1/jobs/prod.backup/runs/{run['id']}/actions/stop")
    assert r.status_code == 409

    for rid in ("20260101000000999", "garbage", "20261399000000000"):
        r = await h.get(f"/v1/jobs/prod.backup/runs/{rid}")
        assert r.status_code == 404 and rid in r.json()["message"]
    assert (await h.post("/v1/jobs/nope/runs")).status_code == 404
    assert (await h.get("/v1/jobs/nope/runs")).json() == {"message": "Job 'nope' does not exist"}


async def test_scheduled_jobs_v0(api: Any) -> None:
    h, _c = api
    r = await h.post("/v0/scheduled-jobs", json={**JOB, "schedules": [SCHEDULE]})
    assert r.status_code == 201 and r.json()["schedules"] == [SCHEDULE]
    assert (await h.get("/v0/scheduled-jobs/prod.backup")).json()["schedules"] == [SCHEDULE]
    assert (await h.get("/v0/scheduled-jobs/nope")).status_code == 404
    assert [j["id"] for j in (await h.get("/v1/jobs")).json()] == ["prod.backup"]


async def test_one_namespace_with_chronos(api: Any) -> None:
    h, c = api
    await h.post("/v1/jobs", json={**JOB, "id": "shared"})
    daily = "R/2030-01-01T00:00:00Z/P1D"
    r = await h.post(
        "/v1/scheduler/iso8601", json={"name": "shared", "command": "x", "schedule": daily}
    )
    assert r.status_code == 409 and r.json()["status"] == "Conflict"
    r = await h.post(
        "/v1/scheduler/iso8601", json={"name": "cj", "command": "x", "schedule": daily}
    )
    assert r.status_code == 204
    r = await h.post("/v1/jobs", json={**JOB, "id": "cj"})
    assert r.status_code == 409 and "Chronos" in r.json()["message"]
    # the Chronos API lists and manages Chronos jobs only
    assert [j["name"] for j in (await h.get("/v1/scheduler/jobs")).json()] == ["cj"]
    assert (await h.get("/scheduler/job/shared")).status_code == 400
    assert (await h.put("/v1/scheduler/job/shared")).status_code == 400
    assert (await h.delete("/v1/scheduler/job/shared")).status_code == 400
    assert "shared" not in (await h.get("/v1/scheduler/graph/csv")).text
    assert (await h.get("/v1/jobs/cj")).status_code == 404
    assert list(c.jobs) == ["shared", "cj"]


async def test_run_history_endpoint(api: Any) -> None:
    h, c = api
    daily = "R/2030-01-01T00:00:00Z/P1D"
    await h.post("/v1/scheduler/iso8601", json={"name": "cj", "command": "x", "schedule": daily})
    assert (await h.get("/v1/scheduler/job/cj/runs")).json() == []
    first = c.start_now("cj")
    c.clock.advance(5)
    c.start_now("cj")
    c.framework_id = "F"
    first.state, first.attempt, first.task_id = RunState.LAUNCHING, 1, first.task_id_for(1)
    first.agent_id, first.host = "a1", "10.0.0.5:5051"
    c.on_status(
        {
            "task_id": {"value": first.task_id},
            "state": "TASK_RUNNING",
            "container_status": {"container_id": {"value": "cid"}},
        }
    )
    c.clock.advance(1)
    first.reason = "killed"  # no retry
    c.on_status(
        {
            "task_id": {"value": first.task_id},
            "state": "TASK_FAILED",
            "message": "Command exited with status 7",
            "reason": "REASON_COMMAND_EXECUTOR_FAILED",
        }
    )
    for prefix in ("/scheduler", "/v1/scheduler"):
        runs = (await h.get(f"{prefix}/job/cj/runs")).json()
        assert [r["state"] for r in runs] == ["PENDING", "FAILED"]  # newest first
        failed = runs[1]
        assert failed["runId"] == "20260101000000250" and failed["exitCode"] == 7
        assert failed["scheduledTime"] == "2026-01-01T00:00:00.250Z"
        assert failed["startedAt"] == "2026-01-01T00:00:05.250Z"
        assert failed["finishedAt"] == "2026-01-01T00:00:06.250Z"
        (attempt,) = failed["attempts"]
        assert attempt["taskId"] == first.task_id and attempt["state"] == "TASK_FAILED"
        assert attempt["exitCode"] == 7 and attempt["message"] == "Command exited with status 7"
        assert attempt["sandbox"] == failed["sandbox"] != ""
        assert attempt["host"] == "10.0.0.5:5051"
    assert len((await h.get("/scheduler/job/cj/runs?limit=1")).json()) == 1
    assert (await h.get("/scheduler/job/cj/runs?limit=x")).status_code == 400
    assert (await h.get("/scheduler/job/nope/runs")).status_code == 400
    # Metronome jobs have it too (one ledger)
    await h.post("/v1/jobs", json=JOB)
    await h.post("/v1/jobs/prod.backup/runs")
    assert len((await h.get("/v1/scheduler/job/prod.backup/runs")).json()) == 1
