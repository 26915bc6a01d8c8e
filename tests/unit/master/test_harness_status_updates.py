"""Status updates and acknowledgements through the master harness."""

from __future__ import annotations

from harness import Framework, MasterHarness

from dcos_core.model.task import TaskState
from dcos_core.protocol.internal import Acknowledge
from dcos_core.resources import Resources


async def _running(h: MasterHarness, fw: Framework, task_id: str = "web") -> str:
    """Launch `task_id` on a new agent and report it RUNNING; returns the agent id."""
    agent = await h.add_agent("cpus:2;mem:512")
    await h.allocate()
    [offer] = [o for o in fw.offers() if o["agent_id"]["value"] == agent]
    await h.launch(fw, offer, task_id, resources="cpus:2;mem:512")
    await h.status_update(agent, fw, task_id, TaskState.RUNNING)
    return agent


async def test_an_update_reaches_the_framework_as_the_agent_sent_it() -> None:
    h = MasterHarness()
    fw = await h.subscribe()
    agent = await _running(h, fw)
    [status] = fw.updates("web")
    assert status["state"] == TaskState.RUNNING
    assert status["agent_id"] == {"value": agent}
    assert status["source"] == "SOURCE_EXECUTOR"
    assert isinstance(status["uuid"], str)
    assert h.task_state(fw, "web") is TaskState.RUNNING


async def test_acknowledge_is_passed_to_the_agent_with_the_uuid() -> None:
    h = MasterHarness()
    fw = await h.subscribe()
    agent = await _running(h, fw)
    [status] = fw.updates("web")
    await h.acknowledge(fw, status)
    [ack] = h.agent_calls(Acknowledge, h.address(agent))
    assert (ack.framework_id, ack.task_id, ack.uuid) == (fw.framework_id, "web", status["uuid"])


async def test_an_acknowledgement_for_a_gone_agent_is_dropped() -> None:
    """The agent is unreachable: nothing is sent (it resends the update when it is back)."""
    h = MasterHarness()
    fw = await h.subscribe()
    await _running(h, fw)
    [status] = fw.updates("web")
    await h.advance(h.settings.agent_ping_timeout * h.settings.max_agent_ping_timeouts + 1)
    await h.acknowledge(fw, status)
    assert h.agent_calls(Acknowledge) == []


async def test_a_resent_update_is_forwarded_but_kept_once() -> None:
    """Agents resend until acknowledged: each copy goes to the framework, the history has one."""
    h = MasterHarness()
    fw = await h.subscribe()
    agent = await _running(h, fw)
    [status] = fw.updates("web")
    await h.status_update(agent, fw, "web", TaskState.RUNNING, uuid=status["uuid"])
    assert fw.states("web") == [TaskState.RUNNING, TaskState.RUNNING]
    task = h.master.frameworks[fw.framework_id].tasks["web"]
    assert [s["state"] for s in task.statuses] == [TaskState.RUNNING]


async def test_a_terminal_update_completes_the_task_and_frees_its_resources() -> None:
    h = MasterHarness()
    fw = await h.subscribe()
    agent = await _running(h, fw)
    await h.allocate()
    assert fw.offers() == []  # the task holds the whole agent
    await h.status_update(agent, fw, "web", TaskState.FINISHED, message="done")
    assert fw.states("web") == [TaskState.RUNNING, TaskState.FINISHED]
    assert h.task_state(fw, "web") is TaskState.FINISHED
    assert "web" not in h.master.frameworks[fw.framework_id].tasks
    await h.allocate()
    [offer] = fw.offers()
    assert Resources.from_v1(offer["resources"]).totals() == {"cpus": 2000, "mem": 512000}
    # The terminal update is acknowledged like the others.
    await h.acknowledge(fw, fw.updates("web")[-1])
    assert [a.uuid for a in h.agent_calls(Acknowledge)] == [fw.updates("web")[-1]["uuid"]]


async def test_an_old_update_resent_after_the_end_does_not_revive_the_task() -> None:
    h = MasterHarness()
    fw = await h.subscribe()
    agent = await _running(h, fw)
    running = fw.updates("web")[0]
    await h.status_update(agent, fw, "web", TaskState.FAILED)
    await h.status_update(agent, fw, "web", TaskState.RUNNING, uuid=running["uuid"])
    assert h.task_state(fw, "web") is TaskState.FAILED


async def test_an_update_of_a_removed_framework_is_acknowledged_by_the_master() -> None:
    """The framework was torn down: the master acknowledges for it, so the agent stops resending."""
    h = MasterHarness()
    fw = await h.subscribe()
    agent = await _running(h, fw)
    await h.call(fw, "TEARDOWN")
    status = await h.status_update(agent, fw, "web", TaskState.KILLED)
    [ack] = h.agent_calls(Acknowledge)
    assert (ack.task_id, ack.uuid) == ("web", status["uuid"])


async def test_a_framework_that_is_not_partition_aware_sees_lost() -> None:
    """A master-made UNREACHABLE is shown as LOST to an older framework."""
    h = MasterHarness()
    fw = await h.subscribe()
    await _running(h, fw)
    await h.advance(h.settings.agent_ping_timeout * h.settings.max_agent_ping_timeouts + 1)
    assert fw.states("web") == [TaskState.RUNNING, TaskState.LOST]
    assert h.task_state(fw, "web") is TaskState.LOST
