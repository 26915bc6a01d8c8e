"""Chronos planning with an injected clock: R0/R1/Rn/R, time zones and DST, catch-up and skip,
dependencies, retries. No sleeping: a FakeClock jumps through hours and days."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from dcos_core.clock import FakeClock
from dcos_core.frameworks.chronos.ledger import RunState
from dcos_core.frameworks.chronos.models import parse_job
from dcos_core.frameworks.chronos.service import Chronos
from dcos_core.state.memory import InMemoryStore


def ts(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def make(at: str) -> Chronos:
    return Chronos(InMemoryStore(), clock=FakeClock(ts(at)))


def add(c: Chronos, **fields: Any) -> None:
    body = {"owner": "", "disabled": False, "command": "true", **fields}
    c.put_job(parse_job(body, now=datetime.fromtimestamp(c.clock.time(), UTC)))


def planned(c: Chronos, job: str) -> list[str]:
    runs = [r for r in c.runs.values() if r.job == job and r.state == RunState.PENDING]
    return [
        datetime.fromtimestamp(r.scheduled, UTC).isoformat()
        for r in sorted(runs, key=lambda r: r.scheduled)
    ]


def advance(c: Chronos, seconds: float) -> None:
    c.clock.advance(seconds)  # type: ignore[attr-defined]
    c._plan(c.clock.time())


def test_r0_r1_rn_and_r() -> None:
    c = make("2026-01-01T00:00:00Z")
    add(c, name="never", schedule="R0/2026-01-01T00:00:10Z/PT10S")
    add(c, name="once", schedule="R1/2026-01-01T00:00:10Z/PT10S")
    add(c, name="three", schedule="R3/2026-01-01T00:00:10Z/PT10S")
    add(c, name="forever", schedule="R/2026-01-01T00:00:10Z/PT10S")
    for _ in range(12):
        advance(c, 10)
    counts = {j: len([r for r in c.runs.values() if r.job == j]) for j in c.jobs}
    assert counts == {"never": 0, "once": 1, "three": 3, "forever": 12}


def test_each_occurrence_is_planned_exactly_once_across_a_restart() -> None:
    c = make("2026-01-01T00:00:00Z")
    add(c, name="j", schedule="R/2026-01-01T00:00:05Z/PT5S")
    advance(c, 12)
    first = planned(c, "j")
    again = Chronos(c.store, clock=c.clock)  # a new process over the same store
    again.load()
    again._plan(again.clock.time())
    assert (
        planned(again, "j")
        == first
        == [
            "2026-01-01T00:00:05+00:00",
            "2026-01-01T00:00:10+00:00",
        ]
    )


def test_daily_job_follows_wall_clock_across_dst_in_its_zone() -> None:
    c = make("2026-03-27T00:00:00Z")
    add(c, name="nightly", schedule="R/2026-03-27T02:30:00/P1D", scheduleTimeZone="Europe/Berlin")
    for _ in range(4 * 24):
        advance(c, 3600)
    got = planned(c, "nightly")
    # 02:30 CET = 01:30Z; on 2026-03-29 02:30 does not exist: 03:30 CEST = 01:30Z; then 00:30Z
    assert got == [
        "2026-03-27T01:30:00+00:00",
        "2026-03-28T01:30:00+00:00",
        "2026-03-29T01:30:00+00:00",
        "2026-03-30T00:30:00+00:00",
    ]


def test_missed_runs_catch_up_once_or_skip() -> None:
    c = make("2026-01-01T00:00:00Z")
    add(c, name="catch", schedule="R/2026-01-01T00:01:00Z/PT1M", epsilon="PT30S")
    add(c, name="skip", schedule="R/2026-01-01T00:01:00Z/PT1M", epsilon="PT30S", missedRuns="skip")
    advance(c, 10 * 60 + 10)  # down for ten minutes: ten occurrences missed
    assert len(planned(c, "catch")) == 1 + 1  # one catch-up run + the on-time 00:10
    assert planned(c, "skip") == ["2026-01-01T00:10:00+00:00"]
    skipped = [r for r in c.jobs["skip"].history if r.state == RunState.SKIPPED]
    assert len(skipped) == 9


def test_dependency_runs_once_after_all_parents_succeeded() -> None:
    c = make("2026-01-01T00:00:00Z")
    add(c, name="a", schedule="R/2026-01-01T00:00:10Z/PT1H")
    add(c, name="b", parents=["a"])
    add(c, name="c", parents=["a"])
    add(c, name="d", parents=["b", "c"])
    c._succeeded(c.jobs["b"], c.clock.time(), [])
    assert not [r for r in c.runs.values() if r.job == "d"]  # c has not succeeded yet
    c.clock.advance(1)  # type: ignore[attr-defined]
    c._succeeded(c.jobs["c"], c.clock.time(), [])
    assert len([r for r in c.runs.values() if r.job == "d"]) == 1
    c._succeeded(c.jobs["c"], c.clock.time() + 1, [])  # c again, b not: no new round
    assert len([r for r in c.runs.values() if r.job == "d"]) == 1


def test_a_failed_attempt_is_retried_then_counted_once() -> None:
    c = make("2026-01-01T00:00:00Z")
    add(c, name="f", schedule="R1/2026-01-01T00:00:01Z/PT1H", retries=1)
    advance(c, 2)
    (run,) = c.runs.values()
    for attempt in (1, 2):
        run.attempt = attempt
        run.task_id = run.task_id_for(attempt)
        run.state = RunState.RUNNING
        c.on_status(
            {"task_id": {"value": run.task_id}, "state": "TASK_FAILED", "message": "exit 1"}
        )
    assert c.jobs["f"].error_count == 1
    assert [r.state for r in c.jobs["f"].history] == [RunState.FAILED]
    assert len(c.jobs["f"].history[0].attempts) == 2


def test_a_start_at_or_just_before_creation_runs_once_within_epsilon() -> None:
    """Issue 13: an R1 job whose start is at or a few seconds before its creation never ran.
    A start late by at most `epsilon` runs once; an older one is not run (the job did not
    exist then); a fast repeating job late by many periods runs once, not once per period."""
    c = make("2026-01-01T12:00:00.400Z")
    add(c, name="seconds-before", schedule="R1/2026-01-01T11:59:57Z/PT1H")
    add(c, name="truncated", schedule="R1/2026-01-01T12:00:00Z/PT1H")  # 0.4 s before creation
    add(c, name="empty-start", schedule="R1//PT1H")  # Chronos: start = now - 1 s
    add(c, name="too-old", schedule="R1/2026-01-01T11:58:00Z/PT1H")  # 2 min > epsilon 60 s
    add(c, name="own-epsilon", schedule="R1/2026-01-01T11:58:00Z/PT1H", epsilon="PT5M")
    add(c, name="fast", schedule="R/2026-01-01T11:59:30Z/PT1S")
    advance(c, 0.1)
    assert planned(c, "seconds-before") == ["2026-01-01T11:59:57+00:00"]
    assert planned(c, "truncated") == ["2026-01-01T12:00:00+00:00"]
    assert planned(c, "empty-start") == ["2026-01-01T11:59:59.400000+00:00"]
    assert planned(c, "too-old") == []
    assert planned(c, "own-epsilon") == ["2026-01-01T11:58:00+00:00"]
    assert planned(c, "fast") == ["2026-01-01T12:00:00+00:00"]  # the latest one, once
    advance(c, 3600 * 3)  # R1: never again
    for job in ("seconds-before", "truncated", "empty-start", "own-epsilon"):
        assert len([r for r in c.runs.values() if r.job == job]) == 1, job
    assert [r for r in c.runs.values() if r.job == "too-old"] == []


def test_a_changed_schedule_does_not_run_a_time_already_run() -> None:
    c = make("2026-01-01T12:00:00Z")
    add(c, name="j", schedule="R1/2026-01-01T12:00:05Z/PT1M")
    advance(c, 10)
    (run,) = c.runs.values()
    run.state = RunState.SUCCEEDED
    c._finish(run)
    # the same start, more repetitions: 12:00:05 (5 s ago, within epsilon) already ran
    add(c, name="j", schedule="R2/2026-01-01T12:00:05Z/PT1M")
    advance(c, 0.1)
    assert planned(c, "j") == []
    advance(c, 60)
    assert planned(c, "j") == ["2026-01-01T12:01:05+00:00"]
