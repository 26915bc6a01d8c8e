"""v1 JSON of the master's entries (tasks, frameworks, agents): pure functions.

Used both for the operator API's GET_* answers and for the events of its SUBSCRIBE stream, so the
two always agree.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from dcos_core.master.entries import AgentEntry, FrameworkEntry, OfferEntry, TaskEntry
from dcos_core.protocol.v1 import wrap
from dcos_core.resources import Resources


def ns(t: float) -> dict[str, int]:
    """Seconds as the v1 `TimeInfo` (`{"nanoseconds": ...}`)."""
    return {"nanoseconds": int(t * 1e9)}


def agent_usage(agent: AgentEntry, offers: Iterable[OfferEntry]) -> tuple[Resources, Resources]:
    """(used by non-terminal tasks, offered right now) on one agent."""
    used = Resources()
    for t in agent.tasks.values():
        if not t.state.terminal:
            used = used + t.resources
    offered = Resources()
    for o in offers:
        if o.agent_id == agent.agent_id:
            offered = offered + o.resources
    return used, offered


def drain_state(agent: AgentEntry) -> str:
    return "DRAINED" if not agent.tasks else "DRAINING"


def task_v1(task: TaskEntry) -> dict[str, Any]:
    out: dict[str, Any] = {
        "name": task.name,
        "task_id": wrap(task.task_id),
        "framework_id": wrap(task.framework_id),
        "agent_id": wrap(task.agent_id),
        "state": task.state.value,
        "resources": task.resources.to_v1(allocation_role=task.role),
        "statuses": task.statuses,
    }
    if task.statuses:
        last = task.statuses[-1]
        out["status_update_state"] = last.get("state")
        if last.get("uuid"):
            out["status_update_uuid"] = last["uuid"]
    for k in ("labels", "discovery", "container", "health_check", "kill_policy", "limits"):
        if k in task.info:
            out[k] = task.info[k]
    out["executor_id"] = wrap(task.task_id)
    return out


def framework_v1(fw: FrameworkEntry) -> dict[str, Any]:
    out: dict[str, Any] = {
        "framework_info": fw.info,
        "active": fw.active,
        "connected": fw.connected,
        "recovered": fw.recovered,
        "registered_time": ns(fw.registered_time),
    }
    if fw.reregistered_time:
        out["reregistered_time"] = ns(fw.reregistered_time)
    if fw.unregistered_time:
        out["unregistered_time"] = ns(fw.unregistered_time)
    out["offers"] = [
        {
            "id": wrap(o.offer_id),
            "framework_id": wrap(o.framework_id),
            "agent_id": wrap(o.agent_id),
            "resources": o.resources.to_v1(o.role),
        }
        for o in fw.offers.values()
    ]
    return out


def agent_v1(agent: AgentEntry, offers: Iterable[OfferEntry]) -> dict[str, Any]:
    used, offered = agent_usage(agent, offers)
    out: dict[str, Any] = {
        "agent_info": {
            "hostname": agent.hostname,
            "port": agent.port,
            "id": wrap(agent.agent_id),
            "resources": agent.total.to_v1(),
            "attributes": agent.attributes,
        },
        "active": agent.active,
        "deactivated": agent.deactivated or agent.draining,
        "version": agent.version,
        "pid": f"slave(1)@{agent.address}",
        "registered_time": ns(agent.registered_time),
        "total_resources": agent.total.to_v1(),
        "allocated_resources": used.to_v1(),
        "offered_resources": offered.to_v1(),
        "capabilities": [],
    }
    if agent.reregistered_time:
        out["reregistered_time"] = ns(agent.reregistered_time)
    if agent.draining:
        out["drain_info"] = {"state": drain_state(agent)}
    return out
