"""The CLI's read models: typed views of `/master/state` and of the operator API's answers."""

from __future__ import annotations

from typing import Any

import pytest

from dcos_core.cli.models import (
    Framework,
    Role,
    Task,
    all_tasks,
    frameworks,
    nodes,
    short_state,
    summarize,
    task_state,
)
from dcos_core.model.task import TERMINAL, TaskState


def task(task_id: str, state: str, agent: str = "S0", **extra: Any) -> dict[str, Any]:
    base = {"id": task_id, "name": task_id, "framework_id": "F0", "slave_id": agent}
    return base | {"state": state} | extra


STATE: dict[str, Any] = {
    "id": "M1",
    "leader": "master@127.0.0.1:5050",
    "activated_slaves": 2,
    "slaves": [
        {
            "id": "S0",
            "hostname": "a1",
            "port": 5051,
            "pid": "slave(1)@10.0.0.1:5051",
            "active": True,
            "resources": {"cpus": 4.0, "mem": 1024.0, "disk": 100.0},
            "used_resources": {"cpus": 1.5, "mem": 256.0},
        },
        {
            "id": "S1",
            "hostname": "a2",
            "port": 5051,
            "active": True,
            "drain_info": {"state": "DRAINING"},
            "resources": {"cpus": 2.0, "mem": 512.0, "disk": 50.0},
        },
    ],
    "frameworks": [
        {
            "id": "F0",
            "name": "marathon",
            "roles": ["prod"],
            "active": True,
            "connected": True,
            "used_resources": {"cpus": 1.5, "mem": 256.0},
            "tasks": [task("web.1", "TASK_RUNNING"), task("web.2", "TASK_STAGING")],
            "unreachable_tasks": [task("web.3", "TASK_UNREACHABLE", "S1")],
            "completed_tasks": [task("web.0", "TASK_FAILED")],
        }
    ],
    "completed_frameworks": [
        {"id": "F9", "name": "old", "active": True, "tasks": [], "completed_tasks": []}
    ],
}


@pytest.mark.parametrize("state", sorted(TaskState))
def test_a_task_is_terminal_exactly_in_the_model_s_terminal_states(state: TaskState) -> None:
    """The CLI has no list of its own: `Task.terminal` follows `dcos_core.model.task.TERMINAL`."""
    t = Task.from_v0(task("t", state.value))
    assert t.terminal is (state in TERMINAL)
    assert task_state(short_state(state.value)) is state


def test_an_unknown_state_text_is_kept_and_not_terminal() -> None:
    assert (task_state("TASK_NEW"), short_state("TASK_NEW")) == (None, "TASK_NEW")
    assert not Task.from_v0(task("t", "TASK_NEW")).terminal


def test_all_tasks_reads_active_unreachable_and_completed_tasks() -> None:
    assert [t.id for t in all_tasks(STATE)] == ["web.1", "web.2", "web.3", "web.0"]
    assert [t.id for t in all_tasks(STATE, include_completed=False)] == ["web.1", "web.2", "web.3"]


def test_a_task_says_why_from_its_last_status() -> None:
    t = Task.from_v0(
        task(
            "t",
            "TASK_FAILED",
            statuses=[
                {"state": "TASK_RUNNING"},
                {"message": "exited 1", "reason": "REASON_COMMAND_EXECUTOR_FAILED"},
            ],
        )
    )
    assert t.why == "exited 1 (COMMAND_EXECUTOR_FAILED)"


def test_nodes_count_their_live_tasks_and_say_their_status() -> None:
    by_id = {n.id: n for n in nodes(STATE)}
    # S0: web.1 and web.2 live (web.0 failed); S1: web.3 unreachable is not terminal
    assert (by_id["S0"].tasks, by_id["S1"].tasks) == (2, 1)
    assert (by_id["S0"].address, by_id["S1"].address) == ("10.0.0.1:5051", "a2:5051")
    assert (by_id["S0"].status, by_id["S1"].status) == ("active", "draining")
    assert by_id["S0"].cpus == (1.5, 4.0)


def test_completed_frameworks_are_neither_active_nor_connected() -> None:
    assert [f.id for f in frameworks(STATE)] == ["F0"]
    old = frameworks(STATE, include_completed=True)[-1]
    assert (old.id, old.completed, old.active, old.connected) == ("F9", True, False, False)
    f0 = Framework.from_v0(STATE["frameworks"][0])
    assert (f0.roles, f0.tasks, f0.cpus) == (["prod"], 2, 1.5)


def test_a_role_reads_its_quota_in_either_shape() -> None:
    role = Role.from_v1(
        {
            "name": "prod",
            "weight": 2.0,
            "frameworks": [{"value": "F0"}],
            "allocated": [{"name": "cpus", "type": "SCALAR", "scalar": {"value": 1.5}}],
            "quota": {"role": "prod", "guarantees": {"cpus": {"value": 2}}, "limits": {"mem": 64}},
        }
    )
    assert (role.weight, role.frameworks, role.cpus) == (2.0, 1, 1.5)
    assert role.quota is not None
    assert (role.quota.guarantees, role.quota.limits) == ({"cpus": 2.0}, {"mem": 64.0})


def test_the_summary_takes_totals_from_metrics_or_else_from_the_agents() -> None:
    from_agents = summarize(STATE, {})
    assert from_agents.cpus == (1.5, 6.0)  # used 1.5 + 0, total 4 + 2
    assert from_agents.tasks_by_state == {
        "TASK_FAILED": 1,
        "TASK_RUNNING": 1,
        "TASK_STAGING": 1,
        "TASK_UNREACHABLE": 1,
    }
    from_metrics = summarize(STATE, {"master/cpus_total": 8.0, "master/cpus_used": 3.0})
    assert from_metrics.cpus == (3.0, 8.0)
    doc = from_metrics.to_json()
    assert doc["frameworks"] == {"active": 1, "inactive": 0, "completed": 1}
    assert doc["resources"]["cpus"] == {"used": 3.0, "total": 8.0}
