"""Placement: Marathon constraints, resource and port selection, roles, rejection reasons."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dcos_core.errors import NotFoundError
from dcos_core.frameworks.placement import (
    AGENT_UNAVAILABLE,
    DECLINED_SCARCE_RESOURCES,
    INSUFFICIENT_CPUS,
    INSUFFICIENT_DISK,
    INSUFFICIENT_GPUS,
    INSUFFICIENT_MEMORY,
    INSUFFICIENT_PORTS,
    REASONS,
    UNFULFILLED_CONSTRAINT,
    UNFULFILLED_ROLE,
    AgentInfo,
    Match,
    OfferMatcher,
    PlacedInstance,
    Request,
    agent_of_offer,
    check_constraints,
)
from dcos_core.resources import Resources

Json = dict[str, Any]


def make_offer(
    n: int,
    resources: str = "cpus:4;mem:4096;disk:1000;ports:[31000-31009]",
    *,
    attrs: dict[str, str] | None = None,
    role: str | None = "marathon",
    extra: Json | None = None,
) -> Json:
    """Offer O<n> from agent S<n> on host-<n>, rack attributes given as text."""
    offer: Json = {
        "id": {"value": f"O{n}"},
        "agent_id": {"value": f"S{n}"},
        "framework_id": {"value": "F"},
        "hostname": f"host-{n}",
        "resources": Resources.parse(resources).to_v1(role),
        "attributes": [
            {"name": k, "type": "TEXT", "text": {"value": v}} for k, v in (attrs or {}).items()
        ],
    }
    if role is not None:
        offer["allocation_info"] = {"role": role}
    offer.update(extra or {})
    return offer


def three_racks() -> list[Json]:
    return [make_offer(i, attrs={"rack": f"r{i}"}) for i in (1, 2, 3)]


def agent(n: int, **attrs: str) -> AgentInfo:
    return AgentInfo(f"S{n}", f"host-{n}", attrs)


def inst(n: int, **attrs: str) -> PlacedInstance:
    return PlacedInstance(f"S{n}", f"host-{n}", attrs)


def small(*constraints: tuple[str, ...], **kw: Any) -> Request:
    return Request(cpus=0.1, mem=32, constraints=constraints, **kw)


def place_all(m: OfferMatcher, app: str, req: Request, n: int) -> list[Match | None]:
    return [m.match(app, req, []) for _ in range(n)]


def agents_of(matches: list[Match | None]) -> list[str | None]:
    return [x.agent_id if x else None for x in matches]


def taken(match: Match) -> Resources:
    return Resources.from_v1(match.resources)


# ------------------------------------------------------------------------------------------------
# reasons


def test_reasons_follow_marathons_funnel_order() -> None:
    assert REASONS == (
        "UnfulfilledRole",
        "UnfulfilledConstraint",
        "AgentMaintenance",
        "InsufficientCpus",
        "InsufficientMemory",
        "InsufficientDisk",
        "InsufficientGpus",
        "InsufficientPorts",
        "DeclinedScarceResources",
    )


# ------------------------------------------------------------------------------------------------
# agents


def test_agent_of_offer_flattens_attributes_and_domain() -> None:
    """Text, scalar (thousandths, half-even), ranges and sets become strings; domain adds zone."""
    offer = make_offer(
        1,
        extra={
            "attributes": [
                {"name": "rack", "type": "TEXT", "text": {"value": "r1"}},
                {"name": "level", "type": "SCALAR", "scalar": {"value": 2.0}},
                {"name": "a", "type": "SCALAR", "scalar": {"value": 1.0005}},
                {"name": "b", "type": "SCALAR", "scalar": {"value": 1.0015}},
                {"name": "c", "type": "SCALAR", "scalar": {"value": 0.25}},
                {"name": "d", "type": "SCALAR", "scalar": {"value": -0.0001}},
                {
                    "name": "span",
                    "type": "RANGES",
                    "ranges": {"range": [{"begin": 1, "end": 3}, {"begin": 7, "end": 9}]},
                },
                {"name": "disks", "type": "SET", "set": {"item": ["ssd", "hdd"]}},
            ],
            "domain": {"fault_domain": {"region": {"name": "eu"}, "zone": {"name": "eu-a"}}},
        },
    )
    info = agent_of_offer(offer)
    assert (info.agent_id, info.hostname) == ("S1", "host-1")
    assert dict(info.attributes) == {
        "rack": "r1",
        "level": "2",
        "a": "1",
        "b": "1.002",
        "c": "0.25",
        "d": "0",
        "span": "[1-3,7-9]",
        "disks": "{ssd,hdd}",
        "region": "eu",
        "zone": "eu-a",
    }


def test_agent_attribute_wins_over_fault_domain() -> None:
    offer = make_offer(
        1,
        attrs={"zone": "attr-zone"},
        extra={"domain": {"fault_domain": {"region": {"name": "eu"}, "zone": {"name": "z"}}}},
    )
    assert agent_of_offer(offer).attributes["zone"] == "attr-zone"


# ------------------------------------------------------------------------------------------------
# constraints, one operator at a time (check_constraints)


def test_unique_hostname_rejects_an_agent_that_already_runs_one() -> None:
    c = (("hostname", "UNIQUE"),)
    assert check_constraints(c, agent(1), []) is None
    assert check_constraints(c, agent(2), [inst(1)]) is None
    reason = check_constraints(c, agent(1), [inst(1)])
    assert reason is not None and reason.startswith("UNIQUE hostname: agent host-1")


def test_unique_attribute_counts_values_not_agents() -> None:
    c = (("rack", "UNIQUE"),)
    assert check_constraints(c, agent(2, rack="r1"), [inst(1, rack="r1")]) is not None
    assert check_constraints(c, agent(2, rack="r2"), [inst(1, rack="r1")]) is None


def test_at_hostname_region_and_zone_fields() -> None:
    a = agent(1, region="eu", zone="eu-a")
    assert check_constraints((("@hostname", "IS", "host-1"),), a, []) is None
    assert check_constraints((("@hostname", "IS", "host-2"),), a, []) is not None
    assert check_constraints((("@region", "IS", "eu"),), a, []) is None
    assert check_constraints((("@zone", "LIKE", "eu-.*"),), a, []) is None
    assert check_constraints((("@zone", "UNIQUE"),), a, [inst(2, zone="eu-a")]) is not None


def test_cluster_with_value_requires_that_value() -> None:
    c = (("rack", "CLUSTER", "r2"),)
    assert check_constraints(c, agent(1, rack="r1"), []) is not None
    assert check_constraints(c, agent(2, rack="r2"), []) is None


def test_cluster_without_value_follows_the_first_instance() -> None:
    c = (("rack", "CLUSTER"),)
    assert check_constraints(c, agent(1, rack="r1"), []) is None
    assert check_constraints(c, agent(2, rack="r2"), []) is None
    placed = [inst(1, rack="r2"), inst(2, rack="r2")]
    assert check_constraints(c, agent(3, rack="r2"), placed) is None
    reason = check_constraints(c, agent(4, rack="r1"), placed)
    assert reason is not None and "'r2'" in reason


def test_group_by_without_number_balances_over_the_values_seen() -> None:
    c = (("rack", "GROUP_BY"),)
    placed = [inst(1, rack="r1"), inst(2, rack="r2")]
    assert check_constraints(c, agent(1, rack="r1"), placed) is None  # 1 <= min 1
    placed.append(inst(1, rack="r1"))
    assert check_constraints(c, agent(1, rack="r1"), placed) is not None  # 2 > min 1
    assert check_constraints(c, agent(2, rack="r2"), placed) is None
    assert check_constraints(c, agent(9, rack="r9"), placed) is None  # a new value: count 0


def test_group_by_with_number_counts_unseen_groups_as_empty() -> None:
    c = (("rack", "GROUP_BY", "3"),)
    placed = [inst(1, rack="r1"), inst(2, rack="r2")]
    assert check_constraints(c, agent(1, rack="r1"), placed) is not None  # r3 still has 0
    assert check_constraints(c, agent(3, rack="r3"), placed) is None
    placed.append(inst(3, rack="r3"))
    assert check_constraints(c, agent(1, rack="r1"), placed) is None


def test_group_by_candidates_are_known_groups() -> None:
    c = (("rack", "GROUP_BY"),)
    placed = [inst(1, rack="r1")]
    assert check_constraints(c, agent(1, rack="r1"), placed) is None
    others = [agent(2, rack="r2")]
    assert check_constraints(c, agent(1, rack="r1"), placed, candidates=others) is not None


def test_max_per() -> None:
    c = (("rack", "MAX_PER", "2"),)
    one = [inst(1, rack="r1")]
    assert check_constraints(c, agent(1, rack="r1"), one) is None
    reason = check_constraints(c, agent(2, rack="r1"), [*one, inst(2, rack="r1")])
    assert reason is not None and "at most 2" in reason
    assert check_constraints(c, agent(3, rack="r2"), [*one, inst(2, rack="r1")]) is None


def test_like_and_unlike_use_full_regex_matches() -> None:
    assert check_constraints((("rack", "LIKE", "r[12]"),), agent(1, rack="r1"), []) is None
    assert check_constraints((("rack", "LIKE", "r[12]"),), agent(3, rack="r3"), []) is not None
    assert check_constraints((("rack", "LIKE", "r"),), agent(1, rack="r1"), []) is not None
    assert check_constraints((("rack", "LIKE", "1"),), agent(1, rack="r1"), []) is not None
    assert check_constraints((("rack", "UNLIKE", "r[12]"),), agent(1, rack="r1"), []) is not None
    assert check_constraints((("rack", "UNLIKE", "r[12]"),), agent(3, rack="r3"), []) is None
    assert check_constraints((("rack", "UNLIKE", "r"),), agent(1, rack="r1"), []) is None


def test_is_compares_text_and_numbers_to_thousandths() -> None:
    assert check_constraints((("rack", "IS", "r1"),), agent(1, rack="r1"), []) is None
    assert check_constraints((("rack", "IS", "r1"),), agent(1, rack="r10"), []) is not None
    assert check_constraints((("level", "IS", "2.0"),), agent(1, level="2"), []) is None
    assert check_constraints((("level", "IS", "2.001"),), agent(1, level="2"), []) is not None


@pytest.mark.parametrize(
    "constraint",
    [
        ("rack", "UNIQUE"),
        ("rack", "CLUSTER"),
        ("rack", "CLUSTER", "r1"),
        ("rack", "GROUP_BY"),
        ("rack", "GROUP_BY", "2"),
        ("rack", "MAX_PER", "5"),
        ("rack", "IS", "r1"),
        ("rack", "LIKE", ".*"),
    ],
)
def test_missing_attribute_fails_every_operator_but_unlike(constraint: tuple[str, ...]) -> None:
    reason = check_constraints((constraint,), agent(1, zone="z"), [])
    assert reason is not None and "no attribute 'rack'" in reason


def test_missing_attribute_passes_unlike() -> None:
    assert check_constraints((("rack", "UNLIKE", ".*"),), agent(1), []) is None


@pytest.mark.parametrize(
    ("constraint", "words"),
    [
        (("rack", "NEAR", "x"), "unknown operator"),
        (("rack", "LIKE", "(unclosed"), "invalid regular expression"),
        (("rack", "UNLIKE", "(unclosed"), "invalid regular expression"),
        (("rack", "LIKE"), "needs a regular expression"),
        (("rack", "MAX_PER", "two"), "needs an integer"),
        (("rack", "MAX_PER"), "needs an integer"),
        (("rack", "GROUP_BY", "x"), "needs an integer"),
        (("rack", "IS"), "needs a value"),
        (("rack",), "malformed"),
    ],
)
def test_malformed_constraints_are_never_satisfied(constraint: tuple[str, ...], words: str) -> None:
    reason = check_constraints((constraint,), agent(1, rack="r1"), [inst(2, rack="r2")])
    assert reason is not None and words in reason


def test_operators_are_case_insensitive_and_all_constraints_must_hold() -> None:
    a = agent(1, rack="r1")
    assert check_constraints((("rack", "like", "r1"),), a, []) is None
    both = (("rack", "LIKE", "r1"), ("hostname", "UNIQUE"))
    assert check_constraints(both, a, []) is None
    reason = check_constraints(both, a, [inst(1, rack="r1")])
    assert reason is not None and reason.startswith("UNIQUE")


# ------------------------------------------------------------------------------------------------
# constraints through the matcher (three agents, racks r1..r3)


def test_unique_hostname_puts_one_instance_per_agent() -> None:
    m = OfferMatcher(three_racks())
    matches = place_all(m, "/app", small(("hostname", "UNIQUE")), 4)
    assert agents_of(matches) == ["S1", "S2", "S3", None]
    assert m.rejections("/app") == {UNFULFILLED_CONSTRAINT: 3}
    reasons = m.offer_rejections("/app")
    assert set(reasons) == {"O1", "O2", "O3"}
    assert "host-2" in reasons["O2"].detail


def test_unique_counts_instances_placed_before_the_round() -> None:
    m = OfferMatcher(three_racks())
    match = m.match("/app", small(("hostname", "UNIQUE")), [inst(1), inst(2)])
    assert match is not None and match.agent_id == "S3"
    assert m.match("/app", small(("hostname", "UNIQUE")), [inst(1), inst(2)]) is None


def test_group_by_rack_spreads_six_instances_two_per_rack() -> None:
    m = OfferMatcher(three_racks())
    matches = place_all(m, "/app", small(("rack", "GROUP_BY", "3")), 6)
    assert Counter(agents_of(matches)) == {"S1": 2, "S2": 2, "S3": 2}
    assert agents_of(matches) == ["S1", "S2", "S3", "S1", "S2", "S3"]


def test_group_by_without_number_spreads_over_the_racks_offered() -> None:
    offers = [
        make_offer(1, attrs={"rack": "r1"}),
        make_offer(2, attrs={"rack": "r1"}),
        make_offer(3, attrs={"rack": "r2"}),
        make_offer(4, attrs={"rack": "r3"}),
    ]
    m = OfferMatcher(offers)
    matches = place_all(m, "/app", small(("rack", "GROUP_BY")), 6)
    racks = Counter(
        {"S1": "r1", "S2": "r1", "S3": "r2", "S4": "r3"}[a] for a in agents_of(matches) if a
    )
    assert racks == {"r1": 2, "r2": 2, "r3": 2}


def test_max_per_rack_two() -> None:
    offers = [
        make_offer(1, attrs={"rack": "r1"}),
        make_offer(2, attrs={"rack": "r1"}),
        make_offer(3, attrs={"rack": "r2"}),
    ]
    m = OfferMatcher(offers)
    matches = place_all(m, "/app", small(("rack", "MAX_PER", "2")), 5)
    assert agents_of(matches) == ["S1", "S1", "S3", "S3", None]
    assert m.rejections("/app") == {UNFULFILLED_CONSTRAINT: 3}


def test_cluster_without_value_keeps_every_instance_on_the_first_rack() -> None:
    offers = [
        make_offer(1, "cpus:0.1;mem:32", attrs={"rack": "r1"}),
        make_offer(2, attrs={"rack": "r2"}),
        make_offer(3, attrs={"rack": "r1"}),
    ]
    m = OfferMatcher(offers)
    matches = place_all(m, "/app", small(("rack", "CLUSTER")), 3)
    assert agents_of(matches) == ["S1", "S3", "S3"]


def test_cluster_with_value_and_like_unlike_and_is_in_the_matcher() -> None:
    m = OfferMatcher(three_racks())
    assert agents_of(place_all(m, "/a", small(("rack", "CLUSTER", "r2")), 2)) == ["S2", "S2"]
    assert agents_of([m.match("/b", small(("rack", "LIKE", "r[23]")), [])]) == ["S2"]
    assert agents_of([m.match("/c", small(("hostname", "UNLIKE", "host-[12]")), [])]) == ["S3"]
    assert agents_of([m.match("/d", small(("rack", "IS", "r3")), [])]) == ["S3"]
    assert m.match("/e", small(("rack", "IS", "r4")), []) is None
    assert m.rejections("/e") == {UNFULFILLED_CONSTRAINT: 3}


def test_round_placements_are_per_app() -> None:
    m = OfferMatcher(three_racks())
    req = small(("hostname", "UNIQUE"))
    assert agents_of([m.match("/a", req, []), m.match("/b", req, [])]) == ["S1", "S1"]
    assert [p.agent_id for p in m.placed("/a")] == ["S1"]
    assert m.placed("/zzz") == []


# ------------------------------------------------------------------------------------------------
# scalars


def test_repeated_matches_exhaust_an_offer_then_insufficient_cpus() -> None:
    m = OfferMatcher([make_offer(1, "cpus:1;mem:1024")])
    req = Request(cpus=0.1, mem=10)
    matches = place_all(m, "/app", req, 11)
    assert agents_of(matches)[:10] == ["S1"] * 10
    assert matches[10] is None
    assert m.rejections("/app") == {INSUFFICIENT_CPUS: 1}
    assert m.remaining("O1").scalar("cpus") == 0.0
    assert m.remaining("O1").scalar("mem") == 924.0
    assert m.offer_rejections("/app")["O1"].reason == INSUFFICIENT_CPUS


def test_match_takes_exactly_the_requested_amounts() -> None:
    m = OfferMatcher([make_offer(1, "cpus:4;mem:4096;disk:100;gpus:2")])
    match = m.match("/app", Request(cpus=1.5, mem=256, disk=10, gpus=1), [])
    assert match is not None
    assert taken(match) == Resources.parse("cpus:1.5;mem:256;disk:10;gpus:1")
    assert match.host_ports == ()
    assert all(r["allocation_info"] == {"role": "marathon"} for r in match.resources)
    assert m.remaining("O1") == Resources.parse("cpus:2.5;mem:3840;disk:90;gpus:1")


def test_a_zero_request_takes_nothing_of_that_resource() -> None:
    m = OfferMatcher([make_offer(1, "cpus:4;mem:4096;disk:100;ports:[1-5]")])
    match = m.match("/app", Request(cpus=0.5, mem=0), [])
    assert match is not None
    assert [r["name"] for r in match.resources] == ["cpus"]


@pytest.mark.parametrize(
    ("resources", "request_", "reason"),
    [
        ("cpus:0.05;mem:1", Request(cpus=0.1, mem=32), INSUFFICIENT_CPUS),
        ("mem:1024", Request(cpus=0.1, mem=32), INSUFFICIENT_CPUS),
        ("cpus:1;mem:31", Request(cpus=0.1, mem=32), INSUFFICIENT_MEMORY),
        ("cpus:1;mem:64;disk:5", Request(cpus=0.1, mem=32, disk=6), INSUFFICIENT_DISK),
        ("cpus:1;mem:64", Request(cpus=0.1, mem=32, gpus=1), INSUFFICIENT_GPUS),
        ("cpus:1;mem:64", Request(cpus=0.1, mem=32, ports=(0,)), INSUFFICIENT_PORTS),
    ],
)
def test_first_failing_resource_is_the_reason(
    resources: str, request_: Request, reason: str
) -> None:
    m = OfferMatcher([make_offer(1, resources)])
    assert m.match("/app", request_, []) is None
    assert m.rejections("/app") == {reason: 1}


def test_constraint_is_reported_before_resources() -> None:
    m = OfferMatcher([make_offer(1, "cpus:0.01;mem:1", attrs={"rack": "r1"})])
    assert m.match("/app", small(("rack", "IS", "r2")), []) is None
    assert m.rejections("/app") == {UNFULFILLED_CONSTRAINT: 1}


# ------------------------------------------------------------------------------------------------
# ports


def test_any_port_takes_the_lowest_free_ports() -> None:
    m = OfferMatcher([make_offer(1, "cpus:4;mem:4096;ports:[31005-31006, 31000-31001]")])
    a = m.match("/app", Request(cpus=0.1, mem=1, ports=(0, 0)), [])
    b = m.match("/app", Request(cpus=0.1, mem=1, ports=(0, 0)), [])
    assert a is not None and b is not None
    assert (a.host_ports, b.host_ports) == ((31000, 31001), (31005, 31006))
    assert taken(a).ranges("ports") == ((31000, 31001),)
    assert m.match("/app", Request(cpus=0.1, mem=1, ports=(0,)), []) is None
    assert m.rejections("/app") == {INSUFFICIENT_PORTS: 1}


def test_fixed_port_is_taken_once() -> None:
    m = OfferMatcher([make_offer(1, "cpus:4;mem:4096;ports:[31000-31009]")])
    req = Request(cpus=0.1, mem=1, ports=(31005, 0))
    a = m.match("/app", req, [])
    assert a is not None and a.host_ports == (31005, 31000)
    assert taken(a).ranges("ports") == ((31000, 31000), (31005, 31005))
    assert m.match("/app", req, []) is None
    assert m.rejections("/app") == {INSUFFICIENT_PORTS: 1}
    assert m.remaining("O1").ranges("ports") == ((31001, 31004), (31006, 31009))


def test_require_ports_outside_the_offer_is_insufficient_ports() -> None:
    m = OfferMatcher([make_offer(1, "cpus:4;mem:4096;ports:[31000-31009]")])
    req = Request(cpus=0.1, mem=1, ports=(8080,), require_ports=True)
    assert m.match("/app", req, []) is None
    assert m.rejections("/app") == {INSUFFICIENT_PORTS: 1}
    ok = m.match("/app", Request(cpus=0.1, mem=1, ports=(31009,), require_ports=True), [])
    assert ok is not None and ok.host_ports == (31009,)


def test_any_port_is_the_lowest_over_reserved_and_unreserved_ranges() -> None:
    offer = make_offer(1, "cpus:1;mem:64;ports(marathon):[500-501];ports:[10-10]")
    m = OfferMatcher([offer], default_roles=("*", "marathon"))
    match = m.match("/app", Request(cpus=0.1, mem=1, ports=(0, 0)), [])
    assert match is not None and match.host_ports == (10, 500)
    assert taken(match).reserved("marathon").ranges("ports") == ((500, 500),)


def test_the_same_fixed_port_twice_in_one_request_does_not_fit() -> None:
    m = OfferMatcher([make_offer(1)])
    assert m.match("/app", Request(cpus=0.1, mem=1, ports=(31000, 31000)), []) is None


def test_ports_move_to_the_next_offer_when_the_first_runs_out() -> None:
    m = OfferMatcher([make_offer(1, "cpus:4;mem:64;ports:[1-1]"), make_offer(2)])
    req = Request(cpus=0.1, mem=1, ports=(0,))
    assert agents_of(place_all(m, "/app", req, 2)) == ["S1", "S2"]
    assert m.rejections("/app") == {INSUFFICIENT_PORTS: 1}


# ------------------------------------------------------------------------------------------------
# roles


def test_reserved_resources_of_the_role_are_taken_before_unreserved() -> None:
    offer = make_offer(
        1, "cpus(marathon):1;cpus:4;mem:4096;ports(marathon):[100-101];ports:[31000-31001]"
    )
    m = OfferMatcher([offer], default_roles=("*", "marathon"))
    match = m.match("/app", Request(cpus=1.5, mem=64, ports=(0, 0, 0)), [])
    assert match is not None
    got = taken(match)
    assert got.reserved("marathon").scalar("cpus") == 1.0
    assert got.unreserved().scalar("cpus") == 0.5
    assert match.host_ports == (100, 101, 31000)
    reserved = [r for r in match.resources if r["role"] == "marathon"]
    assert reserved and all(r["reservations"][0]["role"] == "marathon" for r in reserved)


def test_default_role_star_ignores_reserved_resources() -> None:
    m = OfferMatcher([make_offer(1, "cpus(marathon):4;mem(marathon):4096")])
    assert m.match("/app", Request(cpus=0.1, mem=1), []) is None
    assert m.rejections("/app") == {UNFULFILLED_ROLE: 1}
    m2 = OfferMatcher([make_offer(1, "cpus(marathon):4;mem:4096")])
    assert m2.match("/app", Request(cpus=0.1, mem=1), []) is None
    assert m2.rejections("/app") == {INSUFFICIENT_CPUS: 1}


def test_accepted_resource_roles_slave_public_rejects_unreserved() -> None:
    offers = [
        make_offer(1),
        make_offer(2, "cpus(slave_public):2;mem(slave_public):512", role="slave_public"),
    ]
    m = OfferMatcher(offers, default_roles=("*", "marathon"))
    req = Request(cpus=0.5, mem=64, accepted_roles=("slave_public",))
    match = m.match("/app", req, [])
    assert match is not None and match.agent_id == "S2"
    assert all(r["allocation_info"] == {"role": "slave_public"} for r in match.resources)
    assert m.rejections("/app") == {UNFULFILLED_ROLE: 1}
    assert m.offer_rejections("/app")["O1"].reason == UNFULFILLED_ROLE


def test_offer_without_allocation_info_gives_plain_resources() -> None:
    m = OfferMatcher([make_offer(1, role=None)])
    match = m.match("/app", Request(cpus=0.1, mem=1), [])
    assert match is not None
    assert all("allocation_info" not in r for r in match.resources)


# ------------------------------------------------------------------------------------------------
# maintenance and scarce resources


def test_agent_in_maintenance_window() -> None:
    window = {"unavailability": {"start": {"nanoseconds": 100 * 10**9}}}
    windowed = {
        "unavailability": {
            "start": {"nanoseconds": 100 * 10**9},
            "duration": {"nanoseconds": 50 * 10**9},
        }
    }
    offers = [make_offer(1, extra=window), make_offer(2, extra=windowed)]
    req = Request(cpus=0.1, mem=1)
    assert agents_of([OfferMatcher(offers).match("/a", req, [])]) == ["S1"]  # no clock: no check
    assert agents_of([OfferMatcher(offers, now=99).match("/a", req, [])]) == ["S1"]
    m = OfferMatcher(offers, now=120)
    assert m.match("/a", req, []) is None
    assert m.rejections("/a") == {AGENT_UNAVAILABLE: 2}
    assert agents_of([OfferMatcher(offers, now=151).match("/a", req, [])]) == ["S2"]


def test_restricted_gpu_scheduling_declines_gpu_offers_for_non_gpu_apps() -> None:
    offers = [make_offer(1, "cpus:4;mem:4096;gpus:1"), make_offer(2)]
    m = OfferMatcher(offers, gpu_scheduling_behavior="restricted")
    assert agents_of([m.match("/cpu", Request(cpus=0.1, mem=1), [])]) == ["S2"]
    assert m.rejections("/cpu") == {DECLINED_SCARCE_RESOURCES: 1}
    assert agents_of([m.match("/gpu", Request(cpus=0.1, mem=1, gpus=1), [])]) == ["S1"]
    plain = OfferMatcher(offers)
    assert agents_of([plain.match("/cpu", Request(cpus=0.1, mem=1), [])]) == ["S1"]


# ------------------------------------------------------------------------------------------------
# bookkeeping


def test_used_and_unused_offers_and_unknown_offer() -> None:
    m = OfferMatcher(three_racks())
    assert m.unused_offer_ids() == {"O1", "O2", "O3"}
    m.match("/app", small(("rack", "IS", "r2")), [])
    assert m.used_offer_ids() == {"O2"}
    assert m.unused_offer_ids() == {"O1", "O3"}
    with pytest.raises(NotFoundError):
        m.remaining("O9")


def test_rejection_counters_are_per_app_and_per_offer() -> None:
    offers = [
        make_offer(1, "cpus:0.1;mem:64", attrs={"rack": "r1"}),
        make_offer(2, "cpus:4;mem:64", attrs={"rack": "r2"}),
        make_offer(3, "cpus:4;mem:64;ports:[1-2]", attrs={"rack": "r3"}, role="other"),
    ]
    m = OfferMatcher(offers, default_roles=("*", "marathon"))
    big = Request(cpus=1, mem=1, constraints=(("rack", "LIKE", "r[12]"),))
    assert agents_of(place_all(m, "/big", big, 5)) == ["S2", "S2", "S2", "S2", None]
    # O1 (cpus) and O3 (constraint) every time, O2 (cpus) once it is used up: one count each.
    assert m.rejections("/big") == {UNFULFILLED_CONSTRAINT: 1, INSUFFICIENT_CPUS: 2}
    assert list(m.rejections("/big")) == [UNFULFILLED_CONSTRAINT, INSUFFICIENT_CPUS]
    assert m.rejections("/other") == {}
    assert m.match("/other", Request(cpus=0.1, mem=1, ports=(0,)), []) is not None
    assert m.rejections("/other") == {INSUFFICIENT_CPUS: 1, INSUFFICIENT_PORTS: 1}


def test_an_offer_matched_later_is_no_longer_counted_as_rejected() -> None:
    m = OfferMatcher([make_offer(1, attrs={"rack": "r1"}), make_offer(2, attrs={"rack": "r2"})])
    req = small(("rack", "GROUP_BY", "2"))
    assert agents_of(place_all(m, "/app", req, 2)) == ["S1", "S2"]
    assert m.rejections("/app") == {UNFULFILLED_CONSTRAINT: 1}  # O1, for the second instance
    assert agents_of(place_all(m, "/app", req, 1)) == ["S1"]
    assert m.rejections("/app") == {}
    assert m.offer_rejections("/app") == {}


def test_match_resources_fit_in_the_offer() -> None:
    offer = make_offer(1, "cpus(marathon):1;cpus:1;mem:100;ports:[5-9]")
    m = OfferMatcher([offer], default_roles=("*", "marathon"))
    req = Request(cpus=0.6, mem=30, ports=(0,))
    matches = [x for x in place_all(m, "/app", req, 5) if x is not None]
    assert len(matches) == 3  # cpus 2 / 0.6
    total = Resources()
    for x in matches:
        total = total + taken(x)
    assert Resources.from_v1(offer["resources"]).contains(total)
    assert total + m.remaining("O1") == Resources.from_v1(offer["resources"])


# ------------------------------------------------------------------------------------------------
# property: nothing is handed out twice

_offer_st = st.tuples(
    st.integers(0, 4000),  # cpus in thousandths
    st.integers(0, 512),  # mem
    st.lists(st.tuples(st.integers(1, 60), st.integers(0, 4)), max_size=3),  # port ranges
    st.booleans(),  # half of the cpus reserved for marathon
)
_request_st = st.builds(
    Request,
    cpus=st.integers(0, 1500).map(lambda m: m / 1000),
    mem=st.integers(0, 200),
    ports=st.lists(st.sampled_from([0, 0, 1, 5, 30, 61]), max_size=3).map(tuple),
    accepted_roles=st.sampled_from([None, ("*",), ("marathon",)]),
)


@settings(max_examples=150, deadline=None)
@given(offers=st.lists(_offer_st, min_size=1, max_size=3), requests=st.lists(_request_st))
def test_no_two_matches_overlap(
    offers: list[tuple[int, int, list[tuple[int, int]], bool]], requests: list[Request]
) -> None:
    raw: list[Json] = []
    for i, (cpus, mem, ranges, reserve) in enumerate(offers):
        ports = ",".join(f"{b}-{b + w}" for b, w in ranges)
        text = f"cpus:{cpus / 1000};mem:{mem}" + (f";ports:[{ports}]" if ports else "")
        if reserve:
            text += f";cpus(marathon):{cpus / 2000}"
        raw.append(make_offer(i))
        raw[-1]["resources"] = Resources.parse(text).to_v1("marathon")
    m = OfferMatcher(raw, default_roles=("*", "marathon"))
    given_totals = {f"O{i}": Resources.from_v1(o["resources"]) for i, o in enumerate(raw)}
    used: dict[str, Resources] = {oid: Resources() for oid in given_totals}
    ports_seen: dict[str, set[int]] = {oid: set() for oid in given_totals}
    matched: set[str] = set()
    for n, req in enumerate(requests):
        match = m.match(f"/app{n % 2}", req, [])
        if match is None:
            continue
        matched.add(match.offer_id)
        got = taken(match)
        assert got.scalar("cpus") == req.cpus
        assert got.scalar("mem") == req.mem
        assert len(match.host_ports) == len(req.ports) == len(set(match.host_ports))
        for want, port in zip(req.ports, match.host_ports, strict=True):
            assert want in (0, port)
        got_ports = got.ranges("ports")
        assert {p for b, e in got_ports for p in range(b, e + 1)} == set(match.host_ports)
        assert not ports_seen[match.offer_id] & set(match.host_ports)
        ports_seen[match.offer_id] |= set(match.host_ports)
        used[match.offer_id] = used[match.offer_id] + got
        assert given_totals[match.offer_id].contains(used[match.offer_id])
    for oid, total in given_totals.items():
        assert used[oid] + m.remaining(oid) == total
    assert m.used_offer_ids() == matched
    assert m.unused_offer_ids() == set(given_totals) - matched
