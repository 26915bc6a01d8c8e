"""Launching tasks through the master harness: what reaches the agent, what the framework sees."""

from __future__ import annotations

from harness import MasterHarness, task_info

from dcos_core.model.task import TaskState
from dcos_core.protocol.internal import RunTask
from dcos_core.resources import Resources

PARTITION_AWARE = [{"type": "PARTITION_AWARE"}]


async def test_launch_sends_run_task_to_the_agent_and_offers_the_rest() -> None:
    """The task goes to the offer's agent; what the task does not use is offered again."""
    h = MasterHarness()
    agent = await h.add_agent("cpus:4;mem:1024")
    fw = await h.subscribe()
    await h.allocate()
    [offer] = fw.offers()
    await h.launch(fw, offer, "web", resources="cpus:1;mem:256")

    [run] = h.agent_calls(RunTask, h.address(agent))
    assert run.framework_id == fw.framework_id
    assert run.task["task_id"] == {"value": "web"}
    assert run.framework_info["name"] == "f"
    assert h.task_state(fw, "web") is TaskState.STAGING
    assert fw.updates() == []  # STAGING is not reported

    await h.allocate()
    assert fw.offers() == []  # the rest is refused for the default 5 s
    await h.advance(5)
    [again] = fw.offers()
    assert Resources.from_v1(again["resources"]).totals() == {"cpus": 3000, "mem": 768000}


async def test_tasks_of_one_accept_share_the_offer() -> None:
    h = MasterHarness()
    await h.add_agent("cpus:4;mem:1024")
    fw = await h.subscribe()
    await h.allocate()
    [offer] = fw.offers()
    await h.launch(fw, offer, "a", "b", "c", resources="cpus:1;mem:256")
    assert [m.task["name"] for m in h.agent_calls(RunTask)] == ["a", "b", "c"]
    await h.advance(5)
    assert Resources.from_v1(fw.offers()[0]["resources"]).totals() == {"cpus": 1000, "mem": 256000}


async def test_a_task_bigger_than_the_offer_is_an_error() -> None:
    """TASK_ERROR from the master, nothing sent to the agent, the offer's resources come back."""
    h = MasterHarness()
    await h.add_agent("cpus:1;mem:256")
    fw = await h.subscribe()
    await h.allocate()
    [offer] = fw.offers()
    await h.launch(fw, offer, "big", resources="cpus:2;mem:128")
    [status] = fw.updates("big")
    assert status["state"] == TaskState.ERROR
    assert status["source"] == "SOURCE_MASTER"
    assert "uuid" not in status  # a master's update is not acknowledged
    assert h.agent_calls(RunTask) == []
    await h.advance(5)
    assert len(fw.offers()) == 1


async def test_a_duplicate_task_id_is_an_error() -> None:
    h = MasterHarness()
    await h.add_agent("cpus:4;mem:1024")
    fw = await h.subscribe()
    await h.allocate()
    [offer] = fw.offers()
    await h.launch(fw, offer, "web")
    await h.advance(5)
    await h.launch(fw, fw.offers()[0], "web")
    assert fw.states("web") == [TaskState.ERROR]
    assert len(h.agent_calls(RunTask)) == 1


async def test_an_offer_used_twice_drops_the_launch() -> None:
    """An ACCEPT of an offer already used: the tasks are LOST (DROPPED if partition-aware)."""
    h = MasterHarness()
    await h.add_agent()
    await h.add_agent()
    old = await h.subscribe("old")
    aware = await h.subscribe("aware", capabilities=PARTITION_AWARE)
    await h.allocate()
    for fw, state in ((old, TaskState.LOST), (aware, TaskState.DROPPED)):
        [offer] = fw.offers()
        await h.launch(fw, offer, "one")
        fw.answered.clear()  # a buggy scheduler uses the offer again
        await h.launch(fw, offer, "two")
        [status] = fw.updates("two")
        assert status["state"] == state
        assert status["reason"] == "REASON_INVALID_OFFERS"
        assert status["message"] == f"Offer {offer['id']['value']} is no longer valid"


async def test_an_unreachable_agent_drops_the_launch() -> None:
    """run_task fails to connect: the task is LOST (DROPPED if partition-aware) and freed."""
    h = MasterHarness()
    agent = await h.add_agent()
    fw = await h.subscribe(capabilities=PARTITION_AWARE)
    await h.allocate()
    [offer] = fw.offers()
    h.agent_client.unreachable.add(h.address(agent))
    await h.launch(fw, offer, "web")
    [status] = fw.updates("web")
    assert status["state"] == TaskState.DROPPED
    assert status["reason"] == "REASON_AGENT_DISCONNECTED"
    assert h.task_state(fw, "web") is TaskState.DROPPED
    await h.allocate()
    assert Resources.from_v1(fw.offers()[0]["resources"]) == Resources.from_v1(offer["resources"])


async def test_launch_group_is_all_or_nothing() -> None:
    h = MasterHarness()
    await h.add_agent("cpus:2;mem:512")
    fw = await h.subscribe()
    await h.allocate()
    [offer] = fw.offers()
    group = {
        "task_group": {
            "tasks": [
                task_info("small", offer, "cpus:1;mem:128"),
                task_info("huge", offer, "cpus:8;mem:128"),
            ]
        }
    }
    await h.accept(fw, [offer], [{"type": "LAUNCH_GROUP", "launch_group": group}])
    assert fw.states("small") == [TaskState.ERROR]
    assert fw.states("huge") == [TaskState.ERROR]
    assert h.agent_calls(RunTask) == []
