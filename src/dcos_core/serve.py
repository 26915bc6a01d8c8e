"""Run an ASGI app with uvicorn until SIGTERM/SIGINT, then shut down in order.

uvicorn's own signal capture is switched off so that the daemon decides the order: first its
`on_signal` hook (close event streams, kill tasks), then the HTTP server stops.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Awaitable, Callable, Generator
from typing import Any

import uvicorn

log = logging.getLogger(__name__)


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


async def serve_until_signal(
    app: Any,
    host: str,
    port: int,
    *,
    on_signal: Callable[[], Awaitable[None]] | None = None,
    install_signal_handlers: bool = True,
    stop: asyncio.Event | None = None,
) -> None:
    """Serve `app` on host:port until a signal (or `stop` is set); then run `on_signal`."""
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level="warning",
        lifespan="off",
        timeout_graceful_shutdown=2,
        access_log=False,
        # Agents heartbeat every 15 s over one kept-alive connection: keep it open longer than
        # that, so that a heartbeat never races the server closing an idle connection.
        timeout_keep_alive=75,
    )
    server = _Server(config)
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    if install_signal_handlers:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
    serving = asyncio.create_task(server.serve())
    stopping = asyncio.create_task(stop.wait())
    done, _ = await asyncio.wait({serving, stopping}, return_when=asyncio.FIRST_COMPLETED)
    if serving in done:
        stopping.cancel()
        serving.result()  # raises if the server could not start (port in use, ...)
        if not server.started:
            raise SystemExit(f"could not serve on {host}:{port}")
        return
    log.info("shutting down")
    if on_signal is not None:
        await on_signal()
    server.should_exit = True
    try:
        await asyncio.wait_for(serving, 8)
    except TimeoutError:
        server.force_exit = True
