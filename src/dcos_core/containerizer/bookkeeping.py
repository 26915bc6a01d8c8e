"""The bookkeeping every containerizer does over its containers, by container id.

A containerizer keeps a record per container in a `dict` by id; these functions are the rules of
`base.Containerizer` said once: a second launch of an id is a conflict, an unknown id is not
found, `wait` survives the cancellation of its caller, and one destruction at a time runs per
container (concurrent and repeated `destroy` calls wait for it).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Mapping
from typing import Any, Protocol, TypeVar

from dcos_core.containerizer.spec import Termination
from dcos_core.errors import ConflictError, NotFoundError

R = TypeVar("R")


class Running(Protocol):
    """A container's record: `done` is resolved with its `Termination` when it ends."""

    done: asyncio.Future[Termination]


class Destroyable(Running, Protocol):
    """A record that remembers its destruction (None until the first `destroy`)."""

    destroying: asyncio.Task[None] | None


def check_new(containers: Mapping[str, object], container_id: str) -> None:
    """Raise `ConflictError` if `container_id` is already launched.

    Example:
        >>> check_new({"c1": object()}, "c2")
        >>> check_new({"c1": object()}, "c1")
        Traceback (most recent call last):
        ...
        dcos_core.errors.ConflictError: container c1 already exists
    """
    if container_id in containers:
        raise ConflictError(f"container {container_id} already exists")


def known(containers: Mapping[str, R], container_id: str) -> R:
    """The record of `container_id`; `NotFoundError` for an unknown container.

    Example:
        >>> known({"c1": 1}, "c1")
        1
        >>> known({"c1": 1}, "c2")
        Traceback (most recent call last):
        ...
        dcos_core.errors.NotFoundError: unknown container c2
    """
    record = containers.get(container_id)
    if record is None:
        raise NotFoundError(f"unknown container {container_id}")
    return record


async def wait_done(record: Running) -> Termination:
    """The container's `Termination`, once it ends; a cancelled caller does not cancel `done`."""
    return await asyncio.shield(record.done)


async def destroy_once(
    record: Destroyable, destroy: Callable[[], Coroutine[Any, Any, None]]
) -> None:
    """Start `destroy()` unless the container's destruction was started, and wait for it.

    The destruction runs as a task of its own, shielded: a cancelled caller does not stop it,
    and every caller (concurrent or later) waits for the same one and sees how it ended.
    """
    if record.destroying is None:
        record.destroying = asyncio.create_task(destroy())
    await asyncio.shield(record.destroying)


def live(containers: Mapping[str, Destroyable]) -> list[str]:
    """Ids of the containers whose destruction has not started (`Containerizer.containers`)."""
    return [cid for cid, record in containers.items() if record.destroying is None]
