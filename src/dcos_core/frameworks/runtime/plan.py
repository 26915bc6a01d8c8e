"""What a framework decided to do with one round of offers, and the one function that does it.

A service matches its waiting work against offers and returns a `LaunchPlan`: the TaskInfos to
launch on each offer used, and the offers left over with how long the master should keep them
away. `execute` sends it: one ACCEPT per offer used (a few in flight at once), then one DECLINE
for the rest. Kills go the same way: the service decides `Kill`s, `send_kills` sends them.
Failures are logged and left to the next round (a failed ACCEPT comes back as TASK_DROPPED or
TASK_LOST, a lost KILL is sent again after reconciliation).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Final

from dcos_core.frameworks.runtime.driver import Driver
from dcos_core.frameworks.sdk_protocol import Json, launch, offer_id

log = logging.getLogger("dcos_core.frameworks.runtime")

ACCEPT_CONCURRENCY: Final = 16  # ACCEPT calls in flight (one per offer used)
KILL_CONCURRENCY: Final = 32


@dataclass(frozen=True)
class LaunchPlan:
    """TaskInfos per offer id, and the offers nobody used.

    Attributes:
        launches: offer id -> the TaskInfos launched on it (offers in the order they were used).
        declined: the ids of the offers not used.
        accept_refuse_seconds: the filter sent with each ACCEPT (what is left of an offer).
        decline_refuse_seconds: the filter sent with the DECLINE.
    """

    launches: Mapping[str, Sequence[Json]]
    declined: tuple[str, ...]
    accept_refuse_seconds: float | None
    decline_refuse_seconds: float | None

    @classmethod
    def of(
        cls,
        offers: Iterable[Json],
        launches: Mapping[str, Sequence[Json]],
        *,
        accept_refuse_seconds: float | None,
        decline_refuse_seconds: float | None,
    ) -> LaunchPlan:
        """The plan that launches `launches` and declines every other offer of `offers`.

        Example:
            >>> p = LaunchPlan.of([{"id": {"value": "O1"}}, {"id": {"value": "O2"}}],
            ...     {"O1": [{"name": "t"}]}, accept_refuse_seconds=1, decline_refuse_seconds=60)
            >>> p.declined
            ('O2',)
        """
        used = {k: list(v) for k, v in launches.items() if v}
        declined = tuple(oid for oid in map(offer_id, offers) if oid not in used)
        return cls(used, declined, accept_refuse_seconds, decline_refuse_seconds)

    @classmethod
    def decline_all(cls, offers: Iterable[Json], refuse_seconds: float | None) -> LaunchPlan:
        """Nothing to launch: every offer declined for `refuse_seconds`."""
        return cls.of(offers, {}, accept_refuse_seconds=None, decline_refuse_seconds=refuse_seconds)

    @property
    def task_count(self) -> int:
        return sum(len(v) for v in self.launches.values())


async def execute(driver: Driver, plan: LaunchPlan) -> None:
    """Send `plan`: the ACCEPTs (`ACCEPT_CONCURRENCY` at once), then one DECLINE."""
    slots = asyncio.Semaphore(ACCEPT_CONCURRENCY)

    async def accept(oid: str, infos: Sequence[Json]) -> None:
        async with slots:
            try:
                await driver.accept([oid], [launch(infos)], plan.accept_refuse_seconds)
            except Exception as e:  # the tasks come back TASK_DROPPED/LOST: launched again
                log.warning("ACCEPT of offer %s failed: %s", oid, e)

    await asyncio.gather(*(accept(oid, infos) for oid, infos in plan.launches.items()))
    if plan.declined:
        with contextlib.suppress(Exception):
            await driver.decline(list(plan.declined), refuse_seconds=plan.decline_refuse_seconds)


@dataclass(frozen=True)
class Kill:
    """One task to kill; `grace_period` overrides the task's own (None: keep it)."""

    task_id: str
    agent_id: str | None = None
    grace_period: float | None = None


async def send_kills(driver: Driver, kills: Iterable[Kill]) -> None:
    """Send KILLs, `KILL_CONCURRENCY` at once; a failure is logged (sent again later)."""
    slots = asyncio.Semaphore(KILL_CONCURRENCY)

    async def kill(k: Kill) -> None:
        async with slots:
            try:
                await driver.kill(k.task_id, k.agent_id, k.grace_period)
            except Exception as e:  # resent after the next reconciliation
                log.warning("kill of %s failed: %s", k.task_id, e)

    await asyncio.gather(*(kill(k) for k in kills))


class ReviveTimer:
    """When to REVIVE: as soon as work starts waiting for offers, then every `every` seconds
    while it waits (a lost REVIVE, or offers declined meanwhile, must not leave it waiting).

    Example:
        >>> r = ReviveTimer(2.0)
        >>> [r.due(waiting=w, now=t) for w, t in [(True, 0), (True, 1), (True, 2), (False, 3)]]
        [True, False, True, False]
    """

    def __init__(self, every: float) -> None:
        self.every = every
        self._waiting = False
        self._revived_at = 0.0

    def due(self, *, waiting: bool, now: float) -> bool:
        """Whether to REVIVE now (`now`: a monotonic time); remembers that it did."""
        due = waiting and (not self._waiting or now - self._revived_at >= self.every)
        if due:
            self._revived_at = now
        self._waiting = waiting
        return due
