"""The containerizers' shared bookkeeping: one destruction per container, uncancellable waits."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import pytest

from dcos_core.containerizer import bookkeeping
from dcos_core.containerizer.spec import Termination
from dcos_core.errors import ConflictError, IsolationError, NotFoundError


@dataclass
class Record:
    done: asyncio.Future[Termination]
    destroying: asyncio.Task[None] | None = None


def record() -> Record:
    return Record(asyncio.get_running_loop().create_future())


async def test_concurrent_and_later_destroys_wait_for_one_destruction() -> None:
    r = record()
    runs: list[int] = []
    release = asyncio.Event()

    async def destroy() -> None:
        runs.append(1)
        await release.wait()
        r.done.set_result(Termination.from_returncode(0))

    first = asyncio.create_task(bookkeeping.destroy_once(r, destroy))
    second = asyncio.create_task(bookkeeping.destroy_once(r, destroy))
    await asyncio.sleep(0)
    assert not first.done() and not second.done()
    release.set()
    await asyncio.gather(first, second)
    await bookkeeping.destroy_once(r, destroy)  # already destroyed: returns at once
    assert runs == [1]


async def test_a_cancelled_caller_does_not_stop_the_destruction() -> None:
    r = record()
    finished = asyncio.Event()

    async def destroy() -> None:
        await asyncio.sleep(0.01)
        finished.set()

    caller = asyncio.create_task(bookkeeping.destroy_once(r, destroy))
    await asyncio.sleep(0)
    caller.cancel()
    with pytest.raises(asyncio.CancelledError):
        await caller
    await asyncio.wait_for(finished.wait(), 1)


async def test_a_failed_destruction_is_seen_by_every_caller() -> None:
    r = record()

    async def destroy() -> None:
        raise IsolationError("processes survive SIGKILL")

    for _ in range(2):
        with pytest.raises(IsolationError, match="survive"):
            await bookkeeping.destroy_once(r, destroy)


async def test_a_cancelled_wait_leaves_the_termination_to_the_others() -> None:
    r = record()
    cancelled = asyncio.create_task(bookkeeping.wait_done(r))
    other = asyncio.create_task(bookkeeping.wait_done(r))
    await asyncio.sleep(0)
    cancelled.cancel()
    r.done.set_result(Termination.from_returncode(3))
    assert (await other).exit_code == 3
    assert cancelled.cancelled()


async def test_ids_conflicts_unknowns_and_the_live_containers() -> None:
    a, b = record(), record()
    containers = {"a": a, "b": b}
    with pytest.raises(ConflictError, match="container a already exists"):
        bookkeeping.check_new(containers, "a")
    with pytest.raises(NotFoundError, match="unknown container c"):
        bookkeeping.known(containers, "c")
    assert bookkeeping.known(containers, "b") is b

    async def destroy() -> None:
        return None

    await bookkeeping.destroy_once(b, destroy)
    assert bookkeeping.live(containers) == ["a"]  # b is being (or was) destroyed
