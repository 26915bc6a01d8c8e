"""Agents' use cases: the master's half of the internal agent protocol."""

from __future__ import annotations

import logging
from typing import Any

from dcos_core.errors import ForbiddenError, InvalidError, NotFoundError
from dcos_core.ids import validate_id
from dcos_core.master import wire
from dcos_core.master.core import MasterCore
from dcos_core.master.entries import (
    AgentEntry,
    FrameworkEntry,
    TaskEntry,
)
from dcos_core.master.validation import (
    task_id_of,
)
from dcos_core.model.task import TaskState, can_transition
from dcos_core.protocol.internal import (
    Acknowledge,
    RegisterAgent,
    RegisteredAgent,
    ShutdownFramework,
    StatusUpdate,
)
from dcos_core.protocol.v1 import task_status, unwrap, wrap
from dcos_core.resources import DYNAMIC, Resources

log = logging.getLogger(__name__)


class AgentCalls(MasterCore):
    """Agents: (re-)registration with their tasks, heartbeats, status updates, unreachability."""

    def register_agent(self, msg: RegisterAgent) -> RegisteredAgent:
        """An agent registers (no id) or re-registers (with its id and the tasks it runs)."""
        info = msg.agent_info
        total = Resources.from_v1(info.resources, "agent_info.resources")
        now = self.clock.time()
        mono = self.clock.monotonic()
        aid = info.id
        agent = self.agents.get(aid) if aid else None
        if aid:
            validate_id(aid, "agent_info.id")
            if agent is None and self.registry.is_gone(aid):
                self._count("master/slave_reregistrations_refused")
                raise ForbiddenError(
                    f"Agent {aid} was marked gone by the operator and may not re-register: "
                    "shut it down (it joins again as a new agent once its work dir is cleaned)"
                )
        if agent is not None:
            if agent.connected and not agent.recovered:
                self.allocator.remove_agent(agent.agent_id)
                for offer in [o for o in self.offers.values() if o.agent_id == aid]:
                    self._drop_offer(offer, rescind=True)
            # Dynamic reservations live in the master's registry, not on the agent.
            reserved = agent.total.filter(lambda k, _v: k[2] == DYNAMIC)
            total = total - reserved.unreserve() + reserved
            agent.hostname, agent.port, agent.total = info.hostname, info.port, total
            agent.ip = info.ip or ""
            agent.attributes = list(info.attributes)
            agent.reregistered_time = now
        else:
            aid = aid or self.ids.agent()
            agent = AgentEntry(aid, info.hostname, info.port, total, list(info.attributes), now)
            agent.ip = info.ip or ""
            if info.id:
                agent.reregistered_time = now
            self.agents[aid] = agent
        was_unreachable = agent.unreachable_time is not None
        agent.connected = True
        agent.recovered = False
        agent.unreachable_time = None
        agent.last_heartbeat = mono
        agent.version = msg.version
        self._reconcile_agent_tasks(agent, msg, was_unreachable)
        used: dict[tuple[str, str], Resources] = {}
        for task in agent.tasks.values():
            if not task.state.terminal or task.state == TaskState.LOST:
                key = (task.framework_id, task.role)
                used[key] = used.get(key, Resources()) + task.resources
        aid = agent.agent_id
        self.allocator.add_agent(aid, agent.total, used)
        if agent.deactivated or agent.draining:
            self.allocator.deactivate_agent(aid)
        self._save_agent(agent)
        self._operator_event(
            {
                "type": "AGENT_ADDED",
                "agent_added": {"agent": wire.agent_v1(agent, self.offers.values())},
            }
        )
        self._count("master/slave_registrations" if not info.id else "master/slave_reregistrations")
        self.trigger_allocation()
        return RegisteredAgent(
            agent_id=aid,
            master_id=self.master_id,
            heartbeat_interval_seconds=self.settings.agent_ping_timeout,
        )

    def _reconcile_agent_tasks(
        self, agent: AgentEntry, msg: RegisterAgent, was_unreachable: bool
    ) -> None:
        reported: set[tuple[str, str]] = set()
        for rec in msg.tasks:
            tid = task_id_of(rec.task)
            if tid is None:
                continue
            key = (rec.framework_id, tid)
            reported.add(key)
            try:
                state = TaskState(rec.state)
            except ValueError:
                continue
            fw = self.frameworks.get(rec.framework_id)
            if fw is None:
                if rec.framework_id in self.removed_framework_ids:
                    self._spawn(
                        self.agent_client.shutdown_framework(
                            agent.address, ShutdownFramework(framework_id=rec.framework_id)
                        ),
                        "shutdown removed framework",
                    )
                    continue
                info = dict(rec.framework_info or {"name": "", "user": ""})
                info["id"] = wrap(rec.framework_id)
                fw = FrameworkEntry(rec.framework_id, info, self.clock.time(), recovered=True)
                fw.failover_deadline = self.clock.monotonic() + fw.failover_timeout
                self.frameworks[rec.framework_id] = fw
                self.allocator.add_framework(rec.framework_id, fw.roles, active=False)
            task = agent.tasks.get(key)
            if task is None and state.terminal and self._completed_task(fw, tid, agent.agent_id):
                continue  # ended already (its terminal update came; the ack is on its way)
            if task is None:
                res = Resources.from_v1(rec.task.get("resources", []))
                role = _task_role(rec.task, fw)
                task = TaskEntry(tid, fw.framework_id, agent.agent_id, rec.task, res, role, state)
                fw.tasks[tid] = task
                agent.tasks[key] = task
                self._operator_event(
                    {"type": "TASK_ADDED", "task_added": {"task": wire.task_v1(task)}}
                )
            elif task.state != state:
                task.state = state
                task.unreachable_time = None
                if was_unreachable and fw.connected:
                    status = task_status(
                        tid,
                        state,
                        agent_id=agent.agent_id,
                        timestamp=self.clock.time(),
                        source="SOURCE_MASTER",
                        reason="REASON_AGENT_REREGISTERED",
                        message="Agent re-registered",
                    )
                    task.statuses.append(status)
                    self._send_update(fw, status)
            if state.terminal:
                # The task ended while the agent was away from this master (a restart of either,
                # a partition). Its terminal update follows (the agent resends it until the
                # framework acknowledges it); the task is terminal now and its resources free.
                self._finish_task(fw, task, recover=False)
        for key, task in list(agent.tasks.items()):
            if key in reported or (task.state.terminal and task.state != TaskState.LOST):
                continue
            fw = self.frameworks.get(task.framework_id)
            if fw is None:
                continue
            state = TaskState.GONE if fw.partition_aware else TaskState.LOST
            task.state = state
            status = self._master_update(
                fw,
                task.task_id,
                state,
                agent.agent_id,
                "REASON_AGENT_REREGISTERED",
                "Task was not found on the agent when it re-registered",
            )
            self._keep_status(fw, task, status)
            self._finish_task(fw, task, recover=False)

    def heartbeat(self, agent_id: str) -> None:
        agent = self.agents.get(agent_id)
        if agent is None or not agent.connected:
            raise NotFoundError(f"Agent {agent_id} is not registered; re-register")
        agent.last_heartbeat = self.clock.monotonic()

    def status_update(self, msg: StatusUpdate) -> None:
        """An agent reports a task's new state (reliably: it resends until acknowledged)."""
        agent = self.agents.get(msg.agent_id)
        if agent is None or not agent.connected:
            raise NotFoundError(f"Agent {msg.agent_id} is not registered; re-register")
        agent.last_heartbeat = self.clock.monotonic()
        status = dict(msg.status)
        tid = unwrap(status.get("task_id"), "status.task_id")
        try:
            state = TaskState(str(status.get("state")))
        except ValueError:
            raise InvalidError(
                f"unknown task state {status.get('state')!r}", "status.state"
            ) from None
        uuid = status.get("uuid")
        self._count("master/messages_status_update")
        fw = self.frameworks.get(msg.framework_id)
        if fw is None:
            # Framework removed: acknowledge on its behalf so the agent stops resending.
            if isinstance(uuid, str):
                self._spawn(
                    self.agent_client.acknowledge(
                        agent.address,
                        Acknowledge(framework_id=msg.framework_id, task_id=tid, uuid=uuid),
                    ),
                    "ack for removed framework",
                )
            return
        task = fw.tasks.get(tid)
        if task is not None and task.agent_id == agent.agent_id:
            if not can_transition(task.state, state) and state != task.state:
                log.info("task %s: %s -> %s reported by the agent", tid, task.state, state)
            if task.state.terminal and task.state != TaskState.LOST and not state.terminal:
                # An older update resent after the task ended: it goes to the framework (which
                # must acknowledge it before the agent sends the next), the state stays terminal.
                state = task.state
            self._record_status(fw, task, status, state)
            if state.terminal:
                self._finish_task(fw, task, recover=True)
        else:
            done = self._completed_task(fw, tid, agent.agent_id)
            if done is not None and state.terminal:
                # Finished when the agent re-registered reporting it terminal: this is the
                # terminal update itself (with its message and reason), arriving now.
                self._record_status(fw, done, status, state)
        if fw.connected:
            self._send_update(fw, status)

    def _record_status(
        self, fw: FrameworkEntry, task: TaskEntry, status: dict[str, Any], state: TaskState
    ) -> None:
        uuid = status.get("uuid")
        retry = isinstance(uuid, str) and uuid == task.latest_uuid
        task.state = state
        task.latest_uuid = uuid if isinstance(uuid, str) else task.latest_uuid
        self._count(f"master/task_{TaskState(status['state']).name.lower()}_updates")
        if retry:  # agents resend an update until it is acknowledged
            return
        self._keep_status(fw, task, status)

    @staticmethod
    def _completed_task(fw: FrameworkEntry, task_id: str, agent_id: str) -> TaskEntry | None:
        for task in reversed(fw.completed_tasks):
            if task.task_id == task_id and task.agent_id == agent_id:
                return task
        return None

    def mark_unreachable(self, agent: AgentEntry, why: str) -> None:
        """An agent fell silent: its tasks become UNREACHABLE (or LOST for older frameworks)."""
        log.warning("agent %s (%s) is unreachable: %s", agent.agent_id, agent.address, why)
        now = self.clock.time()
        for offer in [o for o in self.offers.values() if o.agent_id == agent.agent_id]:
            self._drop_offer(offer, rescind=True)
        if agent.connected:
            self.allocator.remove_agent(agent.agent_id)
        agent.connected = False
        agent.recovered = False
        agent.unreachable_time = now
        for task in list(agent.tasks.values()):
            if task.state.terminal and task.state != TaskState.LOST:
                continue
            fw = self.frameworks.get(task.framework_id)
            if fw is None:
                continue
            task.state = TaskState.UNREACHABLE if fw.partition_aware else TaskState.LOST
            task.unreachable_time = now
            status = self._master_update(
                fw,
                task.task_id,
                TaskState.UNREACHABLE,
                agent.agent_id,
                "REASON_AGENT_REMOVED",
                f"Agent {agent.agent_id} is unreachable: {why}",
            )
            self._keep_status(fw, task, status)
        for fid in list(self.streams):
            self._send(fid, {"type": "FAILURE", "failure": {"agent_id": wrap(agent.agent_id)}})
        self._save_agent(agent)
        self._operator_event(
            {"type": "AGENT_REMOVED", "agent_removed": {"agent_id": wrap(agent.agent_id)}}
        )
        self._count("master/slave_unreachable_completed")


def _task_role(task: dict[str, Any], fw: FrameworkEntry) -> str:
    for r in task.get("resources", []):
        alloc = r.get("allocation_info") if isinstance(r, dict) else None
        if isinstance(alloc, dict) and alloc.get("role"):
            return str(alloc["role"])
    return fw.roles[0]
