"""The v1 operator API, legacy JSON endpoints and metrics of a real master."""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from tests.cluster import Cluster, RawScheduler, task_info, wait_for

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    c = Cluster(tmp_path_factory.mktemp("operator-api"))
    try:
        c.start(agents=2)
        yield c
    finally:
        c.stop()


def _agent_id(cluster: Cluster, i: int = 0) -> str:
    port = cluster.agent_ports[i]
    return str(next(a["id"] for a in cluster.state()["slaves"] if a["port"] == port))


@pytest.mark.parametrize(
    ("call", "key"),
    [
        ("GET_HEALTH", "get_health"),
        ("GET_VERSION", "get_version"),
        ("GET_STATE", "get_state"),
        ("GET_AGENTS", "get_agents"),
        ("GET_FRAMEWORKS", "get_frameworks"),
        ("GET_TASKS", "get_tasks"),
        ("GET_ROLES", "get_roles"),
        ("GET_WEIGHTS", "get_weights"),
        ("GET_QUOTA", "get_quota"),
        ("GET_MASTER", "get_master"),
        ("GET_METRICS", "get_metrics"),
    ],
)
def test_get_calls_answer_typed_json(cluster: Cluster, call: str, key: str) -> None:
    r = cluster.operator({"type": call})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["type"] == call
    assert key in body


def test_get_agents_lists_both_agents_with_resources(cluster: Cluster) -> None:
    agents = cluster.operator({"type": "GET_AGENTS"}).json()["get_agents"]["agents"]
    assert len(agents) == 2
    cpus = [r for r in agents[0]["total_resources"] if r["name"] == "cpus"]
    assert cpus[0]["scalar"]["value"] == 4.0


def test_update_weights_persists_and_shows_in_roles(cluster: Cluster) -> None:
    r = cluster.operator(
        {
            "type": "UPDATE_WEIGHTS",
            "update_weights": {"weight_infos": [{"role": "eng", "weight": 2.5}]},
        }
    )
    assert r.status_code == 200, r.text
    infos = cluster.operator({"type": "GET_WEIGHTS"}).json()["get_weights"]["weight_infos"]
    assert {"role": "eng", "weight": 2.5} in infos
    assert {"name": "eng", "weight": 2.5} in [
        {"name": x["name"], "weight": x["weight"]}
        for x in cluster.http.get(f"{cluster.url}/master/roles").json()["roles"]
    ]


@pytest.mark.parametrize(
    ("weight_infos", "needle"),
    [
        ([{"role": "eng", "weight": -1}], "positive"),
        ([{"role": "eng", "weight": "heavy"}], "number"),
        ([{"role": "bad role", "weight": 1}], "role"),
        ("nope", "weight_infos"),
    ],
)
def test_bad_weights_are_400_and_change_nothing(
    cluster: Cluster, weight_infos: object, needle: str
) -> None:
    before = cluster.operator({"type": "GET_WEIGHTS"}).json()
    r = cluster.operator(
        {"type": "UPDATE_WEIGHTS", "update_weights": {"weight_infos": weight_infos}}
    )
    assert r.status_code == 400
    assert needle in r.text
    assert cluster.operator({"type": "GET_WEIGHTS"}).json() == before


def test_quota_set_get_and_validation(cluster: Cluster) -> None:
    ok = cluster.operator(
        {
            "type": "UPDATE_QUOTA",
            "update_quota": {
                "quota_configs": [
                    {
                        "role": "dev",
                        "guarantees": {"cpus": {"value": 1}},
                        "limits": {"cpus": {"value": 2}},
                    }
                ]
            },
        }
    )
    assert ok.status_code == 200, ok.text
    configs = cluster.operator({"type": "GET_QUOTA"}).json()["get_quota"]["status"]["configs"]
    dev = next(c for c in configs if c["role"] == "dev")
    assert dev["guarantees"]["cpus"]["value"] == 1
    assert dev["limits"]["cpus"]["value"] == 2
    bad = cluster.operator(
        {
            "type": "UPDATE_QUOTA",
            "update_quota": {
                "quota_configs": [
                    {"role": "ok-role", "guarantees": {"cpus": {"value": 1}}},
                    {
                        "role": "dev",
                        "guarantees": {"cpus": {"value": 5}},
                        "limits": {"cpus": {"value": 2}},
                    },
                ]
            },
        }
    )
    assert bad.status_code == 400 and "exceeds its limit" in bad.text
    configs = cluster.operator({"type": "GET_QUOTA"}).json()["get_quota"]["status"]["configs"]
    assert "ok-role" not in {c["role"] for c in configs}  # all or nothing


