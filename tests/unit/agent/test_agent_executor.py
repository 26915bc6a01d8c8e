"""The command executor: environment, sandbox, status sequence, kills."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

import pytest
from conftest import task

from dcos_core.agent.executor import (
    CommandExecutor,
    ExecutorContext,
    build_environment,
    command_of,
    sandbox_dir,
)
from dcos_core.clock import SystemClock
from dcos_core.containerizer.base import Containerizer
from dcos_core.containerizer.posix import PosixContainerizer, make_subreaper
from dcos_core.containerizer.simulated import SimulatedContainerizer
from dcos_core.errors import InvalidError
from dcos_core.model.task import TaskState


@pytest.fixture(scope="module", autouse=True)
def _subreaper() -> None:
    make_subreaper()


def ctx(tmp_path: Path, grace: float = 3.0) -> ExecutorContext:
    return ExecutorContext("S1", "host1", tmp_path, grace)


def run(
    tmp_path: Path,
    t: dict[str, Any],
    c: Containerizer,
    fw_info: dict[str, Any] | None = None,
    grace: float = 3.0,
) -> tuple[CommandExecutor, list[dict[str, Any]]]:
    out: list[dict[str, Any]] = []
    ex = CommandExecutor(
        t,
        framework_id="F1",
        framework_info=fw_info or {},
        ctx=ctx(tmp_path, grace),
        containerizer=c,
        clock=SystemClock(),
        emit=out.append,
    )
    return ex, out


def states(out: list[dict[str, Any]]) -> list[str]:
    return [s["state"] for s in out]


def test_environment(tmp_path: Path) -> None:
    """Ports in resource order, named discovery ports, MESOS_* and the task's own variables."""
    t = task(
        "web.1",
        command={
            "value": "x",
            "environment": {
                "variables": [{"name": "APP", "value": "1"}, {"name": "HOST", "value": "h"}]
            },
        },
        discovery={"ports": {"ports": [{"number": 31002, "name": "http-api"}]}},
    )
    env = build_environment(
        t, ctx=ctx(tmp_path), framework_id="F1", container_id="C", sandbox=Path("/sb")
    )
    assert (env["PORT0"], env["PORT1"], env["PORT2"]) == ("31005", "31001", "31002")
    assert env["PORTS"] == "31005,31001,31002"
    assert env["PORT_HTTP_API"] == "31002"
    assert env["MESOS_SANDBOX"] == "/sb" and env["MESOS_TASK_ID"] == "web.1"
    assert env["MESOS_AGENT_ID"] == "S1" and env["MESOS_FRAMEWORK_ID"] == "F1"
    assert env["MESOS_EXECUTOR_ID"] == "web.1" and env["MESOS_CONTAINER_ID"] == "C"
    assert env["APP"] == "1" and env["HOST"] == "h"  # the task's variables win
    assert "/bin" in env["PATH"]


def test_command_forms() -> None:
    assert command_of({"command": {"value": "echo hi"}}) == ("echo hi", None)
    assert command_of(
        {"command": {"shell": False, "value": "/bin/echo", "arguments": ["echo", "a"]}}
    ) == (None, ("/bin/echo", "a"))
    for bad in ({}, {"command": {"value": " "}}, {"command": {"value": "x"}, "executor": {"a": 1}}):
        with pytest.raises(InvalidError):
            command_of(bad)


def test_sandbox_layout(tmp_path: Path) -> None:
    assert sandbox_dir(tmp_path, "S", "F", "E", "C") == (
        tmp_path / "slaves/S/frameworks/F/executors/E/runs/C"
    )


