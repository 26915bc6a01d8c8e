"""A task Chronos has no unfinished run for (a stale launch, a job deleted meanwhile) is killed
while it lives, so that a job never runs twice; one that has already ended is left alone."""

from __future__ import annotations

import asyncio

import pytest
from chronos_fakes import RecordingDriver

from dcos_core.clock import FakeClock
from dcos_core.frameworks.chronos.service import Chronos
from dcos_core.model.task import TERMINAL, TaskState
from dcos_core.state.memory import InMemoryStore


def chronos() -> tuple[Chronos, RecordingDriver]:
    c = Chronos(InMemoryStore(), clock=FakeClock(1_000_000.0))
    d = RecordingDriver()
    c.driver = d
    return c, d


def status(task_id: str, state: TaskState) -> dict[str, object]:
    return {"task_id": {"value": task_id}, "state": state.value, "agent_id": {"value": "a1"}}


@pytest.mark.parametrize(
    "state", [TaskState.STAGING, TaskState.STARTING, TaskState.RUNNING, TaskState.KILLING]
)
def test_a_live_task_of_no_run_is_killed(state: TaskState) -> None:
    c, d = chronos()
    c.on_status(status("ct:1000000000:j:1", state))
    asyncio.run(c.tick())
    assert d.killed == ["ct:1000000000:j:1"]


@pytest.mark.parametrize("state", sorted(TERMINAL | {TaskState.UNKNOWN}))
def test_an_ended_task_of_no_run_is_not_killed(state: TaskState) -> None:
    c, d = chronos()
    c.on_status(status("ct:1000000000:j:1", state))
    asyncio.run(c.tick())
    assert d.killed == []
