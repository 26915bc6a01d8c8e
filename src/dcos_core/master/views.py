"""Read models of the master: v0 `/master/state`, v1 GET_* responses, metrics (pure functions).

They read the master's state (`core.MasterCore`) and nothing else: facts about the host (its
cpus) are passed in.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from dcos_core import MESOS_COMPAT_VERSION, __version__, metrics
from dcos_core.master import wire
from dcos_core.master.entries import AgentEntry, FrameworkEntry, TaskEntry
from dcos_core.model.task import TaskState
from dcos_core.resources import Resources

if TYPE_CHECKING:
    from dcos_core.master.core import MasterCore as Master

_BUILD_USER = "dcos-core"


def version(master: Master) -> dict[str, Any]:
    return {
        "version": MESOS_COMPAT_VERSION,
        "dcos_core_version": __version__,
        "build_user": _BUILD_USER,
        "build_time": master.start_time,
        "build_date": "",
    }


# ----------------------------------------------------------------------------------------------
# v0 (legacy) JSON: what UIs, mesos-dns and marathon-lb read


_STATUS_V0_KEYS = ("message", "reason", "source", "healthy", "container_status")


def _task_v0(task: TaskEntry) -> dict[str, Any]:
    # Mesos' v0 statuses hold state and timestamp (+ healthy, container_status); the message,
    # reason and source are kept too, so a failed or killed task says why in /master/state.
    statuses = [
        {
            "state": s.get("state"),
            "timestamp": s.get("timestamp"),
            **{k: s[k] for k in _STATUS_V0_KEYS if k in s},
        }
        for s in task.statuses
    ]
    out: dict[str, Any] = {
        "id": task.task_id,
        "name": task.name,
        "framework_id": task.framework_id,
        "executor_id": "",
        "slave_id": task.agent_id,
        "state": task.state.value,
        "resources": task.resources.to_v0(),
        "role": task.role,
        "statuses": statuses,
    }
    for k in ("labels", "discovery", "container", "health_check"):
        if k in task.info:
            out[k] = task.info[k]
    return out


def _framework_v0(master: Master, fw: FrameworkEntry) -> dict[str, Any]:
    used = Resources()
    tasks, unreachable = [], []
    for t in fw.tasks.values():
        if t.state in (TaskState.UNREACHABLE, TaskState.LOST):
            unreachable.append(_task_v0(t))
        else:
            tasks.append(_task_v0(t))
            used = used + t.resources
    offered = Resources()
    for o in fw.offers.values():
        offered = offered + o.resources
    info = fw.info
    return {
        "id": fw.framework_id,
        "name": fw.name,
        "user": info.get("user", ""),
        "hostname": info.get("hostname", ""),
        "webui_url": info.get("webui_url", ""),
        "principal": info.get("principal"),
        "roles": fw.roles,
        "role": fw.roles[0],
        "capabilities": sorted(fw.capabilities),
        "active": fw.active,
        "connected": fw.connected,
        "recovered": fw.recovered,
        "checkpoint": bool(info.get("checkpoint", False)),
        "failover_timeout": fw.failover_timeout,
        "registered_time": fw.registered_time,
        "reregistered_time": fw.reregistered_time or fw.registered_time,
        "unregistered_time": fw.unregistered_time or 0,
        "used_resources": used.to_v0(),
        "offered_resources": offered.to_v0(),
        "resources": (used + offered).to_v0(),
        "tasks": tasks,
        "unreachable_tasks": unreachable,
        "completed_tasks": [_task_v0(t) for t in fw.completed_tasks],
        "offers": [
            {
                "id": o.offer_id,
                "framework_id": o.framework_id,
                "slave_id": o.agent_id,
                "allocation_info": {"role": o.role},
                "resources": o.resources.to_v0(),
            }
            for o in fw.offers.values()
        ],
        "executors": [],
        "labels": info.get("labels", {}).get("labels", [])
        if isinstance(info.get("labels"), dict)
        else [],
    }


def _attributes_v0(attrs: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for a in attrs:
        name = a.get("name")
        if not name:
            continue
        t = a.get("type")
        if t == "SCALAR":
            out[name] = (a.get("scalar") or {}).get("value")
        elif t == "TEXT":
            out[name] = (a.get("text") or {}).get("value")
        elif t == "RANGES":
            rs = (a.get("ranges") or {}).get("range", [])
            out[name] = "[" + ", ".join(f"{r['begin']}-{r['end']}" for r in rs) + "]"
        elif t == "SET":
            out[name] = "{" + ",".join((a.get("set") or {}).get("item", [])) + "}"
    return out


def _agent_v0(master: Master, agent: AgentEntry) -> dict[str, Any]:
    used, offered = wire.agent_usage(agent, master.offers.values())
    out: dict[str, Any] = {
        "id": agent.agent_id,
        "hostname": agent.hostname,
        "port": agent.port,
        "pid": f"slave(1)@{agent.address}",
        "attributes": _attributes_v0(agent.attributes),
        "registered_time": agent.registered_time,
        "resources": agent.total.to_v0(),
        "used_resources": used.to_v0(),
        "offered_resources": offered.to_v0(),
        "reserved_resources": {r: res.to_v0() for r, res in agent.total.reservations().items()},
        "unreserved_resources": agent.total.unreserved().to_v0(),
        "active": agent.active,
        "deactivated": agent.deactivated or agent.draining,
        "version": agent.version,
        "capabilities": [],
    }
    if agent.reregistered_time:
        out["reregistered_time"] = agent.reregistered_time
    if agent.draining:
        out["drain_info"] = {"state": wire.drain_state(agent)}
    return out


def state_v0(master: Master) -> dict[str, Any]:
    """`GET /master/state` in the Mesos shape."""
    s = master.settings
    host = s.hostname or s.ip
    pid = f"master@{s.ip}:{s.port}"
    connected = [a for a in master.agents.values() if a.connected]
    return {
        **version(master),
        "start_time": master.start_time,
        "elected_time": master.start_time,
        "id": master.master_id,
        "pid": pid,
        "hostname": host,
        "leader": pid,
        "leader_info": master.master_info(),
        "activated_slaves": sum(1 for a in connected if a.active),
        "deactivated_slaves": sum(1 for a in connected if not a.active),
        "unreachable_slaves": sum(1 for a in master.agents.values() if a.unreachable_time),
        "capabilities": ["AGENT_UPDATE", "AGENT_DRAINING", "QUOTA_V2"],
        "flags": {
            "port": str(s.port),
            "allocation_interval": f"{s.allocation_interval}secs",
            "agent_ping_timeout": f"{s.agent_ping_timeout}secs",
            "max_agent_ping_timeouts": str(s.max_agent_ping_timeouts),
            "min_allocatable_resources": s.min_allocatable_resources,
            "registry": s.store,
            "work_dir": str(s.work_dir),
        },
        "slaves": [_agent_v0(master, a) for a in master.agents.values() if a.connected],
        "recovered_slaves": [
            {"id": a.agent_id, "hostname": a.hostname, "port": a.port, "resources": a.total.to_v0()}
            for a in master.agents.values()
            if a.recovered
        ],
        "frameworks": [_framework_v0(master, f) for f in master.frameworks.values()],
        "completed_frameworks": [_framework_v0(master, f) for f in master.completed_frameworks],
        "orphan_tasks": [],
        "unregistered_frameworks": [],
    }


def state_summary(master: Master) -> dict[str, Any]:
    full = state_v0(master)
    return {
        "hostname": full["hostname"],
        "slaves": [{k: v for k, v in a.items() if k != "tasks"} for a in full["slaves"]],
        "frameworks": [
            {
                k: v
                for k, v in f.items()
                if k not in ("tasks", "completed_tasks", "offers", "unreachable_tasks")
            }
            for f in full["frameworks"]
        ],
    }


# ----------------------------------------------------------------------------------------------
# v1 operator API responses


def get_agents(master: Master) -> dict[str, Any]:
    return {
        "agents": [
            wire.agent_v1(a, master.offers.values()) for a in master.agents.values() if a.connected
        ],
        "recovered_agents": [
            {
                "hostname": a.hostname,
                "port": a.port,
                "id": {"value": a.agent_id},
                "resources": a.total.to_v1(),
            }
            for a in master.agents.values()
            if a.recovered
        ],
    }


def get_frameworks(master: Master) -> dict[str, Any]:
    return {
        "frameworks": [wire.framework_v1(f) for f in master.frameworks.values()],
        "completed_frameworks": [wire.framework_v1(f) for f in master.completed_frameworks],
    }


def get_tasks(master: Master) -> dict[str, Any]:
    tasks: list[dict[str, Any]] = []
    unreachable: list[dict[str, Any]] = []
    completed: list[dict[str, Any]] = []
    for fw in list(master.frameworks.values()) + list(master.completed_frameworks):
        for t in fw.tasks.values():
            (unreachable if t.state in (TaskState.UNREACHABLE, TaskState.LOST) else tasks).append(
                wire.task_v1(t)
            )
        completed.extend(wire.task_v1(t) for t in fw.completed_tasks)
    return {
        "pending_tasks": [],
        "tasks": tasks,
        "unreachable_tasks": unreachable,
        "completed_tasks": completed,
    }


def get_state(master: Master) -> dict[str, Any]:
    return {
        "get_tasks": get_tasks(master),
        "get_executors": {"executors": [], "orphan_executors": []},
        "get_frameworks": get_frameworks(master),
        "get_agents": get_agents(master),
    }


def get_roles(master: Master) -> dict[str, Any]:
    summary = master.allocator.role_summary()
    roles = set(summary) | set(master.weights) | set(master.quotas)
    for fw in master.frameworks.values():
        roles.update(fw.roles)
    out = []
    for role in sorted(roles):
        info = summary.get(role, {})
        allocated = info.get("allocated")
        res = allocated if isinstance(allocated, Resources) else Resources()
        frameworks = [f.framework_id for f in master.frameworks.values() if role in f.roles]
        entry: dict[str, Any] = {
            "name": role,
            "weight": master.weights.get(role, 1.0),
            "frameworks": [{"value": f} for f in frameworks],
            "resources": res.to_v1(),
            "allocated": res.to_v1(),
        }
        if role in master.quotas:
            entry["quota"] = master.quotas[role]
        out.append(entry)
    return {"roles": out}


def get_weights(master: Master) -> dict[str, Any]:
    return {"weight_infos": [{"role": r, "weight": w} for r, w in sorted(master.weights.items())]}


def get_quota(master: Master) -> dict[str, Any]:
    return {"status": {"infos": [], "configs": [master.quotas[r] for r in sorted(master.quotas)]}}


def get_master(master: Master) -> dict[str, Any]:
    return {
        "master_info": master.master_info(),
        "start_time": master.start_time,
        "elected_time": master.start_time,
    }


# ----------------------------------------------------------------------------------------------
# metrics


def metrics_snapshot(master: Master, cpus_total: int) -> dict[str, float]:
    """`/metrics/snapshot` with Mesos metric names; `cpus_total` is the host's (usable) cpus."""
    m: dict[str, float] = {}
    states = {s: 0 for s in TaskState}
    for fw in master.frameworks.values():
        for t in fw.tasks.values():
            states[t.state] += 1
    completed = {s: 0 for s in TaskState}
    for fw in list(master.frameworks.values()) + list(master.completed_frameworks):
        for t in fw.completed_tasks:
            completed[t.state] += 1
    for s in TaskState:
        if s is not TaskState.UNKNOWN:  # terminal counts include the completed tasks
            m[f"master/tasks_{s.name.lower()}"] = states[s] + (completed[s] if s.terminal else 0)
    connected = [a for a in master.agents.values() if a.connected]
    m["master/slaves_active"] = sum(1 for a in connected if a.active)
    m["master/slaves_inactive"] = sum(1 for a in connected if not a.active)
    m["master/slaves_connected"] = len(connected)
    m["master/slaves_disconnected"] = sum(1 for a in master.agents.values() if not a.connected)
    m["master/slaves_unreachable"] = sum(1 for a in master.agents.values() if a.unreachable_time)
    m["master/frameworks_active"] = sum(1 for f in master.frameworks.values() if f.active)
    m["master/frameworks_inactive"] = sum(1 for f in master.frameworks.values() if not f.active)
    m["master/frameworks_connected"] = sum(1 for f in master.frameworks.values() if f.connected)
    m["master/frameworks_disconnected"] = sum(
        1 for f in master.frameworks.values() if not f.connected
    )
    m["master/outstanding_offers"] = len(master.offers)
    m["master/elected"] = 1
    m["master/uptime_secs"] = master.clock.time() - master.start_time
    total = Resources()
    for a in connected:
        total = total + a.total
    used = Resources()
    for a in connected:
        used = used + wire.agent_usage(a, ())[0]
    for name in ("cpus", "mem", "disk", "gpus"):
        tot, u = total.scalar(name), used.scalar(name)
        m[f"master/{name}_total"] = tot
        m[f"master/{name}_used"] = u
        m[f"master/{name}_percent"] = u / tot if tot else 0.0
    for k, v in master.metrics.items():
        m[k] = v
    for k, v in master.allocator.stats().items():
        m[f"allocator/mesos/{k}"] = v
    m["system/cpus_total"] = float(cpus_total)
    return m


def prometheus_text(master: Master, cpus_total: int) -> str:
    """The snapshot in the Prometheus text format (`dcos_` prefix, `/` and `.` as `_`)."""
    snapshot = metrics_snapshot(master, cpus_total)
    return metrics.mesos_prometheus_text(snapshot, "master", master.master_id)
