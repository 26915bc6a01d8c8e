"""Chronos' connection to the master: SDK callbacks forwarded to `Chronos`."""

from __future__ import annotations

import logging
from typing import Any

from dcos_core.frameworks.chronos.service import Chronos
from dcos_core.frameworks.sdk import Scheduler, SchedulerDriver

log = logging.getLogger("dcos_core.chronos.scheduler")


class ChronosScheduler(Scheduler):
    def __init__(self, chronos: Chronos) -> None:
        self.chronos = chronos

    async def on_subscribed(
        self, driver: SchedulerDriver, framework_id: str, master_info: dict[str, Any] | None
    ) -> None:
        log.info("subscribed as framework %s", framework_id)
        await self.chronos.attach(driver, framework_id)

    async def on_offers(self, driver: SchedulerDriver, offers: list[dict[str, Any]]) -> None:
        await self.chronos.handle_offers(offers)

    async def on_update(self, driver: SchedulerDriver, status: dict[str, Any]) -> None:
        # Recorded in the ledger before returning: the SDK acknowledges only afterwards.
        self.chronos.on_status(status)
