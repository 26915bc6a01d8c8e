"""`run_marathon(settings)`: Marathon's store, service, health checks, events and API, run by
`runtime.run_framework`.

Restarting Marathon keeps every app and running instance: it re-subscribes with the stored
framework id (the master keeps the tasks for `failover_timeout`), reconciles every known task
and kills nothing.
"""

from __future__ import annotations

import asyncio

from dcos_core.frameworks.marathon.api import create_marathon_app
from dcos_core.frameworks.marathon.events import EventBus
from dcos_core.frameworks.marathon.health_monitor import HealthMonitor
from dcos_core.frameworks.marathon.repository import Repository
from dcos_core.frameworks.marathon.service import Marathon
from dcos_core.frameworks.marathon.settings import MarathonSettings
from dcos_core.frameworks.runtime.run import Framework, Wiring, run_framework
from dcos_core.state.store import StateStore

CAPABILITIES = ("PARTITION_AWARE", "TASK_KILLING_STATE", "MULTI_ROLE")


def marathon_framework(settings: MarathonSettings) -> Framework:
    """Marathon for `run_framework`."""

    def build(store: StateStore) -> Wiring:
        events = EventBus()
        marathon = Marathon(
            Repository(store),
            events=events,
            role=settings.role,
            tick_interval=settings.tick_interval,
        )
        health = marathon.health = HealthMonitor(marathon)
        app = create_marathon_app(marathon, hostname=settings.advertised_host, port=settings.port)

        async def close() -> None:
            await health.close()
            events.close()

        return Wiring(marathon, app, close)

    return Framework("marathon", "Marathon", CAPABILITIES, build)


async def run_marathon(
    settings: MarathonSettings,
    *,
    install_signal_handlers: bool = True,
    stop: asyncio.Event | None = None,
) -> None:
    """Run Marathon until SIGTERM/SIGINT (or `stop`)."""
    await run_framework(
        settings,
        marathon_framework(settings),
        install_signal_handlers=install_signal_handlers,
        stop=stop,
    )
