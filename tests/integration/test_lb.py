"""The load balancer against a stub Marathon, real HAProxy and real backends, all on loopback.

The stub Marathon serves `/v2/apps` from a dict and an SSE `/v2/events` the test pushes into;
backends are asyncio HTTP servers answering their own name. `run_lb` runs in the test's loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import json
import os
import shutil
import socket
import threading
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

from dcos_core.frameworks.lb.reload import HAProxy
from dcos_core.frameworks.lb.service import run_lb
from dcos_core.frameworks.lb.settings import LbSettings

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(shutil.which("haproxy") is None, reason="needs the haproxy binary"),
]

APP = "/web"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class StubMarathon:
    """`GET /v2/apps` from `apps` and an SSE `GET /v2/events` fed by `push`."""

    def __init__(self) -> None:
        self.apps: dict[str, dict[str, Any]] = {}
        self.subscribers: list[asyncio.Queue[dict[str, Any] | None]] = []
        self.app_reads = 0
        self.event_queries: list[str] = []
        self.api = FastAPI()
        self.api.get("/v2/apps")(self._apps)
        self.api.get("/v2/events")(self._events)
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.server = uvicorn.Server(
            uvicorn.Config(self.api, log_level="warning", timeout_graceful_shutdown=1)
        )
        self._task: asyncio.Task[None] | None = None

    async def _apps(self, request: Request) -> Response:
        self.app_reads += 1
        assert request.query_params.get("embed") == "apps.tasks"
        return JSONResponse({"apps": [self.apps[k] for k in sorted(self.apps)]})

    async def _events(self, request: Request) -> Response:
        if request.headers.get("accept") != "text/event-stream":
            return Response(status_code=405)
        self.event_queries.append(str(request.query_params))
        queue: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()
        self.subscribers.append(queue)

        async def stream() -> AsyncIterator[str]:
            try:
                attached = {"eventType": "event_stream_attached", "remoteAddress": "127.0.0.1"}
                yield f"event: event_stream_attached\r\ndata: {json.dumps(attached)}\r\n\r\n"
                while (event := await queue.get()) is not None:
                    yield f"event: {event['eventType']}\r\ndata: {json.dumps(event)}\r\n\r\n"
            finally:
                self.subscribers.remove(queue)

        return StreamingResponse(stream(), media_type="text/event-stream")

    def push(self, event_type: str, **body: Any) -> None:
        for q in self.subscribers:
            q.put_nowait({"eventType": event_type, "timestamp": "2024-01-01T00:00:00.000Z", **body})

    def drop_streams(self) -> None:
        for q in self.subscribers:
            q.put_nowait(None)

    async def start(self) -> None:
        self._task = asyncio.create_task(self.server.serve(sockets=[self.sock]))
        while not self.server.started:
            await asyncio.sleep(0.01)

    async def stop(self) -> None:
        self.drop_streams()
        self.server.should_exit = True
        if self._task is not None:
            await self._task


@dataclass
class Backend:
    """An HTTP server answering its own name; `hits` counts the requests it served."""

    name: str
    port: int = 0
    hits: int = 0
    server: asyncio.Server | None = field(default=None, repr=False)

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = int(self.server.sockets[0].getsockname()[1])

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError, asyncio.IncompleteReadError):
            await reader.readuntil(b"\r\n\r\n")
            self.hits += 1
            body = self.name.encode()
            writer.write(
                b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\n"
                b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
            )
            await writer.drain()
        writer.close()

    async def stop(self) -> None:
        assert self.server is not None
        self.server.close()
        await self.server.wait_closed()


def task_of(b: Backend, state: str = "TASK_RUNNING", alive: bool | None = None) -> dict[str, Any]:
    t: dict[str, Any] = {
        "id": f"web.{b.name}",
        "appId": APP,
        "host": "127.0.0.1",
        "ports": [b.port],
        "state": state,
        "slaveId": "agent-1",
    }
    if alive is not None:
        t["healthCheckResults"] = [{"alive": alive, "consecutiveFailures": 0 if alive else 3}]
    return t


def web_app(port: int, tasks: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {
        "id": APP,
        "instances": len(tasks),
        "labels": {"HAPROXY_GROUP": "external"},
        "portDefinitions": [{"port": port, "protocol": "tcp", "name": "http"}],
        "tasks": tasks,
        "healthChecks": [],
        **extra,
    }


def get(port: int, host: str | None = None, timeout: float = 2.0) -> str:
    """One request on a fresh connection; the answering backend's name."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", "/", headers={"Connection": "close", "Host": host or "lb"})
        r = conn.getresponse()
        body = r.read().decode()
        if r.status != 200:
            raise RuntimeError(f"HTTP {r.status}: {body[:100]}")
        return body
    finally:
        conn.close()


