"""`run_framework` against a real (fake) master over HTTP: it subscribes with the framework's
info and its stored id, forwards offers and status updates, serves the framework's API, and on
stop closes the subscription, the wiring and the store; a port in use stops it before any state
is touched."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from fake_scheduler_master import FakeMaster
from fastapi import FastAPI

from dcos_core.errors import StoreError
from dcos_core.frameworks.runtime import Driver, FrameworkSettings
from dcos_core.frameworks.runtime.run import Framework, Wiring, run_framework
from dcos_core.serve import ListenError
from dcos_core.state.store import StateStore

Json = dict[str, Any]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Echo:
    """A framework service that records what the runtime hands it."""

    def __init__(self, store: StateStore) -> None:
        self.store = store
        self.framework_id: str | None = None
        self.attached: list[str] = []
        self.offers: list[Json] = []
        self.statuses: list[str] = []
        self.ticking = False
        self.stopped_ticking = False

    def load(self) -> None:
        e = self.store.get("echo/framework_id")
        self.framework_id = str(e.value["id"]) if e else None

    async def attach(self, driver: Driver, framework_id: str) -> None:
        self.attached.append(framework_id)
        self.store.put("echo/framework_id", {"id": framework_id})

    async def handle_offers(self, offers: list[Json]) -> None:
        self.offers += offers

    def on_status(self, status: Json) -> None:
        self.statuses.append(status["state"])

    async def run(self) -> None:
        self.ticking = True
        try:
            await asyncio.Event().wait()
        finally:
            self.stopped_ticking = True


class Built:
    """What `build` made, for the test to look at."""

    service: Echo
    closed = False
    store: StateStore


def echo_framework(built: Built) -> Framework:
    def build(store: StateStore) -> Wiring:
        built.store = store
        built.service = Echo(store)
        app = FastAPI()

        @app.get("/ping")
        async def ping() -> str:
            return "pong"

        async def close() -> None:
            built.closed = True

        return Wiring(built.service, app, close)

    return Framework("echo", "Echo", ("PARTITION_AWARE", "MULTI_ROLE"), build)


def settings(master: FakeMaster, work: Path, port: int) -> FrameworkSettings:
    return FrameworkSettings(
        master=master.address,
        port=port,
        work_dir=work,
        framework_name="echo-fw",
        role="batch",
        tick_interval=0.1,
    )


@pytest.fixture
async def running(master: FakeMaster, tmp_path: Path) -> AsyncIterator[Callable[[], Any]]:
    tasks: list[asyncio.Task[None]] = []
    stops: list[asyncio.Event] = []

    async def start(
        port: int | None = None,
    ) -> tuple[Built, asyncio.Event, asyncio.Task[None], int]:
        port = port or free_port()
        built, stop = Built(), asyncio.Event()
        task = asyncio.create_task(
            run_framework(
                settings(master, tmp_path, port),
                echo_framework(built),
                install_signal_handlers=False,
                stop=stop,
            )
        )
        tasks.append(task)
        stops.append(stop)
        return built, stop, task, port

    yield start
    for s in stops:
        s.set()
    await asyncio.gather(*tasks, return_exceptions=True)


async def test_subscribes_with_the_framework_info_and_forwards_events(
    master: FakeMaster, running: Any
) -> None:
    built, stop, task, port = await running()
    await master.wait_for(lambda: bool(master.streams) and bool(built.service.attached))
    info = master.subscribes[0].body["subscribe"]["framework_info"]
    assert info["name"] == "echo-fw" and info["roles"] == ["batch"] and info["checkpoint"]
    assert info["capabilities"] == [{"type": "PARTITION_AWARE"}, {"type": "MULTI_ROLE"}]
    assert info["webui_url"] == f"http://127.0.0.1:{port}" and "id" not in info
    assert built.service.attached == ["fw-1"] and built.service.ticking

    await master.push({"type": "OFFERS", "offers": {"offers": [{"id": {"value": "o1"}}]}})
    await master.push(
        {
            "type": "UPDATE",
            "update": {"status": {"task_id": {"value": "t1"}, "state": "TASK_RUNNING"}},
        }
    )
    await master.wait_for(lambda: bool(built.service.statuses))
    assert built.service.offers == [{"id": {"value": "o1"}}]
    assert built.service.statuses == ["TASK_RUNNING"]

    async with httpx.AsyncClient() as http:  # the framework's own API is served
        r = await http.get(f"http://127.0.0.1:{port}/ping")
    assert r.json() == "pong"

    stop.set()
    await asyncio.wait_for(task, 15)
    assert built.closed and built.service.stopped_ticking
    with pytest.raises(StoreError):  # the store is closed
        built.store.put("echo/x", {})


async def test_a_restart_fails_over_with_the_stored_framework_id(
    master: FakeMaster, tmp_path: Path
) -> None:
    for subscribed in (1, 2):
        built, stop = Built(), asyncio.Event()
        s = settings(master, tmp_path, free_port())
        task = asyncio.create_task(
            run_framework(s, echo_framework(built), install_signal_handlers=False, stop=stop)
        )
        await master.wait_for(lambda: len(master.subscribes) == subscribed)  # noqa: B023
        await master.wait_for(lambda: bool(built.service.attached))  # noqa: B023
        stop.set()
        await asyncio.wait_for(task, 15)
    info = master.subscribes[1].body["subscribe"]["framework_info"]
    assert info["id"] == {"value": "fw-1"}  # from the store written in the first round


async def test_a_port_in_use_stops_it_before_any_state_is_touched(
    master: FakeMaster, running: Any
) -> None:
    _first, _stop, _task, port = await running()
    await master.wait_for(lambda: bool(master.subscribes))
    second = Built()
    with pytest.raises(ListenError, match=r"Echo cannot listen on 127\.0\.0\.1"):
        await run_framework(
            settings(master, Path("/nonexistent/never-created"), port),
            echo_framework(second),
            install_signal_handlers=False,
        )
    assert not hasattr(second, "service")  # nothing was built
    assert len(master.subscribes) == 1
