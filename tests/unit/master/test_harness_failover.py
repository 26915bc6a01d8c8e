"""Framework failover through the master harness: disconnect, failover_timeout, re-subscribe."""

from __future__ import annotations

from typing import Any

import pytest
from harness import Framework, MasterHarness

from dcos_core.errors import ForbiddenError, InvalidError
from dcos_core.model.task import TaskState
from dcos_core.protocol.internal import ShutdownFramework


async def _with_task(h: MasterHarness, **info: Any) -> tuple[Framework, str]:
    fw = await h.subscribe(**info)
    agent = await h.add_agent("cpus:2;mem:512")
    await h.allocate()
    await h.launch(fw, fw.offers()[0], "web")
    await h.status_update(agent, fw, "web", TaskState.RUNNING)
    return fw, agent


async def test_a_framework_that_re_subscribes_in_time_keeps_its_tasks() -> None:
    h = MasterHarness()
    fw, agent = await _with_task(h, failover_timeout=60)
    await h.disconnect(fw)
    assert not h.master.frameworks[fw.framework_id].connected
    await h.advance(59)
    again = await h.subscribe(framework_id=fw.framework_id, failover_timeout=60)
    assert again.framework_id == fw.framework_id
    assert again.stream_id != fw.stream_id
    [subscribed] = again.events("SUBSCRIBED")
    assert subscribed["subscribed"]["framework_id"] == {"value": fw.framework_id}
    await h.heartbeat(agent)
    await h.advance(60)  # past the first deadline: the framework is connected again
    assert h.task_state(again, "web") is TaskState.RUNNING
    assert h.agent_calls(ShutdownFramework) == []
    # The new subscription works; the old stream id is refused.
    await h.reconcile(again)
    assert again.states("web") == [TaskState.RUNNING]
    with pytest.raises(InvalidError, match="stream ID"):
        await h.reconcile(fw)


async def test_the_failover_timeout_removes_the_framework_and_kills_its_tasks() -> None:
    h = MasterHarness()
    fw, agent = await _with_task(h, failover_timeout=60)
    await h.disconnect(fw)
    await h.advance(59.9)
    assert fw.framework_id in h.master.frameworks
    await h.advance(0.1)
    assert fw.framework_id not in h.master.frameworks
    [shutdown] = h.agent_calls(ShutdownFramework, h.address(agent))
    assert shutdown.framework_id == fw.framework_id
    assert h.task_state(fw, "web") is TaskState.KILLED
    done = h.master.completed_frameworks[-1]
    assert done.framework_id == fw.framework_id
    assert done.completed_tasks[-1].statuses[-1]["reason"] == "REASON_FRAMEWORK_REMOVED"
    # Its resources are free for others.
    other = await h.subscribe("other")
    await h.allocate()
    assert [o["agent_id"]["value"] for o in other.offers()] == [agent]


async def test_a_removed_framework_may_not_re_subscribe() -> None:
    h = MasterHarness()
    fw, _agent = await _with_task(h, failover_timeout=10)
    await h.disconnect(fw)
    await h.advance(10)
    with pytest.raises(ForbiddenError, match="removed"):
        await h.subscribe(framework_id=fw.framework_id)


async def test_failover_timeout_zero_removes_the_framework_at_disconnect() -> None:
    h = MasterHarness()
    fw, agent = await _with_task(h)
    await h.disconnect(fw)
    assert fw.framework_id not in h.master.frameworks
    assert h.task_state(fw, "web") is TaskState.KILLED
    assert h.agent_calls(ShutdownFramework, h.address(agent))
    assert [m.framework_id for m in h.agent_calls(ShutdownFramework)] == [fw.framework_id]


async def test_a_disconnected_framework_gets_no_offers_and_loses_its_outstanding_ones() -> None:
    h = MasterHarness()
    fw = await h.subscribe(failover_timeout=60)
    await h.add_agent()
    await h.allocate()
    assert len(fw.offers()) == 1
    await h.disconnect(fw)
    assert h.master.offers == {}
    await h.advance(1)
    assert len(fw.all_offers()) == 1  # none more while disconnected
    again = await h.subscribe(framework_id=fw.framework_id, failover_timeout=60)
    await h.allocate()
    assert len(again.offers()) == 1


async def test_re_subscribing_while_connected_replaces_the_stream() -> None:
    """A second SUBSCRIBE with the same id (scheduler failover): the old stream is closed."""
    h = MasterHarness()
    fw, _agent = await _with_task(h, failover_timeout=60)
    again = await h.subscribe(framework_id=fw.framework_id, failover_timeout=60)
    assert fw.stream.closed
    assert not again.stream.closed
    assert h.task_state(again, "web") is TaskState.RUNNING


async def test_the_failover_timeout_survives_a_master_restart() -> None:
    """Frameworks known from the registry get their failover timeout from the master's start."""
    h = MasterHarness()
    fw, _agent = await _with_task(h, failover_timeout=30)
    restarted = h.restart()
    assert restarted.master.frameworks[fw.framework_id].recovered
    await restarted.advance(29, allocate=False)
    assert fw.framework_id in restarted.master.frameworks
    await restarted.advance(1, allocate=False)
    assert fw.framework_id not in restarted.master.frameworks