async def names(port: int, n: int, host: str | None = None) -> Counter[str]:
    return Counter([await asyncio.to_thread(get, port, host) for _ in range(n)])


async def wait_for(cond: Callable[[], bool], timeout: float = 10.0, what: str = "") -> float:
    start = time.monotonic()
    while not cond():
        if time.monotonic() - start > timeout:
            raise AssertionError(f"timed out after {timeout}s waiting for {what or cond}")
        await asyncio.sleep(0.02)
    return time.monotonic() - start


@dataclass
class Env:
    marathon: StubMarathon
    settings: LbSettings
    haproxy: HAProxy
    port: int
    backends: list[Backend]

    async def backend(self, name: str) -> Backend:
        b = Backend(name)
        await b.start()
        self.backends.append(b)
        return b

    def config(self) -> str:
        return self.haproxy.current_config or ""

    def serves(self, b: Backend) -> bool:
        return f"server web.{b.name} 127.0.0.1:{b.port} check" in self.config()

    def settled(self) -> bool:
        """The live config has no older worker still finishing connections."""
        try:
            return self.haproxy.running and not self.haproxy.info().old_workers
        except OSError:
            return False


@pytest.fixture
async def env(tmp_path: Path) -> AsyncIterator[Env]:
    marathon = StubMarathon()
    await marathon.start()
    settings = LbSettings(
        marathon=marathon.url,
        work_dir=tmp_path / "lb",
        http_port=free_port(),
        stats_port=free_port(),
        min_reload_interval=0.2,
    )
    haproxy = HAProxy(settings.work_dir, settings.haproxy)
    e = Env(marathon, settings, haproxy, free_port(), [])
    lb = asyncio.create_task(run_lb(marathon.url, settings, haproxy=haproxy))
    try:
        yield e
    finally:
        master = haproxy.pid
        lb.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await lb
        assert haproxy.pid is None
        if master is not None:  # stopped: the PID is gone (or reaped) after stop()
            with pytest.raises(ProcessLookupError):
                os.kill(master, 0)
        await marathon.stop()
        for b in e.backends:
            with contextlib.suppress(Exception):
                await b.stop()


async def start_web(env: Env, n: int = 3) -> list[Backend]:
    backends = [await env.backend(f"b{i}") for i in range(n)]
    env.marathon.apps[APP] = web_app(env.port, [task_of(b) for b in backends])
    env.marathon.push("api_post_event", appDefinition={"id": APP})
    await wait_for(lambda: all(env.serves(b) for b in backends), what="3 servers in haproxy")
    await wait_for(lambda: len(env.marathon.subscribers) == 1, what="event stream attached")
    return backends


