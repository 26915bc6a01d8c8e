"""SchedulerDriver against a real HTTP server speaking the Mesos v1 scheduler protocol."""

from __future__ import annotations

import asyncio
import base64
import itertools
import logging
from typing import Any

import pytest
from fake_scheduler_master import CLOSE, FakeMaster

from dcos_core.frameworks.sdk import (
    Scheduler,
    SchedulerDriver,
    SdkError,
    launch,
    offer_id,
    task_info,
)

Json = dict[str, Any]
FRAMEWORK = {"user": "root", "name": "test", "roles": ["eng"], "failover_timeout": 3600.0}


def offer(oid: str, agent: str = "S1") -> Json:
    return {
        "id": {"value": oid},
        "framework_id": {"value": "fw-1"},
        "agent_id": {"value": agent},
        "hostname": "h1",
        "allocation_info": {"role": "eng"},
        "resources": [
            {
                "name": "cpus",
                "type": "SCALAR",
                "scalar": {"value": 2},
                "role": "*",
                "allocation_info": {"role": "eng"},
            },
        ],
    }


def update(task: str, state: str, uuid: str | None) -> Json:
    status: Json = {
        "task_id": {"value": task},
        "agent_id": {"value": "S1"},
        "state": state,
        "source": "SOURCE_EXECUTOR",
    }
    if uuid is not None:
        status["uuid"] = uuid
    return {"type": "UPDATE", "update": {"status": status}}


class Recorder(Scheduler):
    """Records every callback; declines offers."""

    def __init__(self) -> None:
        self.events: list[tuple[str, Any]] = []
        self.fail_updates = False

    async def on_subscribed(
        self, driver: SchedulerDriver, framework_id: str, master_info: Json | None
    ) -> None:
        self.events.append(("subscribed", framework_id))

    async def on_offers(self, driver: SchedulerDriver, offers: list[Json]) -> None:
        self.events.append(("offers", [offer_id(o) for o in offers]))
        await driver.decline([offer_id(o) for o in offers], refuse_seconds=30)

    async def on_rescind(self, driver: SchedulerDriver, oid: str) -> None:
        self.events.append(("rescind", oid))

    async def on_update(self, driver: SchedulerDriver, status: Json) -> None:
        self.events.append(("update", status["state"]))
        if self.fail_updates:
            raise RuntimeError("boom")

    async def on_message(
        self, driver: SchedulerDriver, agent_id: str | None, executor_id: str | None, data: bytes
    ) -> None:
        self.events.append(("message", data))

    async def on_failure(
        self,
        driver: SchedulerDriver,
        agent_id: str | None,
        executor_id: str | None,
        status: int | None,
    ) -> None:
        self.events.append(("failure", (agent_id, executor_id, status)))

    async def on_error(self, driver: SchedulerDriver, message: str) -> None:
        self.events.append(("error", message))

    async def on_heartbeat(self, driver: SchedulerDriver) -> None:
        self.events.append(("heartbeat", None))

    async def on_disconnected(self, driver: SchedulerDriver) -> None:
        self.events.append(("disconnected", None))


def start(master: FakeMaster, sched: Scheduler, **kw: Any) -> tuple[SchedulerDriver, Any]:
    kw.setdefault("backoff_initial", 0.05)
    driver = SchedulerDriver(master.address, FRAMEWORK, sched, **kw)
    return driver, asyncio.create_task(driver.run())


async def test_subscribe_request_is_mesos_shaped(master: FakeMaster) -> None:
    """SUBSCRIBE: JSON body with framework_info, Accept: application/json, no Mesos-Stream-Id."""
    sched = Recorder()
    driver, task = start(master, sched)
    await master.wait_for(lambda: ("subscribed", "fw-1") in sched.events)
    await master.wait_for(lambda: len(master.streams) == 1)
    sub = master.subscribes[0]
    assert sub.body == {"type": "SUBSCRIBE", "subscribe": {"framework_info": FRAMEWORK}}
    assert sub.headers["accept"] == "application/json"
    assert sub.headers["content-type"] == "application/json"
    assert "mesos-stream-id" not in sub.headers
    await asyncio.sleep(0.05)
    assert driver.framework_id == "fw-1"
    assert driver.master_info is not None and driver.master_info["id"] == "m1"
    driver.stop()
    await asyncio.wait_for(task, 5)


