"""`run_marathon(settings)`: the store, the service, the scheduler driver and the HTTP API.

Restarting Marathon keeps every app and running instance: it re-subscribes with the stored
framework id (the master keeps the tasks for `failover_timeout`), reconciles every known task
and kills nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from dcos_core.config import MarathonSettings
from dcos_core.frameworks.marathon.api import create_marathon_app
from dcos_core.frameworks.marathon.events import EventBus
from dcos_core.frameworks.marathon.health_monitor import HealthMonitor
from dcos_core.frameworks.marathon.repository import Repository
from dcos_core.frameworks.marathon.scheduler import MarathonScheduler
from dcos_core.frameworks.marathon.service import Marathon
from dcos_core.frameworks.sdk import SchedulerDriver
from dcos_core.serve import listen, serve_until_signal
from dcos_core.state import open_store
from dcos_core.web import limit_request_bodies

log = logging.getLogger("dcos_core.marathon.run")


def framework_info(settings: MarathonSettings, framework_id: str | None) -> dict[str, object]:
    info: dict[str, object] = {
        "user": settings.user,
        "name": settings.framework_name,
        "failover_timeout": settings.failover_timeout,
        "checkpoint": True,
        "roles": [settings.role],
        "hostname": settings.hostname or settings.ip,
        "webui_url": f"http://{settings.hostname or settings.ip}:{settings.port}",
        "capabilities": [
            {"type": "PARTITION_AWARE"},
            {"type": "TASK_KILLING_STATE"},
            {"type": "MULTI_ROLE"},
        ],
    }
    if framework_id:
        info["id"] = {"value": framework_id}
    return info


async def run_marathon(settings: MarathonSettings, *, install_signal_handlers: bool = True) -> None:
    sock = listen(settings.ip, settings.port, "Marathon")  # before any state is touched
    settings.work_dir.mkdir(parents=True, exist_ok=True)
    store = open_store(settings.store, settings.work_dir / "marathon.db")
    events = EventBus()
    marathon = Marathon(
        Repository(store),
        events=events,
        role=settings.role,
        tick_interval=settings.tick_interval,
    )
    marathon.health = HealthMonitor(marathon)
    marathon.load()
    driver = SchedulerDriver(
        settings.master,
        framework_info(settings, marathon.framework_id),
        MarathonScheduler(marathon),
    )
    app = create_marathon_app(
        marathon, hostname=settings.hostname or settings.ip, port=settings.port
    )
    limit_request_bodies(app, settings.max_body_size)
    loops = [
        asyncio.create_task(driver.run(), name="marathon-driver"),
        asyncio.create_task(marathon.run(), name="marathon-tick"),
    ]

    async def on_signal() -> None:
        driver.stop()

    try:
        await serve_until_signal(
            app,
            settings.ip,
            settings.port,
            sock=sock,
            on_signal=on_signal,
            install_signal_handlers=install_signal_handlers,
        )
    finally:
        for t in loops:
            t.cancel()
        for t in loops:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
        await marathon.health.close()
        events.close()
        store.close()
        log.info("marathon stopped")
