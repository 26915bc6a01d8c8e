"""Run an ASGI app with uvicorn until SIGTERM/SIGINT, then shut down in order.

uvicorn's own signal capture is switched off so that the daemon decides the order: first its
`on_signal` hook (close event streams, kill tasks), then the HTTP server stops.

Daemons bind their port with `listen()` first, before they recover state or start anything: a
port in use is one line (`ListenError`, exit 2), not a traceback after a half start.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import signal
import socket
from collections.abc import Awaitable, Callable, Generator
from typing import Any

import uvicorn

from dcos_core.errors import DcosError

log = logging.getLogger(__name__)


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


class ListenError(DcosError):
    """The daemon cannot listen on its address (in use, not local, no permission)."""


def listen(host: str, port: int, what: str = "server") -> socket.socket:
    """A listening TCP socket on host:port, or a `ListenError` saying why not in one line."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY only on connections accepted from a socket
    # whose proto says TCP; with proto 0, Nagle and delayed ACKs stall small writes by 40 ms.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(2048)
    except OSError as e:
        sock.close()
        reason = {
            errno.EADDRINUSE: "the address is already in use (another daemon or program listens "
            "there; stop it or choose another --port)",
            errno.EADDRNOTAVAIL: "that address is not one of this host's (check --ip)",
            errno.EACCES: "permission denied (ports below 1024 need root)",
        }.get(e.errno or 0, e.strerror or str(e))
        raise ListenError(f"{what} cannot listen on {host}:{port}: {reason}") from None
    sock.set_inheritable(False)
    return sock


def uvicorn_server(app: Any, host: str, port: int) -> uvicorn.Server:
    """A uvicorn server for one of our daemons, without its own signal handling."""
    return _Server(
        uvicorn.Config(
            app,
            host=host,
            port=port,
            http="httptools",  # the C HTTP parser (declared in pyproject), not h11
            log_level="warning",
            lifespan="off",
            timeout_graceful_shutdown=2,
            access_log=False,
            # Agents heartbeat every 15 s over one kept-alive connection: keep it open longer
            # than that, so that a heartbeat never races the server closing an idle connection.
            timeout_keep_alive=75,
        )
    )


async def serve_until_signal(
    app: Any,
    host: str,
    port: int,
    *,
    sock: socket.socket | None = None,
    on_signal: Callable[[], Awaitable[None]] | None = None,
    install_signal_handlers: bool = True,
    stop: asyncio.Event | None = None,
) -> None:
    """Serve `app` on host:port (or the listening `sock`) until a signal (or `stop` is set);
    then run `on_signal`."""
    sock = sock or listen(host, port)
    server = uvicorn_server(app, host, port)
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    if install_signal_handlers:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
    serving = asyncio.create_task(server.serve(sockets=[sock]))
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
