"""Property tests: no over-allocation, disjoint offers, reservations respected, determinism."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from hypothesis import given, settings
from hypothesis import strategies as st

from dcos_core.allocator import Allocator, OfferGrant, Quota
from dcos_core.resources import EMPTY, UNRESERVED, Resources, is_ancestor_or_self

from .helpers import R, make

ROLES = ["a", "b", "a/x", "c"]


@dataclass(frozen=True)
class Scenario:
    agents: list[str]  # resource texts
    frameworks: list[list[str]]  # roles of each framework
    ops: list[tuple[str, int, int]]  # (operation, i, j)
    limit_a: int | None  # quota limit of role a, in cpus


@st.composite
def agent_text(draw: st.DrawFn) -> str:
    parts = [
        f"cpus:{draw(st.integers(0, 16)) / 2}",
        f"mem:{draw(st.sampled_from([16, 64, 256, 1024]))}",
    ]
    lo = draw(st.integers(31000, 31050))
    parts.append(f"ports:[{lo}-{lo + draw(st.integers(0, 20))}]")
    if draw(st.booleans()):
        role = draw(st.sampled_from(["a", "b", "a/x"]))
        parts.append(f"cpus({role}):{draw(st.integers(1, 4))}")
    return ";".join(parts)


OPS = st.tuples(
    st.sampled_from(
        [
            *("allocate", "allocate", "allocate", "recover", "recover_filter", "recover_part"),
            *("advance", "suppress", "revive", "deactivate_agent", "activate_agent", "remove_fw"),
        ]
    ),
    st.integers(0, 50),
    st.integers(0, 50),
)

SCENARIOS = st.builds(
    Scenario,
    agents=st.lists(agent_text(), min_size=1, max_size=6),
    frameworks=st.lists(
        st.lists(st.sampled_from(ROLES), min_size=1, max_size=2, unique=True),
        min_size=1,
        max_size=4,
    ),
    ops=st.lists(OPS, min_size=1, max_size=25),
    limit_a=st.one_of(st.none(), st.integers(0, 6)),
)


def _check_agents(alloc: Allocator, totals: dict[str, Resources]) -> None:
    """Per agent and slot: available + everything allocated == total (so nothing over it)."""
    held: dict[str, Resources] = {}
    for fid in alloc.frameworks:
        for aid, res in alloc.allocated(fid).items():
            held[aid] = held.get(aid, EMPTY) + res
    for aid, total in totals.items():
        used = held.get(aid, EMPTY)
        assert total.contains(used), f"{aid}: {used} > {total}"
        assert used + alloc.agent_available(aid) == total


def _check_cycle(before: dict[str, Resources], grants: list[OfferGrant]) -> None:
    """Offers of one cycle are disjoint, come from free resources and respect reservations."""
    keys = [(g.framework_id, g.agent_id, g.role) for g in grants]
    assert len(keys) == len(set(keys))
    offered: dict[str, Resources] = {}
    for g in grants:
        assert g.resources
        offered[g.agent_id] = offered.get(g.agent_id, EMPTY) + g.resources
        for (_n, rrole, _k), _v in g.resources:
            assert rrole == UNRESERVED or is_ancestor_or_self(rrole, g.role)
    for aid, res in offered.items():
        assert before[aid].contains(res)


def _check_limit(alloc: Allocator, totals: dict[str, Resources], limit: int) -> None:
    """Role a's consumption (its subtree's reservations + unreserved allocations) stays within
    its cpu limit, unless its reservations alone exceed it (then no unreserved cpus at all)."""
    reserved = sum(
        v
        for total in totals.values()
        for (name, rrole, _k), v in total
        if isinstance(v, int)
        and name == "cpus"
        and rrole != UNRESERVED
        and is_ancestor_or_self("a", rrole)
    )
    unreserved = 0
    for by_role in alloc.alloc.values():
        for role, by_agent in by_role.items():
            if is_ancestor_or_self("a", role):
                unreserved += sum(
                    Resources({k: v for k, v in res if k[1] == UNRESERVED}).totals().get("cpus", 0)
                    for res in by_agent.values()
                )
    assert unreserved <= max(limit - reserved, 0)


def replay(seed: int, sc: Scenario) -> list[list[tuple[str, str, str, str]]]:
    """Run the scenario, checking invariants after every step; return the grants of each cycle."""
    alloc, clock = make(seed=seed)
    totals = {f"ag{i}": R(text) for i, text in enumerate(sc.agents)}
    for aid, total in totals.items():
        alloc.add_agent(aid, total)
    fids = [f"fw{i}" for i in range(len(sc.frameworks))]
    for fid, roles in zip(fids, sc.frameworks, strict=True):
        alloc.add_framework(fid, roles)
    if sc.limit_a is not None:
        alloc.set_quota("a", Quota.parse("", f"cpus:{sc.limit_a}"))
    held: list[OfferGrant] = []
    trace: list[list[tuple[str, str, str, str]]] = []
    aids = sorted(totals)
    for op, i, j in sc.ops:
        live = [f for f in fids if f in alloc.frameworks]
        if op == "allocate":
            before = {aid: alloc.agent_available(aid) for aid in aids}
            grants = alloc.allocate()
            _check_cycle(before, grants)
            held.extend(grants)
            trace.append([(g.framework_id, g.agent_id, g.role, str(g.resources)) for g in grants])
        elif op.startswith("recover") and held:
            g = held.pop(i % len(held))
            if g.framework_id not in alloc.frameworks:
                continue
            res = g.resources
            if op == "recover_part":
                # keep one task of <= 1 cpu, give back the rest
                task = Resources({k: min(v, 1000) for k, v in res if isinstance(v, int)})
                res = res - task
                held.append(OfferGrant(g.framework_id, g.agent_id, g.role, task))
            refuse = float(j) if op == "recover_filter" else None
            alloc.recover(g.framework_id, g.agent_id, g.role, res, refuse)
        elif op == "advance":
            clock.advance(j)
        elif op in ("suppress", "revive", "remove_fw") and live:
            fid = live[i % len(live)]
            if op == "suppress":
                alloc.suppress(fid)
            elif op == "revive":
                alloc.revive(fid)
            else:
                alloc.remove_framework(fid)
                held = [h for h in held if h.framework_id != fid]
        elif op == "deactivate_agent":
            alloc.deactivate_agent(aids[i % len(aids)])
        elif op == "activate_agent":
            alloc.activate_agent(aids[i % len(aids)])
        _check_agents(alloc, totals)
        if sc.limit_a is not None:
            _check_limit(alloc, totals, sc.limit_a * 1000)
    return trace


@settings(max_examples=100, deadline=None)
@given(sc=SCENARIOS, seed=st.integers(0, 2**32))
def test_invariants_hold(sc: Scenario, seed: int) -> None:
    """No over-allocation, disjoint offers from free resources, reservations, quota limits.

    `replay` checks every invariant after each step and fails on the first violation.
    """
    assert replay(seed, sc) is not None


@settings(max_examples=40, deadline=None)
@given(sc=SCENARIOS, seed=st.integers(0, 2**32))
def test_same_seed_same_allocation(sc: Scenario, seed: int) -> None:
    """The same seed and the same call sequence give exactly the same grants."""
    assert replay(seed, sc) == replay(seed, sc)


def test_different_seeds_differ_but_stay_valid() -> None:
    """Other seeds shuffle agents differently (so who gets which agent differs), still valid."""
    sc = Scenario(
        agents=["cpus:1;mem:64"] * 6,
        frameworks=[["a"], ["a"], ["b"]],
        ops=[("allocate", 0, 0)],
        limit_a=None,
    )
    traces = {tuple(replay(seed, sc)[0]) for seed in range(10)}
    assert len(traces) > 1


@settings(max_examples=100, deadline=None)
@given(
    used=st.lists(st.tuples(st.integers(0, 8), st.integers(0, 512)), min_size=1, max_size=6),
    seed=st.integers(0, 2**32),
)
def test_lowest_share_framework_is_offered_first(used: list[tuple[int, int]], seed: int) -> None:
    """One free agent, frameworks holding random usage: the lowest (share, count, id) wins."""
    alloc, _ = make(seed=seed)
    fids = [f"fw{i}" for i in range(len(used))]
    for fid in fids:
        alloc.add_framework(fid, ["r"])
    for fid, (cpus, mem) in zip(fids, used, strict=True):
        res = Resources.scalars(cpus=cpus, mem=mem)
        alloc.add_agent(f"held-{fid}", res, used={(fid, "r"): res} if res else None)
    alloc.add_agent("free", R("cpus:1;mem:64"))
    total_cpus = sum(c for c, _m in used) + 1
    total_mem = sum(m for _c, m in used) + 64

    def share(cm: tuple[int, int]) -> Fraction:  # exact: ties are real ties
        return max(Fraction(cm[0], total_cpus), Fraction(cm[1], total_mem))

    expected = min(zip(fids, used, strict=True), key=lambda fu: (share(fu[1]), fu[0]))[0]
    (g,) = [g for g in alloc.allocate() if g.agent_id == "free"]
    assert g.framework_id == expected
