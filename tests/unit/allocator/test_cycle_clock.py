"""The allocator reads time only from its clock, the cycle's duration too."""

from __future__ import annotations

from dcos_core.allocator import Allocator, AllocatorConfig
from dcos_core.clock import FakeClock
from dcos_core.resources import Resources


class TickingClock(FakeClock):
    """A fake clock whose fine-grained counter moves 0.25 s each time it is read."""

    def __init__(self) -> None:
        super().__init__(1000.0)
        self.ticks = 0.0

    def perf_counter(self) -> float:
        self.ticks += 0.25
        return self.ticks


def test_cycle_time_comes_from_the_clock() -> None:
    """`last_cycle_seconds` is the difference of two readings of the injected clock."""
    clock = TickingClock()
    alloc = Allocator(AllocatorConfig(), clock, seed=1)
    alloc.add_agent("a1", Resources.parse("cpus:2;mem:512"))
    alloc.add_framework("fw", ["web"])
    assert [g.agent_id for g in alloc.allocate()] == ["a1"]
    # read at the start (0.25) and at the end (0.5) of the cycle
    assert alloc.stats()["last_cycle_seconds"] == 0.25


def test_fake_clock_perf_counter_follows_advance() -> None:
    """On a fake clock work takes no time: the counter moves only with `advance`."""
    clock = FakeClock(10.0)
    before = clock.perf_counter()
    clock.advance(2.5)
    assert clock.perf_counter() - before == 2.5
