"""SimulatedContainerizer: no processes; a few commands are honoured."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from dcos_core.containerizer.composing import ComposingContainerizer
from dcos_core.containerizer.registry import create_containerizer
from dcos_core.containerizer.simulated import SimulatedContainerizer
from dcos_core.containerizer.spec import ContainerInfo, ContainerizerConfig, DockerInfo, LaunchSpec
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


def test_registry_builds_by_name_composes_several_and_rejects_others(tmp_path: Path) -> None:
    config = ContainerizerConfig(runtime_dir=tmp_path)
    assert type(create_containerizer("simulated", config)).__name__ == "SimulatedContainerizer"
    assert type(create_containerizer("posix", config)).__name__ == "PosixContainerizer"
    both = create_containerizer("simulated, posix", config)
    assert isinstance(both, ComposingContainerizer)
    assert list(both.named) == ["simulated", "posix"]
    with pytest.raises(InvalidError, match="unknown containerizer 'rkt'"):
        create_containerizer("rkt", config)
    with pytest.raises(InvalidError, match="at least one"):
        create_containerizer(" , ", config)


async def test_composing_routes_docker_containers_and_refuses_without_docker(
    tmp_path: Path,
) -> None:
    both = ComposingContainerizer({"simulated": SimulatedContainerizer()})
    docker_spec = LaunchSpec(
        "d", tmp_path, argv=(), container=ContainerInfo("DOCKER", docker=DockerInfo("busybox"))
    )
    with pytest.raises(InvalidError, match="docker containerizer"):
        await both.launch(docker_spec)
    await both.launch(LaunchSpec("m", tmp_path, command="sleep 5"))
    assert both.containers() == ["m"]
    await both.destroy("m", 0)
    assert both.containers() == []


def test_launch_spec_needs_exactly_one_command() -> None:
    with pytest.raises(InvalidError):
        LaunchSpec("c", Path("/x"))
    with pytest.raises(InvalidError):
        LaunchSpec("c", Path("/x"), command="a", argv=("b",))
