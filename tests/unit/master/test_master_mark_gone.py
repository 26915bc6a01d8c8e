"""MARK_AGENT_GONE and DRAIN_AGENT with mark_gone in an in-process master (issue 13).

The operator API itself, with real processes and a master restart, is tested in
tests/api/test_operator_api.py.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from master_fakes import make_master, register

from dcos_core.errors import ForbiddenError, InvalidError, NotFoundError, StoreError
from dcos_core.master.calls import parse_operator_call
from dcos_core.master.service import Master
from dcos_core.protocol.internal import StatusUpdate


def _gone(agent_id: str) -> dict[str, Any]:
    return {"type": "MARK_AGENT_GONE", "mark_agent_gone": {"agent_id": {"value": agent_id}}}


def _operator(master: Master, body: dict[str, Any]) -> None:
    """An operator call as the HTTP layer makes it: parsed, then run."""
    master.operator_call(parse_operator_call(body["type"], body))


def _completed_state(master: Master, tid: str) -> str:
    fw = master.frameworks["fw-1"]
    assert tid not in fw.tasks
    return next(t.state.value for t in fw.completed_tasks if t.task_id == tid)


async def test_mark_agent_gone_ends_tasks_and_refuses_the_agent() -> None:
    master = make_master()
    aid = register(master, "S1", ("web", "TASK_RUNNING"))
    _operator(master, _gone(aid))
    assert aid not in master.agents and master.registry.is_gone(aid)
    assert _completed_state(master, "web") == "TASK_GONE_BY_OPERATOR"
    with pytest.raises(ForbiddenError, match=f"Agent {aid} was marked gone"):
        register(master, aid, ("web", "TASK_RUNNING"))
    _operator(master, _gone(aid))  # again: nothing to do
    with pytest.raises(NotFoundError, match="Agent nope is not known"):
        _operator(master, _gone("nope"))
    with pytest.raises(InvalidError, match="mark_agent_gone"):
        _operator(master, {"type": "MARK_AGENT_GONE"})
    await asyncio.sleep(0)


async def test_a_registry_that_cannot_be_written_changes_nothing() -> None:
    master = make_master()
    aid = register(master, "S1", ("web", "TASK_RUNNING"))
    master.registry.store.close()
    with pytest.raises(StoreError):
        _operator(master, _gone(aid))
    assert master.agents[aid].connected
    assert master.frameworks["fw-1"].tasks["web"].state.value == "TASK_RUNNING"
    await asyncio.sleep(0)


async def test_drain_with_mark_gone_marks_the_agent_gone_once_drained() -> None:
    master = make_master()
    aid = register(master, "S1", ("web", "TASK_RUNNING"))
    _operator(
        master,
        {"type": "DRAIN_AGENT", "drain_agent": {"agent_id": {"value": aid}, "mark_gone": True}},
    )
    master.housekeeping()
    assert aid in master.agents  # not before its tasks are gone
    status = {"task_id": {"value": "web"}, "state": "TASK_KILLED", "uuid": "dTE="}
    master.status_update(StatusUpdate(agent_id=aid, framework_id="fw-1", status=status))
    master.housekeeping()
    assert aid not in master.agents and master.registry.is_gone(aid)
    with pytest.raises(ForbiddenError):
        register(master, aid)
    await asyncio.sleep(0)
