"""The agent's `/state` in the Mesos agent shape, built from the `Agent` (read only)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from dcos_core import MESOS_COMPAT_VERSION, __version__
from dcos_core.agent.probe import attributes_v0
from dcos_core.agent.service import Agent, TaskEntry
from dcos_core.resources import Resources


def _task_json(e: TaskEntry, agent_id: str) -> dict[str, Any]:
    t = e.task
    out: dict[str, Any] = {
        "id": e.task_id,
        "name": t.get("name", e.task_id),
        "framework_id": e.framework_id,
        "executor_id": "",  # command executor tasks, as in Mesos
        "slave_id": agent_id,
        "state": e.state.value,
        "resources": _resources_v0(t),
        "statuses": list(e.statuses),
    }
    for key in ("labels", "discovery", "container", "health_check"):
        if key in t:
            out[key] = t[key]
    return out


def _resources_v0(task: dict[str, Any]) -> dict[str, Any]:
    try:
        return Resources.from_v1(task.get("resources") or []).to_v0()
    except ValueError:
        return Resources().to_v0()


def _executor_json(e: TaskEntry, agent_id: str, completed: bool) -> dict[str, Any]:
    ex = e.executor
    out: dict[str, Any] = {
        "id": e.task_id,
        "name": f"Command Executor (Task: {e.task_id}) (Command: sh -c '...')",
        "source": e.task_id,
        "container": ex.container_id,
        "directory": str(ex.sandbox),
        "resources": _resources_v0(e.task),
        "framework_id": e.framework_id,
        "tasks": [] if completed else [_task_json(e, agent_id)],
        "completed_tasks": [_task_json(e, agent_id)] if completed else [],
        "queued_tasks": [],
    }
    if ex.pid is not None and not completed:
        out["pid"] = ex.pid
    return out


def _framework_json(
    fid: str, active: Iterable[TaskEntry], done: Iterable[TaskEntry], agent_id: str
) -> dict[str, Any]:
    active, done = list(active), list(done)
    info = (active or done)[0].framework_info
    return {
        "id": fid,
        "name": info.get("name", ""),
        "user": info.get("user", ""),
        "role": info.get("role", "*"),
        "hostname": info.get("hostname", ""),
        "checkpoint": bool(info.get("checkpoint", False)),
        "executors": [_executor_json(e, agent_id, False) for e in active],
        "completed_executors": [_executor_json(e, agent_id, True) for e in done],
    }


def agent_state(agent: Agent) -> dict[str, Any]:
    """`GET /state` (and `/slave(1)/state`)."""
    c = agent.config
    agent_id = agent.agent_id or ""
    active: dict[str, list[TaskEntry]] = {}
    for e in agent.tasks.values():
        active.setdefault(e.framework_id, []).append(e)
    done: dict[str, list[TaskEntry]] = {}
    for e in agent.completed:
        done.setdefault(e.framework_id, []).append(e)
    frameworks = [
        _framework_json(fid, entries, done.get(fid, []), agent_id)
        for fid, entries in sorted(active.items())
    ]
    completed_frameworks = [
        _framework_json(fid, [], entries, agent_id)
        for fid, entries in sorted(done.items())
        if fid not in active
    ]
    return {
        "version": MESOS_COMPAT_VERSION,
        "dcos_core_version": __version__,
        "id": agent_id,
        "pid": f"slave(1)@{c.hostname}:{c.port}",
        "hostname": c.hostname,
        "port": c.port,
        "start_time": agent.start_time,
        "resources": c.resources.to_v0(),
        "reserved_resources": {r: res.to_v0() for r, res in c.resources.reservations().items()},
        "unreserved_resources": c.resources.unreserved().to_v0(),
        "attributes": attributes_v0(c.attributes),
        "master_hostname": c.master_hostname,
        "registered": agent.registered,
        "flags": {
            "work_dir": str(c.work_dir),
            "executor_shutdown_grace_period": f"{c.executor_shutdown_grace_period}secs",
            **c.flags,
        },
        "frameworks": frameworks,
        "completed_frameworks": completed_frameworks,
    }
