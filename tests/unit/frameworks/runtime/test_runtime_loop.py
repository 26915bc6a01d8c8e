"""`tick_loop`: ticks every interval and soon after a wake-up, never closer than `min_gap`, and
goes on after a failing tick."""

from __future__ import annotations

import asyncio

import pytest

from dcos_core.frameworks.runtime import tick_loop


async def test_a_wake_up_ticks_at_once_and_a_burst_of_them_makes_one_tick() -> None:
    wake = asyncio.Event()
    ticks: list[float] = []
    loop = asyncio.get_running_loop()

    async def tick() -> None:
        ticks.append(loop.time())

    runner = asyncio.create_task(tick_loop(tick, wake, 60.0, min_gap=0.3))
    try:
        await asyncio.sleep(0.05)
        assert ticks == []  # the interval (60 s) has not passed and nothing woke it
        for _ in range(100):
            wake.set()
        await asyncio.sleep(0.05)
        assert len(ticks) == 1
        wake.set()  # within min_gap of the first: waits for it
        await asyncio.sleep(0.1)
        assert len(ticks) == 1
        await asyncio.sleep(0.4)
        assert len(ticks) == 2 and ticks[1] - ticks[0] >= 0.3
    finally:
        runner.cancel()


async def test_a_failing_tick_is_logged_and_the_next_one_runs(
    caplog: pytest.LogCaptureFixture,
) -> None:
    calls = 0

    async def tick() -> None:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("boom")

    runner = asyncio.create_task(tick_loop(tick, asyncio.Event(), 0.01, name="echo"))
    try:
        async with asyncio.timeout(5):
            while calls < 3:
                await asyncio.sleep(0.01)
    finally:
        runner.cancel()
    assert "echo tick failed" in caplog.text
