"""Operator maintenance of agents (deactivate, drain, mark gone) through the master harness."""

from __future__ import annotations

from harness import MasterHarness

from dcos_core.model.task import TaskState
from dcos_core.protocol.internal import KillTask

PARTITION_AWARE = [{"type": "PARTITION_AWARE"}]


async def test_a_deactivated_agent_is_not_offered_until_reactivated() -> None:
    h = MasterHarness()
    agent = await h.add_agent()
    fw = await h.subscribe()
    await h.allocate()
    [offer] = fw.offers()
    await h.operator("DEACTIVATE_AGENT", {"agent_id": {"value": agent}})
    assert [e["rescind"]["offer_id"] for e in fw.events("RESCIND")] == [offer["id"]]
    await h.advance(10)
    assert fw.offers() == []
    await h.operator("REACTIVATE_AGENT", {"agent_id": {"value": agent}})
    await h.allocate()
    assert [o["agent_id"]["value"] for o in fw.offers()] == [agent]


async def test_drain_kills_every_task_and_mark_gone_ends_the_agent() -> None:
    """DRAIN_AGENT with mark_gone: KillTask for each task with the grace period; once the
    tasks are killed, housekeeping marks the agent gone."""
    h = MasterHarness()
    agent = await h.add_agent("cpus:4;mem:1024")
    fw = await h.subscribe(capabilities=PARTITION_AWARE)
    await h.allocate()
    await h.launch(fw, fw.offers()[0], "a", "b")
    grace = {"nanoseconds": 2_000_000_000}
    drain = {"agent_id": {"value": agent}, "max_grace_period": grace, "mark_gone": True}
    await h.operator("DRAIN_AGENT", drain)
    kills = h.agent_calls(KillTask, h.address(agent))
    assert sorted(k.task_id for k in kills) == ["a", "b"]
    assert {str(k.kill_policy) for k in kills} == {str({"grace_period": grace})}

    for tid in ("a", "b"):
        await h.status_update(agent, fw, tid, TaskState.KILLED)
    await h.advance(1)
    assert agent not in h.master.agents
    assert h.store_is_gone(agent)
