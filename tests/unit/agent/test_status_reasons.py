"""Every terminal update the agent's executor sends carries a message, a source and, wherever
Mesos has one, a reason (what `/master/state` and `dcos task list` then show)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from conftest import task

from dcos_core.agent.executor import CommandExecutor, ExecutorContext
from dcos_core.clock import SystemClock
from dcos_core.containerizer.base import Containerizer
from dcos_core.containerizer.simulated import SimulatedContainerizer
from dcos_core.containerizer.spec import LaunchSpec


class SlowLaunch(SimulatedContainerizer):
    """Simulated containers whose launch waits until `go` is set."""

    def __init__(self) -> None:
        super().__init__()
        self.go = asyncio.Event()
        self.launching = asyncio.Event()

    async def launch(self, spec: LaunchSpec) -> int | None:
        self.launching.set()
        await self.go.wait()
        return await super().launch(spec)


def executor(
    tmp_path: Path, t: dict[str, Any], c: Containerizer
) -> tuple[CommandExecutor, list[dict[str, Any]]]:
    out: list[dict[str, Any]] = []
    ex = CommandExecutor(
        t,
        framework_id="F1",
        framework_info={},
        ctx=ExecutorContext("S1", "host1", tmp_path, 3.0),
        containerizer=c,
        clock=SystemClock(),
        emit=out.append,
    )
    return ex, out


async def test_a_failed_command_has_reason_command_executor_failed(tmp_path: Path) -> None:
    ex, out = executor(tmp_path, task("t", "exit 3"), SimulatedContainerizer())
    await asyncio.wait_for(ex.run(), 5)
    last = out[-1]
    assert (last["state"], last["message"], last["reason"], last["source"]) == (
        "TASK_FAILED",
        "Command exited with status 3",
        "REASON_COMMAND_EXECUTOR_FAILED",
        "SOURCE_EXECUTOR",
    )


async def test_a_killed_task_says_how_it_ended(tmp_path: Path) -> None:
    ex, out = executor(tmp_path, task("t", "sleep 100"), SimulatedContainerizer())
    runner = asyncio.create_task(ex.run())
    await asyncio.sleep(0.05)
    await ex.kill()
    await asyncio.wait_for(runner, 2)
    last = out[-1]
    assert last["state"] == "TASK_KILLED"
    assert last["message"] == "Command terminated with signal Terminated"
    assert last["source"] == "SOURCE_EXECUTOR"
    assert "reason" not in last  # a kill the framework asked for has no reason in Mesos


async def test_killed_before_launch_has_reason_killed_during_launch(tmp_path: Path) -> None:
    ex, out = executor(tmp_path, task("t", "sleep 100"), SimulatedContainerizer())
    await ex.kill()
    await asyncio.wait_for(ex.run(), 2)
    assert out[-1]["state"] == "TASK_KILLED"
    assert out[-1]["reason"] == "REASON_TASK_KILLED_DURING_LAUNCH"
    assert out[-1]["message"] == "Task killed before it was launched"


async def test_killed_while_launching_has_reason_killed_during_launch(tmp_path: Path) -> None:
    c = SlowLaunch()
    ex, out = executor(tmp_path, task("t", "sleep 100"), c)
    runner = asyncio.create_task(ex.run())
    await asyncio.wait_for(c.launching.wait(), 2)
    killing = asyncio.create_task(ex.kill())
    await asyncio.sleep(0.01)
    c.go.set()
    await asyncio.wait_for(runner, 2)
    await killing
    assert [s["state"] for s in out] == ["TASK_STARTING", "TASK_KILLED"]
    assert out[-1]["reason"] == "REASON_TASK_KILLED_DURING_LAUNCH"
    assert out[-1]["message"] == "Command terminated with signal Terminated"


async def test_what_the_agent_decides_itself_has_source_agent(tmp_path: Path) -> None:
    """An invalid task (no command) fails with SOURCE_AGENT, as a Mesos agent reports it."""
    ex, out = executor(tmp_path, task("t", None), SimulatedContainerizer())
    await ex.run()
    assert [(s["state"], s["source"], s["reason"]) for s in out] == [
        ("TASK_FAILED", "SOURCE_AGENT", "REASON_TASK_INVALID")
    ]
    assert out[0]["message"]
