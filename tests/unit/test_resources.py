"""Resources: text and JSON forms, arithmetic, reservations, roles, error messages."""

from __future__ import annotations

import pytest

from dcos_core.errors import InvalidError
from dcos_core.resources import Resources, merge_ranges


def test_parse_scalars_ranges_sets() -> None:
    """The Mesos flag form with all three kinds."""
    r = Resources.parse("cpus:4;mem:8192;disk:1e4;ports:[31000-32000];zones:{a,b}")
    assert r.scalar("cpus") == 4.0
    assert r.scalar("disk") == 10000.0
    assert r.ranges("ports") == ((31000, 32000),)
    assert ("zones", "*", "") in r.round_trip_slots()


def test_static_reservation_text_form() -> None:
    """`cpus(ops):2` is 2 cpus statically reserved for ops."""
    r = Resources.parse("cpus(ops):2;cpus:1")
    assert r.reserved("ops").scalar("cpus") == 2.0
    assert r.unreserved().scalar("cpus") == 1.0
    assert ("cpus", "ops", "STATIC") in r.round_trip_slots()
    assert str(r) == "cpus:1;cpus(ops):2"


def test_ranges_merge_and_sort() -> None:
    """Adjacent and overlapping ranges coalesce: [3-5],[1-2],[6-8] -> [1-8]."""
    assert merge_ranges([(3, 5), (1, 2), (6, 8)]) == ((1, 8),)
    r = Resources.parse("ports:[10-20, 15-30, 40-40]")
    assert r.ranges("ports") == ((10, 30), (40, 40))


def test_three_decimal_precision_without_drift() -> None:
    """0.1 added 1000 times is exactly 100 (integer thousandths)."""
    r = Resources()
    step = Resources.parse("cpus:0.1")
    for _ in range(1000):
        r = r + step
    assert r.scalar("cpus") == 100.0


def test_add_subtract_contains() -> None:
    """cpus 4 - 1.5 = 2.5; ports minus one port splits the range."""
    total = Resources.parse("cpus:4;mem:1024;ports:[31000-31010]")
    used = Resources.parse("cpus:1.5;mem:24;ports:[31005-31005]")
    left = total - used
    assert left.scalar("cpus") == 2.5
    assert left.scalar("mem") == 1000.0
    assert left.ranges("ports") == ((31000, 31004), (31006, 31010))
    assert total.contains(used) and used <= total
    assert not used.contains(total)
    assert left + used == total


def test_subtract_never_goes_negative() -> None:
    """Subtracting more than there is drops the slot."""
    assert (Resources.parse("cpus:1") - Resources.parse("cpus:2")).scalar("cpus") == 0.0


def test_contains_respects_roles() -> None:
    """Unreserved cpus do not contain cpus reserved for a role."""
    assert not Resources.parse("cpus:8").contains(Resources.parse("cpus(eng):1"))


def test_v1_round_trip() -> None:
    """to_v1 then from_v1 gives the same value, including reservations and allocation_info."""
    r = Resources.parse("cpus:2;mem:512;ports:[1-5,7-9];zones:{x}") + Resources.parse(
        "cpus:1"
    ).reserve("eng/web")
    v1 = r.to_v1(allocation_role="eng/web")
    assert all(item["allocation_info"] == {"role": "eng/web"} for item in v1)
    assert Resources.from_v1(v1) == r
    cpus = next(i for i in v1 if i["name"] == "cpus" and i["role"] == "*")
    assert cpus == {
        "name": "cpus",
        "role": "*",
        "type": "SCALAR",
        "scalar": {"value": 2.0},
        "allocation_info": {"role": "eng/web"},
    }


def test_parse_accepts_json_text() -> None:
    """The JSON list form is accepted by parse()."""
    r = Resources.parse('[{"name": "cpus", "type": "SCALAR", "scalar": {"value": 1.5}}]')
    assert r.scalar("cpus") == 1.5


