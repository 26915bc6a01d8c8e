"""Quota: guarantees are met before fair sharing, limits are never exceeded, headroom is kept."""

from __future__ import annotations

import pytest

from dcos_core.allocator import Quota, Reason
from dcos_core.errors import InvalidError
from dcos_core.resources import Resources

from .helpers import R, by_framework, decline_all, make


def _cpus(grants: list) -> dict[str, float]:  # type: ignore[type-arg]
    return {
        fw: sum(g.resources.scalar("cpus") for g in gs) for fw, gs in by_framework(grants).items()
    }


def test_guarantee_is_met_before_fair_sharing() -> None:
    """q is guaranteed 6 of 10 cpus: it gets 6 although fair sharing alone would give it 5."""
    alloc, _ = make()
    alloc.set_quota("q", Quota(guarantees=R("cpus:6")))
    alloc.add_framework("fq", ["q"])
    alloc.add_framework("fa", ["a"])
    for i in range(10):
        alloc.add_agent(f"a{i}", R("cpus:1;mem:100"))
    # stage 1: q takes 6 agents (6 cpus = its guarantee); stage 2: a (share 0 < .6) takes 4
    assert _cpus(alloc.allocate()) == {"fq": 6.0, "fa": 4.0}


def test_without_quota_the_split_is_even() -> None:
    """Control for the test above."""
    alloc, _ = make()
    alloc.add_framework("fq", ["q"])
    alloc.add_framework("fa", ["a"])
    for i in range(10):
        alloc.add_agent(f"a{i}", R("cpus:1;mem:100"))
    assert _cpus(alloc.allocate()) == {"fq": 5.0, "fa": 5.0}


def test_stage_one_offers_only_progress_toward_the_guarantee() -> None:
    """On a big agent, stage 1 gives q its 2 guaranteed cpus; stage 2 may add the rest."""
    alloc, _ = make()
    alloc.set_quota("q", Quota(guarantees=R("cpus:2")))
    alloc.add_framework("fq", ["q"])
    alloc.add_agent("big", R("cpus:8;mem:1024"))
    (g,) = alloc.allocate()
    # stage 1 offered cpus:2;mem:1024, stage 2 the 6 other cpus: merged into one offer
    assert g.resources == R("cpus:8;mem:1024")


def test_limit_is_never_exceeded() -> None:
    """A role limited to 3 cpus gets 3 of an 8-cpu agent, then nothing (QUOTA_LIMIT)."""
    alloc, _ = make()
    alloc.set_quota("l", Quota(guarantees=R(""), limits=R("cpus:3")))
    alloc.add_framework("fl", ["l"])
    alloc.add_agent("x", R("cpus:8;mem:1024"))
    alloc.add_agent("y", R("cpus:8;mem:1024"))
    grants = alloc.allocate()
    assert sum(g.resources.scalar("cpus") for g in grants) == 3.0
    # the first agent visited gives cpus:3 (and all its mem); the second has mem only left
    # for l: 1024 mem >= 32 -> a mem-only offer is still allocatable
    assert sum(g.resources.scalar("mem") for g in grants) == 2048.0
    allocated = alloc.role_summary()["l"]["allocated"]
    assert isinstance(allocated, Resources) and allocated.scalar("cpus") == 3.0
    decline_all(alloc, grants)
    assert sum(g.resources.scalar("cpus") for g in alloc.allocate()) == 3.0


def test_limit_reason_is_reported() -> None:
    """Once the limit is reached and only cpus are left, why_not says QUOTA_LIMIT."""
    alloc, _ = make(min_allocatable=(R("cpus:0.01"),))
    alloc.set_quota("l", Quota(guarantees=R(""), limits=R("cpus:2")))
    alloc.add_framework("fl", ["l"])
    alloc.add_agent("x", R("cpus:2"))
    alloc.add_agent("y", R("cpus:2"))
    assert _cpus(alloc.allocate()) == {"fl": 2.0}
    assert alloc.allocate() == []
    assert alloc.why_not("fl")["l"]["reason"] == Reason.QUOTA_LIMIT