async def test_round_robin_scale_down_vhost_and_stream_reconnect(env: Env) -> None:
    b0, b1, b2 = await start_web(env)
    assert "event_type=status_update_event" in env.marathon.event_queries[0]
    assert "plan-format=light" in env.marathon.event_queries[0]
    seen = await names(env.port, 30)
    assert seen == Counter({"b0": 10, "b1": 10, "b2": 10}), seen  # round-robin

    # A burst of 50 events is coalesced into very few re-reads, and no reload (nothing changed).
    reads, reloads = env.marathon.app_reads, env.haproxy.reloads
    for i in range(50):
        env.marathon.push(
            "status_update_event", appId=APP, taskId=f"x{i}", taskStatus="TASK_RUNNING"
        )
    await asyncio.sleep(1.0)
    assert 1 <= env.marathon.app_reads - reads <= 3
    assert env.haproxy.reloads == reloads

    # Scale to 2: the killed task disappears after a status update.
    env.marathon.apps[APP] = web_app(env.port, [task_of(b0), task_of(b1)])
    env.marathon.push("status_update_event", appId=APP, taskId="web.b2", taskStatus="TASK_KILLED")
    took = await wait_for(lambda: not env.serves(b2), timeout=5.0, what="b2 removed")
    print(f"scale down: server removed from haproxy {took:.2f}s after the event")
    assert took < 5.0
    await wait_for(env.settled, what="old worker gone")
    hits = b2.hits
    seen = await names(env.port, 20)
    assert set(seen) == {"b0", "b1"} and b2.hits == hits

    # vhost routing on the HTTP port
    env.marathon.apps[APP]["labels"]["HAPROXY_0_VHOST"] = "web.example.com"
    env.marathon.push("api_post_event", appDefinition={"id": APP})
    await wait_for(lambda: "frontend dcos_lb_http" in env.config(), what="vhost frontend")
    assert set(await names(env.settings.http_port, 4, "web.example.com:80")) == {"b0", "b1"}
    with pytest.raises(RuntimeError, match="HTTP 503"):
        await asyncio.to_thread(get, env.settings.http_port, "other.example.com")

    # The event stream drops: the balancer reconnects and keeps following events.
    env.marathon.drop_streams()
    await wait_for(lambda: len(env.marathon.event_queries) == 2, what="reconnect")
    await wait_for(lambda: len(env.marathon.subscribers) == 1, what="re-attached")
    env.marathon.apps[APP] = web_app(env.port, [task_of(b0)])
    env.marathon.push("deployment_success", id="d1")
    await wait_for(lambda: not env.serves(b1), timeout=5.0, what="b1 removed")

    # the stats/health listener answers
    conn = http.client.HTTPConnection("127.0.0.1", env.settings.stats_port, timeout=2)
    conn.request("GET", "/_haproxy_health_check")
    assert conn.getresponse().status == 200
    conn.close()


async def test_unhealthy_task_gets_no_traffic(env: Env) -> None:
    b0, b1, b2 = [await env.backend(f"b{i}") for i in range(3)]
    checks = [{"protocol": "TCP", "portIndex": 0, "intervalSeconds": 1}]

    def publish(b2_alive: bool) -> None:
        tasks = [task_of(b0, alive=True), task_of(b1, alive=True), task_of(b2, alive=b2_alive)]
        env.marathon.apps[APP] = web_app(env.port, tasks, healthChecks=checks)

    publish(False)
    await wait_for(lambda: env.serves(b0) and env.serves(b1), what="healthy servers")
    assert not env.serves(b2)
    seen = await names(env.port, 20)
    assert set(seen) == {"b0", "b1"} and b2.hits == 0

    publish(True)
    env.marathon.push("health_status_changed_event", appId=APP, instanceId="web.b2", alive=True)
    await wait_for(lambda: env.serves(b2), timeout=5.0, what="b2 healthy")
    assert set(await names(env.port, 9)) == {"b0", "b1", "b2"}


class Load(threading.Thread):
    """Bounded load: `rate` requests/s, each on a fresh connection with a short timeout."""

    def __init__(self, port: int, rate: float = 20.0, timeout: float = 2.0) -> None:
        super().__init__(daemon=True)
        self.port, self.rate, self.timeout = port, rate, timeout
        self.ok: Counter[str] = Counter()
        self.failures: list[str] = []
        self.stopping = threading.Event()

    def run(self) -> None:
        period = 1.0 / self.rate
        next_at = time.monotonic()
        while not self.stopping.is_set():
            try:
                self.ok[get(self.port, timeout=self.timeout)] += 1
            except Exception as e:
                self.failures.append(f"{time.monotonic():.3f} {type(e).__name__}: {e}")
            next_at += period
            self.stopping.wait(max(0.0, next_at - time.monotonic()))


