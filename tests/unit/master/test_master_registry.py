"""The master's registry refuses documents of the wrong shape with one line naming the key."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from dcos_core.errors import StoreError
from dcos_core.master.registry import Registry
from dcos_core.state import SQLiteStore

HINT = "restore it from a backup, or delete it to start a new cluster"

GOOD_AGENT = {
    "hostname": "h1",
    "ip": "127.0.0.1",
    "port": 5051,
    "resources": [{"name": "cpus", "type": "SCALAR", "scalar": {"value": 2}}],
    "attributes": [],
    "registered_time": 1.5,
    "unreachable_time": None,
    "deactivated": False,
}


@pytest.fixture
def store(tmp_path: Path) -> Any:
    s = SQLiteStore(tmp_path / "registry.db")
    yield s
    s.close()


@pytest.mark.parametrize(
    ("key", "value", "read", "needle"),
    [
        ("agents/a1", [1, 2], "agents", "key 'agents/a1' is an array, expected an object"),
        ("agents/a1", {**GOOD_AGENT, "port": "5051"}, "agents", "has 'port' a string"),
        ("agents/a1", {**GOOD_AGENT, "port": 70000}, "agents", "has port 70000"),
        (
            "agents/a1",
            {**GOOD_AGENT, "resources": [{"name": "cpus", "type": "SCALAR"}]},
            "agents",
            "has invalid resources",
        ),
        ("agents/a1", {**GOOD_AGENT, "attributes": [3]}, "agents", "'attributes' that are not"),
        ("agents/a1", {**GOOD_AGENT, "deactivated": "no"}, "agents", "has 'deactivated' a string"),
        ("frameworks/f1", "marathon", "frameworks", "key 'frameworks/f1' is a string"),
        ("frameworks/f1", {"name": "m", "roles": [1]}, "frameworks", "'roles' that are not all"),
        ("frameworks/f1", {"name": "m", "_registered": "x"}, "frameworks", "has '_registered'"),
        ("weights", {"eng": "heavy"}, "weights", "key 'weights' has weight 'heavy'"),
        ("weights", [2.0], "weights", "key 'weights' is an array"),
        ("quota/dev", {"role": "ops"}, "quotas", "key 'quota/dev' is the quota of role 'ops'"),
        (
            "quota/dev",
            {"role": "dev", "guarantees": {"cpus": {"value": "many"}}},
            "quotas",
            "has guarantees.cpus",
        ),
        ("gone/a1", 7, "gone_agents", "key 'gone/a1' is an integer"),
    ],
)
def test_wrong_shapes_are_refused_naming_the_key(
    store: SQLiteStore, key: str, value: Any, read: str, needle: str
) -> None:
    store.put(key, value)
    registry = Registry(store)
    with pytest.raises(StoreError) as e:
        getattr(registry, read)()
    msg = str(e.value)
    assert msg.startswith(f"registry {store.path}: ")
    assert needle in msg and msg.endswith(HINT) and "\n" not in msg


def test_good_documents_are_read_back(store: SQLiteStore) -> None:
    registry = Registry(store)
    registry.save_agent("a1", GOOD_AGENT)
    registry.save_framework("f1", {"name": "m", "user": "u", "roles": ["*"], "_registered": 1})
    registry.save_weights({"eng": 2.0})
    registry.save_quotas({"dev": {"role": "dev", "guarantees": {"cpus": {"value": 1}}}})
    registry.mark_gone("a2", {"gone_time": 3.0})
    assert registry.agents() == {"a1": GOOD_AGENT}
    assert registry.frameworks()["f1"]["name"] == "m"
    assert registry.weights() == {"eng": 2.0}
    assert registry.quotas()["dev"]["role"] == "dev"
    assert registry.is_gone("a2") and not registry.is_gone("a1")
    assert registry.gone_agents() == {"a2": {"gone_time": 3.0}}


def test_mark_gone_moves_the_agent_in_one_write(store: SQLiteStore) -> None:
    registry = Registry(store)
    registry.save_agent("a1", GOOD_AGENT)
    registry.mark_gone("a1", {"gone_time": 3.0})
    assert registry.agents() == {}
    assert registry.is_gone("a1")
