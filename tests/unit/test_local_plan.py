"""The plan of `dcos-core local`: each agent's cgroup root, work dir and task ports."""

from __future__ import annotations

from pathlib import Path

import pytest

from dcos_core.config import LocalSettings
from dcos_core.errors import InvalidError
from dcos_core.local import cluster_id, plan_agents, split_ranges


def test_split_ranges_is_disjoint_and_covers_every_port() -> None:
    parts = split_ranges(((31000, 31009), (32000, 32004)), 4)
    flat = [p for part in parts for lo, hi in part for p in range(lo, hi + 1)]
    assert sorted(flat) == list(range(31000, 31010)) + list(range(32000, 32005))
    assert len(flat) == len(set(flat))
    assert [sum(hi - lo + 1 for lo, hi in part) for part in parts] == [4, 4, 4, 3]


def test_too_few_ports_for_the_agents_is_an_error() -> None:
    with pytest.raises(InvalidError, match="3 agents need at least 3 task ports"):
        split_ranges(((1, 2),), 3)


def test_each_agent_has_its_own_cgroup_root_per_cluster(tmp_path: Path) -> None:
    settings = LocalSettings(agents=2)
    a = plan_agents(settings, tmp_path / "a")
    b = plan_agents(settings, tmp_path / "b")
    roots = {p.cgroups_root for p in a + b}
    assert len(roots) == 4  # never shared, within a cluster or between two
    assert a[0].cgroups_root == f"dcos-local/{cluster_id(tmp_path / 'a')}/agent-0"
    assert plan_agents(settings, tmp_path / "a") == a  # the same after a restart


def test_agents_get_disjoint_default_ports_and_keep_the_other_resources(tmp_path: Path) -> None:
    plans = plan_agents(LocalSettings(agents=2), tmp_path)
    assert [p.resources for p in plans] == ["ports:[31000-31500]", "ports:[31501-32000]"]
    given = LocalSettings(agents=2, agent_resources="cpus:2;mem:512;ports:[100-199]")
    plans = plan_agents(given, tmp_path)
    assert [p.resources for p in plans] == [
        "cpus:2;mem:512;ports:[100-149]",
        "cpus:2;mem:512;ports:[150-199]",
    ]
    assert [p.port for p in plans] == [5051, 5052]
