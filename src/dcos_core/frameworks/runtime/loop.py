"""`tick_loop`: a framework's periodic work, run every `interval` and soon after a wake-up."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger("dcos_core.frameworks.runtime")


async def tick_loop(
    tick: Callable[[], Awaitable[None]],
    wake: asyncio.Event,
    interval: float,
    *,
    min_gap: float = 0.0,
    name: str = "framework",
) -> None:
    """Call `tick` until cancelled: every `interval` seconds, and as soon as `wake` is set, but
    never sooner than `min_gap` seconds after the previous tick began (a burst of wake-ups makes
    one tick, not thousands). A failing tick is logged; the next one runs as usual.

    Example:
        >>> async def demo() -> int:
        ...     wake, ticks = asyncio.Event(), []
        ...     async def tick() -> None:
        ...         ticks.append(1)
        ...     loop = asyncio.create_task(tick_loop(tick, wake, 0.01))
        ...     await asyncio.sleep(0.1)
        ...     loop.cancel()
        ...     return len(ticks)
        >>> asyncio.run(demo()) > 2
        True
    """
    clock = asyncio.get_running_loop()
    while True:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(wake.wait(), interval)
        wake.clear()
        started = clock.time()
        try:
            await tick()
        except Exception:
            log.exception("%s tick failed", name)
        if min_gap:
            await asyncio.sleep(max(0.0, min_gap - (clock.time() - started)))
