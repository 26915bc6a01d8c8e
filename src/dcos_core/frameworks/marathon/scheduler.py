"""Marathon's connection to the master: the SDK `Scheduler` callbacks, forwarded to `Marathon`."""

from __future__ import annotations

import logging
from typing import Any

from dcos_core.frameworks.marathon.service import Marathon
from dcos_core.frameworks.sdk import Scheduler, SchedulerDriver

log = logging.getLogger("dcos_core.marathon.scheduler")


class MarathonScheduler(Scheduler):
    def __init__(self, marathon: Marathon) -> None:
        self.marathon = marathon

    async def on_subscribed(
        self, driver: SchedulerDriver, framework_id: str, master_info: dict[str, Any] | None
    ) -> None:
        log.info("subscribed as framework %s", framework_id)
        await self.marathon.attach(driver, framework_id)

    async def on_offers(self, driver: SchedulerDriver, offers: list[dict[str, Any]]) -> None:
        await self.marathon.handle_offers(offers)

    async def on_update(self, driver: SchedulerDriver, status: dict[str, Any]) -> None:
        self.marathon.on_status(status)

    async def on_error(self, driver: SchedulerDriver, message: str) -> None:
        log.error("the master refused Marathon: %s", message)