async def test_finished_task_with_real_process(tmp_path: Path) -> None:
    """STARTING, RUNNING, FINISHED; the command saw its environment; each uuid is fresh."""
    ex, out = run(tmp_path, task("t", 'echo "$PORT0 $MESOS_SANDBOX"'), PosixContainerizer())
    await asyncio.wait_for(ex.run(), 5)
    assert states(out) == ["TASK_STARTING", "TASK_RUNNING", "TASK_FINISHED"]
    assert len({s["uuid"] for s in out}) == 3
    assert all(s["source"] == "SOURCE_EXECUTOR" and s["executor_id"] == {"value": "t"} for s in out)
    assert out[1]["container_status"]["executor_pid"] == ex.pid
    assert (ex.sandbox / "stdout").read_text() == f"31005 {ex.sandbox}\n"


async def test_resumed_task_last_seen_starting_reports_running_before_its_end(
    tmp_path: Path,
) -> None:
    """The agent died after the launch but before it recorded TASK_RUNNING: the recovered
    executor reports RUNNING, then the end (no state is skipped)."""
    c = PosixContainerizer()
    first, _ = run(tmp_path, task("t", "sleep 0.5"), c)
    running = asyncio.create_task(first.run())
    await asyncio.sleep(0.2)
    again, out = run(tmp_path, task("t", "sleep 0.5"), c)
    again.container_id = first.container_id
    await asyncio.wait_for(again.resume(TaskState.STARTING, None, True), 5)
    await asyncio.wait_for(running, 5)
    assert states(out) == ["TASK_RUNNING", "TASK_FINISHED"]


async def test_failed_task_reports_exit_code(tmp_path: Path) -> None:
    ex, out = run(tmp_path, task("t", "exit 3"), PosixContainerizer())
    await asyncio.wait_for(ex.run(), 5)
    assert states(out)[-1] == "TASK_FAILED"
    assert out[-1]["message"] == "Command exited with status 3"


async def test_invalid_task_fails_with_reason(tmp_path: Path) -> None:
    ex, out = run(tmp_path, task("t", None), SimulatedContainerizer())
    await ex.run()
    assert states(out) == ["TASK_FAILED"]
    assert out[0]["reason"] == "REASON_TASK_INVALID"


async def test_launch_failure_fails_with_reason(tmp_path: Path) -> None:
    t = task("t", None, command={"shell": False, "value": "/no/such/bin"})
    ex, out = run(tmp_path, t, PosixContainerizer())
    await ex.run()
    assert states(out) == ["TASK_STARTING", "TASK_FAILED"]
    assert out[-1]["reason"] == "REASON_CONTAINER_LAUNCH_FAILED"


async def test_kill_uses_task_grace_then_sigkill(tmp_path: Path) -> None:
    """A task trapping SIGTERM with a 0.3 s kill policy is KILLED; none of its processes live."""
    t = task(
        "t",
        "trap '' TERM; sleep 100 & while :; do sleep 0.05; done",
        kill_policy={"grace_period": {"nanoseconds": 300_000_000}},
    )
    ex, out = run(
        tmp_path, t, PosixContainerizer(), {"capabilities": [{"type": "TASK_KILLING_STATE"}]}
    )
    runner = asyncio.create_task(ex.run())
    while ex.pid is None:
        await asyncio.sleep(0.02)
    await asyncio.sleep(0.2)
    loop = asyncio.get_running_loop()
    start = loop.time()
    await ex.kill()
    await asyncio.wait_for(runner, 5)
    assert loop.time() - start >= 0.3
    assert states(out) == ["TASK_STARTING", "TASK_RUNNING", "TASK_KILLING", "TASK_KILLED"]
    with pytest.raises(ProcessLookupError):
        os.killpg(ex.pid, 0)


async def test_no_killing_state_without_the_capability(tmp_path: Path) -> None:
    ex, out = run(tmp_path, task("t", "sleep 100"), SimulatedContainerizer())
    runner = asyncio.create_task(ex.run())
    await asyncio.sleep(0.05)
    await ex.kill()
    await ex.kill()  # idempotent
    await asyncio.wait_for(runner, 2)
    assert states(out) == ["TASK_STARTING", "TASK_RUNNING", "TASK_KILLED"]