async def test_offers_decline_ack_and_resubscribe_after_drop(master: FakeMaster) -> None:
    """The full happy path of the wire protocol, then a dropped stream and re-subscription."""
    sched = Recorder()
    driver, task = start(master, sched)
    await master.wait_for(lambda: len(master.streams) == 1)
    await master.push({"type": "OFFERS", "offers": {"offers": [offer("O1"), offer("O2")]}})
    await master.wait_for(lambda: len(master.calls_of("DECLINE")) == 1)
    decline = master.calls_of("DECLINE")[0]
    assert decline.body == {
        "framework_id": {"value": "fw-1"},
        "type": "DECLINE",
        "decline": {
            "offer_ids": [{"value": "O1"}, {"value": "O2"}],
            "filters": {"refuse_seconds": 30.0},
        },
    }
    stream_id = decline.headers["mesos-stream-id"]
    assert stream_id

    # An update with a uuid is acknowledged with exactly that uuid; one without is not.
    await master.push(update("t1", "TASK_RUNNING", None))
    await master.push(update("t1", "TASK_FINISHED", "AAECAwQFBgcICQoLDA0ODw=="))
    await master.wait_for(lambda: len(master.calls_of("ACKNOWLEDGE")) == 1)
    ack = master.calls_of("ACKNOWLEDGE")[0]
    assert ack.body == {
        "framework_id": {"value": "fw-1"},
        "type": "ACKNOWLEDGE",
        "acknowledge": {
            "agent_id": {"value": "S1"},
            "task_id": {"value": "t1"},
            "uuid": "AAECAwQFBgcICQoLDA0ODw==",
        },
    }
    assert ack.headers["mesos-stream-id"] == stream_id

    # Drop the connection: the driver re-subscribes as the same framework.
    await master.push(CLOSE)
    await master.wait_for(lambda: len(master.subscribes) == 2)
    again = master.subscribes[1]
    assert again.body["subscribe"]["framework_info"]["id"] == {"value": "fw-1"}
    assert "mesos-stream-id" not in again.headers
    await master.wait_for(lambda: len(master.streams) == 2)
    await asyncio.sleep(0.05)
    assert ("disconnected", None) in sched.events
    assert driver.stream_id is not None and driver.stream_id != stream_id
    # Still exactly one ACKNOWLEDGE: the update without uuid was never acknowledged.
    assert len(master.calls_of("ACKNOWLEDGE")) == 1
    assert [e for e in sched.events if e[0] == "update"] == [
        ("update", "TASK_RUNNING"),
        ("update", "TASK_FINISHED"),
    ]

    # ERROR ends run() after on_error.
    await master.push({"type": "ERROR", "error": {"message": "Framework has been removed"}})
    await asyncio.wait_for(task, 5)
    assert sched.events[-1] == ("error", "Framework has been removed")
    assert driver.error == "Framework has been removed"


async def test_all_event_types_reach_their_callbacks(master: FakeMaster, caplog: Any) -> None:
    """RESCIND, MESSAGE, FAILURE, HEARTBEAT dispatch; an unknown type is logged, not fatal."""
    sched = Recorder()
    _driver, task = start(master, sched)
    await master.wait_for(lambda: len(master.streams) == 1)
    with caplog.at_level(logging.WARNING):
        await master.push({"type": "SOMETHING_NEW", "something_new": {}})
        await master.push({"type": "RESCIND", "rescind": {"offer_id": {"value": "O9"}}})
        await master.push(
            {
                "type": "MESSAGE",
                "message": {
                    "agent_id": {"value": "S1"},
                    "executor_id": {"value": "e1"},
                    "data": base64.b64encode(b"hi").decode(),
                },
            }
        )
        await master.push({"type": "FAILURE", "failure": {"agent_id": {"value": "S2"}}})
        await master.push({"type": "HEARTBEAT"})
        await master.push({"type": "ERROR", "message": "bye"})  # doc-example shape
        await asyncio.wait_for(task, 5)
    assert sched.events[1:] == [
        ("rescind", "O9"),
        ("message", b"hi"),
        ("failure", ("S2", None, None)),
        ("heartbeat", None),
        ("error", "bye"),
    ]
    assert "SOMETHING_NEW" in caplog.text


