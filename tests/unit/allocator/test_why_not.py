"""why_not: the reason recorded for a framework and role that got nothing in the last cycle."""

from __future__ import annotations

from dcos_core.allocator import Reason

from .helpers import R, decline_all, make


def test_no_agents() -> None:
    """No agent registered: NO_AGENTS, with the time of the cycle."""
    alloc, clock = make()
    alloc.add_framework("fw", ["r"])
    assert alloc.allocate() == []
    why = alloc.why_not("fw")["r"]
    assert why["reason"] == Reason.NO_AGENTS
    assert why["at"] == clock.time()
    assert "no agent" in str(why["detail"])


def test_filtered() -> None:
    """The only agent is hidden by a refuse filter: FILTERED."""
    alloc, _ = make()
    alloc.add_framework("fw", ["r"])
    alloc.add_agent("x", R("cpus:1;mem:64"))
    decline_all(alloc, alloc.allocate(), refuse=60)
    assert alloc.allocate() == []
    assert alloc.why_not("fw")["r"]["reason"] == Reason.FILTERED


def test_filtered_while_another_framework_takes_the_agent() -> None:
    """fw (share 0) comes first but is filtered on x; other (share .5) takes x: FILTERED."""
    alloc, _ = make()
    alloc.add_framework("fw", ["r"])
    alloc.add_agent("x", R("cpus:1;mem:64"))
    decline_all(alloc, alloc.allocate(), refuse=60)
    alloc.add_framework("other", ["r"])
    alloc.add_agent("y", R("cpus:1;mem:64"), used={("other", "r"): R("cpus:1;mem:64")})
    assert [g.framework_id for g in alloc.allocate()] == ["other"]
    assert alloc.why_not("fw")["r"]["reason"] == Reason.FILTERED


def test_suppressed() -> None:
    """A suppressed role: SUPPRESSED."""
    alloc, _ = make()
    alloc.add_framework("fw", ["r"], suppressed_roles=["r"])
    alloc.add_agent("x", R("cpus:1;mem:64"))
    assert alloc.allocate() == []
    assert alloc.why_not("fw")["r"]["reason"] == Reason.SUPPRESSED


def test_lower_share_frameworks_took_everything() -> None:
    """hi holds 2 of 4 cpus (share .5), lo none: lo takes the free agent, hi: LOWER_SHARE_FIRST."""
    alloc, _ = make()
    alloc.add_framework("hi", ["r"])
    alloc.add_framework("lo", ["r"])
    alloc.add_agent("used", R("cpus:2;mem:64"), used={("hi", "r"): R("cpus:2;mem:64")})
    alloc.add_agent("free", R("cpus:2;mem:64"))
    assert [g.framework_id for g in alloc.allocate()] == ["lo"]
    why = alloc.why_not("hi")["r"]
    assert why["reason"] == Reason.LOWER_SHARE_FIRST
    assert "1 agent(s)" in str(why["detail"])
    assert alloc.why_not("lo") == {}


def test_lower_share_role_took_everything() -> None:
    """Across roles too: the role with the higher share gets LOWER_SHARE_FIRST."""
    alloc, _ = make()
    alloc.add_framework("a", ["ra"])
    alloc.add_framework("b", ["rb"])
    alloc.add_agent("used", R("cpus:1;mem:64"), used={("a", "ra"): R("cpus:1;mem:64")})
    alloc.add_agent("free", R("cpus:1;mem:64"))
    assert [g.framework_id for g in alloc.allocate()] == ["b"]
    assert alloc.why_not("a")["ra"]["reason"] == Reason.LOWER_SHARE_FIRST


def test_nothing_free_at_all() -> None:
    """Everything was offered in an earlier cycle: NO_AGENT_FITS."""
    alloc, _ = make()
    alloc.add_framework("fw", ["r"])
    alloc.add_agent("x", R("cpus:1;mem:64"))
    assert len(alloc.allocate()) == 1
    assert alloc.allocate() == []
    assert alloc.why_not("fw")["r"]["reason"] == Reason.NO_AGENT_FITS


def test_reason_is_cleared_by_an_offer_and_kept_per_role() -> None:
    """A role that got an offer drops its entry; the other role keeps its reason."""
    alloc, _ = make()
    alloc.add_framework("fw", ["a", "b"], suppressed_roles=["b"])
    assert alloc.allocate() == []
    assert set(alloc.why_not("fw")) == {"a", "b"}
    alloc.add_agent("x", R("cpus:1;mem:64"))
    assert len(alloc.allocate()) == 1
    assert set(alloc.why_not("fw")) == {"b"}
    assert alloc.why_not("fw")["b"]["reason"] == Reason.SUPPRESSED


def test_every_reason_has_a_detail() -> None:
    """Each recorded reason carries a human-readable, non-empty detail string."""
    alloc, _ = make()
    alloc.add_framework("fw", ["r"])
    alloc.allocate()
    for entry in alloc.why_not("fw").values():
        assert isinstance(entry["detail"], str) and entry["detail"]
