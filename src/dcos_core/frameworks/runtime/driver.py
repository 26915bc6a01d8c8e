"""`Driver`: what a framework service asks of its scheduler driver, and one that only records.

`sdk.SchedulerDriver` satisfies it over HTTP; `RecordingDriver` keeps every call in memory, for
tests and for running a service without a master.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from dcos_core.frameworks.sdk_protocol import Json


class Driver(Protocol):
    """The calls a framework service makes to the master (all may raise; callers decide)."""

    async def accept(
        self, offer_ids: Sequence[str], operations: Sequence[Json], refuse_seconds: float | None
    ) -> None:
        """Accept offers with operations; what is left of them is declined."""

    async def decline(self, offer_ids: Sequence[str], refuse_seconds: float | None = None) -> None:
        """Decline offers, refused for `refuse_seconds`."""

    async def kill(
        self, task_id: str, agent_id: str | None = None, grace_period: float | None = None
    ) -> None:
        """Kill a task (idempotent at the master: a second kill of an ended task is harmless)."""

    async def revive(self, roles: Sequence[str] | None = None) -> None:
        """Clear offer filters: offers come again."""

    async def reconcile(self, tasks: Sequence[tuple[str, str | None]] = ()) -> None:
        """Ask for the state of `tasks` (empty: every task the master knows of)."""


@dataclass
class RecordingDriver:
    """A `Driver` that records every call (no master).

    Example:
        >>> d = RecordingDriver()
        >>> import asyncio; asyncio.run(d.kill("t1"))
        >>> d.killed
        ['t1']
    """

    accepted: list[tuple[list[str], list[Json]]] = field(default_factory=list)
    declined: list[str] = field(default_factory=list)
    killed: list[str] = field(default_factory=list)
    revived: int = 0
    reconciled: list[list[tuple[str, str | None]]] = field(default_factory=list)

    @property
    def tasks(self) -> list[Json]:
        """Every TaskInfo sent in a LAUNCH, in order."""
        return [t for _ids, ops in self.accepted for op in ops for t in op["launch"]["task_infos"]]

    @property
    def launched(self) -> list[str]:
        """The task ids of `tasks`."""
        return [t["task_id"]["value"] for t in self.tasks]

    async def accept(
        self, offer_ids: Sequence[str], operations: Sequence[Json], refuse_seconds: float | None
    ) -> None:
        self.accepted.append((list(offer_ids), list(operations)))

    async def decline(self, offer_ids: Sequence[str], refuse_seconds: float | None = None) -> None:
        self.declined.extend(offer_ids)

    async def kill(
        self, task_id: str, agent_id: str | None = None, grace_period: float | None = None
    ) -> None:
        self.killed.append(task_id)

    async def revive(self, roles: Sequence[str] | None = None) -> None:
        self.revived += 1

    async def reconcile(self, tasks: Sequence[tuple[str, str | None]] = ()) -> None:
        self.reconciled.append(list(tasks))
