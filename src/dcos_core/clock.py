"""Time, injected: core modules read time only through a `Clock` (tests use `FakeClock`)."""

from __future__ import annotations

import time
from typing import Protocol


class Clock(Protocol):
    """Source of wall-clock and monotonic time, in seconds."""

    def time(self) -> float:
        """Seconds since the epoch (used for timestamps shown to users)."""
        ...

    def monotonic(self) -> float:
        """Seconds on a clock that never goes back (used for timeouts and filters)."""
        ...

    def perf_counter(self) -> float:
        """Seconds on the finest clock there is, for measuring how long work took."""
        ...


class SystemClock:
    """The real clock."""

    def time(self) -> float:
        return time.time()

    def monotonic(self) -> float:
        return time.monotonic()

    def perf_counter(self) -> float:
        return time.perf_counter()


class FakeClock:
    """A clock that moves only when told to.

    Example:
        >>> c = FakeClock(100.0)
        >>> c.advance(5); c.monotonic()
        105.0
    """

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self._wall = start
        self._mono = start

    def time(self) -> float:
        return self._wall

    def monotonic(self) -> float:
        return self._mono

    def perf_counter(self) -> float:
        """The monotonic reading: work takes no time on a fake clock."""
        return self._mono

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("a clock cannot go back")
        self._wall += seconds
        self._mono += seconds
