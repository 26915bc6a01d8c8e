"""Frameworks' use cases: subscription, failover and the v1 scheduler calls."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterable
from typing import Any

from dcos_core.errors import ForbiddenError, InvalidError
from dcos_core.ids import new_uuid, validate_id
from dcos_core.master import calls, wire
from dcos_core.master.agent_client import AgentUnreachable
from dcos_core.master.calls import (
    Accept,
    Decline,
    Kill,
    Reconcile,
    Revive,
    Shutdown,
    Subscribe,
    Suppress,
    UpdateFramework,
)
from dcos_core.master.core import MasterCore
from dcos_core.master.entries import (
    AgentEntry,
    FrameworkEntry,
    OfferEntry,
    TaskEntry,
)
from dcos_core.master.streams import EventStream
from dcos_core.master.validation import (
    Rejection,
    ValidTask,
    task_id_of,
    validate_task,
)
from dcos_core.model.task import TaskState
from dcos_core.protocol.internal import (
    Acknowledge,
    KillTask,
    RunTask,
    ShutdownFramework,
)
from dcos_core.protocol.v1 import task_status, unwrap, wrap
from dcos_core.resources import DYNAMIC, UNRESERVED, Resources

log = logging.getLogger(__name__)


class FrameworkCalls(MasterCore):
    """Frameworks: SUBSCRIBE, failover, TEARDOWN and the scheduler calls (ACCEPT, KILL, ...)."""

    def framework_for_call(self, framework_id: str | None, stream_id: str | None) -> FrameworkEntry:
        """The framework a non-SUBSCRIBE call comes from, checked the way Mesos checks it."""
        if not framework_id:
            raise InvalidError("Expecting 'framework_id' to be present", "framework_id")
        fw = self.frameworks.get(framework_id)
        if fw is None:
            raise InvalidError(f"Framework {framework_id} cannot be found", "framework_id")
        if not fw.connected:
            raise ForbiddenError(f"Framework {framework_id} is not subscribed")
        if not stream_id:
            raise InvalidError(
                "All non-subscribe calls should include the 'Mesos-Stream-Id' header"
            )
        if stream_id != fw.stream_id:
            raise InvalidError(
                f"The stream ID '{stream_id}' included in this request didn't match the "
                f"stream ID currently associated with framework ID {framework_id}"
            )
        return fw

    def subscribe(self, call: Subscribe) -> tuple[FrameworkEntry, EventStream]:
        """SUBSCRIBE: register a new framework or re-subscribe a known one (failover)."""
        info = dict(call.framework_info)
        fid = call.framework_id
        roles, suppressed = call.roles.roles, set(call.roles.suppressed)
        now = self.clock.time()
        if fid is not None and fid in self.removed_framework_ids:
            raise ForbiddenError(f"Framework {fid} has been removed (torn down)")
        fw = self.frameworks.get(fid) if fid else None
        is_new = fw is None
        if fw is None:
            fid = fid or self.ids.framework()
            validate_id(fid, "framework_id")
            fw = FrameworkEntry(framework_id=fid, info=info, registered_time=now)
            self.frameworks[fid] = fw
            self.allocator.add_framework(fid, roles, suppressed, active=False)
        else:
            old = fw.info
            for fixed in ("principal", "user", "checkpoint"):
                if fw.recovered or fixed not in old:
                    continue
                if old.get(fixed) != info.get(fixed):
                    raise InvalidError(
                        f"'{fixed}' cannot be changed on re-subscription", f"framework_info.{fixed}"
                    )
            fw.reregistered_time = now
            fid = fw.framework_id
            self.allocator.update_framework(fid, roles, suppressed)
            old_stream = self.streams.pop(fid, None)
            if old_stream is not None:
                old_stream.close()
            for offer in list(fw.offers.values()):
                self._drop_offer(offer, rescind=False)
        fid = fw.framework_id
        info["id"] = wrap(fid)
        fw.info = info
        fw.suppressed_roles = suppressed
        fw.connected = True
        fw.recovered = False
        fw.failover_deadline = None
        fw.unregistered_time = None
        stream = EventStream(new_uuid(), self.settings.heartbeat_interval)
        fw.stream_id = stream.stream_id
        self.streams[fid] = stream
        self.registry.save_framework(fid, dict(info, _registered=fw.registered_time))
        self.allocator.activate_framework(fid)
        stream.send(
            {
                "type": "SUBSCRIBED",
                "subscribed": {
                    "framework_id": wrap(fid),
                    "heartbeat_interval_seconds": self.settings.heartbeat_interval,
                    "master_info": self.master_info(),
                },
            }
        )
        self._operator_event(
            {
                "type": "FRAMEWORK_ADDED" if is_new else "FRAMEWORK_UPDATED",
                ("framework_added" if is_new else "framework_updated"): {
                    "framework": wire.framework_v1(fw)
                },
            }
        )
        self._count("master/messages_register_framework")
        self.trigger_allocation()
        return fw, stream

    def stream_closed(self, framework_id: str, stream_id: str) -> None:
        """The subscription connection ended: disconnect, and start the failover timeout."""
        fw = self.frameworks.get(framework_id)
        if fw is None or fw.stream_id != stream_id:
            return
        self.streams.pop(framework_id, None)
        fw.connected = False
        fw.stream_id = None
        fw.unregistered_time = self.clock.time()
        self.allocator.deactivate_framework(framework_id)
        for offer in list(fw.offers.values()):
            self._drop_offer(offer, rescind=False)
        fw.failover_deadline = self.clock.monotonic() + fw.failover_timeout
        log.info(
            "framework %s disconnected; failover timeout %.0f s", framework_id, fw.failover_timeout
        )
        if fw.failover_timeout == 0:
            self.remove_framework(fw, "failover timeout 0 and the framework disconnected")
        else:
            self._operator_event(
                {
                    "type": "FRAMEWORK_UPDATED",
                    "framework_updated": {"framework": wire.framework_v1(fw)},
                }
            )

    def remove_framework(self, fw: FrameworkEntry, why: str) -> None:
        """TEARDOWN or failover timeout: kill every task and forget the framework."""
        fid = fw.framework_id
        log.info("removing framework %s: %s", fid, why)
        for offer in list(fw.offers.values()):
            self._drop_offer(offer, rescind=False)
        agents_with_tasks = {t.agent_id for t in fw.tasks.values()}
        for task in list(fw.tasks.values()):
            if not task.state.terminal or task.state == TaskState.LOST:
                task.state = TaskState.KILLED
                status = task_status(  # as Mesos: the master's TASK_KILLED says why
                    task.task_id,
                    TaskState.KILLED,
                    agent_id=task.agent_id,
                    timestamp=self.clock.time(),
                    source="SOURCE_MASTER",
                    reason="REASON_FRAMEWORK_REMOVED",
                    message=f"Framework {fid} removed ({why})",
                )
                self._keep_status(fw, task, status)
            self._finish_task(fw, task, recover=False)
        for aid in agents_with_tasks:
            agent = self.agents.get(aid)
            if agent is not None and agent.connected:
                self._spawn(
                    self.agent_client.shutdown_framework(
                        agent.address, ShutdownFramework(framework_id=fid)
                    ),
                    "shutdown framework",
                )
        self.allocator.remove_framework(fid)
        stream = self.streams.pop(fid, None)
        if stream is not None:
            stream.close()
        fw.connected = False
        fw.unregistered_time = self.clock.time()
        self.frameworks.pop(fid, None)
        self.completed_frameworks.append(fw)
        self.removed_framework_ids.add(fid)
        self.registry.remove_framework(fid)
        self._operator_event(
            {"type": "FRAMEWORK_REMOVED", "framework_removed": {"framework_info": fw.info}}
        )
        self.trigger_allocation()

    def update_framework(self, fw: FrameworkEntry, call: UpdateFramework) -> None:
        info = dict(call.framework_info)
        if call.framework_id is not None and call.framework_id != fw.framework_id:
            raise InvalidError("framework_info.id does not match framework_id", "framework_info.id")
        for fixed in ("principal", "user", "checkpoint"):
            if info.get(fixed) != fw.info.get(fixed):
                raise InvalidError(f"'{fixed}' cannot be changed", f"framework_info.{fixed}")
        roles, suppressed = call.roles.roles, set(call.roles.suppressed)
        info["id"] = wrap(fw.framework_id)
        removed_roles = set(fw.roles) - set(roles)
        if removed_roles:
            for offer in list(fw.offers.values()):
                if offer.role in removed_roles:
                    self._drop_offer(offer, rescind=True)
        fw.info = info
        fw.suppressed_roles = suppressed
        self.allocator.update_framework(fw.framework_id, roles, suppressed)
        self.registry.save_framework(fw.framework_id, dict(info, _registered=fw.registered_time))
        self._operator_event(
            {"type": "FRAMEWORK_UPDATED", "framework_updated": {"framework": wire.framework_v1(fw)}}
        )
        self.trigger_allocation()

    # ------------------------------------------------------------------------------------------
    # scheduler calls

    def _refuse(self, refuse_seconds: float | None) -> float:
        if refuse_seconds is None:
            return self.settings.default_refuse_seconds
        return refuse_seconds

    def decline(self, fw: FrameworkEntry, call: Decline) -> None:
        refuse = self._refuse(call.refuse_seconds)
        for oid in call.offer_ids:
            offer = fw.offers.get(oid)
            if offer is not None:
                self._drop_offer(offer, rescind=False, refuse=refuse)
        self._count("master/messages_decline_offers")

    def accept(self, fw: FrameworkEntry, call: Accept) -> None:
        """ACCEPT: apply the operations in order to the offered resources."""
        ids, operations = call.offer_ids, call.operations
        refuse = self._refuse(call.refuse_seconds)
        self._count("master/messages_accept")
        offers: list[OfferEntry] = []
        problem: str | None = None
        if len(set(ids)) != len(ids):
            problem = "Duplicate offers in ACCEPT"
        for oid in ids:
            offer = fw.offers.get(oid)
            if offer is None:
                problem = problem or f"Offer {oid} is no longer valid"
                continue
            offers.append(offer)
            self.offers.pop(oid, None)
            fw.offers.pop(oid, None)
        if offers and len({(o.agent_id, o.role) for o in offers}) > 1:
            problem = problem or "Offers of one ACCEPT must be for the same agent and role"
        agent = self.agents.get(offers[0].agent_id) if offers else None
        if not problem and (agent is None or not agent.connected):
            problem = "Agent of the offers is not registered"
        if problem or agent is None:
            for o in offers:
                if o.agent_id in self.agents and self.agents[o.agent_id].connected:
                    self.allocator.recover(fw.framework_id, o.agent_id, o.role, o.resources)
            self._drop_launches(fw, operations, problem or "no offers")
            return
        role = offers[0].role
        remaining = Resources()
        for o in offers:
            remaining = remaining + o.resources
        for op in operations:
            t = op["type"]
            if t == "LAUNCH":
                for info in op["launch"]["task_infos"]:
                    remaining = self._launch_one(fw, agent, role, info, remaining)
            elif t == "LAUNCH_GROUP":
                remaining = self._launch_group(fw, agent, role, op["launch_group"], remaining)
            elif t == "RESERVE":
                remaining = self._reserve(fw, agent, role, op["reserve"], remaining)
            elif t == "UNRESERVE":
                remaining = self._unreserve(fw, agent, role, op["unreserve"], remaining)
        if remaining:
            self.allocator.recover(fw.framework_id, agent.agent_id, role, remaining, refuse)

    def _drop_launches(
        self, fw: FrameworkEntry, operations: Iterable[dict[str, Any]], why: str
    ) -> None:
        state = TaskState.DROPPED if fw.partition_aware else TaskState.LOST
        for op in operations:
            infos: list[Any] = []
            if op["type"] == "LAUNCH":
                infos = op["launch"]["task_infos"]
            elif op["type"] == "LAUNCH_GROUP":
                infos = op["launch_group"]["task_group"]["tasks"]
            for info in infos:
                tid = task_id_of(info)
                if tid:
                    self._master_update(fw, tid, state, None, "REASON_INVALID_OFFERS", why)
                    self._count("master/tasks_dropped")

    def _active_task_ids(self, fw: FrameworkEntry) -> _ActiveIds:
        """The framework's non-terminal task ids, as a view (O(1) lookups, nothing copied: a
        set built per launch made launching N tasks O(N^2))."""
        return _ActiveIds(fw)

    def _launch_one(
        self, fw: FrameworkEntry, agent: AgentEntry, role: str, info: Any, remaining: Resources
    ) -> Resources:
        v = validate_task(info, agent.agent_id, remaining, self._active_task_ids(fw))
        if isinstance(v, Rejection):
            tid = task_id_of(info) or "<missing task_id>"
            self._master_update(fw, tid, TaskState.ERROR, agent.agent_id, v.reason, v.message)
            self._count("master/tasks_error")
            return remaining
        self._start_task(fw, agent, role, v)
        return remaining - v.resources

    def _launch_group(
        self,
        fw: FrameworkEntry,
        agent: AgentEntry,
        role: str,
        body: dict[str, Any],
        remaining: Resources,
    ) -> Resources:
        """LAUNCH_GROUP: all tasks of the group are valid and fit, or none is launched."""
        executor = body.get("executor") if isinstance(body.get("executor"), dict) else None
        valid: list[ValidTask] = []
        left = remaining
        if executor is not None:
            with contextlib.suppress(InvalidError):
                left = left - Resources.from_v1(executor.get("resources", []))
        active = self._active_task_ids(fw)
        for info in body["task_group"]["tasks"]:
            v = validate_task(info, agent.agent_id, left, active)
            if isinstance(v, Rejection):
                for other in body["task_group"]["tasks"]:
                    tid = task_id_of(other) or "<missing task_id>"
                    self._master_update(
                        fw,
                        tid,
                        TaskState.ERROR,
                        agent.agent_id,
                        v.reason,
                        f"Task group is invalid: {v.message}",
                    )
                return remaining
            valid.append(v)
            active.add(v.task_id)
            left = left - v.resources
        for v in valid:
            self._start_task(fw, agent, role, v)
        return left

    def _start_task(self, fw: FrameworkEntry, agent: AgentEntry, role: str, v: ValidTask) -> None:
        info = dict(v.info)
        task = TaskEntry(v.task_id, fw.framework_id, agent.agent_id, info, v.resources, role)
        fw.tasks[v.task_id] = task
        agent.tasks[(fw.framework_id, v.task_id)] = task
        self._count("master/tasks_launched")
        self._operator_event({"type": "TASK_ADDED", "task_added": {"task": wire.task_v1(task)}})
        msg = RunTask(framework_id=fw.framework_id, framework_info=fw.info, task=info)
        self._spawn(self._deliver_run_task(fw.framework_id, agent.address, msg), "run task")

    async def _deliver_run_task(self, framework_id: str, address: str, msg: RunTask) -> None:
        try:
            await self.agent_client.run_task(address, msg)
        except AgentUnreachable as e:
            fw = self.frameworks.get(framework_id)
            tid = unwrap(msg.task["task_id"], "task_id")
            task = fw.tasks.get(tid) if fw else None
            if fw is None or task is None or task.state != TaskState.STAGING:
                return
            state = TaskState.DROPPED if fw.partition_aware else TaskState.LOST
            task.state = state
            status = self._master_update(
                fw,
                tid,
                state,
                task.agent_id,
                "REASON_AGENT_DISCONNECTED",
                f"Agent could not be reached to launch the task: {e}",
            )
            self._keep_status(fw, task, status)
            self._finish_task(fw, task, recover=True)

    def _reserve(
        self,
        fw: FrameworkEntry,
        agent: AgentEntry,
        role: str,
        body: dict[str, Any],
        remaining: Resources,
    ) -> Resources:
        wanted = Resources.from_v1(body.get("resources"), "reserve.resources")
        if any(k[1] == UNRESERVED or k[2] != DYNAMIC for k, _ in wanted):
            raise InvalidError("RESERVE needs dynamically reserved resources", "reserve.resources")
        source = wanted.unreserve()
        if not remaining.contains(source):
            log.warning("RESERVE of %s does not fit the offer (%s)", wanted, remaining)
            return remaining
        self.allocator.convert(fw.framework_id, agent.agent_id, role, source, wanted)
        agent.total = agent.total - source + wanted
        self._save_agent(agent)
        return remaining - source + wanted

    def _unreserve(
        self,
        fw: FrameworkEntry,
        agent: AgentEntry,
        role: str,
        body: dict[str, Any],
        remaining: Resources,
    ) -> Resources:
        wanted = Resources.from_v1(body.get("resources"), "unreserve.resources")
        if any(k[2] != DYNAMIC for k, _ in wanted):
            raise InvalidError("only dynamic reservations can be unreserved", "unreserve.resources")
        if not remaining.contains(wanted):
            log.warning("UNRESERVE of %s does not fit the offer (%s)", wanted, remaining)
            return remaining
        target = wanted.unreserve()
        self.allocator.convert(fw.framework_id, agent.agent_id, role, wanted, target)
        agent.total = agent.total - wanted + target
        self._save_agent(agent)
        return remaining - wanted + target

    def kill(self, fw: FrameworkEntry, call: Kill) -> None:
        tid = call.task_id
        task = fw.tasks.get(tid)
        self._count("master/messages_kill_task")
        if task is None:
            state = TaskState.UNKNOWN if fw.partition_aware else TaskState.LOST
            self._master_update(
                fw, tid, state, None, "REASON_RECONCILIATION", "Attempted to kill an unknown task"
            )
            return
        agent = self.agents.get(task.agent_id)
        if agent is None or not agent.connected:
            log.info("kill of task %s deferred: agent %s is not connected", tid, task.agent_id)
            return
        msg = KillTask(framework_id=fw.framework_id, task_id=tid, kill_policy=call.kill_policy)
        self._spawn(self.agent_client.kill_task(agent.address, msg), "kill task")

    def shutdown_executor(self, fw: FrameworkEntry, call: Shutdown) -> None:
        """SHUTDOWN of an executor: command tasks are their own executor, so kill that task."""
        if call.executor_id in fw.tasks:
            self.kill(fw, Kill(call.executor_id, None))

    def acknowledge(self, fw: FrameworkEntry, call: calls.Acknowledge) -> None:
        self._count("master/messages_status_update_acknowledgement")
        agent = self.agents.get(call.agent_id)
        if agent is None or not agent.connected:
            return  # the agent will resend the update once it is back
        msg = Acknowledge(framework_id=fw.framework_id, task_id=call.task_id, uuid=call.uuid)
        self._spawn(self.agent_client.acknowledge(agent.address, msg), "acknowledge")

    def reconcile(self, fw: FrameworkEntry, call: Reconcile) -> None:
        """RECONCILE: explicit (listed tasks) or implicit (empty list: all non-terminal tasks)."""
        self._count("master/messages_reconcile_tasks")
        if not call.tasks:
            for active in list(fw.tasks.values()):
                if not active.state.terminal or active.state == TaskState.LOST:
                    self._reconcile_one(fw, active.task_id, active)
            return
        for item in call.tasks:
            tid = item.task_id
            task: TaskEntry | None = fw.tasks.get(tid)
            if task is None:
                task = next((t for t in fw.completed_tasks if t.task_id == tid), None)
            self._reconcile_one(fw, tid, task, item.agent_id)

    def _reconcile_one(
        self, fw: FrameworkEntry, tid: str, task: TaskEntry | None, agent_id: str | None = None
    ) -> None:
        if task is not None:
            status = task_status(
                tid,
                task.state,
                agent_id=task.agent_id,
                timestamp=self.clock.time(),
                source="SOURCE_MASTER",
                reason="REASON_RECONCILIATION",
                message="Reconciliation: latest task state",
            )
            self._send_update(fw, status)
            return
        agent = self.agents.get(agent_id) if agent_id else None
        if agent is not None and agent.recovered:
            return  # the agent has not re-registered yet: it may still report the task
        if agent is not None and not agent.connected:
            state = TaskState.UNREACHABLE if fw.partition_aware else TaskState.LOST
        else:
            state = TaskState.UNKNOWN if fw.partition_aware else TaskState.LOST
        self._master_update(
            fw, tid, state, agent_id, "REASON_RECONCILIATION", "Reconciliation: task is unknown"
        )

    def revive(self, fw: FrameworkEntry, call: Revive) -> None:
        roles = _known_roles(call.roles, fw)
        self.allocator.revive(fw.framework_id, roles)
        fw.suppressed_roles -= set(roles) if roles is not None else set(fw.suppressed_roles)
        self._count("master/messages_revive_offers")
        self.trigger_allocation()

    def suppress(self, fw: FrameworkEntry, call: Suppress) -> None:
        roles = _known_roles(call.roles, fw)
        self.allocator.suppress(fw.framework_id, roles)
        fw.suppressed_roles |= set(roles) if roles is not None else set(fw.roles)
        self._count("master/messages_suppress_offers")

    def teardown(self, fw: FrameworkEntry) -> None:
        self.remove_framework(fw, "TEARDOWN")


def _known_roles(roles: tuple[str, ...] | None, fw: FrameworkEntry) -> list[str] | None:
    if roles is None:
        return None
    unknown = [r for r in roles if r not in fw.roles]
    if unknown:
        raise InvalidError(f"framework is not subscribed to roles {unknown}", "roles")
    return list(roles)


class _ActiveIds:
    """`task_id in _ActiveIds(fw)`: the framework has that task and it is not terminal."""

    __slots__ = ("extra", "fw")

    def __init__(self, fw: FrameworkEntry) -> None:
        self.fw = fw
        self.extra: set[str] = set()  # ids taken earlier in the same operation (a task group)

    def add(self, task_id: str) -> None:
        self.extra.add(task_id)

    def __contains__(self, task_id: object) -> bool:
        if task_id in self.extra:
            return True
        t = self.fw.tasks.get(task_id) if isinstance(task_id, str) else None
        return t is not None and not t.state.terminal
