"""Metronome-style jobs end to end: a real master, agent and Chronos; a run started with
`POST /v1/jobs/<id>/runs` goes INITIAL -> ACTIVE -> SUCCESS, and its sandbox link serves the
task's directory on the agent; a failing run reports its exit code."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.cluster import Cluster, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.slow]
CHRONOS_AGENTS = 1  # the sandbox link is checked against the one agent


@pytest.fixture
def cluster(chronos_cluster: Cluster) -> Cluster:
    return chronos_cluster


def job(job_id: str, cmd: str, **run: Any) -> dict[str, Any]:
    return {"id": job_id, "run": {"cmd": cmd, "cpus": 0.1, "mem": 32, "disk": 0, **run}}


def test_a_run_started_now_succeeds_with_a_sandbox_link(cluster: Cluster) -> None:
    url, http = cluster.chronos_url, cluster.http
    r = http.post(f"{url}/v1/jobs", json=job("hello", "echo hello-from-metronome; sleep 2"))
    assert r.status_code == 201, r.text
    r = http.post(f"{url}/v1/jobs/hello/runs")
    assert r.status_code == 201 and r.json()["status"] in ("INITIAL", "STARTING")
    rid = r.json()["id"]

    def run() -> dict[str, Any]:
        got = http.get(f"{url}/v1/jobs/hello/runs/{rid}")
        assert got.status_code == 200, got.text
        return dict(got.json())

    wait_for(lambda: run()["status"] == "ACTIVE", 30, "run ACTIVE")
    active = run()
    assert [t["status"] for t in active["tasks"]] == ["TASK_RUNNING"]
    assert [x["id"] for x in http.get(f"{url}/v1/jobs/hello/runs").json()] == [rid]
    wait_for(lambda: run()["status"] == "SUCCESS", 30, "run SUCCESS")
    done = run()
    (task,) = done["tasks"]
    assert task["status"] == "TASK_FINISHED" and task["exitCode"] == 0
    assert task["startedAt"] and task["completedAt"] and done["completedAt"]
    assert task["sandbox"] == done["sandbox"] == active["sandbox"]
    assert http.get(f"{url}/v1/jobs/hello/runs").json() == []

    # the sandbox link is the agent's directory listing of the task's sandbox
    agent_port = cluster.agent_ports[0]
    assert urlsplit(done["sandbox"]).netloc == f"127.0.0.1:{agent_port}"
    listing = http.get(done["sandbox"])
    assert listing.status_code == 200, listing.text
    names = {Path(e["path"]).name for e in listing.json()}
    assert {"stdout", "stderr"} <= names
    path = parse_qs(urlsplit(done["sandbox"]).query)["path"][0]
    out = http.get(
        f"http://127.0.0.1:{agent_port}/files/read", params={"path": f"{path}/stdout"}
    ).json()
    assert "hello-from-metronome" in out["data"]

    history = http.get(f"{url}/v1/jobs/hello", params={"embed": "history"}).json()["history"]
    assert history["successCount"] == 1 and history["failureCount"] == 0
    assert [x["id"] for x in history["successfulFinishedRuns"]] == [rid]

    # the same run in the run history endpoint
    (entry,) = http.get(f"{url}/v1/scheduler/job/hello/runs").json()
    assert entry["runId"] == rid and entry["state"] == "SUCCEEDED"
    assert entry["attempts"][0]["sandbox"] == done["sandbox"]


def test_a_failing_run_reports_its_exit_code(cluster: Cluster) -> None:
    url, http = cluster.chronos_url, cluster.http
    body = job("fails", "echo about-to-fail >&2; exit 3", restart={"policy": "NEVER"})
    assert http.post(f"{url}/v1/jobs", json=body).status_code == 201
    rid = http.post(f"{url}/v1/jobs/fails/runs").json()["id"]

    def run() -> dict[str, Any]:
        return dict(http.get(f"{url}/v1/jobs/fails/runs/{rid}").json())

    wait_for(lambda: run()["status"] == "FAILED", 30, "run FAILED")
    done = run()
    (task,) = done["tasks"]  # NEVER: no second attempt
    assert task["status"] == "TASK_FAILED" and task["exitCode"] == 3 == done["exitCode"]
    assert "status 3" in task["message"]
    listing = http.get(task["sandbox"])
    assert listing.status_code == 200 and "stderr" in {Path(e["path"]).name for e in listing.json()}
    summary = http.get(f"{url}/v1/jobs/fails?embed=historySummary").json()["historySummary"]
    assert summary["failureCount"] == 1 and summary["lastFailureAt"]
    (entry,) = http.get(f"{url}/v1/scheduler/job/fails/runs").json()
    assert entry["state"] == "FAILED" and entry["exitCode"] == 3
