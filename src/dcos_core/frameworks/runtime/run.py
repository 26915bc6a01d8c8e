"""`run_framework`: one framework process -- store, service, subscription, HTTP API, shutdown.

A framework brings its decisions (a `FrameworkService`) and how to build it and its API from a
store (`Wiring`); everything else is here, once for every framework:

1. listen on the API port before any state is touched (a second instance fails at once);
2. open the store in `work_dir` and build and `load()` the service;
3. subscribe to the master with the stored framework id (a restart fails over: the master keeps
   the tasks for `failover_timeout`) and forward its events to the service;
4. serve the API and run the service's tick loop until SIGTERM/SIGINT (or `stop`);
5. on the signal close the subscription, then stop the loops, the wiring's extras and the store.

High availability will add leader election here, for every framework at once: only the leader
does step 3 and ticks (see `_lead`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from dcos_core.frameworks.runtime.driver import Driver
from dcos_core.frameworks.runtime.settings import FrameworkSettings
from dcos_core.frameworks.sdk import Scheduler, SchedulerDriver
from dcos_core.frameworks.sdk_protocol import Json
from dcos_core.serve import listen, serve_until_signal
from dcos_core.state import open_store
from dcos_core.state.store import StateStore
from dcos_core.web import limit_request_bodies

log = logging.getLogger("dcos_core.frameworks.runtime")


class FrameworkService(Protocol):
    """A framework's decisions, driven by the runtime.

    `load()` is called once before subscribing; `attach()` after every (re-)subscription, with
    the driver to make calls on; `handle_offers` and `on_status` for each event, one at a time;
    `run()` is the tick loop, cancelled at shutdown.
    """

    framework_id: str | None

    def load(self) -> None: ...
    async def attach(self, driver: Driver, framework_id: str) -> None: ...
    async def handle_offers(self, offers: list[Json]) -> None: ...
    def on_status(self, status: Json) -> None: ...
    async def run(self) -> None: ...


@dataclass
class Wiring:
    """What a framework builds on its store: the service, its HTTP app, and what to close."""

    service: FrameworkService
    app: Any  # an ASGI app (FastAPI)
    close: Callable[[], Awaitable[None]] | None = None


@dataclass(frozen=True)
class Framework:
    """How to run one framework.

    Attributes:
        name: "marathon": the logger, the store file (`<name>.db`), the tasks' names.
        title: "Marathon": in messages (the port in use, ...).
        capabilities: FrameworkInfo capability types (e.g. "PARTITION_AWARE").
        build: the service and its API on the opened store (`load()` is called afterwards).
    """

    name: str
    title: str
    capabilities: Sequence[str]
    build: Callable[[StateStore], Wiring]


class FrameworkScheduler(Scheduler):
    """The SDK callbacks, forwarded to a `FrameworkService`."""

    def __init__(self, service: FrameworkService, title: str) -> None:
        self.service = service
        self.title = title

    async def on_subscribed(
        self, driver: SchedulerDriver, framework_id: str, master_info: Json | None
    ) -> None:
        log.info("%s subscribed as framework %s", self.title, framework_id)
        await self.service.attach(driver, framework_id)

    async def on_offers(self, driver: SchedulerDriver, offers: list[Json]) -> None:
        await self.service.handle_offers(offers)

    async def on_update(self, driver: SchedulerDriver, status: Json) -> None:
        # Handled before returning: the SDK acknowledges the update only afterwards.
        self.service.on_status(status)

    async def on_error(self, driver: SchedulerDriver, message: str) -> None:
        log.error("the master refused %s: %s", self.title, message)


def framework_info(
    settings: FrameworkSettings, capabilities: Sequence[str], framework_id: str | None
) -> dict[str, object]:
    """The v1 FrameworkInfo to subscribe with (`id` once the framework has one)."""
    host = settings.advertised_host
    info: dict[str, object] = {
        "user": settings.user,
        "name": settings.framework_name,
        "failover_timeout": settings.failover_timeout,
        "checkpoint": True,
        "roles": [settings.role],
        "hostname": host,
        "webui_url": f"http://{host}:{settings.port}",
        "capabilities": [{"type": c} for c in capabilities],
    }
    if framework_id:
        info["id"] = {"value": framework_id}
    return info


async def run_framework(
    settings: FrameworkSettings,
    framework: Framework,
    *,
    install_signal_handlers: bool = True,
    stop: asyncio.Event | None = None,
) -> None:
    """Run `framework` until SIGTERM/SIGINT (or `stop` is set); see the module docstring."""
    sock = listen(settings.ip, settings.port, framework.title)  # before any state is touched
    settings.work_dir.mkdir(parents=True, exist_ok=True)
    store = open_store(settings.store, settings.work_dir / f"{framework.name}.db")
    wiring: Wiring | None = None
    loops: list[asyncio.Task[None]] = []
    try:
        wiring = framework.build(store)
        wiring.service.load()
        limit_request_bodies(wiring.app, settings.max_body_size)
        driver, loops = _lead(settings, framework, wiring.service)
        await serve_until_signal(
            wiring.app,
            settings.ip,
            settings.port,
            sock=sock,
            on_signal=_stopper(driver),
            install_signal_handlers=install_signal_handlers,
            stop=stop,
        )
    finally:
        for t in loops:
            t.cancel()
        for t in loops:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
        if wiring is not None and wiring.close is not None:
            await wiring.close()
        store.close()
        log.info("%s stopped", framework.name)


def _lead(
    settings: FrameworkSettings, framework: Framework, service: FrameworkService
) -> tuple[SchedulerDriver, list[asyncio.Task[None]]]:
    """Subscribe and tick: what the leader does. Leader election (HA) goes here: contend for
    leadership first, start these loops on winning it, stop them (and re-load) on losing it."""
    driver = SchedulerDriver(
        settings.master,
        framework_info(settings, framework.capabilities, service.framework_id),
        FrameworkScheduler(service, framework.title),
    )
    loops = [
        asyncio.create_task(driver.run(), name=f"{framework.name}-driver"),
        asyncio.create_task(service.run(), name=f"{framework.name}-tick"),
    ]
    return driver, loops


def _stopper(driver: SchedulerDriver) -> Callable[[], Awaitable[None]]:
    async def on_signal() -> None:
        driver.stop()

    return on_signal