async def test_no_ack_when_callback_fails_or_auto_ack_off(master: FakeMaster) -> None:
    """A raising on_update is not acknowledged (redelivery); auto_acknowledge=False never acks."""
    sched = Recorder()
    sched.fail_updates = True
    driver, task = start(master, sched)
    await master.wait_for(lambda: len(master.streams) == 1)
    await master.push(update("t1", "TASK_RUNNING", "dXVpZA=="))
    await master.push({"type": "HEARTBEAT"})
    await master.wait_for(lambda: ("heartbeat", None) in sched.events)
    assert ("update", "TASK_RUNNING") in sched.events
    assert master.calls_of("ACKNOWLEDGE") == []
    driver.stop()
    await asyncio.wait_for(task, 5)

    sched2 = Recorder()
    driver2, task2 = start(master, sched2, auto_acknowledge=False)
    await master.wait_for(lambda: len(master.streams) == 2)
    await master.push(update("t1", "TASK_RUNNING", "dXVpZA=="))
    await master.push({"type": "HEARTBEAT"})
    await master.wait_for(lambda: ("heartbeat", None) in sched2.events)
    assert ("update", "TASK_RUNNING") in sched2.events
    assert master.calls_of("ACKNOWLEDGE") == []
    driver2.stop()
    await asyncio.wait_for(task2, 5)


async def test_follows_307_to_the_leader(master_factory: Any) -> None:
    """A 307 with a scheme-relative Location (`//host:port/path`) is followed at once."""
    leader: FakeMaster = await master_factory()
    follower: FakeMaster = await master_factory(
        redirect_to=f"//127.0.0.1:{leader.port}/api/v1/scheduler"
    )
    sched = Recorder()
    driver, task = start(follower, sched)
    await leader.wait_for(lambda: len(leader.streams) == 1)
    assert len(follower.subscribes) == 1
    assert driver.base_url == f"http://127.0.0.1:{leader.port}"
    await leader.push({"type": "OFFERS", "offers": {"offers": [offer("O1")]}})
    await leader.wait_for(lambda: len(leader.calls_of("DECLINE")) == 1)
    assert follower.calls == []
    driver.stop()
    await asyncio.wait_for(task, 5)


async def test_missed_heartbeats_trigger_resubscribe(master_factory: Any) -> None:
    """No event for heartbeat_misses x interval (2 x 0.1 s) counts as a dead stream."""
    master: FakeMaster = await master_factory(heartbeat_interval=0.1)
    sched = Recorder()
    driver, task = start(master, sched, heartbeat_misses=2)
    await master.wait_for(lambda: len(master.subscribes) >= 2, timeout=5)
    assert master.subscribes[1].body["subscribe"]["framework_info"]["id"] == {"value": "fw-1"}
    assert ("disconnected", None) in sched.events
    driver.stop()
    await asyncio.wait_for(task, 5)


async def test_backoff_grows_while_master_is_down(master_factory: Any) -> None:
    """Re-subscription attempts against a 503 master are spaced by growing delays."""
    master: FakeMaster = await master_factory(subscribe_status=503)
    driver, task = start(master, Recorder(), backoff_initial=0.05, backoff_max=0.2)
    loop = asyncio.get_running_loop()
    times: list[float] = []
    for n in range(1, 5):
        await master.wait_for(lambda n=n: len(master.subscribes) >= n, timeout=5)
        times.append(loop.time())
    driver.stop()
    await asyncio.wait_for(task, 5)
    gaps = [b - a for a, b in itertools.pairwise(times)]
    # delays 0.05, 0.1, 0.2 (capped): each gap at least its delay
    assert gaps[0] >= 0.04 and gaps[1] >= 0.09 and gaps[2] >= 0.18


async def test_subscribe_refused_with_4xx_is_fatal(master_factory: Any) -> None:
    """A 400 on SUBSCRIBE calls on_error with status and body, and run() returns."""
    master: FakeMaster = await master_factory(subscribe_status=400)
    sched = Recorder()
    _driver, task = start(master, sched)
    await asyncio.wait_for(task, 5)
    assert len(master.subscribes) == 1
    kind, message = sched.events[-1]
    assert kind == "error"
    assert "400" in message and "Failed to validate" in message


async def test_call_error_raises_sdk_error_with_status_and_body(master_factory: Any) -> None:
    """A 4xx answer to a call becomes SdkError carrying the status code and body text."""
    master: FakeMaster = await master_factory(
        call_status=400, call_body="Framework cannot be found"
    )
    driver, task = start(master, Recorder())
    await master.wait_for(lambda: len(master.streams) == 1)
    await master.wait_for(lambda: bool(driver.stream_id and driver.framework_id))
    with pytest.raises(SdkError, match=r"400.*Framework cannot be found") as info:
        await driver.revive()
    assert info.value.status == 400
    assert info.value.body == "Framework cannot be found"
    driver.stop()
    await asyncio.wait_for(task, 5)