def test_deactivate_and_reactivate_agent(cluster: Cluster) -> None:
    aid = _agent_id(cluster, 1)
    r = cluster.operator(
        {"type": "DEACTIVATE_AGENT", "deactivate_agent": {"agent_id": {"value": aid}}}
    )
    assert r.status_code == 200
    slave = next(a for a in cluster.state()["slaves"] if a["id"] == aid)
    assert slave["active"] is False and slave["deactivated"] is True
    cluster.operator({"type": "REACTIVATE_AGENT", "reactivate_agent": {"agent_id": {"value": aid}}})
    assert next(a for a in cluster.state()["slaves"] if a["id"] == aid)["active"] is True
    missing = cluster.operator(
        {"type": "DEACTIVATE_AGENT", "deactivate_agent": {"agent_id": {"value": "nope"}}}
    )
    assert missing.status_code == 404 and "nope" in missing.text


def test_drain_agent_kills_its_tasks_and_stops_offers(cluster: Cluster) -> None:
    s = RawScheduler(cluster.master_addr)
    s.subscribe()
    aid = _agent_id(cluster, 1)
    launched = False
    while not launched:
        for offer in s.wait_offers():
            if offer["agent_id"]["value"] == aid and not launched:
                s.launch(offer, [task_info("drained", offer, "sleep 60")])
                launched = True
    s.wait_update("drained", "TASK_RUNNING")
    r = cluster.operator({"type": "DRAIN_AGENT", "drain_agent": {"agent_id": {"value": aid}}})
    assert r.status_code == 200
    s.wait_update("drained", "TASK_KILLED")
    wait_for(
        lambda: (
            next(a for a in cluster.state()["slaves"] if a["id"] == aid)
            .get("drain_info", {})
            .get("state")
            == "DRAINED"
        ),
        10,
        "DRAINED",
    )
    cluster.operator({"type": "REACTIVATE_AGENT", "reactivate_agent": {"agent_id": {"value": aid}}})
    s.send("TEARDOWN")
    s.close()


def test_operator_subscribe_streams_task_events(cluster: Cluster) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", cluster.master_port, timeout=20)
    conn.request(
        "POST",
        "/api/v1",
        json.dumps({"type": "SUBSCRIBE"}),
        {"Content-Type": "application/json", "Accept": "application/json"},
    )
    resp = conn.getresponse()
    assert resp.status == 200
    buf = b""
    events: list[dict[str, object]] = []

    def read_until(kind: str) -> dict[str, object]:
        nonlocal buf
        while True:
            for ev in events:
                if ev["type"] == kind:
                    return ev
            buf += resp.read1(65536)
            while b"\n" in buf:
                nl = buf.index(b"\n")
                size = int(buf[:nl])
                if len(buf) < nl + 1 + size:
                    break
                events.append(json.loads(buf[nl + 1 : nl + 1 + size]))
                buf = buf[nl + 1 + size :]

    subscribed = read_until("SUBSCRIBED")
    assert "get_state" in subscribed["subscribed"]  # type: ignore[operator]
    s = RawScheduler(cluster.master_addr)
    s.subscribe()
    assert read_until("FRAMEWORK_ADDED")
    offer = s.wait_offers()[0]
    s.launch(offer, [task_info("watched", offer, "true")])
    added = read_until("TASK_ADDED")
    assert added["task_added"]["task"]["task_id"]["value"] == "watched"  # type: ignore[index]
    assert read_until("TASK_UPDATED")
    s.send("TEARDOWN")
    s.close()
    conn.close()


def test_legacy_endpoints_and_metrics(cluster: Cluster) -> None:
    h, url = cluster.http, cluster.url
    st = h.get(f"{url}/master/state").json()
    assert st == {**st, "activated_slaves": 2}
    assert h.get(f"{url}/state").status_code == 200
    assert set(h.get(f"{url}/master/slaves").json()) >= {"slaves"}
    assert "frameworks" in h.get(f"{url}/master/frameworks").json()
    assert "tasks" in h.get(f"{url}/master/tasks").json()
    assert h.get(f"{url}/version").json()["version"]
    assert h.get(f"{url}/health").status_code == 200
    snap = h.get(f"{url}/metrics/snapshot").json()
    assert snap["master/slaves_active"] == 2
    assert snap["master/cpus_total"] == 8.0
    assert snap["master/elected"] == 1
    prom = h.get(f"{url}/metrics").text
    assert "dcos_master_slaves_active 2.0" in prom


def test_unknown_operator_call_is_400(cluster: Cluster) -> None:
    r = cluster.operator({"type": "SET_EVERYTHING_ON_FIRE"})
    assert r.status_code == 400 and "SET_EVERYTHING_ON_FIRE" in r.text
    r = cluster.http.post(
        f"{cluster.url}/api/v1", content=b"{", headers={"Content-Type": "application/json"}
    )
    assert r.status_code == 400


def test_internal_endpoints_reject_bad_bodies_with_400(cluster: Cluster) -> None:
    r = cluster.http.post(f"{cluster.url}/internal/agent/register", json={"agent_info": {}})
    assert r.status_code == 400
    assert r.json()["field"].startswith("agent_info")
    r = cluster.http.post(f"{cluster.url}/internal/agent/heartbeat", json={"agent_id": "ghost"})
    assert r.status_code == 404


