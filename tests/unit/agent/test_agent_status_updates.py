"""StatusUpdateManager: ordered, one in flight, retried with doubling backoff until acked."""

from __future__ import annotations

from typing import Any

import pytest

from dcos_core.agent.status_updates import StatusUpdateManager
from dcos_core.clock import FakeClock
from dcos_core.model.task import TaskState
from dcos_core.protocol.v1 import new_status_uuid, task_status


class Recorder:
    def __init__(self) -> None:
        self.sent: list[tuple[str, str, str]] = []  # (framework, task, state)
        self.fail = False

    async def __call__(self, framework_id: str, status: dict[str, Any]) -> None:
        self.sent.append((framework_id, status["task_id"]["value"], status["state"]))
        if self.fail:
            raise ConnectionError("master down")


def st(task: str, state: TaskState) -> dict[str, Any]:
    return task_status(task, state, agent_id="S1", timestamp=0.0, uuid=new_status_uuid())


@pytest.fixture
def env() -> tuple[StatusUpdateManager, Recorder, FakeClock]:
    clock = FakeClock(0.0)
    rec = Recorder()
    return StatusUpdateManager(rec, clock, retry_min=10, retry_max=60), rec, clock


async def test_only_the_front_is_in_flight_and_acks_release_the_next(env: Any) -> None:
    mgr, rec, _clock = env
    updates = [st("t", s) for s in (TaskState.STARTING, TaskState.RUNNING, TaskState.FINISHED)]
    for u in updates:
        mgr.update("f", u)
    assert await mgr.send_due() == 1
    assert rec.sent == [("f", "t", "TASK_STARTING")]
    assert await mgr.send_due() == 0  # not due again before 10 s
    assert mgr.ack("f", "t", updates[0]["uuid"])
    await mgr.send_due()  # the next one is due at once, without the clock moving
    assert rec.sent[-1] == ("f", "t", "TASK_RUNNING")
    mgr.ack("f", "t", updates[1]["uuid"])
    await mgr.send_due()
    assert rec.sent[-1] == ("f", "t", "TASK_FINISHED")
    assert not mgr.stream_ended("f", "t")
    mgr.ack("f", "t", updates[2]["uuid"])
    assert mgr.stream_ended("f", "t") and mgr.pending() == {}


async def test_retry_timing_doubles_and_caps(env: Any) -> None:
    """Sends at t = 0, 10, 30 (10+20), 70 (30+40), 130 (70+60 cap), 190 (+60)."""
    mgr, rec, clock = env
    mgr.update("f", st("t", TaskState.RUNNING))
    times = []
    for _ in range(200):
        if await mgr.send_due():
            times.append(clock.monotonic())
        clock.advance(1)
    assert times == [0, 10, 30, 70, 130, 190]
    assert len(rec.sent) == 6


async def test_failed_sends_are_retried_on_the_same_schedule(env: Any) -> None:
    mgr, rec, clock = env
    rec.fail = True
    mgr.update("f", st("t", TaskState.RUNNING))
    await mgr.send_due()
    clock.advance(10)
    await mgr.send_due()
    assert len(rec.sent) == 2


async def test_ack_with_wrong_uuid_is_ignored(env: Any) -> None:
    mgr, _rec, clock = env
    u = st("t", TaskState.RUNNING)
    mgr.update("f", u)
    await mgr.send_due()
    assert not mgr.ack("f", "t", new_status_uuid())
    assert not mgr.ack("other-fw", "t", u["uuid"])
    assert mgr.pending()[("f", "t")] == [u]
    clock.advance(10)
    assert await mgr.send_due() == 1  # still retried


async def test_streams_are_independent_and_nothing_follows_a_terminal(env: Any) -> None:
    mgr, rec, _clock = env
    mgr.update("f", st("a", TaskState.FAILED))
    mgr.update("f", st("b", TaskState.RUNNING))
    assert not mgr.update("f", st("a", TaskState.RUNNING))
    assert await mgr.send_due() == 2
    assert sorted(rec.sent) == [("f", "a", "TASK_FAILED"), ("f", "b", "TASK_RUNNING")]


async def test_resend_all_makes_fronts_due_now(env: Any) -> None:
    mgr, rec, _clock = env
    mgr.update("f", st("a", TaskState.RUNNING))
    await mgr.send_due()
    mgr.resend_all()
    assert await mgr.send_due() == 1
    assert len(rec.sent) == 2
