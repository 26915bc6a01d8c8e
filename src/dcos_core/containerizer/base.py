"""The `Containerizer` seam: launch, wait for, destroy and measure containers.

Implementations: `posix.PosixContainerizer` (a process group per container) and
`simulated.SimulatedContainerizer` (no processes). The next implementations (an isolator pipeline
with cgroups/namespaces, a Docker containerizer) plug in through `registry.CONTAINERIZERS`.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any, Protocol

from dcos_core.containerizer.spec import LaunchSpec, Termination


class Containerizer(Protocol):
    """Runs containers described by `LaunchSpec`s. All methods run on the agent's event loop."""

    async def launch(self, spec: LaunchSpec) -> int | None:
        """Start the container; return the pid of its main process (None if it has none).

        Called once per container by the executor. Not idempotent: a second launch with the
        same `container_id` raises `ConflictError`. Any failure to start raises `IsolationError`
        (or `InvalidError` for a spec this containerizer cannot run); nothing is left behind.
        """
        ...

    async def wait(self, container_id: str) -> Termination:
        """Wait until the container's main process has exited, and say how.

        May be called any number of times, concurrently, until `destroy` has finished; every
        caller gets the same `Termination`. Raises `NotFoundError` for an unknown container.
        """
        ...

    async def destroy(self, container_id: str, grace_period: float) -> None:
        """Kill every process of the container and forget it.

        Sends SIGTERM to all of them, SIGKILL to whatever is left after `grace_period` seconds,
        and returns once none is left. Called on a kill and after the main process exited (to
        reap leftovers). Idempotent; concurrent calls wait for the same destruction; an unknown
        container is a no-op.
        """
        ...

    async def usage(self, container_id: str) -> dict[str, Any]:
        """Resource statistics in Mesos `ResourceStatistics` names (`timestamp`,
        `cpus_user_time_secs`, `cpus_system_time_secs`, `mem_rss_bytes`, `processes`, ...).

        Called by `/monitor/statistics`; read-only. Raises `NotFoundError` for an unknown id.
        """
        ...

    def containers(self) -> list[str]:
        """Ids of the containers launched and not yet destroyed."""
        ...

    async def recover(self, keep: Collection[str]) -> set[str]:
        """After an agent restart: find the containers this containerizer launched before.

        Containers whose id is in `keep` are re-attached: `wait`, `destroy` and `usage` work
        for them again, and `wait` returns the recorded `Termination` of one that ended while
        the agent was down. Every other container found (an orphan) is destroyed and its
        resources (cgroups, runtime files) are cleaned up. Returns the ids re-attached; an id of
        `keep` that is not returned no longer exists (its termination is unknown).
        Called once, before any `launch`.
        """
        ...
