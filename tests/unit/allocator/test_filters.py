"""Refuse filters, suppress/revive, min_allocatable and deactivated agents/frameworks."""

from __future__ import annotations

from typing import Any

import pytest

from dcos_core.allocator import Allocator, AllocatorConfig, Reason
from dcos_core.clock import FakeClock
from dcos_core.errors import InvalidError

from .helpers import R, decline_all, make


def _one_agent_one_framework(**config: Any) -> tuple[Allocator, FakeClock]:
    """One agent x (cpus:2;mem:256), one framework fw in role r."""
    alloc, clock = make(**config)
    alloc.add_agent("x", R("cpus:2;mem:256"))
    alloc.add_framework("fw", ["r"])
    return alloc, clock


def test_refuse_filter_hides_agent_until_expiry() -> None:
    """Declined with refuse_seconds=10: no offer at +9.9 s, an offer again at +10 s."""
    alloc, clock = _one_agent_one_framework()
    decline_all(alloc, alloc.allocate(), refuse=10)
    assert alloc.stats()["outstanding_filters"] == 1
    clock.advance(9.9)
    assert alloc.allocate() == []
    assert alloc.why_not("fw")["r"]["reason"] == Reason.FILTERED
    clock.advance(0.1)
    assert [g.agent_id for g in alloc.allocate()] == ["x"]
    assert alloc.stats()["outstanding_filters"] == 0


def test_no_refuse_seconds_means_no_filter() -> None:
    """recover(..., None): the agent is offered again in the very next cycle."""
    alloc, _ = _one_agent_one_framework()
    decline_all(alloc, alloc.allocate(), refuse=None)
    assert len(alloc.allocate()) == 1


def test_negative_refuse_seconds_use_the_default_of_five_seconds() -> None:
    """Mesos: a negative refuse_seconds means the default (5 s)."""
    alloc, clock = _one_agent_one_framework()
    decline_all(alloc, alloc.allocate(), refuse=-1)
    clock.advance(4.9)
    assert alloc.allocate() == []
    clock.advance(0.1)
    assert len(alloc.allocate()) == 1


def test_default_refuse_seconds_is_configurable() -> None:
    """default_refuse_seconds=2: a negative refuse_seconds filters for 2 s."""
    alloc, clock = _one_agent_one_framework(default_refuse_seconds=2.0)
    assert AllocatorConfig().default_refuse_seconds == 5.0
    decline_all(alloc, alloc.allocate(), refuse=-1)
    clock.advance(1.9)
    assert alloc.allocate() == []
    clock.advance(0.1)
    assert len(alloc.allocate()) == 1


def test_refuse_seconds_are_capped_at_a_year() -> None:
    """An infinite refuse_seconds still expires after 365 days."""
    alloc, clock = _one_agent_one_framework()
    decline_all(alloc, alloc.allocate(), refuse=float("inf"))
    clock.advance(365 * 24 * 3600 - 1)
    assert alloc.allocate() == []
    clock.advance(1)
    assert len(alloc.allocate()) == 1


def test_filter_hides_only_offers_that_fit_in_the_refused_resources() -> None:
    """A filter for cpus:2;mem:256 does not hide a bigger offer (the agent grew)."""
    alloc, _ = _one_agent_one_framework()
    decline_all(alloc, alloc.allocate(), refuse=60)
    assert alloc.allocate() == []
    alloc.update_agent_total("x", R("cpus:4;mem:256"))
    (g,) = alloc.allocate()
    assert g.resources == R("cpus:4;mem:256")


def test_filter_is_per_framework_and_agent() -> None:
    """fw's filter on x does not hide x from other, nor y from fw."""
    alloc, _ = make()
    alloc.add_agent("x", R("cpus:1;mem:64"))
    alloc.add_framework("fw", ["r"])
    decline_all(alloc, alloc.allocate(), refuse=60)
    alloc.add_framework("other", ["r"])
    assert [(g.framework_id, g.agent_id) for g in alloc.allocate()] == [("other", "x")]
    alloc.add_agent("y", R("cpus:1;mem:64"))
    assert [(g.framework_id, g.agent_id) for g in alloc.allocate()] == [("fw", "y")]


def test_revive_clears_filters() -> None:
    """REVIVE drops the refuse filters of the framework at once."""
    alloc, _ = _one_agent_one_framework()
    decline_all(alloc, alloc.allocate(), refuse=3600)
    assert alloc.allocate() == []
    alloc.revive("fw")
    assert len(alloc.allocate()) == 1


def test_revive_of_one_role_keeps_the_other_roles_filters() -> None:
    """Reviving role a leaves the filter of role b in place."""
    alloc, _ = make()
    alloc.add_framework("fw", ["a", "b"])
    alloc.add_agent("x", R("cpus:1;mem:64"))
    alloc.add_agent("y", R("cpus:1;mem:64"))
    grants = alloc.allocate()
    assert sorted(g.role for g in grants) == ["a", "b"]
    decline_all(alloc, grants, refuse=3600)
    alloc.revive("fw", ["a"])
    assert {g.role for g in alloc.allocate()} == {"a"}


