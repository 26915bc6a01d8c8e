"""Exact resource arithmetic: scalars are integer thousandths, so nothing ever drifts."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from dcos_core.resources import Resources

PAIRS = 1_000_000


def test_a_million_add_subtract_pairs_leave_the_value_exact() -> None:
    """1e6 random (r + x) - x steps on 3-decimal scalars: r is exactly what it was.

    With floats, 0.1 + 0.2 - 0.2 != 0.1 already; here every step must be exact.
    """
    rng = random.Random(42)
    start = Resources.parse("cpus:12.345;mem:4096.5;disk:0.001")
    # a pool of 3-decimal deltas (e.g. cpus:0.1, mem:1234.567), reused to keep the test fast
    pool = [
        Resources.scalars(cpus=rng.randrange(1, 100_000) / 1000, mem=rng.randrange(1, 10**7) / 1000)
        for _ in range(997)
    ]
    r = start
    running = 0  # the same sums done by hand in integer thousandths
    for i in range(PAIRS):
        x = pool[i % 997]
        r = r + x
        running += x.totals()["cpus"]
        r = r - x
        running -= x.totals()["cpus"]
    assert r == start
    assert r.totals() == {"cpus": 12_345, "mem": 4_096_500, "disk": 1}
    assert r.scalar("cpus") == 12.345
    assert running == 0


def test_accumulating_then_draining_is_exact() -> None:
    """Adding 10,000 deltas of 0.001..0.999 and removing them in another order gives zero."""
    rng = random.Random(7)
    deltas = [Resources.scalars(cpus=rng.randrange(1, 1000) / 1000) for _ in range(10_000)]
    acc = Resources.parse("cpus:1")
    for d in deltas:
        acc = acc + d
    expected_millis = 1000 + sum(d.totals()["cpus"] for d in deltas)
    assert acc.totals()["cpus"] == expected_millis
    rng.shuffle(deltas)
    for d in deltas:
        acc = acc - d
    assert acc == Resources.parse("cpus:1")


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.integers(1, 10**9), min_size=1, max_size=50),
    st.integers(0, 10**9),
)
def test_sum_of_scalars_matches_integer_arithmetic(millis: list[int], base: int) -> None:
    """For any 3-decimal amounts, the Resources sum equals the integer sum of thousandths."""
    r = Resources.scalars(cpus=base / 1000) if base else Resources()
    for m in millis:
        r = r + Resources.scalars(cpus=m / 1000)
    assert r.totals().get("cpus", 0) == base + sum(millis)
    for m in millis:
        r = r - Resources.scalars(cpus=m / 1000)
    assert r.totals().get("cpus", 0) == base
