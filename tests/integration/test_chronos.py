"""Chronos end to end with real processes and the unchanged `chronos-python` client.

Jobs append "<job> <scheduled ms> <attempt>" to a log file on the host (tasks see the host's
filesystem), which is what the assertions read: what ran, when, and how often.
"""

from __future__ import annotations

import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import chronos
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.cluster import Cluster, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture
def cluster(chronos_cluster: Cluster) -> Cluster:
    return chronos_cluster


def client(c: Cluster) -> Any:
    return chronos.connect([f"127.0.0.1:{c.chronos_port}"])


def jobdef(**fields: Any) -> dict[str, Any]:
    """A job as chronos-python requires it (command, name, owner, disabled), small resources."""
    return {"owner": "ops@example.com", "disabled": False, "cpus": 0.1, "mem": 32, **fields}


def soon(seconds: float = 1.0) -> str:
    return (datetime.now(UTC) + timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def log_cmd(log: Path, extra: str = "") -> str:
    return f'echo "$CHRONOS_JOB_NAME $CHRONOS_SCHEDULED_MS $CHRONOS_RUN_ATTEMPT" >> {log}{extra}'


def lines(log: Path) -> list[list[str]]:
    if not log.exists():
        return []
    return [ln.split() for ln in log.read_text().splitlines() if ln.strip()]


def test_chronos_python_end_to_end(cluster: Cluster, tmp_path: Path) -> None:
    log = tmp_path / "runs.log"
    c = client(cluster)
    assert c.list() == []
    c.add(
        jobdef(
            **{
                "name": "every-2s",
                "command": log_cmd(log),
                "schedule": f"R3/{soon(1)}/PT2S",
                "owner": "ops@example.com",
                "cpus": 0.1,
                "mem": 32,
            }
        )
    )
    c.add(
        jobdef(
            **{
                "name": "manual",
                "command": log_cmd(log),
                "schedule": "R0/2030-01-01T00:00:00Z/P1D",
                "cpus": 0.1,
                "mem": 32,
            }
        )
    )
    names = sorted(j["name"] for j in c.list())
    assert names == ["every-2s", "manual"]
    assert [j["name"] for j in c.search(name="every")] == ["every-2s"]
    wait_for(lambda: Counter(x[0] for x in lines(log))["every-2s"] == 3, 30, "3 runs")
    time.sleep(2.5)
    assert Counter(x[0] for x in lines(log))["every-2s"] == 3  # R3: exactly three
    job = next(j for j in c.list() if j["name"] == "every-2s")
    assert job["successCount"] == 3 and job["errorCount"] == 0 and job["lastSuccess"]

    # run now, update, job stats, graph
    c.run("manual")
    wait_for(lambda: Counter(x[0] for x in lines(log))["manual"] == 1, 30, "manual run")
    job = next(j for j in c.list() if j["name"] == "manual")
    job["command"] = log_cmd(log) + "; echo updated"
    c.update(job)
    assert "updated" in next(j for j in c.list() if j["name"] == "manual")["command"]
    stat = c.job_stat("every-2s")
    assert len(stat["taskStatHistory"]) == 3
    graph = c.scheduler_graph()
    assert "node,every-2s" in graph and "node,manual" in graph

    # a long task, killed
    c.add(
        jobdef(
            **{
                "name": "long",
                "command": "sleep 600",
                "schedule": f"R1/{soon(0.5)}/PT1M",
                "cpus": 0.1,
                "mem": 32,
            }
        )
    )
    wait_for(lambda: "running" in _summary(cluster, "long"), 30, "long running")
    c.delete_tasks("long")
    wait_for(lambda: _summary(cluster, "long") == "idle", 30, "long killed")
    job = next(j for j in c.list() if j["name"] == "long")
    assert job["errorCount"] == 1 and job["successCount"] == 0  # killed: no retry

    # delete
    c.delete("manual")
    assert sorted(j["name"] for j in c.list()) == ["every-2s", "long"]


def _summary(cluster: Cluster, name: str) -> str:
    jobs = cluster.http.get(f"{cluster.chronos_url}/v1/scheduler/jobs/summary").json()["jobs"]
    return str(next(j["state"] for j in jobs if j["name"] == name))


def test_dependency_diamond_runs_once_per_round_after_both(
    cluster: Cluster, tmp_path: Path
) -> None:
    log = tmp_path / "diamond.log"
    c = client(cluster)
    c.add(
        jobdef(
            **{
                "name": "a",
                "command": log_cmd(log),
                "schedule": f"R2/{soon(1)}/PT4S",
                "cpus": 0.1,
                "mem": 32,
            }
        )
    )
    c.add(
        jobdef(
            **{
                "name": "b",
                "command": log_cmd(log, "; sleep 1"),
                "parents": ["a"],
                "cpus": 0.1,
                "mem": 32,
            }
        )
    )
    c.add(
        jobdef(**{"name": "c", "command": log_cmd(log), "parents": ["a"], "cpus": 0.1, "mem": 32})
    )
    c.add(
        jobdef(
            **{"name": "d", "command": log_cmd(log), "parents": ["b", "c"], "cpus": 0.1, "mem": 32}
        )
    )
    wait_for(lambda: Counter(x[0] for x in lines(log))["d"] == 2, 60, "two rounds of d")
    time.sleep(2)
    seq = [x[0] for x in lines(log)]
    assert Counter(seq) == {"a": 2, "b": 2, "c": 2, "d": 2}
    # each d comes after both b and c of its round
    first_d = seq.index("d")
    assert {"b", "c"} <= set(seq[:first_d])
    graph = client(cluster).scheduler_graph()
    assert "link,b,d" in graph and "link,c,d" in graph and "link,a,b" in graph


def test_a_failing_job_runs_one_plus_retries_times(cluster: Cluster, tmp_path: Path) -> None:
    log = tmp_path / "fail.log"
    c = client(cluster)
    c.add(
        jobdef(
            **{
                "name": "flaky",
                "command": log_cmd(log, "; exit 3"),
                "retries": 2,
                "schedule": f"R1/{soon(0.5)}/PT1M",
                "cpus": 0.1,
                "mem": 32,
            }
        )
    )
    wait_for(lambda: next(j for j in c.list() if j["name"] == "flaky")["errorCount"] == 1, 60)
    attempts = [x[2] for x in lines(log) if x[0] == "flaky"]
    assert attempts == ["1", "2", "3"]  # 1 + retries, then one error counted
    job = next(j for j in c.list() if j["name"] == "flaky")
    assert job["successCount"] == 0 and job["lastError"]
    # the run history: one run, three attempts, each with its exit code and sandbox link
    (run,) = cluster.http.get(f"{cluster.chronos_url}/v1/scheduler/job/flaky/runs").json()
    assert run["state"] == "FAILED" and run["exitCode"] == 3 and run["attempt"] == 3
    assert run["scheduledTime"] and run["finishedAt"]
    assert [a["exitCode"] for a in run["attempts"]] == [3, 3, 3]
    assert len({a["taskId"] for a in run["attempts"]}) == 3
    for a in run["attempts"]:
        assert a["state"] == "TASK_FAILED" and "status 3" in a["message"]
        listing = cluster.http.get(a["sandbox"])
        assert listing.status_code == 200, listing.text
        assert "stdout" in {Path(e["path"]).name for e in listing.json()}


def test_an_r1_job_starting_at_its_creation_runs_once(cluster: Cluster, tmp_path: Path) -> None:
    """Issue 13: an R1 job whose start is at or a few seconds before its creation never ran.
    Starts late by at most epsilon run once; Prometheus text counts the run."""
    log = tmp_path / "r1.log"
    c = client(cluster)
    now = datetime.now(UTC)
    second = now.strftime("%Y-%m-%dT%H:%M:%SZ")  # truncated: up to 1 s before creation
    c.add(jobdef(name="this-second", command=log_cmd(log), schedule=f"R1/{second}/PT1H"))
    before = (now - timedelta(seconds=3)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    c.add(jobdef(name="3s-before", command=log_cmd(log), schedule=f"R1/{before}/PT1H"))
    c.add(jobdef(name="empty-start", command=log_cmd(log), schedule="R1//PT1H"))
    old = (now - timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%SZ")  # > epsilon (60 s)
    c.add(jobdef(name="too-old", command=log_cmd(log), schedule=f"R1/{old}/PT1H"))
    names = ("this-second", "3s-before", "empty-start")
    wait_for(lambda: all(Counter(x[0] for x in lines(log))[n] == 1 for n in names), 30, "runs")
    time.sleep(1.5)
    assert Counter(x[0] for x in lines(log)) == dict.fromkeys(names, 1)

    r = cluster.http.get(f"{cluster.chronos_url}/metrics", headers={"Accept": "text/plain"})
    assert r.headers["content-type"].startswith("text/plain; version=0.0.4")
    got = {
        s.name: s.value
        for family in text_string_to_metric_families(r.text)
        for s in family.samples
        if not s.labels
    }
    assert got["chronos_jobs_count"] == 4
    assert got["chronos_tasks_launched_total"] == 3
    wait_for(
        lambda: (
            cluster.http.get(f"{cluster.chronos_url}/metrics").json()["counters"]["runs.succeeded"][
                "count"
            ]
            == 3
        ),
        10,
        "3 runs succeeded",
    )
    assert c.metrics()["gauges"]["runs.unfinished"] == {"value": 0}  # chronos-python: JSON


def test_bad_jobs_are_400_with_a_message(cluster: Cluster) -> None:
    url = cluster.chronos_url
    r = cluster.http.post(
        f"{url}/v1/scheduler/iso8601",
        json={"name": "bad name", "command": "x", "schedule": "R/2030-01-01T00:00:00Z/PT1H"},
    )
    assert r.status_code == 400 and r.json()["message"]
    r = cluster.http.post(
        f"{url}/v1/scheduler/iso8601", json={"name": "x", "command": "x", "schedule": "garbage"}
    )
    assert r.status_code == 400 and "schedule" in r.json()["message"].lower()
    r = cluster.http.post(
        f"{url}/v1/scheduler/dependency",
        json={"name": "orphan", "command": "x", "parents": ["nope"]},
    )
    assert r.status_code == 400
    assert cluster.http.get(f"{url}/scheduler/jobs").json() == []