def test_suppress_stops_offers_and_revive_restarts_them() -> None:
    """SUPPRESS: no offers (reason SUPPRESSED); REVIVE: offers again."""
    alloc, _ = _one_agent_one_framework()
    alloc.suppress("fw")
    assert alloc.allocate() == []
    assert alloc.why_not("fw")["r"]["reason"] == Reason.SUPPRESSED
    alloc.revive("fw")
    assert len(alloc.allocate()) == 1
    assert alloc.why_not("fw") == {}


def test_suppress_one_role() -> None:
    """Suppressing role a of a two-role framework leaves role b offered."""
    alloc, _ = make()
    alloc.add_framework("fw", ["a", "b"], suppressed_roles=["a"])
    alloc.add_agent("x", R("cpus:1;mem:64"))
    alloc.add_agent("y", R("cpus:1;mem:64"))
    assert {g.role for g in alloc.allocate()} == {"b"}
    alloc.update_framework("fw", ["a", "b"], suppressed_roles=[])
    assert {g.role for g in alloc.allocate()} == set()  # everything is offered already
    alloc.suppress("fw", ["b"])
    assert alloc.why_not("fw")["a"]["reason"] == Reason.NO_AGENT_FITS


def test_min_allocatable_default_needs_cpus_or_mem() -> None:
    """Defaults cpus:0.01|mem:32: an agent with 0.005 cpus and 16 mem is not offered."""
    alloc, _ = make()
    alloc.add_framework("fw", ["r"])
    alloc.add_agent("tiny", R("cpus:0.005;mem:16;disk:100"))
    assert alloc.allocate() == []
    assert alloc.why_not("fw")["r"]["reason"] == Reason.MIN_ALLOCATABLE
    alloc.add_agent("ok", R("cpus:0.01"))
    assert [g.agent_id for g in alloc.allocate()] == ["ok"]


def test_min_allocatable_parse_and_all_quantities_of_one_alternative() -> None:
    """`cpus:1;mem:64|disk:10`: an offer needs both cpus:1 and mem:64, or disk:10."""
    mins = AllocatorConfig.parse_min_allocatable("cpus:1;mem:64|disk:10")
    assert mins == (R("cpus:1;mem:64"), R("disk:10"))
    alloc, _ = make(min_allocatable=mins)
    alloc.add_framework("fw", ["r"])
    alloc.add_agent("a", R("cpus:1;mem:32"))
    assert alloc.allocate() == []
    alloc.add_agent("b", R("cpus:1;mem:64"))
    alloc.add_agent("c", R("disk:10"))
    assert sorted(g.agent_id for g in alloc.allocate()) == ["b", "c"]
    with pytest.raises(InvalidError):
        AllocatorConfig.parse_min_allocatable("ports:[1-2]")


def test_framework_min_allocatable_overrides_the_default() -> None:
    """A framework asking for cpus:4 per offer skips a 2-cpu agent; another takes it."""
    alloc, _ = make()
    alloc.add_framework("big", ["r"], min_allocatable={"r": (R("cpus:4"),)})
    alloc.add_agent("x", R("cpus:2;mem:64"))
    assert alloc.allocate() == []
    assert alloc.why_not("big")["r"]["reason"] == Reason.MIN_ALLOCATABLE
    alloc.add_framework("small", ["r"])
    assert [g.framework_id for g in alloc.allocate()] == ["small"]
    alloc.add_agent("y", R("cpus:4;mem:64"))
    assert [g.framework_id for g in alloc.allocate()] == ["big"]


def test_deactivated_agent_gets_no_offers() -> None:
    """A draining agent is skipped; NO_AGENTS when it is the only one; offered once activated."""
    alloc, _ = _one_agent_one_framework()
    alloc.deactivate_agent("x")
    assert alloc.allocate() == []
    assert alloc.why_not("fw")["r"]["reason"] == Reason.NO_AGENTS
    alloc.activate_agent("x")
    assert len(alloc.allocate()) == 1


def test_deactivated_framework_gets_nothing_but_keeps_allocations() -> None:
    """A disconnected framework keeps what it holds and gets no new offers (INACTIVE)."""
    alloc, _ = _one_agent_one_framework()
    (g,) = alloc.allocate()
    alloc.deactivate_framework("fw")
    alloc.add_agent("y", R("cpus:1;mem:64"))
    assert alloc.allocate() == []
    assert alloc.allocated("fw") == {"x": g.resources}
    assert alloc.why_not("fw")["r"]["reason"] == Reason.INACTIVE
    alloc.activate_framework("fw")
    assert [g.agent_id for g in alloc.allocate()] == ["y"]


def test_framework_added_inactive() -> None:
    """add_framework(active=False) gets nothing until activated."""
    alloc, _ = make()
    alloc.add_agent("x", R("cpus:1;mem:64"))
    alloc.add_framework("fw", ["r"], active=False)
    assert alloc.allocate() == []
    alloc.activate_framework("fw")
    assert len(alloc.allocate()) == 1
