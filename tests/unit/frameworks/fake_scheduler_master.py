"""A tiny real Mesos-like master for SDK wire tests: uvicorn + FastAPI on 127.0.0.1.

It streams RecordIO the way Mesos does (SUBSCRIBED first, then whatever the test pushes, split
across chunks at odd places), records every call it receives with its headers, and can answer
SUBSCRIBE with a 307 redirect or an error status.
"""

from __future__ import annotations

import asyncio
import json
import socket
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from fastapi import FastAPI, Request, Response
from fastapi.responses import StreamingResponse

from dcos_core.recordio import encode

Json = dict[str, Any]
CLOSE = object()


@dataclass
class Received:
    """One request the fake master got."""

    body: Json
    headers: dict[str, str]


@dataclass
class FakeMaster:
    """Scriptable v1 scheduler endpoint."""

    framework_id: str = "fw-1"
    heartbeat_interval: float = 15.0
    redirect_to: str | None = None
    subscribe_status: int | None = None
    call_status: int = 202
    call_body: str = ""
    send_subscribed: bool = True
    port: int = 0
    subscribes: list[Received] = field(default_factory=list)
    calls: list[Received] = field(default_factory=list)
    streams: list[asyncio.Queue[Any]] = field(default_factory=list)
    _server: uvicorn.Server | None = None
    _task: asyncio.Task[None] | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.post("/api/v1/scheduler")
        async def scheduler(request: Request) -> Response:
            body = json.loads(await request.body())
            rec = Received(body, {k.lower(): v for k, v in request.headers.items()})
            if body.get("type") != "SUBSCRIBE":
                self.calls.append(rec)
                return Response(self.call_body, status_code=self.call_status)
            self.subscribes.append(rec)
            if self.redirect_to is not None:
                return Response(status_code=307, headers={"Location": self.redirect_to})
            if self.subscribe_status is not None:
                return Response("Failed to validate scheduler::Call", self.subscribe_status)
            queue: asyncio.Queue[Any] = asyncio.Queue()
            if self.send_subscribed:
                fid = (body["subscribe"]["framework_info"].get("id") or {}).get("value")
                queue.put_nowait(
                    {
                        "type": "SUBSCRIBED",
                        "subscribed": {
                            "framework_id": {"value": fid or self.framework_id},
                            "heartbeat_interval_seconds": self.heartbeat_interval,
                            "master_info": {"id": "m1", "ip": 16777343, "port": self.port},
                        },
                    }
                )
            self.streams.append(queue)
            return StreamingResponse(
                self._stream(queue),
                media_type="application/json",
                headers={"Mesos-Stream-Id": str(uuid.uuid4())},
            )

        return app

    async def _stream(self, queue: asyncio.Queue[Any]) -> AsyncIterator[bytes]:
        while True:
            event = await queue.get()
            if event is CLOSE:
                return
            record = encode(json.dumps(event).encode())
            # Chunk boundaries anywhere: inside the length, right after it, inside the JSON.
            for piece in (record[:1], record[1:4], record[4:]):
                if piece:
                    yield piece

    async def wait_for(self, predicate: Callable[[], bool], timeout: float = 5.0) -> None:
        """Wait until predicate() holds (polled; it may look at scheduler-side state too)."""
        async with asyncio.timeout(timeout):
            while not predicate():
                await asyncio.sleep(0.01)

    def calls_of(self, call_type: str) -> list[Received]:
        return [c for c in self.calls if c.body.get("type") == call_type]

    async def push(self, event: Json | object, stream: int = -1) -> None:
        await self.streams[stream].put(event)

    async def start(self) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(
            self.app(), log_level="warning", lifespan="off", timeout_graceful_shutdown=1
        )
        self._server = uvicorn.Server(config)
        self._task = asyncio.create_task(self._server.serve(sockets=[sock]))
        while not self._server.started:
            await asyncio.sleep(0.01)

    async def stop(self) -> None:
        for q in self.streams:
            q.put_nowait(CLOSE)
        if self._server is not None and self._task is not None:
            self._server.should_exit = True
            await asyncio.wait_for(self._task, 10)
