"""Fixtures: real HTTP fake masters for the SDK tests (see fake_scheduler_master.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from fake_scheduler_master import FakeMaster


@pytest.fixture
async def master() -> AsyncIterator[FakeMaster]:
    m = FakeMaster()
    await m.start()
    yield m
    await m.stop()


@pytest.fixture
async def master_factory() -> AsyncIterator[Callable[..., Any]]:
    started: list[FakeMaster] = []

    async def make(**kwargs: Any) -> FakeMaster:
        m = FakeMaster(**kwargs)
        await m.start()
        started.append(m)
        return m

    yield make
    for m in started:
        await m.stop()
