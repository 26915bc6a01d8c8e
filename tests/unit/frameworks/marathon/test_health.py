"""Health check state machine and scheduler (dcos_core.frameworks.marathon.health)."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest

from dcos_core.clock import FakeClock
from dcos_core.frameworks.marathon.health import (
    HealthChecker,
    HealthCheckLike,
    HealthState,
    ProbeResult,
    check_port,
    first_delay,
    task_env,
)
from dcos_core.frameworks.marathon.models import HealthCheck, Instance


def HC(**kw: Any) -> HealthCheck:
    return HealthCheck(**kw)


def Inst(**kw: Any) -> Instance:
    base: dict[str, Any] = {
        "task_id": "app.1",
        "app_id": "/app",
        "version": "2024-01-01T00:00:00.000Z",
        "agent_id": "agent-1",
        "host": "127.0.0.1",
        "ports": [31000, 31001],
        "state": "TASK_RUNNING",
    }
    return Instance(**{**base, **kw})


@dataclass
class IsoInst:
    """An instance whose start time is an ISO 8601 string (the checker accepts that too)."""

    task_id: str = "app.1"
    host: str = "127.0.0.1"
    ports: Sequence[int] = field(default_factory=lambda: [31000])
    started_at: str = ""


T0 = 1000.0


# --- state machine ---------------------------------------------------------------------------


def test_failures_in_grace_period_are_ignored() -> None:
    s = HealthState(HC(grace_period_seconds=30, max_consecutive_failures=1), T0, "t")
    for dt in range(0, 30, 5):
        s.on_result(False, T0 + dt, "boom")
    assert s.consecutive_failures == 0 and s.last_failure is None and not s.healthy
    assert not s.should_kill(T0 + 29)
    s.on_result(False, T0 + 30, "boom")  # the grace period is over
    s.on_result(False, T0 + 31, "boom")
    assert s.consecutive_failures == 2 and s.last_failure_cause == "boom"
    assert s.should_kill(T0 + 31)


def test_first_success_ends_the_grace_period() -> None:
    s = HealthState(HC(grace_period_seconds=300, max_consecutive_failures=2), T0, "t")
    s.on_result(True, T0 + 1)
    assert s.healthy and s.first_success == T0 + 1
    for i in range(3):
        s.on_result(False, T0 + 2 + i, "500 Internal Server Error")
    assert not s.healthy and s.consecutive_failures == 3
    assert s.should_kill(T0 + 5)  # well inside the grace period, but it had succeeded


def test_kill_only_after_more_than_max_failures() -> None:
    s = HealthState(HC(grace_period_seconds=0, max_consecutive_failures=3), T0, "t")
    for i in range(3):
        s.on_result(False, T0 + i, "x")
        assert not s.should_kill(T0 + i)
    s.on_result(False, T0 + 3, "x")
    assert s.should_kill(T0 + 3)


def test_recovery_resets_the_count() -> None:
    s = HealthState(HC(grace_period_seconds=0, max_consecutive_failures=2), T0, "t")
    s.on_result(False, T0, "x")
    s.on_result(False, T0 + 1, "x")
    s.on_result(True, T0 + 2)
    assert s.consecutive_failures == 0 and s.healthy and s.last_success == T0 + 2
    assert s.first_success == T0 + 2
    s.on_result(False, T0 + 3, "y")
    s.on_result(False, T0 + 4, "y")
    assert not s.should_kill(T0 + 4)
    s.on_result(True, T0 + 5)
    assert s.first_success == T0 + 2  # set once


def test_zero_means_never_kill() -> None:
    s = HealthState(HC(grace_period_seconds=0, max_consecutive_failures=0), T0, "t")
    for i in range(100):
        s.on_result(False, T0 + i, "x")
    assert s.consecutive_failures == 100 and not s.should_kill(T0 + 100)


def test_result_fields() -> None:
    s = HealthState(HC(grace_period_seconds=0), T0, "app.7")
    s.on_result(True, T0 + 1)
    s.on_result(False, T0 + 2, "refused")
    r = s.result()
    assert r.task_id == "app.7"
    assert r.alive is False and r.consecutive_failures == 1
    assert r.first_success is not None and r.last_success is not None
    assert r.last_failure is not None and r.last_failure_cause == "refused"


# --- helpers ---------------------------------------------------------------------------------


def test_port_choice() -> None:
    assert check_port(Inst(), HC()) == 31000
    assert check_port(Inst(), HC(port_index=1)) == 31001
    assert check_port(Inst(), HC(port_index=None)) == 31000
    assert check_port(Inst(), HC(port=8080, port_index=1)) == 8080
    assert check_port(Inst(ports=[]), HC()) is None


def test_first_delay() -> None:
    assert first_delay(HC(interval_seconds=60)) == 5.0
    assert first_delay(HC(interval_seconds=2)) == 2.0
    assert first_delay(HC(protocol="COMMAND", delay_seconds=2)) == 2.0
    assert first_delay(HC(protocol="MESOS_HTTP", delay_seconds=15)) == 15.0


def test_task_env() -> None:
    env = task_env(Inst())
    assert env == {
        "HOST": "127.0.0.1",
        "PORTS": "31000,31001",
        "PORT0": "31000",
        "PORT1": "31001",
        "PORT": "31000",
    }


# --- the scheduler, with a fake clock, sleep and probe ---------------------------------------


class Script:
    """A probe answering from a list, then never again; a sleep that moves a FakeClock."""

    def __init__(self, clock: FakeClock, answers: list[ProbeResult]) -> None:
        self.clock = clock
        self.answers = list(answers)
        self.sleeps: list[float] = []
        self.calls: list[tuple[str, int | None]] = []
        self.exhausted = asyncio.Event()

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.clock.advance(seconds)
        await asyncio.sleep(0)

    async def probe(
        self, check: HealthCheckLike, host: str, port: int | None, env: Mapping[str, str]
    ) -> ProbeResult:
        self.calls.append((host, port))
        if not self.answers:
            self.exhausted.set()
            await asyncio.Event().wait()
        return self.answers.pop(0)


async def test_checker_callbacks_in_order() -> None:
    clock = FakeClock(T0)
    script = Script(
        clock,
        [(False, "early"), (True, None), (True, None), (False, "a"), (False, "b"), (False, "c")],
    )
    checker = HealthChecker(clock, script.sleep, probe=script.probe)
    events: list[tuple[Any, ...]] = []
    hc = HC(grace_period_seconds=100, interval_seconds=10, max_consecutive_failures=2)
    checker.start(
        Inst(started_at=T0),
        [hc],
        lambda tid, i, r: events.append(("change", tid, i, r.alive, r.consecutive_failures)),
        lambda tid, reason: events.append(("kill", tid, reason)),
    )
    await asyncio.wait_for(_until(lambda: any(e[0] == "kill" for e in events)), 5)
    assert events == [
        ("change", "app.1", 0, True, 0),
        ("change", "app.1", 0, False, 1),
        ("kill", "app.1", "c"),
    ]
    assert script.sleeps[0] == 5.0 and set(script.sleeps[1:]) == {10}
    assert script.calls[0] == ("127.0.0.1", 31000)
    [r] = checker.results("app.1")
    assert r.consecutive_failures == 3 and r.last_failure_cause == "c"
    checker.stop("app.1")
    assert checker.results("app.1") == []
    await checker.close()


async def test_checker_ignored_results_and_zero_max() -> None:
    clock = FakeClock(T0)
    script = Script(clock, [(None, "101 Switching Protocols"), *([(False, "x")] * 20)])
    checker = HealthChecker(clock, script.sleep, probe=script.probe)
    kills: list[str] = []
    checker.start(
        Inst(started_at=T0),
        [HC(grace_period_seconds=0, interval_seconds=1, max_consecutive_failures=0)],
        lambda *_: None,
        lambda tid, reason: kills.append(tid),
    )
    await asyncio.wait_for(script.exhausted.wait(), 5)
    assert kills == []
    assert checker.results("app.1")[0].consecutive_failures == 20
    await checker.close()
    assert checker.watching() == []


async def test_checker_kills_once_per_task_and_survives_bad_probes() -> None:
    clock = FakeClock(T0)

    async def broken(*_: Any) -> ProbeResult:
        raise RuntimeError("probe bug")

    checker = HealthChecker(clock, lambda s: asyncio.sleep(0), probe=broken)
    kills: list[tuple[str, str]] = []
    checks = [HC(grace_period_seconds=0, max_consecutive_failures=1) for _ in range(3)]
    checker.start(Inst(started_at=T0), checks, lambda *_: None, lambda *a: kills.append(a))
    await asyncio.wait_for(_until(lambda: bool(kills)), 5)
    for _ in range(20):
        await asyncio.sleep(0)
    assert kills == [("app.1", "RuntimeError: probe bug")]
    await checker.close()


async def test_started_at_iso_string_sets_the_grace_period() -> None:
    clock = FakeClock(1_700_000_000.0)
    script = Script(clock, [(False, "x")] * 3)
    checker = HealthChecker(clock, script.sleep, probe=script.probe)
    checker.start(
        IsoInst(started_at="2023-11-14T22:13:20.000Z"),  # == 1_700_000_000
        [HC(grace_period_seconds=100, interval_seconds=10, max_consecutive_failures=1)],
        lambda *_: None,
        lambda *_: None,
    )
    await asyncio.wait_for(script.exhausted.wait(), 5)
    # probes at +5, +15, +25: all inside the grace period
    assert checker.results("app.1")[0].consecutive_failures == 0
    await checker.close()


async def _until(cond: Any) -> None:
    while not cond():
        await asyncio.sleep(0)


def test_stop_unknown_task_is_a_noop() -> None:
    checker = HealthChecker(FakeClock())
    checker.stop("nope")
    assert checker.watching() == [] and checker.results("nope") == []


@pytest.mark.parametrize("protocol", ["HTTP", "TCP"])
async def test_no_port_is_a_failure(protocol: str) -> None:
    from dcos_core.frameworks.marathon.health import run_probe

    ok, cause = await run_probe(HC(protocol=protocol), "127.0.0.1", None, {})
    assert ok is False and cause == "no port to check"