async def test_rolling_update_has_zero_failed_requests(env: Env) -> None:
    old = await start_web(env)
    master = env.haproxy.pid
    reloads_before = env.haproxy.info().reloads
    load = Load(env.port)
    load.start()
    try:
        await asyncio.sleep(0.5)
        tasks = [task_of(b) for b in old]
        new: list[Backend] = []
        for i, gone in enumerate(old):
            b = await env.backend(f"n{i}")
            new.append(b)
            tasks.append(task_of(b))
            env.marathon.apps[APP] = web_app(env.port, list(tasks))
            env.marathon.push(
                "status_update_event", appId=APP, taskId=f"web.n{i}", taskStatus="TASK_RUNNING"
            )
            await wait_for(lambda b=b: env.serves(b), timeout=5.0, what=f"{b.name} added")
            await asyncio.sleep(0.3)
            tasks = [t for t in tasks if t["id"] != f"web.{gone.name}"]
            env.marathon.apps[APP] = web_app(env.port, list(tasks))
            env.marathon.push(
                "status_update_event",
                appId=APP,
                taskId=f"web.{gone.name}",
                taskStatus="TASK_KILLED",
            )
            await wait_for(lambda g=gone: not env.serves(g), timeout=5.0, what="old removed")
            await wait_for(env.settled, timeout=5.0, what="old haproxy worker finished")
            await gone.stop()  # only once no haproxy process can still send it traffic
            await asyncio.sleep(0.3)
        await asyncio.sleep(0.5)
    finally:
        load.stopping.set()
        await asyncio.to_thread(load.join, 5)
    info = env.haproxy.info()
    total = sum(load.ok.values()) + len(load.failures)
    print(
        f"rolling update: {total} requests, {len(load.failures)} failed, "
        f"{info.reloads - reloads_before} reloads, per backend {dict(load.ok)}"
    )
    assert load.failures == []
    assert total >= 60
    assert env.haproxy.pid == master == info.master_pid  # seamless: same master throughout
    assert info.reloads - reloads_before >= 6
    assert {"n0", "n1", "n2"} <= set(load.ok)
    assert set(await names(env.port, 9)) == {"n0", "n1", "n2"}


async def test_invalid_config_is_not_applied(tmp_path: Path) -> None:
    port = free_port()
    backend = Backend("only")
    await backend.start()
    good = (
        "defaults\n  mode tcp\n  timeout connect 1s\n  timeout client 5s\n  timeout server 5s\n"
        f"frontend f\n  bind 127.0.0.1:{port}\n  default_backend b\n"
        f"backend b\n  server s 127.0.0.1:{backend.port}\n"
    )
    haproxy = HAProxy(tmp_path / "lb")
    try:
        assert await asyncio.to_thread(haproxy.apply, good)
        master = haproxy.pid
        assert not await asyncio.to_thread(haproxy.apply, good)  # unchanged: no reload
        assert haproxy.reloads == 0
        assert not await asyncio.to_thread(haproxy.apply, good + "  bogus_keyword\n")
        assert haproxy.rejected == 1 and haproxy.current_config == good
        assert (tmp_path / "lb" / "haproxy.cfg").read_text() == good
        assert await asyncio.to_thread(get, port) == "only"
        assert await asyncio.to_thread(haproxy.apply, good + "  timeout queue 5s\n")
        assert haproxy.pid == master and haproxy.reloads == 1
        assert await asyncio.to_thread(get, port) == "only"
    finally:
        await asyncio.to_thread(haproxy.stop)
        await backend.stop()
    assert haproxy.pid is None