async def test_calls_before_subscription_raise(master: FakeMaster) -> None:
    """Calls need an open subscription."""
    driver = SchedulerDriver(master.address, FRAMEWORK, Scheduler())
    with pytest.raises(SdkError, match="not subscribed"):
        await driver.decline(["O1"])


async def test_call_bodies(master: FakeMaster) -> None:
    """accept/kill/reconcile/message/suppress/revive/update_framework/teardown JSON shapes."""
    driver, task = start(master, Scheduler())
    await master.wait_for(lambda: len(master.streams) == 1)
    await master.wait_for(lambda: bool(driver.stream_id and driver.framework_id))
    t = task_info(
        "t", "t1", "S1", [{"name": "cpus", "type": "SCALAR", "scalar": {"value": 1}}], "true"
    )
    await driver.accept(["O1"], [launch([t])])
    await driver.kill("t1", "S1", grace_period=2.5)
    await driver.reconcile([("t1", "S1"), ("t2", None)])
    await driver.reconcile()
    await driver.message("S1", "e1", b"\x00\x01")
    await driver.suppress()
    await driver.revive(["eng"])
    await driver.update_framework({**FRAMEWORK, "name": "renamed"}, suppressed_roles=["eng"])
    await driver.teardown()
    await asyncio.wait_for(task, 5)
    bodies = {c.body["type"]: c.body for c in master.calls}
    assert bodies["ACCEPT"]["accept"] == {
        "offer_ids": [{"value": "O1"}],
        "operations": [launch([t])],
    }
    assert bodies["KILL"]["kill"] == {
        "task_id": {"value": "t1"},
        "agent_id": {"value": "S1"},
        "kill_policy": {"grace_period": {"nanoseconds": 2500000000}},
    }
    reconciles = [c.body["reconcile"] for c in master.calls_of("RECONCILE")]
    assert reconciles == [
        {
            "tasks": [
                {"task_id": {"value": "t1"}, "agent_id": {"value": "S1"}},
                {"task_id": {"value": "t2"}},
            ]
        },
        {"tasks": []},
    ]
    assert bodies["MESSAGE"]["message"]["data"] == "AAE="
    assert "suppress" not in bodies["SUPPRESS"]
    assert bodies["REVIVE"]["revive"] == {"roles": ["eng"]}
    uf = bodies["UPDATE_FRAMEWORK"]["update_framework"]
    assert uf["framework_info"]["name"] == "renamed"
    assert uf["framework_info"]["id"] == {"value": "fw-1"}
    assert uf["suppressed_roles"] == ["eng"]
    assert "teardown" not in bodies["TEARDOWN"]
    assert all(c.body["framework_id"] == {"value": "fw-1"} for c in master.calls)
    assert all(c.headers.get("mesos-stream-id") for c in master.calls)


async def test_suppressed_roles_are_resent_on_resubscribe(master: FakeMaster) -> None:
    """After suppress(), a re-SUBSCRIBE carries suppressed_roles so offers stay off."""
    driver, task = start(master, Scheduler())
    await master.wait_for(lambda: len(master.streams) == 1)
    await master.wait_for(lambda: bool(driver.stream_id and driver.framework_id))
    await driver.suppress()
    await master.push(CLOSE)
    await master.wait_for(lambda: len(master.subscribes) == 2)
    assert master.subscribes[1].body["subscribe"]["suppressed_roles"] == ["eng"]
    driver.stop()
    await asyncio.wait_for(task, 5)


async def test_reconnect_false_returns_after_drop(master: FakeMaster) -> None:
    """With reconnect=False, run() returns when the stream ends."""
    sched = Recorder()
    _driver, task = start(master, sched, reconnect=False)
    await master.wait_for(lambda: len(master.streams) == 1)
    await master.push(CLOSE)
    await asyncio.wait_for(task, 5)
    assert len(master.subscribes) == 1
    assert sched.events[-1] == ("disconnected", None)


async def test_stop_returns_promptly_while_waiting_for_master(master_factory: Any) -> None:
    """stop() interrupts a backoff sleep."""
    master: FakeMaster = await master_factory(subscribe_status=503)
    driver, task = start(master, Recorder(), backoff_initial=10, backoff_max=10)
    await master.wait_for(lambda: len(master.subscribes) == 1)
    driver.stop()
    await asyncio.wait_for(task, 2)  # a 10 s backoff sleep would time out here
    assert task.done()
