"""why_not: the reason recorded for a framework and role that got nothing in the last cycle."""

from __future__ import annotations

from dcos_core.allocator import Allocator, Reason

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


def _busy_cluster(used: str) -> Allocator:
    """Agents x and y (cpus:2;mem:2048), `used` of each taken by the tasks of a framework that is
    not subscribed now; `fw` was offered what is left on both and declined it (refuse 60 s)."""
    alloc, _ = make()
    alloc.add_framework("fw", ["r"])
    for aid in ("x", "y"):
        alloc.add_agent(aid, R("cpus:2;mem:2048"), used={("other", "r"): R(used)})
    grants = alloc.allocate()
    assert sorted((g.framework_id, g.agent_id) for g in grants) == [("fw", "x"), ("fw", "y")]
    decline_all(alloc, grants, refuse=60)
    assert alloc.allocate() == []
    return alloc


def test_too_few_cpus_left_is_insufficient_cpus_not_filtered() -> None:
    """The issue's case: tasks need more cpus than any agent has free; after one decline the
    blocking reason is insufficient cpus (per agent: 0.5 of 2 free), not the filter."""
    why = _busy_cluster("cpus:1.5;mem:64").why_not("fw")["r"]
    assert why["reason"] == Reason.INSUFFICIENT_RESOURCES
    assert why["scarce"] == "cpus"
    assert "insufficient cpus on 2 agent(s)" in str(why["detail"])
    assert why["agent_counts"] == {"INSUFFICIENT_RESOURCES": 2}
    agents = why["agents"]
    assert isinstance(agents, list) and [a["agent_id"] for a in agents] == ["x", "y"]
    for a in agents:
        assert a["reason"] == Reason.INSUFFICIENT_RESOURCES
        assert a["free"] == {"cpus": 0.5, "mem": 1984.0}
        assert str(a["detail"]).startswith("insufficient cpus: 0.5 of 2 free")


def test_no_cpus_left_at_all_is_insufficient_cpus() -> None:
    """Every cpu is taken, only mem is free (a mem-only offer is still made, and declined)."""
    why = _busy_cluster("cpus:2;mem:64").why_not("fw")["r"]
    assert why["reason"] == Reason.INSUFFICIENT_RESOURCES
    assert why["scarce"] == "cpus"
    agents = why["agents"]
    assert isinstance(agents, list)
    assert {str(a["detail"]).split(";")[0] for a in agents} == {"insufficient cpus: 0 of 2 free"}


def test_full_agents_do_not_hide_the_blocking_reason() -> None:
    """Three full agents and one with too little left: the reason is about the one that had
    something (INSUFFICIENT_RESOURCES), the full ones are counted as NO_AGENT_FITS."""
    alloc, _ = make()
    alloc.add_framework("fw", ["r"])
    for aid in ("a", "b", "c"):
        alloc.add_agent(aid, R("cpus:1;mem:64"), used={("other", "r"): R("cpus:1;mem:64")})
    alloc.add_agent("d", R("cpus:4;mem:4096"), used={("other", "r"): R("cpus:3.9;mem:64")})
    decline_all(alloc, alloc.allocate(), refuse=60)
    assert alloc.allocate() == []
    why = alloc.why_not("fw")["r"]
    assert why["reason"] == Reason.INSUFFICIENT_RESOURCES
    assert why["agent_counts"] == {"NO_AGENT_FITS": 3, "INSUFFICIENT_RESOURCES": 1}
    agents = why["agents"]
    assert isinstance(agents, list)
    assert [(a["agent_id"], a["reason"]) for a in agents] == [
        ("d", Reason.INSUFFICIENT_RESOURCES),
        ("a", Reason.NO_AGENT_FITS),
        ("b", Reason.NO_AGENT_FITS),
        ("c", Reason.NO_AGENT_FITS),
    ]
    assert str(why["detail"]).startswith("insufficient cpus on 1 agent(s)")
    assert "nothing free on 3 agent(s)" in str(why["detail"])


def test_a_declined_whole_agent_stays_filtered_with_what_it_declined() -> None:
    """A whole unused agent declined: FILTERED, and the agent line says what was declined."""
    alloc, _ = make()
    alloc.add_framework("fw", ["r"])
    alloc.add_agent("x", R("cpus:2;mem:512"))
    decline_all(alloc, alloc.allocate(), refuse=60)
    assert alloc.allocate() == []
    why = alloc.why_not("fw")["r"]
    assert why["reason"] == Reason.FILTERED
    assert "scarce" not in why
    agents = why["agents"]
    assert isinstance(agents, list)
    assert agents[0]["detail"] == "the framework declined the whole agent (cpus 2, mem 512 MiB)"


def test_every_visited_agent_is_counted_once() -> None:
    """agent_counts covers every active agent: noted, given to others, or with nothing free."""
    alloc, _ = make()
    alloc.add_framework("hi", ["r"])
    alloc.add_framework("lo", ["r"])
    alloc.add_agent("used", R("cpus:2;mem:64"), used={("hi", "r"): R("cpus:2;mem:64")})
    alloc.add_agent("free", R("cpus:2;mem:64"))
    alloc.allocate()
    why = alloc.why_not("hi")["r"]
    assert why["agent_counts"] == {"LOWER_SHARE_FIRST": 1, "NO_AGENT_FITS": 1}
    assert why["reason"] == Reason.LOWER_SHARE_FIRST
