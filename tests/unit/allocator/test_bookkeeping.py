"""Agents and frameworks coming and going: allocations stay consistent."""

from __future__ import annotations

import pytest

from dcos_core.allocator import Allocator, Quota
from dcos_core.errors import ConflictError, InvalidError, NotFoundError

from .helpers import R, make


def test_used_resources_of_unknown_framework_are_kept_and_attributed() -> None:
    """Re-registration: usage of a framework not yet known is charged, then becomes its share."""
    alloc, _ = make()
    alloc.add_agent("x", R("cpus:4;mem:256"), used={("late", "r"): R("cpus:3;mem:64")})
    assert alloc.agent_available("x") == R("cpus:1;mem:192")
    alloc.add_framework("early", ["r"])
    alloc.add_agent("y", R("cpus:4;mem:256"))
    alloc.add_framework("late", ["r"])
    assert alloc.allocated("late") == {"x": R("cpus:3;mem:64")}
    # shares: late = 3/8 cpus, early = 0 -> early gets the first agent visited
    grants = alloc.allocate()
    assert grants[0].framework_id == "early"
    summary = alloc.role_summary()["r"]
    assert summary["frameworks"] == ["early", "late"]


def test_remove_framework_frees_everything() -> None:
    """After remove_framework every agent is whole again and the role is empty."""
    alloc, _ = make()
    alloc.add_framework("fw", ["r"])
    alloc.add_agent("x", R("cpus:2;mem:64"), used={("fw", "r"): R("cpus:1")})
    alloc.add_agent("y", R("cpus:2;mem:64"))
    alloc.allocate()
    alloc.remove_framework("fw")
    assert alloc.agent_available("x") == R("cpus:2;mem:64")
    assert alloc.agent_available("y") == R("cpus:2;mem:64")
    assert "r" not in alloc.role_summary()  # no framework, allocation, quota or weight left
    assert alloc.allocated("fw") == {}
    with pytest.raises(NotFoundError):
        alloc.why_not("fw")


def test_remove_agent_drops_its_allocations_and_shrinks_the_cluster() -> None:
    """Removing an agent removes what frameworks held there; recovering it later is a no-op."""
    alloc, _ = make()
    alloc.add_framework("fw", ["r"])
    alloc.add_agent("x", R("cpus:2;mem:64"))
    (g,) = alloc.allocate()
    alloc.remove_agent("x")
    assert alloc.allocated("fw") == {}
    alloc.recover("fw", "x", "r", g.resources, 10)  # the master may still send it back
    assert alloc.stats()["agents"] == 0
    with pytest.raises(NotFoundError):
        alloc.agent_available("x")


def test_update_agent_total_keeps_allocations() -> None:
    """Growing an agent offers the difference; shrinking below usage leaves nothing free."""
    alloc, _ = make()
    alloc.add_framework("fw", ["r"])
    alloc.add_agent("x", R("cpus:2;mem:64"))
    alloc.allocate()
    alloc.update_agent_total("x", R("cpus:3;mem:64"))
    (g,) = alloc.allocate()
    assert g.resources == R("cpus:1")
    alloc.update_agent_total("x", R("cpus:1;mem:64"))
    assert alloc.agent_available("x") == R("")


def test_recover_more_than_allocated_is_refused() -> None:
    """Recovering resources the framework does not hold is a bug in the caller: InvalidError."""
    alloc, _ = make()
    alloc.add_framework("fw", ["r"])
    alloc.add_agent("x", R("cpus:2;mem:64"))
    alloc.allocate()
    with pytest.raises(InvalidError):
        alloc.recover("fw", "x", "r", R("cpus:3"))
    with pytest.raises(InvalidError):
        alloc.recover("fw", "x", "other-role", R("cpus:1"))


def test_duplicates_and_unknown_ids() -> None:
    """Adding twice conflicts; unknown ids are NotFound; bad roles and weights are invalid."""
    alloc, _ = make()
    alloc.add_agent("x", R("cpus:1"))
    alloc.add_framework("fw", ["r"])
    with pytest.raises(ConflictError):
        alloc.add_agent("x", R("cpus:1"))
    with pytest.raises(ConflictError):
        alloc.add_framework("fw", ["r"])
    with pytest.raises(NotFoundError):
        alloc.suppress("nope")
    with pytest.raises(NotFoundError):
        alloc.deactivate_agent("nope")
    with pytest.raises(InvalidError):
        alloc.add_framework("bad", ["-x"])
    with pytest.raises(InvalidError):
        alloc.set_weights({"r": 0.0})


def test_role_summary_and_stats() -> None:
    """role_summary reports weight, subtree allocation, frameworks, quota and share."""
    alloc, _ = make()
    alloc.set_weights({"eng": 2.0})
    quota = Quota(guarantees=R("cpus:1"))
    alloc.set_quota("eng/web", quota)
    alloc.add_framework("web", ["eng/web"])
    alloc.add_agent("x", R("cpus:4;mem:1024"))
    alloc.allocate()
    s = alloc.role_summary()
    assert s["eng"]["weight"] == 2.0
    assert s["eng"]["allocated"] == R("cpus:4;mem:1024")
    assert s["eng"]["share"] == 0.5  # 4/4 cpus / weight 2
    assert s["eng/web"]["share"] == 1.0
    assert s["eng/web"]["quota"] == quota
    assert s["eng/web"]["frameworks"] == ["web"]
    st = alloc.stats()
    assert st["cycles"] == 1 and st["grants"] == 1 and st["agents"] == 1
    assert st["last_cycle_seconds"] >= 0.0


def test_allocate_only_given_agents() -> None:
    """allocate(agent_ids) looks at those agents only (unknown ids are ignored)."""
    alloc, _ = make()
    alloc.add_framework("fw", ["r"])
    alloc.add_agent("x", R("cpus:1;mem:64"))
    alloc.add_agent("y", R("cpus:1;mem:64"))
    assert [g.agent_id for g in alloc.allocate(["y", "gone"])] == ["y"]


def test_allocator_module_imports_no_io() -> None:
    """The allocator package is pure: it pulls in no I/O modules."""
    import subprocess
    import sys

    code = (
        "import sys, dcos_core.allocator;"
        "bad = {'fastapi','httpx','sqlite3','subprocess','socket','psutil','asyncio'};"
        "print(sorted(bad & set(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
    assert Allocator.__module__ == "dcos_core.allocator.allocator"


def test_recover_after_remove_framework_is_ignored() -> None:
    """The master may rescind offers of a removed framework: recovering them is a no-op."""
    alloc, _ = make()
    alloc.add_framework("fw", ["r"])
    alloc.add_agent("x", R("cpus:2;mem:64"))
    (g,) = alloc.allocate()
    alloc.remove_framework("fw")
    alloc.recover("fw", "x", "r", g.resources, 5)
    assert alloc.agent_available("x") == R("cpus:2;mem:64")
    assert alloc.stats()["outstanding_filters"] == 0


def test_update_framework_drops_reasons_of_removed_roles() -> None:
    """why_not only lists roles the framework is still subscribed to."""
    alloc, _ = make()
    alloc.add_framework("fw", ["a", "b"])
    alloc.allocate()
    assert set(alloc.why_not("fw")) == {"a", "b"}
    alloc.update_framework("fw", ["b"])
    assert set(alloc.why_not("fw")) == {"b"}
