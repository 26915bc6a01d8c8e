"""`run_chronos(settings)`: the store, the service, the scheduler driver and the HTTP API."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from dcos_core.config import ChronosSettings
from dcos_core.frameworks.chronos.api import create_chronos_app
from dcos_core.frameworks.chronos.scheduler import ChronosScheduler
from dcos_core.frameworks.chronos.service import Chronos
from dcos_core.frameworks.sdk import SchedulerDriver
from dcos_core.serve import listen, serve_until_signal
from dcos_core.state import open_store
from dcos_core.web import limit_request_bodies

log = logging.getLogger("dcos_core.chronos.run")


async def run_chronos(settings: ChronosSettings, *, install_signal_handlers: bool = True) -> None:
    sock = listen(settings.ip, settings.port, "Chronos")  # before any state is touched
    settings.work_dir.mkdir(parents=True, exist_ok=True)
    store = open_store(settings.store, settings.work_dir / "chronos.db")
    chronos = Chronos(
        store,
        role=settings.role,
        tick_interval=settings.tick_interval,
        retry_delay=settings.failure_retry_delay,
        prelaunch=settings.prelaunch,
        default_user=settings.user,
    )
    chronos.load()
    info: dict[str, object] = {
        "user": settings.user,
        "name": settings.framework_name,
        "failover_timeout": settings.failover_timeout,
        "checkpoint": True,
        "roles": [settings.role],
        "hostname": settings.hostname or settings.ip,
        "webui_url": f"http://{settings.hostname or settings.ip}:{settings.port}",
        "capabilities": [{"type": "PARTITION_AWARE"}, {"type": "MULTI_ROLE"}],
    }
    if chronos.framework_id:
        info["id"] = {"value": chronos.framework_id}
    driver = SchedulerDriver(settings.master, info, ChronosScheduler(chronos))
    loops = [
        asyncio.create_task(driver.run(), name="chronos-driver"),
        asyncio.create_task(chronos.run(), name="chronos-tick"),
    ]

    async def on_signal() -> None:
        driver.stop()

    app = create_chronos_app(chronos)
    limit_request_bodies(app, settings.max_body_size)
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
        store.close()
        log.info("chronos stopped")
