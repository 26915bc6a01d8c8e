"""The master's use cases: frameworks, agents, offers, tasks. No HTTP here.

Everything runs on one asyncio event loop, so the state below is never touched concurrently.
Decisions come from the pure allocator (`dcos_core.allocator`); this module applies them and does
the I/O: events to framework streams, calls to agents, writes to the registry.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import logging
from collections import deque
from collections.abc import Callable, Coroutine, Iterable
from typing import Any

from dcos_core import __version__
from dcos_core.allocator import Allocator, AllocatorConfig, Quota
from dcos_core.clock import Clock
from dcos_core.config import MasterSettings, parse_weights
from dcos_core.errors import ConflictError, ForbiddenError, InvalidError, NotFoundError
from dcos_core.ids import IdGenerator, new_uuid, validate_id
from dcos_core.master.agent_client import AgentClient, AgentUnreachable
from dcos_core.master.entries import (
    COMPLETED_FRAMEWORKS_KEPT,
    AgentEntry,
    FrameworkEntry,
    OfferEntry,
    TaskEntry,
)
from dcos_core.master.registry import Registry
from dcos_core.master.streams import EventStream
from dcos_core.master.validation import (
    Rejection,
    ValidTask,
    task_id_of,
    validate_operation_shapes,
    validate_task,
)
from dcos_core.model.task import PARTITION_AWARE_ONLY, TaskState, can_transition
from dcos_core.protocol.internal import (
    Acknowledge,
    KillTask,
    RegisterAgent,
    RegisteredAgent,
    RunTask,
    ShutdownFramework,
    StatusUpdate,
)
from dcos_core.protocol.v1 import task_status, unwrap, wrap
from dcos_core.resources import DYNAMIC, UNRESERVED, Resources, to_millis, validate_role
from dcos_core.state.store import StateStore

log = logging.getLogger(__name__)

MAX_REFUSE_SECONDS = 365 * 24 * 3600.0
STATUSES_KEPT = 20


class Master:
    """The leading master of a cluster."""

    def __init__(
        self,
        settings: MasterSettings,
        store: StateStore,
        agent_client: AgentClient,
        clock: Clock,
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.registry = Registry(store)
        self.agent_client = agent_client
        self.master_id = new_uuid()
        self.ids = IdGenerator(self.master_id)
        self.allocator = Allocator(
            AllocatorConfig(
                min_allocatable=AllocatorConfig.parse_min_allocatable(
                    settings.min_allocatable_resources
                ),
                default_refuse_seconds=settings.default_refuse_seconds,
            ),
            clock,
            seed=settings.seed,
        )
        self.agents: dict[str, AgentEntry] = {}
        self.frameworks: dict[str, FrameworkEntry] = {}
        self.completed_frameworks: deque[FrameworkEntry] = deque(maxlen=COMPLETED_FRAMEWORKS_KEPT)
        self.removed_framework_ids: set[str] = set()
        self.offers: dict[str, OfferEntry] = {}
        self.streams: dict[str, EventStream] = {}
        self.operator_streams: set[EventStream] = set()
        self.weights: dict[str, float] = {}
        self.quotas: dict[str, dict[str, Any]] = {}
        self.start_time = clock.time()
        self.recovered = False
        self.metrics: dict[str, float] = {}
        self._alloc_wanted = asyncio.Event()
        self._background: set[asyncio.Task[Any]] = set()
        self._loops: list[asyncio.Task[None]] = []

    # ------------------------------------------------------------------------------------------
    # life cycle

    async def start(self) -> None:
        """Recover the registry, then start the allocation and housekeeping loops."""
        self.recover()
        self._loops = [
            asyncio.create_task(self._allocation_loop(), name="allocation"),
            asyncio.create_task(self._housekeeping_loop(), name="housekeeping"),
        ]

    async def stop(self) -> None:
        for t in self._loops:
            t.cancel()
        for t in self._loops:
            with contextlib.suppress(asyncio.CancelledError):
                await t
        for s in list(self.streams.values()) + list(self.operator_streams):
            s.close()
        if self._background:
            await asyncio.wait(list(self._background), timeout=2)
        await self.agent_client.close()

    def recover(self) -> None:
        """Load agents, frameworks, weights and quota from the registry (master restart)."""
        now = self.clock.time()
        mono = self.clock.monotonic()
        self.weights = self.registry.weights()
        if self.settings.weights:
            self.weights = parse_weights(self.settings.weights) | self.weights
        self.allocator.set_weights(self.weights)
        self.quotas = self.registry.quotas()
        for role, cfg in self.quotas.items():
            self.allocator.set_quota(role, _quota_from_config(cfg))
        for fid, info in self.registry.frameworks().items():
            fw = FrameworkEntry(
                framework_id=fid,
                info=info,
                registered_time=float(info.get("_registered", now)),
                recovered=True,
            )
            fw.failover_deadline = mono + fw.failover_timeout
            fw.info = {k: v for k, v in info.items() if not k.startswith("_")}
            self.frameworks[fid] = fw
            self.allocator.add_framework(fid, fw.roles, active=False)
        for aid, data in self.registry.agents().items():
            agent = AgentEntry(
                agent_id=aid,
                hostname=str(data.get("hostname", "")),
                port=int(data.get("port", 0)),
                total=Resources.from_v1(data.get("resources", [])),
                attributes=list(data.get("attributes", [])),
                registered_time=float(data.get("registered_time", now)),
                connected=False,
                recovered=True,
                unreachable_time=data.get("unreachable_time"),
                deactivated=bool(data.get("deactivated", False)),
            )
            agent.last_heartbeat = mono
            self.agents[aid] = agent
        self.recovered = True
        log.info(
            "master %s recovered %d agents and %d frameworks from the registry",
            self.master_id,
            len(self.agents),
            len(self.frameworks),
        )

    def _spawn(self, coro: Coroutine[Any, Any, None], what: str) -> None:
        async def guarded() -> None:
            try:
                await coro
            except Exception:
                log.exception("%s failed", what)

        task = asyncio.create_task(guarded())
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def _count(self, name: str, by: float = 1) -> None:
        self.metrics[name] = self.metrics.get(name, 0) + by

    # ------------------------------------------------------------------------------------------
    # allocation

    def trigger_allocation(self) -> None:
        """Ask for an allocation run soon; many triggers in a burst become one run."""
        self._alloc_wanted.set()

    async def _allocation_loop(self) -> None:
        interval = self.settings.allocation_interval
        while True:
            try:
                await asyncio.wait_for(self._alloc_wanted.wait(), interval)
                await asyncio.sleep(0.005)  # coalesce a burst of events into one run
            except TimeoutError:
                pass
            self._alloc_wanted.clear()
            try:
                self.allocate_now()
            except Exception:
                log.exception("allocation run failed")

    def allocate_now(self) -> int:
        """Run one allocation cycle and send the offers. Returns the number of offers made."""
        grants = self.allocator.allocate()
        self._count("allocator/allocation_runs")
        by_fw: dict[str, list[dict[str, Any]]] = {}
        now = self.clock.monotonic()
        for g in grants:
            fw = self.frameworks.get(g.framework_id)
            agent = self.agents.get(g.agent_id)
            if fw is None or not fw.connected or agent is None or not agent.connected:
                self.allocator.recover(g.framework_id, g.agent_id, g.role, g.resources)
                continue
            offer = OfferEntry(
                self.ids.offer(), g.framework_id, g.agent_id, g.role, g.resources, now
            )
            self.offers[offer.offer_id] = offer
            fw.offers[offer.offer_id] = offer
            by_fw.setdefault(g.framework_id, []).append(self._offer_json(offer, agent))
        for fid, offers in by_fw.items():
            self._send(fid, {"type": "OFFERS", "offers": {"offers": offers}})
            self._count("master/outstanding_offers_sent", len(offers))
        return sum(len(o) for o in by_fw.values())

    def _offer_json(self, offer: OfferEntry, agent: AgentEntry) -> dict[str, Any]:
        return {
            "id": wrap(offer.offer_id),
            "framework_id": wrap(offer.framework_id),
            "agent_id": wrap(offer.agent_id),
            "hostname": agent.hostname,
            "url": {
                "scheme": "http",
                "address": {"hostname": agent.hostname, "ip": agent.hostname, "port": agent.port},
                "path": "/slave(1)",
            },
            "resources": offer.resources.to_v1(allocation_role=offer.role),
            "attributes": agent.attributes,
            "executor_ids": [],
            "allocation_info": {"role": offer.role},
        }

    def _drop_offer(self, offer: OfferEntry, *, rescind: bool, refuse: float | None = None) -> None:
        self.offers.pop(offer.offer_id, None)
        fw = self.frameworks.get(offer.framework_id)
        if fw is not None:
            fw.offers.pop(offer.offer_id, None)
        if offer.agent_id in self.agents and self.agents[offer.agent_id].connected:
            self.allocator.recover(
                offer.framework_id, offer.agent_id, offer.role, offer.resources, refuse
            )
        if rescind:
            self._send(
                offer.framework_id,
                {"type": "RESCIND", "rescind": {"offer_id": wrap(offer.offer_id)}},
            )
            self._count("master/offers_rescinded")

    # ------------------------------------------------------------------------------------------
    # events out

    def _send(self, framework_id: str, event: dict[str, Any]) -> None:
        stream = self.streams.get(framework_id)
        if stream is not None:
            stream.send(event)

    def _operator_event(self, event: dict[str, Any]) -> None:
        for s in list(self.operator_streams):
            if s.closed:
                self.operator_streams.discard(s)
            else:
                s.send(event)

    def _send_update(self, fw: FrameworkEntry, status: dict[str, Any]) -> None:
        state = TaskState(status["state"])
        if not fw.partition_aware and state in PARTITION_AWARE_ONLY:
            status = dict(status, state=PARTITION_AWARE_ONLY[state].value)
        self._send(fw.framework_id, {"type": "UPDATE", "update": {"status": status}})

    def _master_update(
        self,
        fw: FrameworkEntry,
        task_id: str,
        state: TaskState,
        agent_id: str | None,
        reason: str,
        message: str,
    ) -> dict[str, Any]:
        """A status the master makes itself (no uuid: frameworks must not acknowledge it)."""
        status = task_status(
            task_id,
            state,
            agent_id=agent_id,
            timestamp=self.clock.time(),
            source="SOURCE_MASTER",
            reason=reason,
            message=message,
        )
        self._send_update(fw, status)
        return status

    # ------------------------------------------------------------------------------------------
    # frameworks

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

    def subscribe(self, body: dict[str, Any]) -> tuple[FrameworkEntry, EventStream]:
        """SUBSCRIBE: register a new framework or re-subscribe a known one (failover)."""
        sub = body.get("subscribe")
        if not isinstance(sub, dict) or not isinstance(sub.get("framework_info"), dict):
            raise InvalidError("Expecting 'subscribe.framework_info' to be present", "subscribe")
        info = dict(sub["framework_info"])
        for req in ("user", "name"):
            if not isinstance(info.get(req), str):
                raise InvalidError(f"Missing required field: {req}", f"framework_info.{req}")
        fid_given = body.get("framework_id") or info.get("id")
        fid = unwrap(fid_given, "framework_info.id") if fid_given else None
        probe = FrameworkEntry("?", info, 0.0)
        for role in probe.roles:
            validate_role(role, "framework_info.roles")
        suppressed = {str(r) for r in sub.get("suppressed_roles", []) or []}
        if not suppressed <= set(probe.roles):
            raise InvalidError(
                "suppressed roles must be a subset of the framework's roles",
                "subscribe.suppressed_roles",
            )
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
            self.allocator.add_framework(fid, probe.roles, suppressed, active=False)
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
            self.allocator.update_framework(fid, probe.roles, suppressed)
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
                    "framework": self.framework_v1(fw)
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
                    "framework_updated": {"framework": self.framework_v1(fw)},
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

    def update_framework(self, fw: FrameworkEntry, body: dict[str, Any]) -> None:
        upd = body.get("update_framework")
        if not isinstance(upd, dict) or not isinstance(upd.get("framework_info"), dict):
            raise InvalidError("Expecting 'update_framework.framework_info'", "update_framework")
        info = dict(upd["framework_info"])
        if info.get("id") and unwrap(info["id"], "framework_info.id") != fw.framework_id:
            raise InvalidError("framework_info.id does not match framework_id", "framework_info.id")
        for fixed in ("principal", "user", "checkpoint"):
            if info.get(fixed) != fw.info.get(fixed):
                raise InvalidError(f"'{fixed}' cannot be changed", f"framework_info.{fixed}")
        probe = FrameworkEntry("?", info, 0.0)
        for role in probe.roles:
            validate_role(role, "framework_info.roles")
        suppressed = {str(r) for r in upd.get("suppressed_roles", []) or []}
        if not suppressed <= set(probe.roles):
            raise InvalidError(
                "suppressed roles must be a subset of the framework's roles",
                "update_framework.suppressed_roles",
            )
        info["id"] = wrap(fw.framework_id)
        removed_roles = set(fw.roles) - set(probe.roles)
        if removed_roles:
            for offer in list(fw.offers.values()):
                if offer.role in removed_roles:
                    self._drop_offer(offer, rescind=True)
        fw.info = info
        fw.suppressed_roles = suppressed
        self.allocator.update_framework(fw.framework_id, probe.roles, suppressed)
        self.registry.save_framework(fw.framework_id, dict(info, _registered=fw.registered_time))
        self._operator_event(
            {"type": "FRAMEWORK_UPDATED", "framework_updated": {"framework": self.framework_v1(fw)}}
        )
        self.trigger_allocation()

    # ------------------------------------------------------------------------------------------
    # scheduler calls

    def decline(self, fw: FrameworkEntry, body: dict[str, Any]) -> None:
        decline = body.get("decline")
        if not isinstance(decline, dict):
            raise InvalidError("Expecting 'decline' to be present", "decline")
        ids = _offer_ids(decline.get("offer_ids"), "decline.offer_ids")
        refuse = _refuse_seconds(decline.get("filters"), self.settings.default_refuse_seconds)
        for oid in ids:
            offer = fw.offers.get(oid)
            if offer is not None:
                self._drop_offer(offer, rescind=False, refuse=refuse)
        self._count("master/messages_decline_offers")

    def accept(self, fw: FrameworkEntry, body: dict[str, Any]) -> None:
        """ACCEPT: apply the operations in order to the offered resources."""
        accept = body.get("accept")
        if not isinstance(accept, dict):
            raise InvalidError("Expecting 'accept' to be present", "accept")
        ids = _offer_ids(accept.get("offer_ids"), "accept.offer_ids")
        operations = validate_operation_shapes(accept.get("operations", []))
        refuse = _refuse_seconds(accept.get("filters"), self.settings.default_refuse_seconds)
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
        self, fw: FrameworkEntry, operations: list[dict[str, Any]], why: str
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

    def _active_task_ids(self, fw: FrameworkEntry) -> set[str]:
        return {tid for tid, t in fw.tasks.items() if not t.state.terminal}

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
        self._operator_event({"type": "TASK_ADDED", "task_added": {"task": self.task_v1(task)}})
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
            task.statuses.append(
                self._master_update(
                    fw,
                    tid,
                    state,
                    task.agent_id,
                    "REASON_AGENT_DISCONNECTED",
                    f"Agent could not be reached to launch the task: {e}",
                )
            )
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

    def kill(self, fw: FrameworkEntry, body: dict[str, Any]) -> None:
        kill = body.get("kill")
        if not isinstance(kill, dict):
            raise InvalidError("Expecting 'kill' to be present", "kill")
        tid = unwrap(kill.get("task_id"), "kill.task_id")
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
        policy = kill.get("kill_policy") if isinstance(kill.get("kill_policy"), dict) else None
        msg = KillTask(framework_id=fw.framework_id, task_id=tid, kill_policy=policy)
        self._spawn(self.agent_client.kill_task(agent.address, msg), "kill task")

    def shutdown_executor(self, fw: FrameworkEntry, body: dict[str, Any]) -> None:
        """SHUTDOWN of an executor: command tasks are their own executor, so kill that task."""
        sd = body.get("shutdown")
        if not isinstance(sd, dict):
            raise InvalidError("Expecting 'shutdown' to be present", "shutdown")
        eid = unwrap(sd.get("executor_id"), "shutdown.executor_id")
        unwrap(sd.get("agent_id"), "shutdown.agent_id")
        if eid in fw.tasks:
            self.kill(fw, {"kill": {"task_id": wrap(eid)}})

    def acknowledge(self, fw: FrameworkEntry, body: dict[str, Any]) -> None:
        ack = body.get("acknowledge")
        if not isinstance(ack, dict):
            raise InvalidError("Expecting 'acknowledge' to be present", "acknowledge")
        aid = unwrap(ack.get("agent_id"), "acknowledge.agent_id")
        tid = unwrap(ack.get("task_id"), "acknowledge.task_id")
        uuid = ack.get("uuid")
        if not isinstance(uuid, str):
            raise InvalidError("must be a base64 string", "acknowledge.uuid")
        try:
            base64.b64decode(uuid, validate=True)
        except (binascii.Error, ValueError):
            raise InvalidError("is not valid base64", "acknowledge.uuid") from None
        self._count("master/messages_status_update_acknowledgement")
        agent = self.agents.get(aid)
        if agent is None or not agent.connected:
            return  # the agent will resend the update once it is back
        msg = Acknowledge(framework_id=fw.framework_id, task_id=tid, uuid=uuid)
        self._spawn(self.agent_client.acknowledge(agent.address, msg), "acknowledge")

    def reconcile(self, fw: FrameworkEntry, body: dict[str, Any]) -> None:
        """RECONCILE: explicit (listed tasks) or implicit (empty list: all non-terminal tasks)."""
        rec = body.get("reconcile") or {}
        if not isinstance(rec, dict) or not isinstance(rec.get("tasks", []), list):
            raise InvalidError("Expecting 'reconcile.tasks' to be a list", "reconcile.tasks")
        wanted = rec.get("tasks", [])
        self._count("master/messages_reconcile_tasks")
        if not wanted:
            for active in list(fw.tasks.values()):
                if not active.state.terminal or active.state == TaskState.LOST:
                    self._reconcile_one(fw, active.task_id, active)
            return
        for i, item in enumerate(wanted):
            if not isinstance(item, dict):
                raise InvalidError("must be an object", f"reconcile.tasks[{i}]")
            tid = unwrap(item.get("task_id"), f"reconcile.tasks[{i}].task_id")
            task: TaskEntry | None = fw.tasks.get(tid)
            if task is None:
                task = next((t for t in fw.completed_tasks if t.task_id == tid), None)
            self._reconcile_one(fw, tid, task, item.get("agent_id"))

    def _reconcile_one(
        self, fw: FrameworkEntry, tid: str, task: TaskEntry | None, agent_hint: Any = None
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
        agent_id = agent_hint.get("value") if isinstance(agent_hint, dict) else None
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

    def revive(self, fw: FrameworkEntry, body: dict[str, Any]) -> None:
        roles = _roles_arg(body.get("revive"), fw)
        self.allocator.revive(fw.framework_id, roles)
        fw.suppressed_roles -= set(roles) if roles is not None else set(fw.suppressed_roles)
        self._count("master/messages_revive_offers")
        self.trigger_allocation()

    def suppress(self, fw: FrameworkEntry, body: dict[str, Any]) -> None:
        roles = _roles_arg(body.get("suppress"), fw)
        self.allocator.suppress(fw.framework_id, roles)
        fw.suppressed_roles |= set(roles) if roles is not None else set(fw.roles)
        self._count("master/messages_suppress_offers")

    def teardown(self, fw: FrameworkEntry) -> None:
        self.remove_framework(fw, "TEARDOWN")

    # ------------------------------------------------------------------------------------------
    # agents

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
        if agent is not None:
            if agent.connected and not agent.recovered:
                self.allocator.remove_agent(agent.agent_id)
                for offer in [o for o in self.offers.values() if o.agent_id == aid]:
                    self._drop_offer(offer, rescind=True)
            # Dynamic reservations live in the master's registry, not on the agent.
            reserved = agent.total.filter(lambda k, _v: k[2] == DYNAMIC)
            total = total - reserved.unreserve() + reserved
            agent.hostname, agent.port, agent.total = info.hostname, info.port, total
            agent.attributes = list(info.attributes)
            agent.reregistered_time = now
        else:
            aid = aid or self.ids.agent()
            agent = AgentEntry(aid, info.hostname, info.port, total, list(info.attributes), now)
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
            {"type": "AGENT_ADDED", "agent_added": {"agent": self.agent_v1(agent)}}
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
            if task is None:
                res = Resources.from_v1(rec.task.get("resources", []))
                role = _task_role(rec.task, fw)
                task = TaskEntry(tid, fw.framework_id, agent.agent_id, rec.task, res, role, state)
                fw.tasks[tid] = task
                agent.tasks[key] = task
                self._operator_event(
                    {"type": "TASK_ADDED", "task_added": {"task": self.task_v1(task)}}
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
        for key, task in list(agent.tasks.items()):
            if key in reported or (task.state.terminal and task.state != TaskState.LOST):
                continue
            fw = self.frameworks.get(task.framework_id)
            if fw is None:
                continue
            state = TaskState.GONE if fw.partition_aware else TaskState.LOST
            task.state = state
            task.statuses.append(
                self._master_update(
                    fw,
                    task.task_id,
                    state,
                    agent.agent_id,
                    "REASON_AGENT_REREGISTERED",
                    "Task was not found on the agent when it re-registered",
                )
            )
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
            task.state = state
            retry = isinstance(uuid, str) and uuid == task.latest_uuid
            task.latest_uuid = uuid if isinstance(uuid, str) else task.latest_uuid
            if not retry:  # agents resend an update until it is acknowledged
                task.statuses.append(status)
                if len(task.statuses) > STATUSES_KEPT:
                    del task.statuses[0]
            self._count(f"master/task_{state.name.lower()}_updates")
            self._operator_event(
                {
                    "type": "TASK_UPDATED",
                    "task_updated": {
                        "framework_id": wrap(fw.framework_id),
                        "status": status,
                        "state": state.value,
                    },
                }
            )
            if state.terminal:
                self._finish_task(fw, task, recover=True)
        if fw.connected:
            self._send_update(fw, status)

    def _finish_task(self, fw: FrameworkEntry, task: TaskEntry, *, recover: bool) -> None:
        """A task reached a terminal state: release its resources and keep it as completed."""
        fw.tasks.pop(task.task_id, None)
        agent = self.agents.get(task.agent_id)
        if agent is not None:
            agent.tasks.pop((fw.framework_id, task.task_id), None)
        fw.completed_tasks.append(task)
        if recover and agent is not None and agent.connected:
            self.allocator.recover(fw.framework_id, task.agent_id, task.role, task.resources)
            self.trigger_allocation()

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
            task.statuses.append(status)
            self._operator_event(
                {
                    "type": "TASK_UPDATED",
                    "task_updated": {
                        "framework_id": wrap(fw.framework_id),
                        "status": status,
                        "state": task.state.value,
                    },
                }
            )
        for fid in list(self.streams):
            self._send(fid, {"type": "FAILURE", "failure": {"agent_id": wrap(agent.agent_id)}})
        self._save_agent(agent)
        self._operator_event(
            {"type": "AGENT_REMOVED", "agent_removed": {"agent_id": wrap(agent.agent_id)}}
        )
        self._count("master/slave_unreachable_completed")

    def _save_agent(self, agent: AgentEntry) -> None:
        self.registry.save_agent(
            agent.agent_id,
            {
                "hostname": agent.hostname,
                "port": agent.port,
                "resources": agent.total.to_v1(),
                "attributes": agent.attributes,
                "registered_time": agent.registered_time,
                "unreachable_time": agent.unreachable_time,
                "deactivated": agent.deactivated,
            },
        )

    # ------------------------------------------------------------------------------------------
    # operator calls

    def _agent(self, body: dict[str, Any], key: str) -> AgentEntry:
        part = body.get(key)
        if not isinstance(part, dict):
            raise InvalidError(f"Expecting '{key}' to be present", key)
        aid = unwrap(part.get("agent_id"), f"{key}.agent_id")
        agent = self.agents.get(aid)
        if agent is None:
            raise NotFoundError(f"Agent {aid} is not known")
        return agent

    def deactivate_agent(self, body: dict[str, Any]) -> None:
        agent = self._agent(body, "deactivate_agent")
        agent.deactivated = True
        self._quiet_agent(agent)

    def reactivate_agent(self, body: dict[str, Any]) -> None:
        agent = self._agent(body, "reactivate_agent")
        agent.deactivated = False
        agent.draining = False
        if agent.connected:
            self.allocator.activate_agent(agent.agent_id)
        self._save_agent(agent)
        self.trigger_allocation()

    def drain_agent(self, body: dict[str, Any]) -> None:
        """DRAIN_AGENT: no more offers, and every task on the agent is killed."""
        agent = self._agent(body, "drain_agent")
        drain = body["drain_agent"]
        grace = drain.get("max_grace_period")
        agent.draining = True
        agent.drain_mark_gone = bool(drain.get("mark_gone", False))
        self._quiet_agent(agent)
        policy = {"grace_period": grace} if isinstance(grace, dict) else None
        for task in list(agent.tasks.values()):
            if agent.connected and not task.state.terminal:
                msg = KillTask(
                    framework_id=task.framework_id, task_id=task.task_id, kill_policy=policy
                )
                self._spawn(self.agent_client.kill_task(agent.address, msg), "drain kill")

    def _quiet_agent(self, agent: AgentEntry) -> None:
        for offer in [o for o in self.offers.values() if o.agent_id == agent.agent_id]:
            self._drop_offer(offer, rescind=True)
        if agent.connected:
            self.allocator.deactivate_agent(agent.agent_id)
        self._save_agent(agent)

    def update_weights(self, body: dict[str, Any]) -> None:
        upd = body.get("update_weights")
        infos = upd.get("weight_infos") if isinstance(upd, dict) else None
        if not isinstance(infos, list):
            raise InvalidError("Expecting 'update_weights.weight_infos' list", "update_weights")
        new: dict[str, float] = {}
        for i, wi in enumerate(infos):
            f = f"update_weights.weight_infos[{i}]"
            if not isinstance(wi, dict):
                raise InvalidError("must be an object", f)
            role = validate_role(str(wi.get("role", "")), f"{f}.role")
            try:
                w = float(wi.get("weight"))  # type: ignore[arg-type]
            except (TypeError, ValueError):
                raise InvalidError("must be a number", f"{f}.weight") from None
            if not w > 0:
                raise InvalidError("must be positive", f"{f}.weight")
            new[role] = w
        merged = self.weights | new
        self.registry.save_weights(merged)
        self.weights = merged
        self.allocator.set_weights(merged)
        self.trigger_allocation()

    def update_quota(self, body: dict[str, Any]) -> None:
        """UPDATE_QUOTA: all configs are valid and applied, or none is."""
        upd = body.get("update_quota")
        configs = upd.get("quota_configs") if isinstance(upd, dict) else None
        if not isinstance(configs, list):
            raise InvalidError("Expecting 'update_quota.quota_configs' list", "update_quota")
        force = bool(upd.get("force", False)) if isinstance(upd, dict) else False
        parsed: dict[str, dict[str, Any] | None] = {}
        for i, cfg in enumerate(configs):
            f = f"update_quota.quota_configs[{i}]"
            if not isinstance(cfg, dict):
                raise InvalidError("must be an object", f)
            role = validate_role(str(cfg.get("role", "")), f"{f}.role")
            if role == UNRESERVED:
                raise InvalidError("quota cannot be set for role '*'", f"{f}.role")
            q = _quota_from_config(cfg, f)
            if q.limits is not None:  # a resource without a limit is unlimited (Mesos)
                limits = q.limits.totals()
                for name, millis in q.guarantees.totals().items():
                    if name in limits and millis > limits[name]:
                        raise InvalidError(f"guarantee of {name} exceeds its limit", f)
            if not force and q.limits is not None:
                used = self._role_consumption(role)
                for name, millis in used.totals().items():
                    limit = q.limits.totals().get(name)
                    if limit is not None and millis > limit:
                        raise ConflictError(
                            f"role '{role}' already consumes {millis / 1000:g} {name}, above the "
                            f"limit {limit / 1000:g}; use force to set it anyway"
                        )
            empty = not q.guarantees and q.limits is None
            parsed[role] = (
                None
                if empty
                else {
                    "role": role,
                    "guarantees": _scalar_map(q.guarantees),
                    "limits": _scalar_map(q.limits) if q.limits is not None else {},
                }
            )
        self.registry.save_quotas(parsed)
        for role, stored in parsed.items():
            if stored is None:
                self.quotas.pop(role, None)
                self.allocator.set_quota(role, None)
            else:
                self.quotas[role] = stored
                self.allocator.set_quota(role, _quota_from_config(stored))
        self.trigger_allocation()

    def _role_consumption(self, role: str) -> Resources:
        total = Resources()
        for agent in self.agents.values():
            for task in agent.tasks.values():
                if task.role == role and not task.state.terminal:
                    total = total + task.resources.scalar_part()
            total = total + agent.total.reserved(role).scalar_part()
        return total

    # ------------------------------------------------------------------------------------------
    # housekeeping: agent liveness, framework failover, offer timeouts, re-registration timeout

    async def _housekeeping_loop(self) -> None:
        period = min(1.0, self.settings.agent_ping_timeout / 2)
        while True:
            await asyncio.sleep(period)
            try:
                self.housekeeping()
            except Exception:
                log.exception("housekeeping failed")

    def housekeeping(self) -> None:
        mono = self.clock.monotonic()
        silence = self.settings.agent_ping_timeout * self.settings.max_agent_ping_timeouts
        for agent in list(self.agents.values()):
            if agent.connected and mono - agent.last_heartbeat > silence:
                self.mark_unreachable(agent, f"no heartbeat for {silence:.0f} s")
            elif (
                agent.recovered
                and mono - agent.last_heartbeat > self.settings.agent_reregister_timeout
            ):
                self.mark_unreachable(agent, "did not re-register after master failover")
            if agent.draining and not agent.tasks and agent.drain_mark_gone:
                self._mark_gone(agent)
        for fw in list(self.frameworks.values()):
            if (
                not fw.connected
                and fw.failover_deadline is not None
                and mono >= fw.failover_deadline
            ):
                self.remove_framework(fw, "failover timeout expired")
        timeout = self.settings.offer_timeout
        if timeout is not None:
            for offer in list(self.offers.values()):
                if mono - offer.created >= timeout:
                    self._drop_offer(offer, rescind=True)

    def _mark_gone(self, agent: AgentEntry) -> None:
        if agent.connected:
            self.allocator.remove_agent(agent.agent_id)
        self.agents.pop(agent.agent_id, None)
        self.registry.remove_agent(agent.agent_id)
        self._operator_event(
            {"type": "AGENT_REMOVED", "agent_removed": {"agent_id": wrap(agent.agent_id)}}
        )

    # ------------------------------------------------------------------------------------------
    # views shared by the APIs

    def master_info(self) -> dict[str, Any]:
        host = self.settings.hostname or self.settings.ip
        return {
            "id": self.master_id,
            "ip": _ip_as_int(self.settings.ip),
            "port": self.settings.port,
            "hostname": host,
            "version": __version__,
            "address": {"hostname": host, "ip": self.settings.ip, "port": self.settings.port},
            "pid": f"master@{self.settings.ip}:{self.settings.port}",
        }

    def task_v1(self, task: TaskEntry) -> dict[str, Any]:
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

    def framework_v1(self, fw: FrameworkEntry) -> dict[str, Any]:
        out: dict[str, Any] = {
            "framework_info": fw.info,
            "active": fw.active,
            "connected": fw.connected,
            "recovered": fw.recovered,
            "registered_time": _ns(fw.registered_time),
        }
        if fw.reregistered_time:
            out["reregistered_time"] = _ns(fw.reregistered_time)
        if fw.unregistered_time:
            out["unregistered_time"] = _ns(fw.unregistered_time)
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

    def agent_v1(self, agent: AgentEntry) -> dict[str, Any]:
        used = Resources()
        for t in agent.tasks.values():
            if not t.state.terminal:
                used = used + t.resources
        offered = Resources()
        for o in self.offers.values():
            if o.agent_id == agent.agent_id:
                offered = offered + o.resources
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
            "registered_time": _ns(agent.registered_time),
            "total_resources": agent.total.to_v1(),
            "allocated_resources": used.to_v1(),
            "offered_resources": offered.to_v1(),
            "capabilities": [],
        }
        if agent.reregistered_time:
            out["reregistered_time"] = _ns(agent.reregistered_time)
        if agent.draining:
            out["drain_info"] = {"state": "DRAINED" if not agent.tasks else "DRAINING"}
        return out

    def why_not(self, framework_id: str) -> dict[str, Any]:
        """Why a framework got no offers (the allocator's recorded reasons)."""
        if framework_id not in self.frameworks:
            raise NotFoundError(f"Framework {framework_id} is not known")
        return {
            role: dict(r, reason=str(r.get("reason")))
            for role, r in self.allocator.why_not(framework_id).items()
        }

    def all_completed_frameworks(self) -> Iterable[FrameworkEntry]:
        return list(self.completed_frameworks)

    def on_stream_end(self, framework_id: str, stream_id: str) -> Callable[[], None]:
        return lambda: self.stream_closed(framework_id, stream_id)


# ----------------------------------------------------------------------------------------------
# helpers


def _ns(t: float) -> dict[str, int]:
    return {"nanoseconds": int(t * 1e9)}


def _ip_as_int(ip: str) -> int:
    try:
        a, b, c, d = (int(x) for x in ip.split("."))
    except ValueError:
        return 0
    return a | b << 8 | c << 16 | d << 24  # network byte order, as Mesos' MasterInfo.ip


def _offer_ids(value: Any, field: str) -> list[str]:
    if not isinstance(value, list):
        raise InvalidError("must be a list of offer ids", field)
    return [unwrap(v, f"{field}[{i}]") for i, v in enumerate(value)]


def _refuse_seconds(filters: Any, default: float) -> float:
    """Filters.refuse_seconds: default 5 s, negative -> default, capped at 365 days."""
    if not isinstance(filters, dict) or "refuse_seconds" not in filters:
        return default
    try:
        value = float(filters["refuse_seconds"])
    except (TypeError, ValueError):
        raise InvalidError("must be a number", "filters.refuse_seconds") from None
    if value < 0:
        return default
    return min(value, MAX_REFUSE_SECONDS)


def _roles_arg(part: Any, fw: FrameworkEntry) -> list[str] | None:
    if not isinstance(part, dict) or not part.get("roles"):
        return None
    roles = part["roles"]
    if not isinstance(roles, list):
        raise InvalidError("must be a list of roles", "roles")
    unknown = [r for r in roles if r not in fw.roles]
    if unknown:
        raise InvalidError(f"framework is not subscribed to roles {unknown}", "roles")
    return [str(r) for r in roles]


def _task_role(task: dict[str, Any], fw: FrameworkEntry) -> str:
    for r in task.get("resources", []):
        alloc = r.get("allocation_info") if isinstance(r, dict) else None
        if isinstance(alloc, dict) and alloc.get("role"):
            return str(alloc["role"])
    return fw.roles[0]


def _scalar_map(r: Resources) -> dict[str, dict[str, float]]:
    return {name: {"value": millis / 1000} for name, millis in r.totals().items()}


def _quota_from_config(cfg: dict[str, Any], field: str = "quota") -> Quota:
    def parse(part: Any, name: str) -> Resources:
        if part in (None, {}):
            return Resources()
        if not isinstance(part, dict):
            raise InvalidError("must be a map of resource name to {value}", f"{field}.{name}")
        values: dict[str, float] = {}
        for k, v in part.items():
            val = v.get("value") if isinstance(v, dict) else v
            try:
                values[str(k)] = float(val)  # type: ignore[arg-type]
            except (TypeError, ValueError):
                raise InvalidError("must be a number", f"{field}.{name}.{k}") from None
        return Resources(
            {(name, "*", ""): to_millis(v, f"{field}.{name}") for name, v in values.items()}
        )

    guarantees = parse(cfg.get("guarantees"), "guarantees")
    limits = parse(cfg.get("limits"), "limits") if cfg.get("limits") else None
    return Quota(guarantees=guarantees, limits=limits)
