"""DRF ordering: the DRF paper example, weights, hierarchical roles, ties, excluded names."""

from __future__ import annotations

from dcos_core.allocator import Allocator, Reason

from .helpers import R, by_framework, decline_all, make


def _progressive_filling(alloc: Allocator, demands: dict[str, str]) -> dict[str, int]:
    """Each offer receiver launches one task of its demand if it fits, returns the rest.

    A framework whose task does not fit declines with a long filter. Runs until no more offers.
    """
    tasks = dict.fromkeys(demands, 0)
    for _ in range(100):
        grants = alloc.allocate()
        if not grants:
            return tasks
        # one agent: at most one grant per cycle, to the framework with the lowest share
        assert len(grants) == 1
        g = grants[0]
        task = R(demands[g.framework_id])
        if g.resources.contains(task):
            tasks[g.framework_id] += 1
            alloc.recover(g.framework_id, g.agent_id, g.role, g.resources - task)
        else:
            alloc.recover(g.framework_id, g.agent_id, g.role, g.resources, 3600)
    raise AssertionError("allocation did not converge")


def test_drf_paper_example() -> None:
    """9 CPUs, 18 GB; A needs <1 CPU, 4 GB>, B <3 CPUs, 1 GB>: A runs 3 tasks, B runs 2."""
    alloc, _ = make()
    alloc.add_agent("a1", R("cpus:9;mem:18432"))
    alloc.add_framework("A", ["r"])
    alloc.add_framework("B", ["r"])
    # shares after each task: A 4/18=.22, B 3/9=.33, A 8/18=.44, B 6/9=.67, A 12/18=.67;
    # then 0 cpus and 4 GB are left: neither task fits.
    assert _progressive_filling(alloc, {"A": "cpus:1;mem:4096", "B": "cpus:3;mem:1024"}) == {
        "A": 3,
        "B": 2,
    }
    assert alloc.allocated("A") == {"a1": R("cpus:3;mem:12288")}
    assert alloc.allocated("B") == {"a1": R("cpus:6;mem:2048")}


def test_drf_paper_example_order_does_not_depend_on_names() -> None:
    """The same outcome with the names swapped (B first in the tie-break)."""
    alloc, _ = make()
    alloc.add_agent("a1", R("cpus:9;mem:18432"))
    alloc.add_framework("b", ["r"])  # demand <1 CPU, 4 GB>
    alloc.add_framework("a", ["r"])  # demand <3 CPUs, 1 GB>
    got = _progressive_filling(alloc, {"b": "cpus:1;mem:4096", "a": "cpus:3;mem:1024"})
    assert got == {"b": 3, "a": 2}


def test_lowest_share_framework_is_offered_first() -> None:
    """With shares a = .5 and b = .25 (of 4 cpus), the next agent goes to b."""
    alloc, _ = make()
    alloc.add_framework("a", ["r"])
    alloc.add_framework("b", ["r"])
    alloc.add_agent("x", R("cpus:2;mem:64"), used={("a", "r"): R("cpus:2;mem:64")})
    alloc.add_agent("y", R("cpus:1;mem:32"), used={("b", "r"): R("cpus:1;mem:32")})
    alloc.add_agent("z", R("cpus:1;mem:32"))
    # cluster: 4 cpus, 128 mem -> a = max(2/4, 64/128) = .5, b = max(1/4, 32/128) = .25
    grants = alloc.allocate()
    assert [(g.framework_id, g.agent_id) for g in grants] == [("b", "z")]


def test_ties_break_on_allocation_count_then_name() -> None:
    """Equal shares: fewer past allocations first, then the lexicographically smaller id."""
    alloc, _ = make()
    alloc.add_framework("b", ["r"])
    alloc.add_framework("a", ["r"])
    alloc.add_agent("x", R("cpus:1;mem:32"))
    (g,) = alloc.allocate()
    assert g.framework_id == "a"  # shares 0 and 0, counts 0 and 0 -> name
    decline_all(alloc, [g])
    (g,) = alloc.allocate()
    assert g.framework_id == "b"  # shares 0 and 0 again, but a was allocated once


def test_weights_give_twice_the_share() -> None:
    """A role with weight 2 ends up with twice the dominant share of a weight-1 role."""
    alloc, _ = make()
    alloc.set_weights({"heavy": 2.0})
    alloc.add_framework("h", ["heavy"])
    alloc.add_framework("l", ["light"])
    for i in range(99):
        alloc.add_agent(f"a{i:02d}", R("cpus:1;mem:100"))
    got = {fw: len(gs) for fw, gs in by_framework(alloc.allocate()).items()}
    # 99 agents: light 33/99 = .33, heavy 66/99 = .67 -> weighted .33 = .33
    assert got == {"h": 66, "l": 33}
    summary = alloc.role_summary()
    assert summary["heavy"]["weight"] == 2.0
    assert summary["heavy"]["share"] == summary["light"]["share"]  # weighted: .33 and .33


def test_weights_with_equal_weights_split_evenly() -> None:
    """Control for the test above: without weights the split is even."""
    alloc, _ = make()
    alloc.add_framework("h", ["heavy"])
    alloc.add_framework("l", ["light"])
    for i in range(100):
        alloc.add_agent(f"a{i:02d}", R("cpus:1;mem:100"))
    got = {fw: len(gs) for fw, gs in by_framework(alloc.allocate()).items()}
    assert got == {"h": 50, "l": 50}


