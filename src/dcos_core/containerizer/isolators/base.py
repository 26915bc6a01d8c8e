"""The isolator seam (Mesos `mesos::slave::Isolator`), as data in and data out.

For each container the `MesosContainerizer` calls, in order: `prepare` (before the launcher
starts: returns a `LaunchFragment` the containerizer merges into the launcher's configuration),
`watch` (after the task started: returns a `Limitation` if the container outgrows what it was
given; cancelled when the container ends), `usage` (for `/monitor/statistics`) and `cleanup`
(after every process of the container is gone). After an agent restart, `recover` is given the
containers to keep and those to clean up.
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from dcos_core.containerizer.spec import LaunchSpec


@dataclass
class LaunchFragment:
    """What one isolator adds to a container's launch (merged by the containerizer)."""

    namespaces: set[str] = field(default_factory=set)
    cgroups: list[str] = field(default_factory=list)
    mounts: list[dict[str, Any]] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    rootfs_overlay: dict[str, str] | None = None
    cwd: str | None = None
    hostname: str | None = None


@dataclass(frozen=True)
class Limitation:
    """A container went past one of its limits; the containerizer destroys it."""

    reason: str
    message: str


@dataclass(frozen=True)
class ContainerView:
    """What isolators know about a running container (also rebuilt on recovery)."""

    container_id: str
    spec: LaunchSpec
    pids: Any = None
    """A callable returning the host pids of the container's processes."""


class Isolator(Protocol):
    """One isolation concern. Methods are idempotent where the docstring says so."""

    name: str

    async def prepare(self, spec: LaunchSpec) -> LaunchFragment:
        """Set up before launch (create cgroups, resolve images...); `IsolationError` or
        `InvalidError` refuses the launch. Everything created must be undone by `cleanup`."""
        ...

    async def watch(self, view: ContainerView) -> Limitation:
        """Return when the container breaks a limit; may run forever (it is cancelled)."""
        ...

    async def usage(self, view: ContainerView) -> Mapping[str, Any]:
        """Statistics in Mesos `ResourceStatistics` names; {} if this isolator measures nothing."""
        ...

    async def cleanup(self, container_id: str) -> None:
        """Release what `prepare` created. Idempotent; unknown ids are a no-op."""
        ...

    async def recover(self, keep: Collection[str], orphans: Collection[str]) -> None:
        """After an agent restart: keep the state of `keep`, clean up `orphans` and anything
        else of this isolator that belongs to no kept container."""
        ...


class NoOpIsolator:
    """Base class with do-nothing defaults; subclasses override what they need."""

    name = "noop"

    async def prepare(self, spec: LaunchSpec) -> LaunchFragment:
        return LaunchFragment()

    async def watch(self, view: ContainerView) -> Limitation:
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    async def usage(self, view: ContainerView) -> Mapping[str, Any]:
        return {}

    async def cleanup(self, container_id: str) -> None:
        return None

    async def recover(self, keep: Collection[str], orphans: Collection[str]) -> None:
        return None