# ---- MARK_AGENT_GONE (its own cluster: it removes an agent for good) -----------------------------


@pytest.fixture
def gone_cluster(tmp_path: Path) -> Iterator[Cluster]:
    c = Cluster(tmp_path)
    try:
        c.start(agents=1)
        yield c
    finally:
        c.stop()


def _launch(s: RawScheduler, task_id: str) -> None:
    offer = s.wait_offers()[0]
    s.launch(offer, [task_info(task_id, offer, "sleep 600")], refuse_seconds=3600)
    s.wait_update(task_id, "TASK_RUNNING")


def _tasks_by_id(state: dict[str, Any], key: str) -> dict[str, dict[str, Any]]:
    return {t["id"]: t for fw in state["frameworks"] for t in fw[key]}


def test_mark_agent_gone_ends_its_tasks_refuses_it_and_survives_a_master_restart(
    gone_cluster: Cluster,
) -> None:
    c = gone_cluster
    gone = _agent_id(c, 0)
    aware = RawScheduler(c.master_addr)  # PARTITION_AWARE
    aware.subscribe()
    legacy = RawScheduler(c.master_addr, {"user": "root", "name": "legacy"})
    legacy.subscribe()
    _launch(aware, "aware-task")
    _launch(legacy, "legacy-task")
    c.start_agent()
    c.wait_agents(2)
    kept = _agent_id(c, 1)
    agent_pid = c.agents[0].pid

    r = c.operator({"type": "MARK_AGENT_GONE", "mark_agent_gone": {"agent_id": {"value": gone}}})
    assert r.status_code == 200, r.text

    # Frameworks are told: partition-aware ones see TASK_GONE_BY_OPERATOR, others TASK_LOST.
    st = aware.wait_update("aware-task", "TASK_GONE_BY_OPERATOR")
    assert st["reason"] == "REASON_AGENT_REMOVED_BY_OPERATOR" and gone in st["message"]
    legacy.wait_update("legacy-task", "TASK_LOST")
    aware.wait_event(lambda e: e["type"] == "FAILURE" and e["failure"]["agent_id"]["value"] == gone)
    state = c.state()
    assert gone not in [a["id"] for a in state["slaves"]]
    done = _tasks_by_id(state, "completed_tasks")
    assert done["aware-task"]["state"] == "TASK_GONE_BY_OPERATOR"
    assert done["legacy-task"]["state"] == "TASK_GONE_BY_OPERATOR"
    assert not _tasks_by_id(state, "tasks")

    # No more offers of the gone agent: only the other one is offered.
    legacy.send("TEARDOWN")
    legacy.close()
    aware.decline_held_offers(0.1)
    aware.send("REVIVE")
    for _ in range(3):
        offers = aware.wait_offers()
        assert {o["agent_id"]["value"] for o in offers} == {kept}
        aware.send(
            "DECLINE",
            {"offer_ids": [o["id"] for o in offers], "filters": {"refuse_seconds": 0.2}},
        )

    # The agent itself hears it at its next heartbeat: it is refused, kills its tasks, exits.
    wait_for(lambda: not c.agents[0].alive(), 30, "the gone agent to shut down")
    assert c.agents[0].p.returncode == 2  # one line saying why, as any refused daemon
    last = c.agents[0].log.read_text().strip().splitlines()[-1]
    assert last.startswith("dcos-core: ") and "gone" in last, last
    assert agent_pid not in {p.pid for p in psutil.process_iter()}
    assert not [
        p for p in psutil.process_iter(["cmdline"]) if p.info["cmdline"] == ["sleep", "600"]
    ]

    # Marking it again is a no-op; an unknown agent is a 404 naming it; a bad body is a 400.
    again = {"type": "MARK_AGENT_GONE", "mark_agent_gone": {"agent_id": {"value": gone}}}
    assert c.operator(again).status_code == 200
    nope = c.operator(
        {"type": "MARK_AGENT_GONE", "mark_agent_gone": {"agent_id": {"value": "no-such-agent"}}}
    )
    assert nope.status_code == 404 and "no-such-agent" in nope.text
    assert c.operator({"type": "MARK_AGENT_GONE"}).status_code == 400
    aware.close()

    # The registry remembers: after a master restart the gone agent stays refused.
    assert c.master is not None
    c.master.stop()
    c.start_master()
    r = c.http.post(
        f"{c.url}/internal/agent/register",
        json={"agent_info": {"id": gone, "hostname": "127.0.0.1", "port": 1, "resources": []}},
    )
    assert r.status_code == 403 and gone in r.json()["message"]
    assert "marked gone" in r.json()["message"]
    c.wait_agents(1)
    state = c.state()
    assert gone not in [a["id"] for a in state["slaves"] + state["recovered_slaves"]]
    assert c.operator(again).status_code == 200

    # Restarted on its work dir, the shut-down agent joins again, as a new agent.
    c.start_agent(0)
    slaves = c.wait_agents(2)
    assert gone not in [a["id"] for a in slaves]
