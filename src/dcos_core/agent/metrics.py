"""The agent's metrics under the Mesos agent's names (`/metrics/snapshot`), and in the Prometheus
text format (`/metrics`, named the way the master names its own: `dcos_slave_tasks_running`).

Task counts: the ``staging``/``starting``/``running``/``killing`` gauges count the tasks in that
state now; the terminal ones (``finished``, ``failed``, ``killed``, ``lost``, ...) count the tasks
that ended here since the agent started, as in Mesos. Resources: ``*_total`` is what the agent
offers, ``*_used`` the sum of the resources of its live tasks.
"""

from __future__ import annotations

import os
from collections import Counter

import psutil

from dcos_core import metrics
from dcos_core.agent.service import Agent
from dcos_core.model.task import TaskState
from dcos_core.resources import Resources

LIVE_STATES = (TaskState.STAGING, TaskState.STARTING, TaskState.RUNNING, TaskState.KILLING)
ENDED_STATES = (
    TaskState.FINISHED,
    TaskState.FAILED,
    TaskState.KILLED,
    TaskState.LOST,
    TaskState.ERROR,
    TaskState.DROPPED,
    TaskState.GONE,
)


def metrics_snapshot(agent: Agent) -> dict[str, float]:
    """`/metrics/snapshot`: the Mesos agent's metric names (``slave/...``, ``system/...``)."""
    m: dict[str, float] = {}
    live = [e for e in agent.tasks.values() if not e.state.terminal]
    states = Counter(e.state for e in live)
    for s in LIVE_STATES:
        m[f"slave/tasks_{s.name.lower()}"] = states[s]
    for s in ENDED_STATES:
        m[f"slave/tasks_{s.name.lower()}"] = agent.terminal_counts[s.value]
    m["slave/executors_registering"] = sum(1 for e in live if not e.executor.launched)
    m["slave/executors_running"] = sum(
        1 for e in live if e.executor.launched and e.state is not TaskState.KILLING
    )
    m["slave/executors_terminating"] = states[TaskState.KILLING]
    m["slave/frameworks_active"] = len({e.framework_id for e in live})
    m["slave/registered"] = 1 if agent.registered else 0
    m["slave/uptime_secs"] = agent.clock.time() - agent.start_time
    used = Resources()
    for e in live:
        try:
            used = used + Resources.from_v1(e.task.get("resources") or [])
        except ValueError:  # a task the master sent with resources we cannot read: not counted
            continue
    total = agent.config.resources
    for name in ("cpus", "gpus", "mem", "disk"):
        tot, u = total.scalar(name), used.scalar(name)
        m[f"slave/{name}_total"] = tot
        m[f"slave/{name}_used"] = u
        m[f"slave/{name}_percent"] = u / tot if tot else 0.0
    m["system/cpus_total"] = float(len(os.sched_getaffinity(0)))
    load = os.getloadavg()
    m["system/load_1min"], m["system/load_5min"], m["system/load_15min"] = load
    memory = psutil.virtual_memory()
    m["system/mem_total_bytes"] = float(memory.total)
    m["system/mem_free_bytes"] = float(memory.available)
    return m


def prometheus_text(agent: Agent) -> str:
    """The snapshot in the Prometheus text format, named as the master names its metrics."""
    return metrics.mesos_prometheus_text(metrics_snapshot(agent), "agent", agent.agent_id or "")
