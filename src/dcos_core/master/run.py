"""Wire and run a master process: store, allocator, HTTP server."""

from __future__ import annotations

import asyncio
import logging
import os

from dcos_core.clock import Clock, SystemClock
from dcos_core.config import MasterSettings
from dcos_core.master.agent_client import HttpAgentClient
from dcos_core.master.api import create_master_app
from dcos_core.master.service import Master
from dcos_core.serve import listen, serve_until_signal
from dcos_core.state import open_store

log = logging.getLogger(__name__)


async def run_master(
    settings: MasterSettings,
    *,
    clock: Clock | None = None,
    install_signal_handlers: bool = True,
    stop: asyncio.Event | None = None,
) -> None:
    """Run the master until SIGTERM/SIGINT (or `stop`)."""
    sock = listen(settings.ip, settings.port, "master")  # before any state is touched
    settings.work_dir.mkdir(parents=True, exist_ok=True)
    store = open_store(
        settings.store, settings.work_dir / "registry.db", name="registry", fresh="a new cluster"
    )
    master = Master(settings, store, HttpAgentClient(), clock or SystemClock())
    app = create_master_app(master, cpus_total=len(os.sched_getaffinity(0)))
    await master.start()
    log.info("master %s listening on %s:%d", master.master_id, settings.ip, settings.port)

    async def on_signal() -> None:
        for s in list(master.streams.values()) + list(master.operator_streams):
            s.close()

    try:
        await serve_until_signal(
            app,
            settings.ip,
            settings.port,
            sock=sock,
            on_signal=on_signal,
            install_signal_handlers=install_signal_handlers,
            stop=stop,
        )
    finally:
        await master.stop()
        store.close()
