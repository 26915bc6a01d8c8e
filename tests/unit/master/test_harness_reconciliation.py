"""Task reconciliation (RECONCILE) through the master harness."""

from __future__ import annotations

from harness import MasterHarness

from dcos_core.model.task import TaskState

PARTITION_AWARE = [{"type": "PARTITION_AWARE"}]


async def _cluster_with_tasks() -> tuple[MasterHarness, str]:
    h = MasterHarness()
    agent = await h.add_agent("cpus:4;mem:1024")
    return h, agent


async def test_implicit_reconciliation_reports_every_active_task() -> None:
    h, agent = await _cluster_with_tasks()
    fw = await h.subscribe(capabilities=PARTITION_AWARE)
    await h.allocate()
    await h.launch(fw, fw.offers()[0], "a", "b", "c")
    await h.status_update(agent, fw, "a", TaskState.RUNNING)
    await h.status_update(agent, fw, "c", TaskState.FINISHED)
    seen = len(fw.updates())
    await h.reconcile(fw)
    answers = fw.updates()[seen:]
    assert {s["task_id"]["value"]: s["state"] for s in answers} == {
        "a": TaskState.RUNNING,
        "b": TaskState.STAGING,
    }
    assert {s["reason"] for s in answers} == {"REASON_RECONCILIATION"}
    assert all("uuid" not in s for s in answers)  # never acknowledged


async def test_explicit_reconciliation_answers_for_each_task_named() -> None:
    """Known tasks (active or completed) get their state; an unknown one is UNKNOWN."""
    h, agent = await _cluster_with_tasks()
    fw = await h.subscribe(capabilities=PARTITION_AWARE)
    await h.allocate()
    await h.launch(fw, fw.offers()[0], "live", "done")
    await h.status_update(agent, fw, "live", TaskState.RUNNING)
    await h.status_update(agent, fw, "done", TaskState.FAILED)
    seen = len(fw.updates())
    await h.reconcile(fw, ("live", agent), ("done", agent), ("ghost", None))
    answers = [(s["task_id"]["value"], s["state"]) for s in fw.updates()[seen:]]
    assert answers == [
        ("live", TaskState.RUNNING),
        ("done", TaskState.FAILED),
        ("ghost", TaskState.UNKNOWN),
    ]


async def test_an_unknown_task_is_lost_for_a_framework_that_is_not_partition_aware() -> None:
    h, _agent = await _cluster_with_tasks()
    fw = await h.subscribe()
    await h.reconcile(fw, ("ghost", None))
    assert fw.states("ghost") == [TaskState.LOST]


async def test_an_unknown_task_on_an_unreachable_agent_is_unreachable() -> None:
    h, agent = await _cluster_with_tasks()
    fw = await h.subscribe(capabilities=PARTITION_AWARE)
    await h.advance(h.settings.agent_ping_timeout * h.settings.max_agent_ping_timeouts + 1)
    await h.reconcile(fw, ("ghost", agent))
    assert fw.states("ghost") == [TaskState.UNREACHABLE]


async def test_no_answer_for_an_agent_that_has_not_re_registered_after_a_master_restart() -> None:
    """The recovered agent may still report the task: the master does not guess."""
    h, agent = await _cluster_with_tasks()
    fw = await h.subscribe(capabilities=PARTITION_AWARE, failover_timeout=600)
    restarted = h.restart()
    again = await restarted.subscribe(
        framework_id=fw.framework_id, capabilities=PARTITION_AWARE, failover_timeout=600
    )
    await restarted.reconcile(again, ("ghost", agent))
    assert again.updates() == []