def test_roles_are_compared_before_frameworks() -> None:
    """Role fairness first: a role with 3 frameworks gets as much as a role with 1."""
    alloc, _ = make()
    for fw in ("x1", "x2", "x3"):
        alloc.add_framework(fw, ["x"])
    alloc.add_framework("y1", ["y"])
    for i in range(12):
        alloc.add_agent(f"a{i:02d}", R("cpus:1;mem:100"))
    got = {fw: len(gs) for fw, gs in by_framework(alloc.allocate()).items()}
    # role x: 6/12 split 2/2/2 among its frameworks; role y: 6/12 to its only framework
    assert got == {"x1": 2, "x2": 2, "x3": 2, "y1": 6}


def test_hierarchical_roles_sort_subtrees_first() -> None:
    """`eng/web` and `eng/db` share eng's half of the cluster; `ops` gets the other half."""
    alloc, _ = make()
    alloc.add_framework("web", ["eng/web"])
    alloc.add_framework("db", ["eng/db"])
    alloc.add_framework("ops", ["ops"])
    for i in range(8):
        alloc.add_agent(f"a{i}", R("cpus:1;mem:100"))
    got = {fw: len(gs) for fw, gs in by_framework(alloc.allocate()).items()}
    # eng subtree 4/8 = ops 4/8; inside eng: web 2, db 2 (flat DRF would give 3/3/2 or so)
    assert got == {"web": 2, "db": 2, "ops": 4}
    assert alloc.role_summary()["eng"]["share"] == 0.5


def test_parent_role_frameworks_compete_with_child_roles() -> None:
    """A framework in `eng` itself and one in `eng/web` split eng's subtree evenly."""
    alloc, _ = make()
    alloc.add_framework("p", ["eng"])
    alloc.add_framework("c", ["eng/web"])
    for i in range(6):
        alloc.add_agent(f"a{i}", R("cpus:1;mem:100"))
    got = {fw: len(gs) for fw, gs in by_framework(alloc.allocate()).items()}
    assert got == {"p": 3, "c": 3}


def test_hierarchical_weights_apply_among_siblings() -> None:
    """Weight 3 for `eng/web` vs 1 for `eng/db`: 3/4 of eng's agents go to web."""
    alloc, _ = make()
    alloc.set_weights({"eng/web": 3.0})
    alloc.add_framework("web", ["eng/web"])
    alloc.add_framework("db", ["eng/db"])
    for i in range(8):
        alloc.add_agent(f"a{i}", R("cpus:1;mem:100"))
    got = {fw: len(gs) for fw, gs in by_framework(alloc.allocate()).items()}
    # web 6/8 = .75 / 3 = .25; db 2/8 = .25 / 1 = .25
    assert got == {"web": 6, "db": 2}


def test_excluded_names_do_not_count_in_shares() -> None:
    """With gpus excluded, holding all the gpus does not raise a framework's share."""
    alloc, _ = make(fair_sharing_excluded=frozenset({"gpus"}))
    alloc.add_framework("g", ["r"])
    alloc.add_framework("n", ["r"])
    alloc.add_agent("gpu", R("gpus:4"), used={("g", "r"): R("gpus:4")})
    alloc.add_agent("cpu", R("cpus:1"), used={("n", "r"): R("cpus:1")})
    alloc.add_agent("free", R("cpus:2;mem:200"))
    # shares: g = 0 (gpus excluded), n = 1/3 cpus -> g goes first
    grants = alloc.allocate()
    assert [(g.framework_id, g.agent_id) for g in grants if g.agent_id == "free"] == [("g", "free")]


def test_gpus_counted_when_not_excluded() -> None:
    """Control: without the exclusion, g holds 4/4 gpus (share 1 > n's 1/3): n goes first."""
    alloc, _ = make(fair_sharing_excluded=frozenset())
    alloc.add_framework("g", ["r"])
    alloc.add_framework("n", ["r"])
    alloc.add_agent("gpu", R("gpus:4"), used={("g", "r"): R("gpus:4")})
    alloc.add_agent("cpu", R("cpus:1"), used={("n", "r"): R("cpus:1")})
    alloc.add_agent("free", R("cpus:2;mem:200"))
    grants = alloc.allocate()
    assert [(g.framework_id, g.agent_id) for g in grants if g.agent_id == "free"] == [("n", "free")]


def test_offered_resources_count_toward_share() -> None:
    """Outstanding offers count: in one cycle, two agents go to two different frameworks."""
    alloc, _ = make()
    alloc.add_framework("a", ["r"])
    alloc.add_framework("b", ["r"])
    alloc.add_agent("x", R("cpus:1;mem:32"))
    alloc.add_agent("y", R("cpus:1;mem:32"))
    grants = alloc.allocate()
    assert sorted(g.framework_id for g in grants) == ["a", "b"]
    assert alloc.why_not("a") == {} and alloc.why_not("b") == {}


def test_each_offer_takes_everything_allocatable_on_the_agent() -> None:
    """Mesos semantics: one framework gets all the agent's free resources for its role."""
    alloc, _ = make()
    alloc.add_framework("a", ["r"])
    alloc.add_framework("b", ["r"])
    alloc.add_agent("x", R("cpus:8;mem:1024;ports:[31000-31010]"))
    (g,) = alloc.allocate()
    assert g.resources == R("cpus:8;mem:1024;ports:[31000-31010]")
    assert alloc.why_not("b" if g.framework_id == "a" else "a")["r"]["reason"] == (
        Reason.LOWER_SHARE_FIRST
    )
