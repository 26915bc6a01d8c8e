"""A scheduler driver that records what a framework service asks of it (no master).

Used by the unit tests of Chronos: `tasks` holds every TaskInfo sent in an ACCEPT, `killed`
every task id killed; `launched` is the task ids of `tasks`.
"""

from __future__ import annotations

from typing import Any


class RecordingDriver:
    def __init__(self) -> None:
        self.tasks: list[dict[str, Any]] = []
        self.killed: list[str] = []

    @property
    def launched(self) -> list[str]:
        return [t["task_id"]["value"] for t in self.tasks]

    async def accept(
        self, offer_ids: list[str], operations: list[dict[str, Any]], refuse_seconds: float | None
    ) -> None:
        for op in operations:
            self.tasks += op["launch"]["task_infos"]

    async def decline(self, offer_ids: list[str], refuse_seconds: float | None = None) -> None:
        pass

    async def kill(
        self, task_id: str, agent_id: str | None = None, grace_period: float | None = None
    ) -> None:
        self.killed.append(task_id)

    async def revive(self, roles: list[str] | None = None) -> None:
        pass

    async def reconcile(self, tasks: list[tuple[str, str | None]] = []) -> None:  # noqa: B006
        pass
