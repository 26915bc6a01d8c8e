"""Marathon health probes against real loopback servers and real commands."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from dcos_core.clock import SystemClock
from dcos_core.frameworks.marathon.health import (
    HealthChecker,
    probe_command,
    probe_http,
    probe_tcp,
)

pytestmark = pytest.mark.integration

LOOPBACK = "127.0.0.1"


class FlakyServer:
    """Answers `GET` with 200 for the first `good` requests, then 500 (Connection: close)."""

    def __init__(self, good: int = 1) -> None:
        self.good = good
        self.requests: list[str] = []
        self.server: asyncio.Server | None = None
        self.port = 0

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._handle, LOOPBACK, 0)
        self.port = self.server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            self.requests.append(head.split(b"\r\n", 1)[0].decode())
            ok = len(self.requests) <= self.good
            status = b"200 OK" if ok else b"500 Internal Server Error"
            body = b"ok" if ok else b"nope"
            writer.write(
                b"HTTP/1.1 " + status + b"\r\nContent-Length: " + str(len(body)).encode()
                + b"\r\nConnection: close\r\n\r\n" + body
            )  # fmt: skip
            await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


class SilentServer:
    """Accepts connections and never answers."""

    def __init__(self) -> None:
        self.server: asyncio.Server | None = None
        self.port = 0
        self._writers: list[asyncio.StreamWriter] = []

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._handle, LOOPBACK, 0)
        self.port = self.server.sockets[0].getsockname()[1]

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.append(writer)
        await asyncio.sleep(3600)

    async def stop(self) -> None:
        for w in self._writers:
            w.close()
        if self.server is not None:
            self.server.close()


@pytest.fixture
async def flaky() -> AsyncIterator[FlakyServer]:
    s = FlakyServer(good=1)
    await s.start()
    yield s
    await s.stop()


@pytest.fixture
async def silent() -> AsyncIterator[SilentServer]:
    s = SilentServer()
    await s.start()
    yield s
    await s.stop()


def closed_port() -> int:
    with socket.socket() as s:
        s.bind((LOOPBACK, 0))
        port: int = s.getsockname()[1]
    return port


async def test_http_probe_200_then_500(flaky: FlakyServer) -> None:
    assert await probe_http(LOOPBACK, flaky.port, "/health", 2.0) == (True, None)
    ok, cause = await probe_http(LOOPBACK, flaky.port, "health", 2.0)
    assert ok is False and cause == "500 Internal Server Error"
    assert flaky.requests == ["GET /health HTTP/1.1", "GET /health HTTP/1.1"]


async def test_http_probe_refused_and_timeout(silent: SilentServer) -> None:
    ok, cause = await probe_http(LOOPBACK, closed_port(), "/", 2.0)
    assert ok is False and cause
    t = time.monotonic()
    ok, cause = await probe_http(LOOPBACK, silent.port, "/", 0.2)
    assert ok is False and cause is not None and "timed out" in cause
    assert time.monotonic() - t < 2.0


async def test_tcp_probe(flaky: FlakyServer) -> None:
    assert await probe_tcp(LOOPBACK, flaky.port, 2.0) == (True, None)
    ok, cause = await probe_tcp(LOOPBACK, closed_port(), 2.0)
    assert ok is False and cause


async def test_command_probe() -> None:
    assert await probe_command("true", 2.0) == (True, None)
    ok, cause = await probe_command("false", 2.0)
    assert ok is False and cause == "command exited with status 1"
    assert await probe_command('test "$CHECK_ME" = yes', 2.0, {"CHECK_ME": "yes"}) == (True, None)
    t = time.monotonic()
    ok, cause = await probe_command("sleep 5", 0.2)
    assert ok is False and cause is not None and "timed out" in cause
    assert time.monotonic() - t < 2.0


@dataclass
class HC:
    """Stand-in with the attributes of models.HealthCheck."""

    protocol: str = "HTTP"
    path: str | None = "/"
    port_index: int | None = 0
    port: int | None = None
    command: dict[str, Any] | None = None
    grace_period_seconds: float = 0.0
    interval_seconds: float = 0.05
    timeout_seconds: float = 1.0
    max_consecutive_failures: int = 2
    ignore_http1xx: bool = False
    delay_seconds: float = 0.0


@dataclass
class Inst:
    task_id: str = "web.1"
    host: str = LOOPBACK
    ports: list[int] = field(default_factory=list)


async def test_checker_against_a_real_server(flaky: FlakyServer) -> None:
    events: list[tuple[Any, ...]] = []
    killed = asyncio.Event()

    def on_kill(task_id: str, reason: str) -> None:
        events.append(("kill", task_id, reason))
        killed.set()

    checker = HealthChecker(SystemClock())
    checker.start(
        Inst(ports=[flaky.port]),
        [
            HC(),
            HC(protocol="COMMAND", command={"value": 'test -n "$PORT0"'}, interval_seconds=0.05),
        ],
        lambda tid, i, r: events.append(("change", tid, i, r.alive)),
        on_kill,
    )
    try:
        await asyncio.wait_for(killed.wait(), 10)
        # the COMMAND check (a process each time) may lag behind on a loaded machine
        async with asyncio.timeout(10):
            while ("change", "web.1", 1, True) not in events:
                await asyncio.sleep(0.01)
    finally:
        results = checker.results("web.1")
        await checker.close()
    http_events = [e for e in events if e[0] == "kill" or e[2] == 0]
    assert http_events == [
        ("change", "web.1", 0, True),
        ("change", "web.1", 0, False),
        ("kill", "web.1", "500 Internal Server Error"),
    ]
    assert ("change", "web.1", 1, True) in events  # the COMMAND check passes
    assert results[0].consecutive_failures == 3 and results[1].alive
    assert len(flaky.requests) == 4  # one success, then max_consecutive_failures + 1 failures
