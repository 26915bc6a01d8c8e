"""Static and dynamic reservations are offered only to their role (and its sub-roles)."""

from __future__ import annotations

import pytest

from dcos_core.allocator import Reason
from dcos_core.errors import InvalidError

from .helpers import R, by_framework, make


def test_static_reservation_offered_only_to_its_role() -> None:
    """`cpus(ops):2;cpus:1;mem:64`: dev gets the unreserved part, ops the reserved part."""
    alloc, _ = make()
    alloc.add_agent("x", R("cpus(ops):2;cpus:1;mem:64"))
    alloc.add_framework("dev", ["dev"])
    (g,) = alloc.allocate()
    assert (g.framework_id, g.resources) == ("dev", R("cpus:1;mem:64"))
    alloc.add_framework("ops", ["ops"])
    (g,) = alloc.allocate()
    assert (g.framework_id, g.resources) == ("ops", R("cpus(ops):2"))


def test_reservation_and_unreserved_go_together_to_the_role() -> None:
    """A framework of the reservation's role is offered reserved + unreserved in one offer."""
    alloc, _ = make()
    alloc.add_agent("x", R("cpus(ops):2;cpus:1;mem:64"))
    alloc.add_framework("ops", ["ops"])
    (g,) = alloc.allocate()
    assert g.resources == R("cpus(ops):2;cpus:1;mem:64")


def test_reservation_offered_to_sub_roles() -> None:
    """A reservation for `ops` may be offered to `ops/web` but not to `opsx`."""
    alloc, _ = make()
    alloc.add_agent("x", R("cpus(ops):2;mem(ops):64"))
    alloc.add_framework("other", ["opsx"])
    assert alloc.allocate() == []
    assert alloc.why_not("other")["opsx"]["reason"] == Reason.RESERVED_FOR_OTHER_ROLE
    alloc.add_framework("web", ["ops/web"])
    (g,) = alloc.allocate()
    assert (g.framework_id, g.resources) == ("web", R("cpus(ops):2;mem(ops):64"))


def test_reserved_for_child_not_offered_to_parent() -> None:
    """A reservation for `ops/web` is not offered to a framework of `ops`."""
    alloc, _ = make()
    alloc.add_agent("x", R("cpus(ops/web):2;mem(ops/web):64"))
    alloc.add_framework("parent", ["ops"])
    assert alloc.allocate() == []


def test_dynamic_reserve_via_convert() -> None:
    """RESERVE on an offer: the resources become reserved for ops in allocation and total."""
    alloc, _ = make()
    alloc.add_agent("x", R("cpus:4;mem:256"))
    alloc.add_framework("ops", ["ops"])
    (g,) = alloc.allocate()
    consumed = R("cpus:2;mem:128")
    converted = consumed.reserve("ops")
    alloc.convert("ops", "x", "ops", consumed, converted)
    assert alloc.allocated("ops") == {"x": R("cpus:2;mem:128") + converted}
    alloc.recover("ops", "x", "ops", alloc.allocated("ops")["x"])
    assert alloc.agent_available("x") == R("cpus:2;mem:128") + converted
    # with ops suppressed, dev is the only one asking: it gets the unreserved half only
    alloc.suppress("ops")
    alloc.add_framework("dev", ["dev"])
    (g,) = alloc.allocate()
    assert (g.framework_id, g.resources) == ("dev", R("cpus:2;mem:128"))
    alloc.revive("ops")
    (g,) = alloc.allocate()
    assert (g.framework_id, g.resources) == ("ops", converted)


def test_dynamic_unreserve_via_convert() -> None:
    """UNRESERVE: reserved resources become unreserved and can then go to any role."""
    alloc, _ = make()
    alloc.add_agent("x", R("cpus(ops):2;mem(ops):64"))
    alloc.add_framework("ops", ["ops"])
    (g,) = alloc.allocate()
    alloc.convert("ops", "x", "ops", g.resources, g.resources.unreserve())
    alloc.recover("ops", "x", "ops", g.resources.unreserve())
    alloc.suppress("ops")
    alloc.add_framework("dev", ["dev"])
    grants = by_framework(alloc.allocate())
    assert grants["dev"][0].resources == R("cpus:2;mem:64")


def test_convert_checks_the_allocation() -> None:
    """Converting what the framework does not hold, or changing quantities, is refused."""
    alloc, _ = make()
    alloc.add_agent("x", R("cpus:4;mem:256"))
    alloc.add_framework("ops", ["ops"])
    alloc.allocate()
    with pytest.raises(InvalidError):
        alloc.convert("ops", "x", "ops", R("cpus:8"), R("cpus:8").reserve("ops"))
    with pytest.raises(InvalidError):
        alloc.convert("ops", "x", "ops", R("cpus:1"), R("cpus:2").reserve("ops"))
    assert alloc.allocated("ops") == {"x": R("cpus:4;mem:256")}


def test_reserved_resources_do_not_reach_other_roles_in_one_cycle() -> None:
    """Several roles, several reserved agents: every grant holds only its own role's slots."""
    alloc, _ = make()
    for i, role in enumerate(["a", "b", "c"] * 3):
        alloc.add_agent(f"x{i}", R(f"cpus({role}):1;mem({role}):64;cpus:1;mem:64"))
    for role in ("a", "b", "c"):
        alloc.add_framework(f"fw-{role}", [role])
    for g in alloc.allocate():
        for (_name, rrole, _kind), _v in g.resources:
            assert rrole in ("*", g.role)
