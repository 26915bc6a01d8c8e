"""Agent use cases against the in-memory master and the simulated containerizer."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from conftest import make_agent, task

from dcos_core.agent.master_client import InMemoryMasterClient
from dcos_core.agent.service import Agent
from dcos_core.errors import InvalidError
from dcos_core.protocol.internal import Acknowledge, KillTask, RunTask, ShutdownFramework


async def until(pred: Callable[[], bool], timeout: float = 3.0) -> None:
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not pred():
        if loop.time() > end:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.01)


@pytest.fixture
async def running(tmp_path: Path) -> AsyncIterator[tuple[Agent, InMemoryMasterClient]]:
    agent, master = make_agent(tmp_path)
    runner = asyncio.create_task(agent.run())
    await until(lambda: agent.registered)
    yield agent, master
    runner.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await runner
    await agent.stop()


def states(master: InMemoryMasterClient, task_id: str) -> list[str]:
    return [s.status["state"] for s in master.statuses if s.status["task_id"]["value"] == task_id]


async def test_registers_without_id_then_heartbeats(
    running: tuple[Agent, InMemoryMasterClient],
) -> None:
    agent, master = running
    first = master.registrations[0]
    assert first.agent_info.id is None and first.tasks == []
    assert first.agent_info.hostname == "127.0.0.1" and first.agent_info.port == 5051
    assert {r["name"] for r in first.agent_info.resources} == {"cpus", "mem", "ports"}
    assert agent.agent_id == "M1-S0"
    await until(lambda: len(master.heartbeats) >= 2)
    assert master.heartbeats[0].agent_id == "M1-S0"


async def test_reregisters_with_same_id_and_tasks_after_404(
    running: tuple[Agent, InMemoryMasterClient],
) -> None:
    """The master forgets the agent: the next heartbeat gets 404, the agent re-registers with
    its id and its running task, and the unacknowledged update is sent again."""
    agent, master = running
    agent.run_task(RunTask(framework_id="F", task=task("t1")))
    await until(lambda: states(master, "t1") == ["TASK_STARTING"])
    master.known.clear()
    await until(lambda: len(master.registrations) == 2)
    again = master.registrations[1]
    assert again.agent_info.id == "M1-S0"
    assert [(r.framework_id, r.task["task_id"]["value"], r.state) for r in again.tasks] == [
        ("F", "t1", "TASK_RUNNING")
    ]
    assert again.tasks[0].unacknowledged_uuid is not None
    await until(lambda: states(master, "t1") == ["TASK_STARTING", "TASK_STARTING"])


async def test_reregisters_when_master_comes_back(
    running: tuple[Agent, InMemoryMasterClient],
) -> None:
    agent, master = running
    master.reachable = False
    await until(lambda: not agent.registered)
    await asyncio.sleep(0.2)
    master.reachable = True
    await until(lambda: len(master.registrations) == 2 and agent.registered)
    assert master.registrations[1].agent_info.id == "M1-S0"


async def test_acks_move_a_finished_task_to_completed(
    running: tuple[Agent, InMemoryMasterClient],
) -> None:
    agent, master = running
    agent.run_task(RunTask(framework_id="F", task=task("t", "true")))
    for expected in ("TASK_STARTING", "TASK_RUNNING", "TASK_FINISHED"):
        await until(lambda e=expected: states(master, "t")[-1:] == [e])  # type: ignore[misc]
        last = master.statuses[-1].status
        agent.acknowledge(Acknowledge(framework_id="F", task_id="t", uuid=last["uuid"]))
    assert agent.tasks == {}
    assert [e.task_id for e in agent.completed] == ["t"]


async def test_duplicate_task_gets_one_error_and_keeps_running(
    running: tuple[Agent, InMemoryMasterClient],
) -> None:
    agent, master = running
    agent.run_task(RunTask(framework_id="F", task=task("t")))
    await until(lambda: "TASK_STARTING" in states(master, "t"))
    agent.run_task(RunTask(framework_id="F", task=task("t")))
    await until(lambda: "TASK_ERROR" in states(master, "t"))
    err = next(s.status for s in master.statuses if s.status["state"] == "TASK_ERROR")
    assert err["source"] == "SOURCE_AGENT" and "already in use" in err["message"]
    assert agent.tasks[("F", "t")].state.value == "TASK_RUNNING"


async def test_kill_unknown_task_answers_lost(running: tuple[Agent, InMemoryMasterClient]) -> None:
    agent, master = running
    agent.kill_task(KillTask(framework_id="F", task_id="ghost"))
    await until(lambda: states(master, "ghost") == ["TASK_LOST"])
    lost = master.statuses[-1].status
    assert lost["source"] == "SOURCE_AGENT" and lost["reason"] == "REASON_TASK_UNKNOWN"


async def test_kill_and_shutdown_framework(running: tuple[Agent, InMemoryMasterClient]) -> None:
    agent, master = running
    for t in ("a", "b", "c"):
        agent.run_task(RunTask(framework_id="F" if t != "c" else "G", task=task(t)))
    await until(lambda: all(states(master, t)[:1] == ["TASK_STARTING"] for t in "abc"))
    agent.kill_task(KillTask(framework_id="F", task_id="a"))
    assert agent.shutdown_framework(ShutdownFramework(framework_id="G")) == 1
    await until(lambda: agent.tasks[("F", "a")].state.value == "TASK_KILLED")
    await until(lambda: agent.tasks[("G", "c")].state.value == "TASK_KILLED")
    assert agent.tasks[("F", "b")].state.value == "TASK_RUNNING"


async def test_run_task_without_task_id_is_invalid(
    running: tuple[Agent, InMemoryMasterClient],
) -> None:
    agent, _master = running
    with pytest.raises(InvalidError):
        agent.run_task(RunTask(framework_id="F", task={"name": "x"}))


async def test_stop_kills_every_task(tmp_path: Path) -> None:
    agent, _master = make_agent(tmp_path, grace=0.1)
    runner = asyncio.create_task(agent.run())
    await until(lambda: agent.registered)
    agent.run_task(RunTask(framework_id="F", task=task("t")))
    await until(lambda: agent.containerizer.containers() != [])
    runner.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await runner
    await asyncio.wait_for(agent.stop(), 10)
    assert agent.containerizer.containers() == []
    assert agent.tasks[("F", "t")].state.value == "TASK_KILLED"
