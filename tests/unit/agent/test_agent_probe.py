"""Resource discovery and --resources/--attributes parsing."""

from __future__ import annotations

from pathlib import Path

import pytest

from dcos_core.agent.probe import (
    HostFacts,
    agent_resources,
    attributes_v0,
    parse_attributes,
    probe_host,
)
from dcos_core.errors import InvalidError

FACTS = HostFacts(cpus=8, mem_total_mb=16384.7, disk_free_mb=50000.9)


def test_detected_resources() -> None:
    """mem = 16384 - 1024 reserved; disk floored; default ports."""
    r = agent_resources(FACTS, 1024)
    assert str(r) == "cpus:8;mem:15360;disk:50000;ports:[31000-32000]"


def test_reserved_memory_never_goes_negative() -> None:
    assert agent_resources(HostFacts(1, 512, 10), 1024).scalar("mem") == 0


def test_override_replaces_by_name_and_keeps_the_rest() -> None:
    """Names given in --resources replace the detected ones (in every role)."""
    r = agent_resources(FACTS, 1024, "cpus:2;cpus(ops):1;ports:[5000-5001];gpus:1")
    assert str(r) == "cpus:2;cpus(ops):1;gpus:1;mem:15360;disk:50000;ports:[5000-5001]"
    assert r.reserved("ops").scalar("cpus") == 1


def test_probe_host_reads_real_numbers(tmp_path: Path) -> None:
    f = probe_host(tmp_path / "not" / "yet")
    assert f.cpus >= 1 and f.mem_total_mb > 0 and f.disk_free_mb > 0


def test_attributes_of_every_type() -> None:
    attrs = parse_attributes("rack:r1;zone:a;weight:2.5;ids:[1-5,7-8];tags:{a,b}")
    assert attrs == [
        {"name": "rack", "type": "TEXT", "text": {"value": "r1"}},
        {"name": "zone", "type": "TEXT", "text": {"value": "a"}},
        {"name": "weight", "type": "SCALAR", "scalar": {"value": 2.5}},
        {
            "name": "ids",
            "type": "RANGES",
            "ranges": {"range": [{"begin": 1, "end": 5}, {"begin": 7, "end": 8}]},
        },
        {"name": "tags", "type": "SET", "set": {"item": ["a", "b"]}},
    ]
    assert attributes_v0(attrs) == {
        "rack": "r1",
        "zone": "a",
        "weight": 2.5,
        "ids": "[1-5, 7-8]",
        "tags": "{a,b}",
    }


def test_empty_attributes() -> None:
    assert parse_attributes(None) == [] and parse_attributes(" ; ") == []


def test_bad_attributes_reported_together() -> None:
    with pytest.raises(InvalidError) as e:
        parse_attributes("rack;ids:[5-1];ok:1;x:{a")
    msg = str(e.value)
    assert "'rack' is not name:value" in msg and "5-1" in msg and "missing '}'" in msg