def test_v0_flattening() -> None:
    """The legacy /state form sums roles and always shows cpus, gpus, mem, disk."""
    r = Resources.parse("cpus:1;cpus(ops):2;ports:[1-2];zones:{b,a}")
    assert r.to_v0() == {
        "cpus": 3.0,
        "gpus": 0.0,
        "mem": 0.0,
        "disk": 0.0,
        "ports": "[1-2]",
        "zones": "{a,b}",
    }


def test_reserve_unreserve() -> None:
    """RESERVE moves quantities to a role (DYNAMIC); UNRESERVE moves them back."""
    r = Resources.parse("cpus:2;mem:64")
    reserved = r.reserve("eng")
    assert reserved.reserved("eng").scalar("cpus") == 2.0
    assert ("cpus", "eng", "DYNAMIC") in reserved.round_trip_slots()
    assert reserved.unreserve() == r
    with pytest.raises(InvalidError, match="role"):
        r.reserve("*")


def test_allocatable_to_hierarchical_roles() -> None:
    """A framework in eng/web may use unreserved, eng and eng/web resources, not ops or eng/db."""
    r = Resources.parse("cpus:1;cpus(eng):2;cpus(eng/web):4;cpus(ops):8;cpus(eng/db):16")
    assert r.allocatable_to("eng/web").scalar("cpus") == 1 + 2 + 4
    assert r.allocatable_to("eng").scalar("cpus") == 1 + 2
    assert r.allocatable_to("other").scalar("cpus") == 1
    # "eng" is not an ancestor of "engineering"
    assert Resources.parse("cpus(eng):2").allocatable_to("engineering").scalar("cpus") == 0


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("cpus:-1", "resources.cpus: '-1' is negative"),
        ("cpus:nan", "resources.cpus: 'nan' is not a finite number"),
        ("cpus:inf", "not a finite number"),
        ("cpus:lots", "resources.cpus: 'lots' is not a number"),
        ("ports:[10-5]", "begin > end"),
        ("ports:[10-]", "resources.ports: cannot parse range '10-'"),
        ("ports:[1-2", "missing ']'"),
        ("zones:{a", "missing '}'"),
        ("cpus:1;cpus:[1-2]", "'cpus' given with two different types"),
        ("cpus", "expected name:value"),
        ("cpus(-bad):1", "resources.cpus.role"),
        ("cpus(a//b):1", "not a valid role"),
    ],
)
def test_bad_text_names_the_field(text: str, fragment: str) -> None:
    """Every bad input raises InvalidError with a message naming the field."""
    with pytest.raises(InvalidError) as info:
        Resources.parse(text)
    assert fragment in str(info.value)


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        ({"name": "cpus"}, "must be a list"),
        ([{"type": "SCALAR"}], "resources[0]: 'name' is required"),
        ([{"name": "cpus", "type": "SCALAR"}], "resources[0]: SCALAR resource needs scalar.value"),
        ([{"name": "cpus", "scalar": {"value": -2}}], "resources[0].scalar.value"),
        (
            [{"name": "p", "type": "RANGES", "ranges": {"range": [{"begin": "x", "end": 2}]}}],
            "integer begin and end",
        ),
        ([{"name": "x", "type": "TEXT"}], "resources[0].type: unknown resource type 'TEXT'"),
        ([{"name": "s", "type": "SET", "set": {"item": [1]}}], "list of strings"),
        (
            [{"name": "c", "scalar": {"value": 1}, "reservations": [{"type": "X", "role": "a"}]}],
            "unknown reservation type",
        ),
    ],
)
def test_bad_v1_names_the_field(data: object, fragment: str) -> None:
    """v1 JSON errors name the list index and field."""
    with pytest.raises(InvalidError) as info:
        Resources.from_v1(data)
    assert fragment in str(info.value)


def test_adding_different_types_is_an_error() -> None:
    """cpus as a scalar plus cpus as a set is a type clash."""
    with pytest.raises(InvalidError, match="two different types"):
        Resources.parse("cpus:1") + Resources.parse("cpus:{a}")
