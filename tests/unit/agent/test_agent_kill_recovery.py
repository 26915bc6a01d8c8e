"""A kill the agent did not finish before it went away is finished by the next agent."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from conftest import make_agent, task

from dcos_core.agent.checkpoint import Checkpointer
from dcos_core.agent.service import Agent
from dcos_core.protocol.internal import KillTask, RunTask

FW = "fw-1"
INFO = {"name": "f", "user": "root", "checkpoint": True}


def _status(state: str, uuid: str) -> dict[str, Any]:
    return {"task_id": {"value": "t1"}, "state": state, "uuid": uuid, "timestamp": 1.0}


def _checkpoint(work: Path, *records: tuple[str, Any]) -> Checkpointer:
    cp = Checkpointer(work)
    cp.write_agent_id("S1")
    cp.write_task(FW, INFO, task("t1"), "t1", "c-1")
    for kind, value in records:
        if kind == "update":
            cp.append_update(FW, "t1", value)
        elif kind == "ack":
            cp.append_ack(FW, "t1", value)
        else:
            cp.append_kill(FW, "t1")
    return cp


def _pending_states(agent: Agent) -> list[str]:
    return [s["state"] for s in agent.updates.pending().get((FW, "t1"), [])]


def test_a_kill_is_checkpointed_and_read_back(tmp_path: Path) -> None:
    cp = _checkpoint(tmp_path, ("update", _status("TASK_RUNNING", "a")), ("ack", "a"), ("kill", 1))
    (t,) = cp.load().tasks
    assert t.state.value == "TASK_RUNNING" and t.kill_requested and t.pending == []


@pytest.mark.parametrize(
    "records",
    [
        # TASK_KILLING recorded (a framework that knows it), not yet acknowledged
        [
            ("update", _status("TASK_RUNNING", "a")),
            ("ack", "a"),
            ("kill", 1),
            ("update", _status("TASK_KILLING", "b")),
        ],
        # only the kill recorded (the agent died before anything else)
        [("update", _status("TASK_RUNNING", "a")), ("ack", "a"), ("kill", 1)],
    ],
)
async def test_task_being_killed_whose_container_is_gone_ends_killed(
    tmp_path: Path, records: list[tuple[str, Any]]
) -> None:
    _checkpoint(tmp_path, *records)
    agent, _ = make_agent(tmp_path)  # the simulated containerizer recovers no container
    await agent.recover()
    await asyncio.sleep(0.05)
    assert _pending_states(agent)[-1] == "TASK_KILLED"
    assert "TASK_FAILED" not in _pending_states(agent)
    await agent.stop()


async def test_kill_from_the_master_is_written_before_the_task_is_killed(tmp_path: Path) -> None:
    agent, _ = make_agent(tmp_path)
    agent.agent_id = "S1"
    agent.run_task(RunTask(framework_id=FW, framework_info=INFO, task=task("t1")))
    await asyncio.sleep(0.05)
    agent.kill_task(KillTask(framework_id=FW, task_id="t1"))
    (t,) = Checkpointer(tmp_path).load().tasks
    assert t.kill_requested
    await agent.stop()
