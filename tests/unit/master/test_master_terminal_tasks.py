"""The master and tasks an agent reports terminal when it (re-)registers (issue 13).

In-process master over an in-memory store; the agent side is a recording fake of the
master->agent client (no agent runs here; the real processes are in
tests/integration/test_restart_terminal.py).
"""

from __future__ import annotations

import asyncio

import pytest
from master_fakes import make_master, register

from dcos_core.master.service import Master
from dcos_core.protocol.internal import StatusUpdate


@pytest.fixture
def master() -> Master:
    return make_master()


def _update(master: Master, agent_id: str, tid: str, state: str, uuid: str) -> None:
    status = {"task_id": {"value": tid}, "state": state, "uuid": uuid, "message": f"m-{state}"}
    master.status_update(StatusUpdate(agent_id=agent_id, framework_id="fw-1", status=status))


def _where(master: Master, tid: str) -> tuple[str, str] | None:
    fw = master.frameworks["fw-1"]
    if tid in fw.tasks:
        return "tasks", fw.tasks[tid].state.value
    done = [t for t in fw.completed_tasks if t.task_id == tid]
    assert len(done) <= 1, done
    return ("completed_tasks", done[0].state.value) if done else None


async def test_terminal_task_reported_at_reregistration_is_completed_at_once(
    master: Master,
) -> None:
    aid = register(master, "S1", ("web", "TASK_KILLED"), ("db", "TASK_RUNNING"))
    assert _where(master, "web") == ("completed_tasks", "TASK_KILLED")
    assert _where(master, "db") == ("tasks", "TASK_RUNNING")
    # Only the running task holds resources on the agent.
    assert [t.task_id for t in master.agents[aid].tasks.values()] == ["db"]

    # The agent resends the unacknowledged TASK_KILLING, then TASK_KILLED.
    _update(master, aid, "web", "TASK_KILLING", "u1")
    assert _where(master, "web") == ("completed_tasks", "TASK_KILLED")
    _update(master, aid, "web", "TASK_KILLED", "u2")
    _update(master, aid, "web", "TASK_KILLED", "u2")  # a retry
    assert _where(master, "web") == ("completed_tasks", "TASK_KILLED")
    done = next(t for t in master.frameworks["fw-1"].completed_tasks if t.task_id == "web")
    assert [s["message"] for s in done.statuses] == ["m-TASK_KILLED"]

    # Another re-registration still reporting it (the ack is on its way): no second entry.
    register(master, aid, ("web", "TASK_KILLED"), ("db", "TASK_RUNNING"))
    assert _where(master, "web") == ("completed_tasks", "TASK_KILLED")
    await asyncio.sleep(0)
