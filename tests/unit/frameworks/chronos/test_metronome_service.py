"""Metronome jobs in the Chronos service with an injected clock: cron planning exactly once
across a restart, FORBID vs ALLOW, startingDeadlineSeconds, DST in Europe/Berlin, restart
policies, one job namespace, and the host / sandbox / exit code of every attempt."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from chronos_fakes import RecordingDriver

from dcos_core.clock import FakeClock
from dcos_core.errors import NotFoundError
from dcos_core.frameworks.chronos.ledger import PREFIX, Run, RunState
from dcos_core.frameworks.chronos.models import parse_job, parse_metronome_job
from dcos_core.frameworks.chronos.service import (
    HISTORY,
    METRONOME_RETRIES,
    Chronos,
    NameTakenError,
)
from dcos_core.resources import Resources
from dcos_core.state.memory import InMemoryStore


def ts(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat()


def make(at: str, **kwargs: Any) -> Chronos:
    c = Chronos(InMemoryStore(), clock=FakeClock(ts(at)), **kwargs)
    c.framework_id = "F"
    return c


def mjob(c: Chronos, job_id: str, *schedules: dict[str, Any], **run: Any) -> None:
    body = {
        "id": job_id,
        "run": {"cmd": "true", "cpus": 0.1, "mem": 32, "disk": 0, **run},
        "schedules": list(schedules),
    }
    c.put_metronome(parse_metronome_job(body), create=True)


def advance(c: Chronos, seconds: float) -> None:
    c.clock.advance(seconds)  # type: ignore[attr-defined]
    c._plan(c.clock.time())


def runs(c: Chronos, job: str, state: RunState | None = None) -> list[Run]:
    everything = [*c.runs.values(), *c.jobs[job].history]
    return sorted(
        (r for r in everything if r.job == job and (state is None or r.state == state)),
        key=lambda r: r.scheduled,
    )


def times(c: Chronos, job: str, state: RunState | None = None) -> list[str]:
    return [iso(r.scheduled) for r in runs(c, job, state)]


_offers = 0


def offer() -> dict[str, Any]:
    global _offers
    _offers += 1
    return {
        "id": {"value": f"o{_offers}"},
        "agent_id": {"value": "a1"},
        "framework_id": {"value": "F"},
        "hostname": "node-1",
        "url": {
            "scheme": "http",
            "address": {"hostname": "node-1", "ip": "10.0.0.5", "port": 5051},
            "path": "/slave(1)",
        },
        "resources": Resources.parse("cpus:8;mem:8192;disk:4096").to_v1("*"),
        "allocation_info": {"role": "*"},
    }


def launch(c: Chronos) -> list[dict[str, Any]]:
    """Offer once; the task infos launched."""
    d = c.driver
    if d is None:
        d = c.driver = RecordingDriver()
    assert isinstance(d, RecordingDriver)
    before = len(d.tasks)
    asyncio.run(c.handle_offers([offer()]))
    return d.tasks[before:]


def status(task_id: str, state: str, **extra: Any) -> dict[str, Any]:
    return {"task_id": {"value": task_id}, "state": state, "agent_id": {"value": "a1"}, **extra}


def state_of(run: Run) -> RunState:
    return run.state  # (not narrowed by mypy across on_status calls)


def running(c: Chronos, task_id: str, container: str = "cid-1") -> None:
    c.on_status(
        status(task_id, "TASK_RUNNING", container_status={"container_id": {"value": container}})
    )


# ---- planning --------------------------------------------------------------------------------


def test_cron_occurrences_are_planned_once_across_a_restart() -> None:
    c = make("2026-01-01T00:00:01Z")
    mjob(c, "every5", {"id": "s", "cron": "*/5 * * * *"})
    advance(c, 12 * 60)
    assert times(c, "every5") == ["2026-01-01T00:05:00+00:00", "2026-01-01T00:10:00+00:00"]
    again = Chronos(c.store, clock=c.clock)  # a new process over the same store
    again.load()
    again._plan(again.clock.time())
    assert times(again, "every5") == times(c, "every5")
    assert again.jobs["every5"].spec == c.jobs["every5"].spec
    advance(again, 4 * 60)
    assert times(again, "every5")[-1] == "2026-01-01T00:15:00+00:00"
    assert len(times(again, "every5")) == 3
    assert all(r.schedule_id == "s" and r.kind == "schedule" for r in runs(again, "every5"))


def test_forbid_skips_an_occurrence_while_a_run_is_active_allow_runs_both() -> None:
    c = make("2026-01-01T00:00:01Z")
    mjob(c, "forbid", {"id": "s", "cron": "* * * * *", "concurrencyPolicy": "FORBID"})
    mjob(c, "allow", {"id": "s", "cron": "* * * * *", "concurrencyPolicy": "ALLOW"})
    advance(c, 60)
    infos = launch(c)
    assert sorted(t["name"] for t in infos) == ["ChronosTask:allow", "ChronosTask:forbid"]
    for t in infos:
        running(c, t["task_id"]["value"])
    advance(c, 60)  # 00:02: both first runs still running
    assert len(c.active_runs("allow")) == 2
    assert len(c.active_runs("forbid")) == 1
    (skipped,) = runs(c, "forbid", RunState.SKIPPED)
    assert iso(skipped.scheduled) == "2026-01-01T00:02:00+00:00"
    assert skipped.message == "FORBID: previous run still active"
    # the 00:02 run of "allow" runs alongside the first one
    assert {t["name"] for t in launch(c)} == {"ChronosTask:allow"}
    # once the forbid run has finished, the next occurrence runs
    forbid_task = next(t for t in infos if t["name"] == "ChronosTask:forbid")
    c.on_status(status(forbid_task["task_id"]["value"], "TASK_FINISHED"))
    advance(c, 60)
    assert times(c, "forbid", RunState.PENDING) == ["2026-01-01T00:03:00+00:00"]


def test_forbid_queues_one_run_of_several_due_in_one_tick() -> None:
    c = make("2026-01-01T00:00:01Z")
    mjob(c, "j", {"id": "s", "cron": "* * * * *", "concurrencyPolicy": "FORBID"})
    advance(c, 3 * 60 + 5)  # three occurrences due at once (within the deadline)
    assert times(c, "j", RunState.PENDING) == ["2026-01-01T00:01:00+00:00"]
    assert len(runs(c, "j", RunState.SKIPPED)) == 2


def test_occurrences_missed_by_more_than_the_starting_deadline_are_skipped() -> None:
    c = make("2026-01-01T00:00:01Z")
    mjob(c, "j", {"id": "s", "cron": "* * * * *", "startingDeadlineSeconds": 90})
    advance(c, 10 * 60 + 29)  # Chronos was down: 00:01 .. 00:10 are due at 00:10:30
    assert times(c, "j", RunState.PENDING) == [
        "2026-01-01T00:09:00+00:00",  # late by exactly 90 s: still valid
        "2026-01-01T00:10:00+00:00",
    ]
    skipped = runs(c, "j", RunState.SKIPPED)
    assert [iso(r.scheduled)[11:16] for r in skipped] == [f"00:0{i}" for i in range(1, 9)]
    assert {r.message for r in skipped} == {"missed: starting deadline of 90 s passed"}
    assert c.jobs["j"].error_count == 0  # skipped is not failed


def test_a_planned_run_not_launched_within_its_deadline_fails_instead_of_starting_late() -> None:
    c = make("2026-01-01T00:00:01Z")
    mjob(c, "j", {"id": "s", "cron": "* * * * *", "startingDeadlineSeconds": 60})
    advance(c, 61)  # 00:01 planned (late 1 s); no offers come
    assert times(c, "j", RunState.PENDING) == ["2026-01-01T00:01:00+00:00"]
    advance(c, 60)  # 00:02:01: the 00:01 run is 61 s late
    (failed,) = runs(c, "j", RunState.FAILED)
    assert iso(failed.scheduled) == "2026-01-01T00:01:00+00:00"
    assert failed.reason == "deadline" and "60 s" in failed.message
    assert c.jobs["j"].error_count == 1
    assert times(c, "j", RunState.PENDING) == ["2026-01-01T00:02:00+00:00"]
    # a launched run is not touched by the deadline
    (info,) = launch(c)
    advance(c, 300)
    assert c.runs[runs(c, "j", RunState.LAUNCHING)[0].key].task_id == info["task_id"]["value"]


def test_disabled_schedules_plan_nothing() -> None:
    c = make("2026-01-01T00:00:01Z")
    mjob(c, "j", {"id": "s", "cron": "* * * * *", "enabled": False})
    advance(c, 600)
    assert runs(c, "j") == []


@pytest.mark.parametrize(
    ("start", "expected"),
    [
        (  # spring forward on 2026-03-29: 02:00 CET -> 03:00 CEST; 02:30 does not exist
            "2026-03-27T00:00:00Z",
            [
                "2026-03-27T01:30:00+00:00",  # 02:30 CET
                "2026-03-28T01:30:00+00:00",
                "2026-03-29T01:00:00+00:00",  # 03:00 CEST, the first instant after the gap
                "2026-03-30T00:30:00+00:00",  # 02:30 CEST
            ],
        ),
        (  # fall back on 2026-10-25: 03:00 CEST -> 02:00 CET; 02:30 happens twice
            "2026-10-23T00:00:00Z",
            [
                "2026-10-23T00:30:00+00:00",  # 02:30 CEST
                "2026-10-24T00:30:00+00:00",
                "2026-10-25T00:30:00+00:00",  # the first 02:30 (CEST) only
                "2026-10-26T01:30:00+00:00",  # 02:30 CET
            ],
        ),
    ],
)
def test_a_daily_cron_job_runs_once_a_day_across_dst(start: str, expected: list[str]) -> None:
    c = make(start)
    week = 7 * 86400  # no offers here: the runs stay pending, within their deadline
    sched = {"id": "s", "cron": "30 2 * * *", "timezone": "Europe/Berlin"}
    mjob(c, "nightly", {**sched, "startingDeadlineSeconds": week})
    for _ in range(4 * 24 * 6):
        advance(c, 600)
    assert times(c, "nightly") == expected
    assert times(c, "nightly", RunState.PENDING) == expected  # none missed


def test_changing_the_schedules_replans_from_now() -> None:
    c = make("2026-01-01T00:00:01Z")
    mjob(c, "j", {"id": "s", "cron": "*/10 * * * *"})
    c.clock.advance(25 * 60)  # type: ignore[attr-defined]  # no tick since 00:00
    spec = c.jobs["j"].spec
    assert spec is not None
    new = parse_metronome_job(
        {
            "id": "j",
            "run": {"cmd": "true", "cpus": 0.1, "mem": 32, "disk": 0},
            "schedules": [{"id": "s", "cron": "*/7 * * * *"}],
        }
    )
    c.put_metronome(new, create=False)
    # the old schedule's times up to now are planned; the new one's past times are not
    assert times(c, "j") == ["2026-01-01T00:10:00+00:00", "2026-01-01T00:20:00+00:00"]
    advance(c, 10 * 60)
    assert times(c, "j")[2:] == ["2026-01-01T00:28:00+00:00", "2026-01-01T00:35:00+00:00"]


def test_the_history_of_skipped_occurrences_is_bounded_in_the_ledger() -> None:
    c = make("2026-01-01T00:00:01Z")
    mjob(c, "j", {"id": "s", "cron": "* * * * *", "concurrencyPolicy": "FORBID"})
    for _ in range(HISTORY + 20):
        advance(c, 60)
    assert len(c.active_runs("j")) == 1
    assert len(c.jobs["j"].history) == HISTORY
    assert len(c.store.list(f"{PREFIX}/j")) == HISTORY + 1


# ---- one namespace ---------------------------------------------------------------------------


def test_chronos_and_metronome_jobs_share_one_namespace() -> None:
    c = make("2026-01-01T00:00:01Z")
    mjob(c, "m")
    c.put_job(
        parse_job({"name": "cj", "command": "true", "schedule": "R/2030-01-01T00:00:00Z/P1D"})
    )
    with pytest.raises(NameTakenError):
        c.put_job(
            parse_job({"name": "m", "command": "x", "schedule": "R/2030-01-01T00:00:00Z/P1D"})
        )
    with pytest.raises(NameTakenError):
        mjob(c, "cj")
    with pytest.raises(NotFoundError):  # a Chronos job cannot depend on a Metronome job
        c.put_job(parse_job({"name": "child", "command": "x", "parents": ["m"]}))
    with pytest.raises(NotFoundError):
        c.get_metronome("cj")
    with pytest.raises(NotFoundError):
        c.get_chronos("m")
    assert [js.job.name for js in c.chronos_jobs()] == ["cj"]
    assert [js.job.name for js in c.metronome_jobs()] == ["m"]


# ---- launching, retries, history -------------------------------------------------------------


def test_launch_records_host_sandbox_and_exit_code_per_attempt() -> None:
    c = make("2026-01-01T00:00:01Z")
    mjob(c, "j", env={"GREETING": "hi"}, restart={"policy": "ON_FAILURE"})
    run = c.start_now("j")
    (info,) = launch(c)
    task_id = info["task_id"]["value"]
    assert info["command"]["value"] == "true" and info["command"]["shell"] is True
    env = {v["name"]: v["value"] for v in info["command"]["environment"]["variables"]}
    assert env["GREETING"] == "hi"
    assert state_of(run) == RunState.LAUNCHING and run.host == "10.0.0.5:5051" and not run.sandbox
    running(c, task_id, "c-1")
    url = urlsplit(run.sandbox)
    assert (url.scheme, url.netloc, url.path) == ("http", "10.0.0.5:5051", "/files/browse")
    assert parse_qs(url.query)["path"] == [f"a1/frameworks/F/executors/{task_id}/runs/c-1"]
    c.on_status(status(task_id, "TASK_FAILED", message="Command exited with status 3"))
    assert state_of(run) == RunState.PENDING and run.attempt == 1  # ON_FAILURE: relaunched
    (attempt,) = run.attempts
    assert attempt["exit_code"] == 3 and attempt["sandbox"] == run.sandbox
    assert attempt["host"] == "10.0.0.5:5051" and attempt["started_at"] == c.clock.time()
    c.clock.advance(c.retry_delay)  # type: ignore[attr-defined]
    (info2,) = launch(c)
    assert run.sandbox == ""  # a new launch: its own sandbox
    running(c, info2["task_id"]["value"], "c-2")
    c.on_status(status(info2["task_id"]["value"], "TASK_FINISHED"))
    assert state_of(run) == RunState.SUCCEEDED
    assert [a["exit_code"] for a in run.attempts] == [3, 0]
    assert run.attempts[1]["sandbox"].endswith("%2Fruns%2Fc-2")
    assert c.jobs["j"].success_count == 1 and c.jobs["j"].error_count == 0


def test_args_and_docker_become_the_task_command() -> None:
    c = make("2026-01-01T00:00:01Z")
    mjob(c, "argv", cmd=None, args=["/bin/echo", "a", "b"])
    mjob(c, "image", cmd=None, args=["--flag"], docker={"image": "alpine:3"})
    c.start_now("argv")
    c.start_now("image")
    infos = {t["name"]: t for t in launch(c)}
    argv = infos["ChronosTask:argv"]
    assert argv["command"]["shell"] is False
    assert (argv["command"]["value"], argv["command"]["arguments"]) == (
        "/bin/echo",
        ["/bin/echo", "a", "b"],
    )
    image = infos["ChronosTask:image"]
    assert image["command"] == {
        "shell": False,
        "value": "",
        "arguments": ["--flag"],
        "environment": image["command"]["environment"],
    }
    assert image["container"]["docker"]["image"] == "alpine:3"


def fail_every_attempt(c: Chronos, run: Run) -> int:
    """Launch and fail `run` until it is finished; the number of attempts."""
    for _ in range(100):
        if run.state.finished:
            return run.attempt
        c.clock.advance(c.retry_delay)  # type: ignore[attr-defined]
        (info,) = launch(c)
        c.on_status(status(info["task_id"]["value"], "TASK_FAILED", message="exit status 1"))
    raise AssertionError("never finished")


@pytest.mark.parametrize(
    ("restart", "attempts"),
    [
        ({"policy": "NEVER"}, 1),
        ({"policy": "ON_FAILURE"}, 1 + METRONOME_RETRIES),
        # retry_delay 10 s: failures at +10, +20 are relaunched, at +30 the deadline has passed
        ({"policy": "ON_FAILURE", "activeDeadlineSeconds": 35}, 3),
    ],
)
def test_restart_policy(restart: dict[str, Any], attempts: int) -> None:
    c = make("2026-01-01T00:00:01Z", retry_delay=10.0)
    mjob(c, "j", restart=restart)
    run = c.start_now("j")
    assert fail_every_attempt(c, run) == attempts
    assert run.state == RunState.FAILED and len(run.attempts) == attempts
    assert c.jobs["j"].error_count == 1


def test_stopping_runs_pending_and_running() -> None:
    c = make("2026-01-01T00:00:01Z")
    mjob(c, "j", restart={"policy": "ON_FAILURE"})
    pending = c.start_now("j")
    c.stop_run("j", pending.scheduled)
    assert pending.state == RunState.FAILED and pending.reason == "killed"
    c.clock.advance(1)  # type: ignore[attr-defined]
    run = c.start_now("j")
    (info,) = launch(c)
    running(c, info["task_id"]["value"])
    c.stop_run("j", run.scheduled)
    asyncio.run(c.tick())
    assert c.driver is not None and c.driver.killed == [info["task_id"]["value"]]  # type: ignore[attr-defined]
    c.on_status(status(info["task_id"]["value"], "TASK_KILLED", message="Command killed"))
    assert run.state == RunState.FAILED  # killed: no relaunch despite ON_FAILURE
    assert c.jobs["j"].error_count == 2


def test_manual_runs_in_the_same_millisecond_get_distinct_keys() -> None:
    c = make("2026-01-01T00:00:01Z")
    mjob(c, "j")
    a, b = c.start_now("j"), c.start_now("j")
    assert a.key != b.key and round((b.scheduled - a.scheduled) * 1000) == 1
