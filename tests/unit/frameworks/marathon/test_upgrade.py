"""Rolling replacement, scaling and backoff rules (dcos_core.frameworks.marathon.upgrade)."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dcos_core.frameworks.marathon.models import UpgradeStrategy
from dcos_core.frameworks.marathon.upgrade import (
    Candidate,
    ReplaceStep,
    ScaleStep,
    kill_order,
    launch_delay,
    max_capacity,
    min_healthy,
    replace_step,
    scale_step,
)


def Strategy(mhc: float = 1.0, moc: float = 1.0) -> UpgradeStrategy:
    return UpgradeStrategy(minimum_health_capacity=mhc, maximum_over_capacity=moc)


# --- bounds ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("target", "mhc", "moc", "low", "high"),
    [
        (10, 1.0, 1.0, 10, 20),
        (10, 0.7, 0.0, 7, 10),  # exact: Scala's doubles would say ceil(7.000000000000001) = 8
        (10, 0.9, 0.0, 9, 10),
        (10, 1.0, 0.1, 10, 11),
        (3, 0.5, 0.5, 2, 4),
        (4, 1.0, 0.0, 4, 5),  # minHealthy == maxCapacity: one instance of over-capacity
        (1, 0.5, 0.5, 1, 2),  # ceil(0.5) == floor(1.5) == 1: the same exception
        (5, 0.0, 0.0, 0, 5),
        (0, 1.0, 0.0, 0, 1),
    ],
)
def test_bounds(target: int, mhc: float, moc: float, low: int, high: int) -> None:
    s = Strategy(mhc, moc)
    assert (min_healthy(target, s), max_capacity(target, s)) == (low, high)


# --- documented examples ---------------------------------------------------------------------


def olds(n: int, *, healthy: bool | None = None) -> list[Candidate]:
    return [Candidate(f"old{i}", healthy=healthy, started_at=float(i)) for i in range(n)]


def test_one_zero_starts_one_new_before_killing() -> None:
    s = Strategy(1.0, 0.0)
    assert replace_step(3, s, olds(3), 0, 0) == ReplaceStep(start=1, kill=[])
    assert replace_step(3, s, olds(3), 1, 0) == ReplaceStep(start=0, kill=[])
    # the new one is healthy: kill the youngest old one
    assert replace_step(3, s, olds(3), 1, 1) == ReplaceStep(start=0, kill=["old2"])


def test_zero_zero_kills_everything_first() -> None:
    s = Strategy(0.0, 0.0)
    step = replace_step(3, s, olds(3), 0, 0)
    assert step.start == 0 and sorted(step.kill) == ["old0", "old1", "old2"]
    killing = [replace(o, killing=True) for o in olds(3)]
    assert replace_step(3, s, killing, 0, 0) == ReplaceStep(start=0, kill=[])
    assert replace_step(3, s, [], 0, 0) == ReplaceStep(start=3, kill=[])


def test_one_one_starts_all_side_by_side() -> None:
    assert replace_step(4, Strategy(1.0, 1.0), olds(4), 0, 0) == ReplaceStep(start=4, kill=[])


def test_point_nine_replaces_ten_percent_at_a_time() -> None:
    step = replace_step(10, Strategy(0.9, 0.0), olds(10), 0, 0)
    assert step == ReplaceStep(start=0, kill=["old9"])


def test_unhealthy_old_instances_go_first() -> None:
    old = [*olds(2), Candidate("sick", healthy=False, started_at=0.5)]
    step = replace_step(3, Strategy(1.0, 0.0), old, 0, 0)
    assert step.kill == ["sick"]


def test_done() -> None:
    assert replace_step(2, Strategy(), [], 2, 2).done
    assert not replace_step(2, Strategy(), [], 2, 1).done
    assert not replace_step(2, Strategy(), olds(1), 2, 2).done


def test_oldest_first_kill_selection() -> None:
    step = replace_step(3, Strategy(1.0, 0.0), olds(3), 1, 1, kill_selection="OLDEST_FIRST")
    assert step.kill == ["old0"]


def test_bad_counts() -> None:
    with pytest.raises(ValueError):
        replace_step(1, Strategy(), [], 1, 2)
    with pytest.raises(ValueError):
        replace_step(-1, Strategy(), [], 0, 0)


# --- the whole replacement, simulated ---------------------------------------------------------

fractions = st.one_of(
    st.sampled_from([0.0, 0.1, 0.25, 0.5, 0.7, 0.9, 1.0]),
    st.integers(min_value=0, max_value=1000).map(lambda x: x / 1000),
)


@dataclass
class New:
    task_id: str
    healthy: bool = False


@settings(max_examples=400, deadline=None)
@given(
    target=st.integers(min_value=0, max_value=25),
    mhc=fractions,
    moc=fractions,
    old_health=st.lists(st.sampled_from([True, True, True, False, None]), max_size=30),
    failures=st.lists(st.booleans(), max_size=40),
    selection=st.sampled_from(["YOUNGEST_FIRST", "OLDEST_FIRST"]),
)
def test_rolling_replacement_simulation(
    target: int,
    mhc: float,
    moc: float,
    old_health: list[bool | None],
    failures: list[bool],
    selection: str,
) -> None:
    """Steps until done; a new instance is healthy one step after its launch (or fails, as drawn).

    Invariants: kills never take the healthy count below `ceil(target * min)` (nor below what it
    was at the start when that was lower already); launches never take the total above
    `floor(target * (1 + max))`, or one more when that equals the lower bound (Marathon's
    over-capacity exception); the replacement ends with `target` healthy new instances and no
    old ones.
    """
    s = Strategy(mhc, moc)
    low = min_healthy(target, s)
    high = max_capacity(target, s)
    assert low == math.ceil(round(target * mhc, 9))
    plain_high = math.floor(round(target * (1 + moc), 9))
    assert high == (plain_high + 1 if plain_high == low else plain_high)

    old: dict[str, Candidate] = {
        f"old{i}": Candidate(f"old{i}", healthy=h, started_at=float(i))
        for i, h in enumerate(old_health)
    }
    new: list[New] = []
    pending_failures = list(failures)
    serial = 0

    def healthy_count() -> int:
        return sum(1 for o in old.values() if o.considered_healthy) + sum(n.healthy for n in new)

    def total() -> int:
        return len(old) + len(new)

    floor_healthy = min(low, healthy_count())
    ceiling_total = max(high, total())

    for _ in range(10 * (target + len(old_health)) + 3 * len(failures) + 10):
        step = replace_step(
            target,
            s,
            list(old.values()),
            new_started=len(new),
            new_healthy=sum(n.healthy for n in new),
            kill_selection=selection,  # type: ignore[arg-type]
        )
        if step.done:
            break
        before = total()
        for tid in step.kill:
            assert tid in old and not old[tid].killing
            old[tid] = replace(old[tid], killing=True)
        for _ in range(step.start):
            serial += 1
            new.append(New(f"new{serial}"))
        # invariants right after acting
        assert healthy_count() >= floor_healthy
        if step.start:
            assert total() <= high
        assert total() <= max(ceiling_total, before)
        assert len(new) <= target
        # the world moves on: killed old ones end; launched new ones become healthy or fail
        old = {k: o for k, o in old.items() if not o.killing}
        survivors: list[New] = []
        for n in new:
            if not n.healthy and pending_failures and pending_failures.pop(0):
                continue
            n.healthy = True
            survivors.append(n)
        new = survivors
        assert healthy_count() >= floor_healthy
    else:
        pytest.fail(f"no end: {len(old)} old, {len(new)} new")
    assert not old
    assert len(new) == target and all(n.healthy for n in new)


# --- scaling ---------------------------------------------------------------------------------


def test_scale_up_and_noop() -> None:
    assert scale_step(3, olds(1)) == ScaleStep(start=2, kill=[])
    assert scale_step(1, olds(1)) == ScaleStep(start=0, kill=[])


def test_scale_down_order() -> None:
    running = [
        Candidate("run-old", started_at=1.0),
        Candidate("run-young", started_at=5.0),
        Candidate("staging", state="TASK_STAGING", staged_at=6.0),
        Candidate("starting", state="TASK_STARTING", started_at=None),
        Candidate("sick", healthy=False, started_at=2.0),
        Candidate("gone", state="TASK_UNREACHABLE", started_at=3.0),
        Candidate("dying", killing=True),
    ]
    order = [c.task_id for c in kill_order([c for c in running if not c.killing])]
    assert order == ["gone", "sick", "staging", "starting", "run-young", "run-old"]
    assert scale_step(1, running).kill == ["gone", "sick", "staging", "starting", "run-young"]
    assert scale_step(1, running, "OLDEST_FIRST").kill[-1] == "run-old"
    assert scale_step(0, running).kill[-1] == "run-old"


@given(
    target=st.integers(min_value=0, max_value=20),
    n=st.integers(min_value=0, max_value=20),
)
def test_scale_reaches_target(target: int, n: int) -> None:
    step = scale_step(target, olds(n))
    assert n + step.start - len(step.kill) == target
    assert len(set(step.kill)) == len(step.kill)
    assert step.start == 0 or not step.kill


# --- backoff ---------------------------------------------------------------------------------


def test_launch_delay_examples() -> None:
    assert launch_delay(0, 1, 1.15, 300) == 0.0
    assert launch_delay(1, 1, 1.15, 300) == 1.0
    assert launch_delay(2, 1, 1.15, 300) == pytest.approx(1.15)
    assert launch_delay(3, 1, 1.15, 300) == pytest.approx(1.15**2)
    assert launch_delay(1, 600, 2, 300) == 300.0  # first delay capped too
    assert launch_delay(10_000, 1, 2, 300) == 300.0  # no overflow
    assert launch_delay(5, 0, 2, 300) == 0.0


@given(
    failures=st.integers(min_value=1, max_value=200),
    backoff=st.floats(min_value=0.0, max_value=100.0),
    factor=st.floats(min_value=1.0, max_value=5.0),
    cap=st.floats(min_value=0.0, max_value=3600.0),
)
def test_launch_delay_grows_and_is_capped(
    failures: int, backoff: float, factor: float, cap: float
) -> None:
    d = launch_delay(failures, backoff, factor, cap)
    assert 0.0 <= d <= cap
    assert launch_delay(failures + 1, backoff, factor, cap) >= d
