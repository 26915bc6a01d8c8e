"""PosixContainerizer with real processes: one process group per container."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

import pytest

from dcos_core.containerizer.posix import PosixContainerizer, make_subreaper
from dcos_core.containerizer.spec import LaunchSpec
from dcos_core.errors import ConflictError, IsolationError, NotFoundError

ENV = {"PATH": "/usr/bin:/bin"}


@pytest.fixture(scope="module", autouse=True)
def _subreaper() -> None:
    # Orphaned grandchildren must be reaped by us: PID 1 of a micro-VM may not reap.
    make_subreaper()


def spec(tmp_path: Path, command: str, cid: str = "c1") -> LaunchSpec:
    return LaunchSpec(cid, tmp_path / cid, command=command, env=ENV)


def group_gone(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return True
    return False


async def test_exit_code_and_output_land_in_the_sandbox(tmp_path: Path) -> None:
    """The command's exit code is reported; its stdout/stderr are files in the sandbox."""
    c = PosixContainerizer()
    pid = await c.launch(spec(tmp_path, "echo out; echo err >&2; exit 3"))
    assert isinstance(pid, int)
    t = await c.wait("c1")
    assert (t.exit_code, t.signal, t.succeeded) == (3, None, False)
    assert t.message == "Command exited with status 3"
    assert (tmp_path / "c1" / "stdout").read_text() == "out\n"
    assert (tmp_path / "c1" / "stderr").read_text() == "err\n"
    await c.destroy("c1", 0)
    assert c.containers() == []


async def test_argv_runs_without_a_shell_and_sees_env(tmp_path: Path) -> None:
    """An argv is executed directly, in the sandbox, with exactly the given environment."""
    c = PosixContainerizer()
    s = LaunchSpec("a", tmp_path / "a", argv=("/usr/bin/env",), env={"X": "1"})
    await c.launch(s)
    assert (await c.wait("a")).succeeded
    assert (tmp_path / "a" / "stdout").read_text().splitlines() == ["X=1"]


async def test_destroy_kills_the_whole_process_tree(tmp_path: Path) -> None:
    """A background grandchild in the group dies with the container."""
    c = PosixContainerizer()
    pgid = await c.launch(spec(tmp_path, "sleep 100 & sleep 100"))
    assert pgid is not None
    await asyncio.sleep(0.2)
    assert not group_gone(pgid)
    start = time.monotonic()
    await c.destroy("c1", 5.0)
    assert time.monotonic() - start < 2.0  # sleep obeys SIGTERM: no need to wait for the grace
    assert group_gone(pgid)
    assert c.containers() == []  # destroyed containers are forgotten


async def test_grace_period_then_sigkill(tmp_path: Path) -> None:
    """A task ignoring SIGTERM is SIGKILLed once the grace period (0.5 s) is over."""
    c = PosixContainerizer()
    pgid = await c.launch(spec(tmp_path, "trap '' TERM; sleep 100 & while :; do sleep 0.05; done"))
    assert pgid is not None
    await asyncio.sleep(0.2)
    waiter = asyncio.create_task(c.wait("c1"))
    start = time.monotonic()
    await c.destroy("c1", 0.5)
    elapsed = time.monotonic() - start
    assert 0.5 <= elapsed < 3.0
    assert group_gone(pgid)
    assert (await waiter).signal == 9


async def test_destroy_is_idempotent_and_tolerates_unknown_ids(tmp_path: Path) -> None:
    """Two concurrent destroys and a destroy of an unknown id all return quietly."""
    c = PosixContainerizer()
    await c.launch(spec(tmp_path, "sleep 100"))
    await asyncio.gather(c.destroy("c1", 1), c.destroy("c1", 1))
    await c.destroy("c1", 1)
    await c.destroy("nope", 1)
    with pytest.raises(NotFoundError):
        await c.wait("nope")


async def test_leftover_children_die_when_the_container_is_destroyed(tmp_path: Path) -> None:
    """After the main process exits, destroy(grace 0) kills what it left running."""
    c = PosixContainerizer()
    pgid = await c.launch(spec(tmp_path, "sleep 100 & exit 0"))
    assert pgid is not None
    assert (await c.wait("c1")).succeeded
    assert not group_gone(pgid)
    await c.destroy("c1", 0)
    assert group_gone(pgid)


async def test_launch_errors(tmp_path: Path) -> None:
    """A duplicate container id and a missing executable are refused; nothing is left."""
    c = PosixContainerizer()
    await c.launch(spec(tmp_path, "sleep 100"))
    with pytest.raises(ConflictError):
        await c.launch(spec(tmp_path, "true"))
    with pytest.raises(IsolationError):
        await c.launch(LaunchSpec("x", tmp_path / "x", argv=("/no/such/binary",)))
    assert c.containers() == ["c1"]
    await c.destroy("c1", 0)


async def test_usage_reports_the_group(tmp_path: Path) -> None:
    """usage() counts the group's processes and their memory, in Mesos names."""
    c = PosixContainerizer()
    await c.launch(spec(tmp_path, "sleep 100 & sleep 100"))
    await asyncio.sleep(0.2)
    u = await c.usage("c1")
    assert u["processes"] >= 2
    assert u["mem_rss_bytes"] > 0
    assert {"timestamp", "cpus_user_time_secs", "cpus_system_time_secs"} <= set(u)
    await c.destroy("c1", 0)
    with pytest.raises(NotFoundError):
        await c.usage("c1")
