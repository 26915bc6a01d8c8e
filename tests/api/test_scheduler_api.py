"""The Mesos v1 scheduler API spoken as raw HTTP against a real master and agent."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cluster import Cluster, RawScheduler, task_info

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    c = Cluster(tmp_path_factory.mktemp("sched-api"))
    try:
        c.start(agents=1)
        yield c
    finally:
        c.stop()


@pytest.fixture
def sched(cluster: Cluster) -> Iterator[RawScheduler]:
    s = RawScheduler(cluster.master_addr)
    s.subscribe()
    yield s
    if s.framework_id:
        s.call({"type": "TEARDOWN", "framework_id": {"value": s.framework_id}})
    s.close()


def test_subscribe_streams_recordio_with_stream_id_and_heartbeat_interval(
    cluster: Cluster,
) -> None:
    s = RawScheduler(cluster.master_addr)
    first = s.subscribe()
    assert first["subscribed"]["heartbeat_interval_seconds"] == 15
    assert first["subscribed"]["master_info"]["port"] == cluster.master_port
    assert len(s.stream_id or "") <= 128
    fws = {f["id"]: f for f in cluster.state()["frameworks"]}
    assert fws[s.framework_id]["name"] == "raw-test"
    assert fws[s.framework_id]["connected"] is True
    s.call({"type": "TEARDOWN", "framework_id": {"value": s.framework_id}})
    s.close()


def test_offers_accept_launch_updates_and_acknowledge(
    sched: RawScheduler, cluster: Cluster
) -> None:
    offers = sched.wait_offers()
    offer = offers[0]
    names = {r["name"] for r in offer["resources"]}
    assert {"cpus", "mem", "disk", "ports"} <= names
    assert offer["allocation_info"]["role"] == "*"
    sched.launch(offer, [task_info("t-echo", offer, "echo hello; sleep 0.3")])
    for state in ("TASK_STARTING", "TASK_RUNNING", "TASK_FINISHED"):
        status = sched.wait_update("t-echo", state)
        assert status["source"] == "SOURCE_EXECUTOR"
        assert status["agent_id"] == offer["agent_id"]
    done = [
        t
        for f in cluster.state()["frameworks"]
        if f["id"] == sched.framework_id
        for t in f["completed_tasks"]
    ]
    assert [t["state"] for t in done] == ["TASK_FINISHED"]


def test_kill_reports_killed(sched: RawScheduler) -> None:
    offer = sched.wait_offers()[0]
    sched.launch(offer, [task_info("t-long", offer, "sleep 60")])
    sched.wait_update("t-long", "TASK_RUNNING")
    sched.send("KILL", {"task_id": {"value": "t-long"}, "agent_id": offer["agent_id"]})
    status = sched.wait_update("t-long", "TASK_KILLED")
    assert status["task_id"]["value"] == "t-long"


def test_kill_of_unknown_task_answers_unknown_state(sched: RawScheduler) -> None:
    sched.send("KILL", {"task_id": {"value": "nope"}})
    status = sched.wait_update("nope", "TASK_UNKNOWN")  # partition-aware framework
    assert "uuid" not in status  # master-generated: must not be acknowledged


def test_explicit_and_implicit_reconciliation(sched: RawScheduler) -> None:
    offer = sched.wait_offers()[0]
    sched.launch(offer, [task_info("t-rec", offer, "sleep 60")])
    sched.wait_update("t-rec", "TASK_RUNNING")
    sched.send(
        "RECONCILE", {"tasks": [{"task_id": {"value": "t-rec"}}, {"task_id": {"value": "ghost"}}]}
    )
    known = sched.wait_update("t-rec", "TASK_RUNNING")
    assert known["reason"] == "REASON_RECONCILIATION"
    assert "uuid" not in known
    ghost = sched.wait_update("ghost", "TASK_UNKNOWN")
    assert ghost["reason"] == "REASON_RECONCILIATION"
    sched.send("RECONCILE", {"tasks": []})
    implicit = sched.wait_update("t-rec", "TASK_RUNNING")
    assert implicit["reason"] == "REASON_RECONCILIATION"


def test_launch_validation_gives_task_error_with_reason(sched: RawScheduler) -> None:
    offer = sched.wait_offers()[0]
    too_big = task_info("t-big", offer, "true", cpus=1000)
    sched.launch(offer, [too_big])
    status = sched.wait_update("t-big", "TASK_ERROR")
    assert status["reason"] == "REASON_TASK_INVALID"
    assert "more resources" in status["message"]
    offer = sched.wait_offers()[0]
    sched.launch(
        offer, [task_info("t-dup", offer, "sleep 30"), task_info("t-dup", offer, "sleep 30")]
    )
    dup = sched.wait_update("t-dup", "TASK_ERROR")
    assert "duplicate" in dup["message"].lower()


def test_stale_offer_drops_the_launch(sched: RawScheduler) -> None:
    offer = sched.wait_offers()[0]
    sched.send("DECLINE", {"offer_ids": [offer["id"]], "filters": {"refuse_seconds": 0}})
    sched.launch(offer, [task_info("t-stale", offer, "true")])
    status = sched.wait_update("t-stale", "TASK_DROPPED")
    assert status["reason"] == "REASON_INVALID_OFFERS"


def test_decline_filter_then_revive_brings_offers_back(sched: RawScheduler) -> None:
    offer = sched.wait_offers()[0]
    sched.send("DECLINE", {"offer_ids": [offer["id"]], "filters": {"refuse_seconds": 3600}})
    with pytest.raises(AssertionError, match="no event"):
        sched.wait_event(lambda e: e["type"] == "OFFERS", timeout=1.5)
    sched.send("REVIVE", {})
    assert sched.wait_offers(5)


def test_suppress_stops_offers_and_revive_restarts_them(sched: RawScheduler) -> None:
    offer = sched.wait_offers()[0]
    sched.send("SUPPRESS", {})
    sched.send("DECLINE", {"offer_ids": [offer["id"]], "filters": {"refuse_seconds": 0}})
    with pytest.raises(AssertionError, match="no event"):
        sched.wait_event(lambda e: e["type"] == "OFFERS", timeout=1.5)
    sched.send("REVIVE", {})
    assert sched.wait_offers(5)


def test_resubscribe_after_dropped_stream_keeps_tasks(cluster: Cluster) -> None:
    s = RawScheduler(cluster.master_addr)
    s.subscribe()
    fid = s.framework_id
    offer = s.wait_offers()[0]
    s.launch(offer, [task_info("t-keep", offer, "sleep 60")])
    s.wait_update("t-keep", "TASK_RUNNING")
    s.drop_connection()
    # The master notices the dropped connection and marks the framework disconnected.
    s2 = RawScheduler(cluster.master_addr)
    s2.subscribe(framework_id=fid)
    assert s2.framework_id == fid
    s2.send("RECONCILE", {"tasks": [{"task_id": {"value": "t-keep"}}]})
    s2.wait_update("t-keep", "TASK_RUNNING")
    fw = next(f for f in cluster.state()["frameworks"] if f["id"] == fid)
    assert [t["id"] for t in fw["tasks"]] == ["t-keep"]
    # The old stream id is no longer valid.
    status, text = s2.call(
        {"type": "REVIVE", "framework_id": {"value": fid}}, stream_id=s.stream_id
    )
    assert status == 400 and b"stream ID" in text
    s2.send("TEARDOWN")
    s2.close()


def _framework_with_a_task(cluster: Cluster, task_id: str) -> RawScheduler:
    s = RawScheduler(cluster.master_addr)
    s.subscribe()
    offer = s.wait_offers()[0]
    s.launch(offer, [task_info(task_id, offer, "sleep 60")])
    s.wait_update(task_id, "TASK_RUNNING")
    return s


def _assert_torn_down(cluster: Cluster, s: RawScheduler) -> None:
    st = cluster.state()
    assert s.framework_id not in {f["id"] for f in st["frameworks"]}
    done = next(f for f in st["completed_frameworks"] if f["id"] == s.framework_id)
    assert [t["state"] for t in done["completed_tasks"]] == ["TASK_KILLED"]


def test_teardown_kills_tasks_and_removes_framework(cluster: Cluster) -> None:
    s = _framework_with_a_task(cluster, "t-td")
    s.send("TEARDOWN")
    _assert_torn_down(cluster, s)
    s.close()


def test_legacy_teardown_endpoint_takes_a_form_as_mesos_does(cluster: Cluster) -> None:
    """`curl -d frameworkId=<id> master/teardown` (500 before: form parsing needed a package)."""
    s = _framework_with_a_task(cluster, "t-td-v0")
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    missing = cluster.http.post(f"{cluster.url}/master/teardown", content=b"", headers=form)
    assert missing.status_code == 400 and "frameworkId" in missing.text
    unknown = cluster.http.post(
        f"{cluster.url}/master/teardown", content=b"frameworkId=nope", headers=form
    )
    assert unknown.status_code == 404 and "nope" in unknown.text
    r = cluster.http.post(
        f"{cluster.url}/master/teardown", content=f"frameworkId={s.framework_id}", headers=form
    )
    assert r.status_code == 200, r.text
    _assert_torn_down(cluster, s)
    s.close()


def test_update_framework_changes_name_synchronously(sched: RawScheduler, cluster: Cluster) -> None:
    info = dict(sched.framework_info, id={"value": sched.framework_id}, name="renamed")
    status = sched.send("UPDATE_FRAMEWORK", {"framework_info": info})
    assert status == 200
    fw = next(f for f in cluster.state()["frameworks"] if f["id"] == sched.framework_id)
    assert fw["name"] == "renamed"


# ---- bad input: always 4xx with a message, never 5xx -------------------------------------------


@pytest.mark.parametrize(
    ("raw", "content_type", "status", "needle"),
    [
        (b"{not json", "application/json", 400, b"JSON"),
        (b"[1,2]", "application/json", 400, b"object"),
        (b'{"type": 7}', "application/json", 400, b"type"),
        (b'{"type": "SUBSCRIBE"}', "application/json", 400, b"framework_info"),
        (
            b'{"type": "SUBSCRIBE", "subscribe": {"framework_info": {"name": "x"}}}',
            "application/json",
            400,
            b"user",
        ),
        (
            b'{"type": "FROBNICATE", "framework_id": {"value": "x"}}',
            "application/json",
            400,
            b"unknown call type",
        ),
        (b'{"type": "REVIVE"}', "application/json", 400, b"framework_id"),
        (
            b'{"type": "REVIVE", "framework_id": {"value": "no-such"}}',
            "application/json",
            400,
            b"cannot be found",
        ),
        (b'{"type": "REVIVE"}', "text/plain", 415, b"Content-Type"),
        (b'{"type": "REVIVE"}', "application/x-protobuf", 415, b"JSON"),
    ],
)
def test_malformed_calls_get_4xx_with_message(
    cluster: Cluster, raw: bytes, content_type: str, status: int, needle: bytes
) -> None:
    s = RawScheduler(cluster.master_addr)
    code, text = s.call({}, stream_id=None, content_type=content_type, raw=raw)
    assert code == status, text
    assert needle in text


def test_wrong_or_missing_stream_id_is_400(sched: RawScheduler) -> None:
    body = {"type": "REVIVE", "framework_id": {"value": sched.framework_id}}
    code, text = sched.call(body, stream_id="not-the-stream")
    assert code == 400 and b"stream ID" in text
    code, text = sched.call(body, stream_id=None)
    assert code == 400 and b"Mesos-Stream-Id" in text


def test_subscribe_with_stream_id_is_400(cluster: Cluster) -> None:
    s = RawScheduler(cluster.master_addr)
    body = {"type": "SUBSCRIBE", "subscribe": {"framework_info": {"user": "u", "name": "n"}}}
    code, text = s.call(body, stream_id="abc")
    assert code == 400 and b"Mesos-Stream-Id" in text


def test_bad_accept_operation_is_400_and_changes_nothing(sched: RawScheduler) -> None:
    offer = sched.wait_offers()[0]
    body = {
        "type": "ACCEPT",
        "framework_id": {"value": sched.framework_id},
        "accept": {"offer_ids": [offer["id"]], "operations": [{"type": "EXPLODE"}]},
    }
    code, text = sched.call(body)
    assert code == 400 and b"EXPLODE" in text
    # The offer is still valid: launching on it works.
    sched.launch(offer, [task_info("t-after-bad", offer, "true")])
    sched.wait_update("t-after-bad", "TASK_FINISHED")


def test_calls_from_a_disconnected_framework_are_403(cluster: Cluster) -> None:
    s = RawScheduler(cluster.master_addr)
    s.subscribe()
    s.drop_connection()
    import time

    deadline = time.monotonic() + 5
    code = 0
    while time.monotonic() < deadline:
        code, _ = s.call({"type": "REVIVE", "framework_id": {"value": s.framework_id}})
        if code == 403:
            break
        time.sleep(0.1)
    assert code == 403
    s2 = RawScheduler(cluster.master_addr)
    s2.subscribe(framework_id=s.framework_id)
    s2.send("TEARDOWN")
    s2.close()


def test_v1_json_is_what_mesos_clients_expect(cluster: Cluster, tmp_path: Path) -> None:
    r = cluster.operator({"type": "GET_STATE"})
    assert r.status_code == 200
    body = r.json()
    assert body["type"] == "GET_STATE"
    agents = body["get_state"]["get_agents"]["agents"]
    assert agents and agents[0]["agent_info"]["id"]["value"]
    json.dumps(body)  # serialisable
