"""`run_chronos(settings)`: Chronos' store, service and API, run by `runtime.run_framework`."""

from __future__ import annotations

import asyncio

from dcos_core.frameworks.chronos.api import create_chronos_app
from dcos_core.frameworks.chronos.service import Chronos
from dcos_core.frameworks.chronos.settings import ChronosSettings
from dcos_core.frameworks.runtime.run import Framework, Wiring, run_framework
from dcos_core.state.store import StateStore

CAPABILITIES = ("PARTITION_AWARE", "MULTI_ROLE")


def chronos_framework(settings: ChronosSettings) -> Framework:
    """Chronos for `run_framework`."""

    def build(store: StateStore) -> Wiring:
        chronos = Chronos(
            store,
            role=settings.role,
            tick_interval=settings.tick_interval,
            retry_delay=settings.failure_retry_delay,
            prelaunch=settings.prelaunch,
            default_user=settings.user,
        )
        return Wiring(chronos, create_chronos_app(chronos))

    return Framework("chronos", "Chronos", CAPABILITIES, build)


async def run_chronos(
    settings: ChronosSettings,
    *,
    install_signal_handlers: bool = True,
    stop: asyncio.Event | None = None,
) -> None:
    """Run Chronos until SIGTERM/SIGINT (or `stop`)."""
    await run_framework(
        settings,
        chronos_framework(settings),
        install_signal_handlers=install_signal_handlers,
        stop=stop,
    )
