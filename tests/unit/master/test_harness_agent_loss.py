"""Agents that fall silent or go away, through the master harness (time moved with advance)."""

from __future__ import annotations

from harness import Framework, MasterHarness

from dcos_core.errors import NotFoundError
from dcos_core.model.task import TaskState
from dcos_core.protocol.internal import TaskRecord

PARTITION_AWARE = [{"type": "PARTITION_AWARE"}]


def _silence(h: MasterHarness) -> float:
    """How long an agent may stay silent: agent_ping_timeout x max_agent_ping_timeouts."""
    return h.settings.agent_ping_timeout * h.settings.max_agent_ping_timeouts


async def _running(h: MasterHarness, fw: Framework) -> str:
    agent = await h.add_agent("cpus:2;mem:512")
    await h.allocate()
    await h.launch(fw, fw.offers()[0], "web")
    await h.status_update(agent, fw, "web", TaskState.RUNNING)
    return agent


async def test_a_silent_agent_becomes_unreachable_with_its_tasks() -> None:
    """75 s without a heartbeat (15 s x 5): tasks UNREACHABLE, offers rescinded, FAILURE sent."""
    h = MasterHarness()
    fw = await h.subscribe(capabilities=PARTITION_AWARE)
    agent = await _running(h, fw)
    await h.advance(5)  # the refused rest of the agent is offered again
    [offer] = fw.offers()

    await h.advance(_silence(h) - 5, allocate=False)
    assert fw.states("web") == [TaskState.RUNNING]  # exactly at the limit: still reachable
    await h.advance(1, allocate=False)
    assert fw.states("web") == [TaskState.RUNNING, TaskState.UNREACHABLE]
    status = fw.updates("web")[-1]
    assert status["reason"] == "REASON_AGENT_REMOVED"
    assert status["source"] == "SOURCE_MASTER"
    assert [e["rescind"]["offer_id"] for e in fw.events("RESCIND")] == [offer["id"]]
    assert [e["failure"]["agent_id"] for e in fw.events("FAILURE")] == [{"value": agent}]
    assert h.task_state(fw, "web") is TaskState.UNREACHABLE
    assert not h.master.agents[agent].connected
    await h.allocate()
    assert fw.offers() == []


async def test_heartbeats_keep_an_agent_reachable() -> None:
    h = MasterHarness()
    fw = await h.subscribe(capabilities=PARTITION_AWARE)
    agent = await _running(h, fw)
    for _ in range(10):
        await h.advance(h.settings.agent_ping_timeout)
        await h.heartbeat(agent)
    assert fw.states("web") == [TaskState.RUNNING]
    assert h.master.agents[agent].connected


async def test_an_unreachable_agent_must_re_register_before_it_reports() -> None:
    h = MasterHarness()
    fw = await h.subscribe(capabilities=PARTITION_AWARE)
    agent = await _running(h, fw)
    await h.advance(_silence(h) + 1)
    try:
        await h.heartbeat(agent)
    except NotFoundError as e:
        assert "re-register" in str(e)
    else:
        raise AssertionError("a heartbeat of an unreachable agent was accepted")


async def test_an_agent_that_comes_back_brings_its_tasks_back() -> None:
    """Re-registering with the task still running: the framework hears RUNNING again."""
    h = MasterHarness()
    fw = await h.subscribe(capabilities=PARTITION_AWARE)
    agent = await _running(h, fw)
    await h.advance(_silence(h) + 1)
    task = h.master.frameworks[fw.framework_id].tasks["web"].info
    record = TaskRecord(framework_id=fw.framework_id, task=task, state=TaskState.RUNNING)
    assert await h.add_agent("cpus:2;mem:512", agent_id=agent, tasks=[record]) == agent
    assert fw.states("web") == [TaskState.RUNNING, TaskState.UNREACHABLE, TaskState.RUNNING]
    assert fw.updates("web")[-1]["reason"] == "REASON_AGENT_REREGISTERED"
    assert h.task_state(fw, "web") is TaskState.RUNNING


async def test_a_task_missing_when_its_agent_comes_back_is_gone() -> None:
    h = MasterHarness()
    fw = await h.subscribe(capabilities=PARTITION_AWARE)
    agent = await _running(h, fw)
    await h.advance(_silence(h) + 1)
    await h.add_agent("cpus:2;mem:512", agent_id=agent)
    assert fw.states("web")[-1] == TaskState.GONE
    assert h.task_state(fw, "web") is TaskState.GONE


async def test_an_agent_that_does_not_re_register_after_a_master_restart_is_unreachable() -> None:
    """After a master failover, agents known from the registry get agent_reregister_timeout."""
    h = MasterHarness(agent_reregister_timeout=60.0)
    agent = await h.add_agent()
    restarted = h.restart()
    assert restarted.master.agents[agent].recovered
    await restarted.advance(60, allocate=False)
    assert restarted.master.agents[agent].unreachable_time is None
    await restarted.advance(1, allocate=False)
    assert restarted.master.agents[agent].unreachable_time == restarted.clock.time()