def test_limit_of_parent_applies_to_children() -> None:
    """`eng` limited to 2 cpus: `eng/web` and `eng/db` together get at most 2."""
    alloc, _ = make(min_allocatable=(R("cpus:0.01"),))
    alloc.set_quota("eng", Quota(guarantees=R(""), limits=R("cpus:2")))
    alloc.add_framework("web", ["eng/web"])
    alloc.add_framework("db", ["eng/db"])
    for i in range(4):
        alloc.add_agent(f"a{i}", R("cpus:1"))
    assert sum(_cpus(alloc.allocate()).values()) == 2.0


def test_headroom_is_kept_for_unmet_guarantees() -> None:
    """q is guaranteed 4 cpus but has no framework: a may take only 8 - 4 = 4 cpus."""
    alloc, _ = make()
    alloc.set_quota("q", Quota(guarantees=R("cpus:4")))
    alloc.add_framework("fa", ["a"])
    alloc.add_agent("x", R("cpus:4;mem:1024"))
    alloc.add_agent("y", R("cpus:4;mem:1024"))
    grants = alloc.allocate()
    assert sum(g.resources.scalar("cpus") for g in grants) == 4.0
    free = alloc.agent_available("x") + alloc.agent_available("y")
    assert free.scalar("cpus") == 4.0  # the headroom for q
    # the second agent visited could offer its mem only (cpus capped to 0 by the headroom)
    assert sum(g.resources.scalar("mem") for g in grants) == 2048.0


def test_headroom_reason_is_reported() -> None:
    """With only cpus on the agents, the held-back headroom shows as QUOTA_HEADROOM."""
    alloc, _ = make(min_allocatable=(R("cpus:0.01"),))
    alloc.set_quota("q", Quota(guarantees=R("cpus:4")))
    alloc.add_framework("fa", ["a"])
    alloc.add_agent("x", R("cpus:4"))
    assert alloc.allocate() == []
    assert alloc.why_not("fa")["a"]["reason"] == Reason.QUOTA_HEADROOM
    alloc.set_quota("q", None)
    assert _cpus(alloc.allocate()) == {"fa": 4.0}


def test_reservations_count_toward_the_guarantee() -> None:
    """Unallocated reservations of q are consumption: q's 2-cpu guarantee is met by them."""
    alloc, _ = make(min_allocatable=(R("cpus:0.01"),))
    alloc.set_quota("q", Quota(guarantees=R("cpus:2")))
    alloc.add_framework("fa", ["a"])
    alloc.add_agent("x", R("cpus(q):2;cpus:4"))
    # consumption of q = 2 reserved cpus = guarantee -> no headroom needed; a takes all 4
    assert _cpus(alloc.allocate()) == {"fa": 4.0}


def test_quota_must_be_scalar_and_guarantee_within_limit() -> None:
    """Quotas on ports, on reserved resources or with guarantee > limit are refused."""
    with pytest.raises(InvalidError):
        Quota(guarantees=R("ports:[1-2]"))
    with pytest.raises(InvalidError):
        Quota(guarantees=R("cpus(x):1"))
    with pytest.raises(InvalidError):
        Quota(guarantees=R("cpus:2"), limits=R("cpus:1"))


def test_zero_limit_blocks_unreserved_resources() -> None:
    """`cpus:0` as a limit means no unreserved cpus at all (not "no limit")."""
    quota = Quota.parse("", "cpus:0")
    assert quota.limit_totals() == {"cpus": 0}
    alloc, _ = make(min_allocatable=(R("cpus:0.01"),))
    alloc.set_quota("z", quota)
    alloc.add_framework("fz", ["z"])
    alloc.add_agent("x", R("cpus:4;cpus(z):1"))
    (g,) = alloc.allocate()
    assert g.resources == R("cpus(z):1")  # its own reservation only
    assert alloc.allocate() == []
    assert alloc.why_not("fz")["z"]["reason"] == Reason.QUOTA_LIMIT
