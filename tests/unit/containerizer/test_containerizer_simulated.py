"""SimulatedContainerizer: no processes; a few commands are honoured."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from dcos_core.containerizer.registry import create_containerizer
from dcos_core.containerizer.simulated import SimulatedContainerizer
from dcos_core.containerizer.spec import LaunchSpec
from dcos_core.errors import InvalidError


def spec(cmd: str, cid: str = "c") -> LaunchSpec:
    return LaunchSpec(cid, Path("/nonexistent") / cid, command=cmd)


@pytest.mark.parametrize(("cmd", "code"), [("true", 0), ("false", 1), ("exit 7", 7)])
async def test_exit_commands(cmd: str, code: int) -> None:
    """`true`, `false` and `exit N` end at once with that code, without a process."""
    c = SimulatedContainerizer()
    assert await c.launch(spec(cmd)) is None
    assert (await asyncio.wait_for(c.wait("c"), 1)).exit_code == code


async def test_sleep_finishes_after_n_seconds_and_others_run_until_destroyed() -> None:
    c = SimulatedContainerizer()
    await c.launch(spec("sleep 0.2", "s"))
    await c.launch(spec("./server --forever", "f"))
    assert (await asyncio.wait_for(c.wait("s"), 1)).succeeded
    forever = asyncio.create_task(c.wait("f"))
    await asyncio.sleep(0.3)
    assert not forever.done()
    await c.destroy("f", 3)
    assert (await forever).signal == 15
    assert sorted(c.containers()) == ["s"]


def test_registry_knows_both_and_rejects_others() -> None:
    assert type(create_containerizer("simulated")).__name__ == "SimulatedContainerizer"
    assert type(create_containerizer("posix")).__name__ == "PosixContainerizer"
    with pytest.raises(InvalidError, match="unknown containerizer 'docker'"):
        create_containerizer("docker")


def test_launch_spec_needs_exactly_one_command() -> None:
    with pytest.raises(InvalidError):
        LaunchSpec("c", Path("/x"))
    with pytest.raises(InvalidError):
        LaunchSpec("c", Path("/x"), command="a", argv=("b",))
