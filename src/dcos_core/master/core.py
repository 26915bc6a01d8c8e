"""The master's state and the helpers shared by its use cases.

Everything runs on one asyncio event loop, so the state is never touched concurrently. The use
cases live in `frameworks.py` (scheduler calls), `agents.py` (agent protocol) and `operator.py`
(operator calls); `service.Master` puts them together with the loops.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Coroutine
from typing import Any

from dcos_core import __version__
from dcos_core.allocator import Allocator, AllocatorConfig
from dcos_core.clock import Clock
from dcos_core.config import MasterSettings
from dcos_core.ids import IdGenerator, new_uuid
from dcos_core.master.agent_client import AgentClient
from dcos_core.master.entries import (
    COMPLETED_FRAMEWORKS_KEPT,
    AgentEntry,
    FrameworkEntry,
    OfferEntry,
    TaskEntry,
)
from dcos_core.master.registry import Registry
from dcos_core.master.streams import EventStream
from dcos_core.model.task import PARTITION_AWARE_ONLY, TaskState
from dcos_core.protocol.v1 import task_status, wrap
from dcos_core.state.store import StateStore

log = logging.getLogger(__name__)

STATUSES_KEPT = 20


class MasterCore:
    """The master's state and the helpers every use case shares (events, offers, tasks)."""

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

    def _spawn(self, coro: Coroutine[Any, Any, None], what: str) -> None:
        async def guarded() -> None:
            try:
                await coro
            except Exception:
                log.exception("%s failed", what)

        task = asyncio.create_task(guarded())
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def wait_background(self, timeout: float | None = None) -> None:
        """Wait until the calls to agents started so far (and those they start) are done."""
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        while self._background:
            left = None if deadline is None else deadline - loop.time()
            if left is not None and left <= 0:
                return
            await asyncio.wait(list(self._background), timeout=left)

    def _count(self, name: str, by: float = 1) -> None:
        self.metrics[name] = self.metrics.get(name, 0) + by

    def trigger_allocation(self) -> None:
        """Ask for an allocation run soon; many triggers in a burst become one run."""
        self._alloc_wanted.set()

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

    def _keep_status(self, fw: FrameworkEntry, task: TaskEntry, status: dict[str, Any]) -> None:
        """Keep `status` in the task's history (the last `STATUSES_KEPT`) and tell operator
        subscribers (TASK_UPDATED with the task's state)."""
        task.statuses.append(status)
        if len(task.statuses) > STATUSES_KEPT:
            del task.statuses[0]
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

    def _save_agent(self, agent: AgentEntry) -> None:
        self.registry.save_agent(
            agent.agent_id,
            {
                "hostname": agent.hostname,
                "ip": agent.ip,
                "port": agent.port,
                "resources": agent.total.to_v1(),
                "attributes": agent.attributes,
                "registered_time": agent.registered_time,
                "unreachable_time": agent.unreachable_time,
                "deactivated": agent.deactivated,
            },
        )

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


def _ip_as_int(ip: str) -> int:
    try:
        a, b, c, d = (int(x) for x in ip.split("."))
    except ValueError:
        return 0
    return a | b << 8 | c << 16 | d << 24  # network byte order, as Mesos' MasterInfo.ip
