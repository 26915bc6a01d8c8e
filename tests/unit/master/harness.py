"""A master in one process for tests (like Nomad's scheduler `Harness`).

The master is the real `Master` over an in-memory store, a `FakeClock` and an agent client that
records every call the master makes to agents. Tests drive it the way frameworks and agents do
(`subscribe`, `accept`, `status_update`, ...) and move time with `advance(seconds)`, which runs
the housekeeping and allocation the master's loops would run; then they assert on the events a
framework received and on the recorded agent calls.

Example:
    h = MasterHarness()
    agent = await h.add_agent("cpus:4;mem:1024")
    fw = await h.subscribe()
    await h.allocate()
    offer = fw.offers()[0]
    await h.launch(fw, offer, "web")
    assert [m.task["name"] for m in h.agent_calls(RunTask)] == ["web"]
"""

from __future__ import annotations

import base64
import uuid as _uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from dcos_core.clock import FakeClock
from dcos_core.config import MasterSettings
from dcos_core.master.agent_client import AgentUnreachable
from dcos_core.master.calls import parse_operator_call, parse_scheduler_call, parse_subscribe
from dcos_core.master.service import Master
from dcos_core.master.streams import EventStream
from dcos_core.model.task import TaskState
from dcos_core.protocol.internal import (
    Acknowledge,
    AgentInfo,
    KillTask,
    RegisterAgent,
    RunTask,
    ShutdownFramework,
    StatusUpdate,
    TaskRecord,
)
from dcos_core.protocol.v1 import task_status, wrap
from dcos_core.resources import Resources
from dcos_core.state import InMemoryStore

AgentCall = RunTask | KillTask | Acknowledge | ShutdownFramework
C = TypeVar("C", RunTask, KillTask, Acknowledge, ShutdownFramework)

START = 1000.0
"""Where the fake clock starts (wall and monotonic)."""


@dataclass(frozen=True)
class Recorded:
    """One call the master made to an agent."""

    address: str
    msg: AgentCall


class RecordingAgentClient:
    """The master's `AgentClient`, recording calls; calls to `unreachable` addresses fail."""

    def __init__(self) -> None:
        self.recorded: list[Recorded] = []
        self.unreachable: set[str] = set()
        self.closed = False

    def _record(self, address: str, msg: AgentCall) -> None:
        if address in self.unreachable:
            raise AgentUnreachable(f"{address}: connection refused (harness)")
        self.recorded.append(Recorded(address, msg))

    @property
    def calls(self) -> list[AgentCall]:
        return [r.msg for r in self.recorded]

    async def run_task(self, address: str, msg: RunTask) -> None:
        self._record(address, msg)

    async def kill_task(self, address: str, msg: KillTask) -> None:
        self._record(address, msg)

    async def acknowledge(self, address: str, msg: Acknowledge) -> None:
        self._record(address, msg)

    async def shutdown_framework(self, address: str, msg: ShutdownFramework) -> None:
        self._record(address, msg)

    async def close(self) -> None:
        self.closed = True


@dataclass
class Framework:
    """A subscribed framework as the harness sees it: its id, stream and received events."""

    framework_id: str
    stream: EventStream
    received: list[dict[str, Any]] = field(default_factory=list)
    answered: set[str] = field(default_factory=set)
    """Ids of the offers this framework accepted or declined."""

    @property
    def stream_id(self) -> str:
        return self.stream.stream_id

    def events(self, event_type: str | None = None) -> list[dict[str, Any]]:
        """Every event received so far (of `event_type`, if given), oldest first."""
        self.received.extend(self.stream.drain())
        return [e for e in self.received if event_type is None or e["type"] == event_type]

    def offers(self) -> list[dict[str, Any]]:
        """The offers received and still usable (not answered, not rescinded), oldest first."""
        gone = self.answered | {e["rescind"]["offer_id"]["value"] for e in self.events("RESCIND")}
        return [
            o
            for e in self.events("OFFERS")
            for o in e["offers"]["offers"]
            if o["id"]["value"] not in gone
        ]

    def all_offers(self) -> list[dict[str, Any]]:
        """Every offer received, oldest first."""
        return [o for e in self.events("OFFERS") for o in e["offers"]["offers"]]

    def updates(self, task_id: str | None = None) -> list[dict[str, Any]]:
        """The task statuses received (of `task_id`, if given), oldest first."""
        return [
            e["update"]["status"]
            for e in self.events("UPDATE")
            if task_id is None or e["update"]["status"]["task_id"]["value"] == task_id
        ]

    def states(self, task_id: str) -> list[str]:
        """The states of `task_id` as this framework was told them, in order."""
        return [s["state"] for s in self.updates(task_id)]


def new_uuid() -> str:
    """A status uuid as agents send it (base64 of 16 bytes)."""
    return base64.b64encode(_uuid.uuid4().bytes).decode()


def task_info(
    task_id: str, offer: dict[str, Any], resources: str = "cpus:1;mem:128"
) -> dict[str, Any]:
    """A v1 TaskInfo for `offer`'s agent taking `resources` of the offer's role."""
    role = offer["allocation_info"]["role"]
    return {
        "name": task_id,
        "task_id": wrap(task_id),
        "agent_id": offer["agent_id"],
        "resources": Resources.parse(resources).to_v1(allocation_role=role),
        "command": {"shell": True, "value": "sleep 1000"},
    }


class MasterHarness:
    """A `Master` on an in-memory store, a fake clock and a recording agent client."""

    def __init__(
        self,
        *,
        registry: InMemoryStore | None = None,
        clock: FakeClock | None = None,
        **settings: Any,
    ) -> None:
        self.clock = clock or FakeClock(START)
        self.store = registry or InMemoryStore()
        self.agent_client = RecordingAgentClient()
        self.settings = MasterSettings(**settings)
        self.master = Master(self.settings, self.store, self.agent_client, self.clock)
        self.master.recover()
        self._ports = iter(range(5051, 6000))

    def restart(self) -> MasterHarness:
        """A new master over this one's registry and clock (a master failover or restart)."""
        settings = self.settings.model_dump(exclude_unset=True)
        return MasterHarness(registry=self.store, clock=self.clock, **settings)

    async def settle(self) -> None:
        """Let the master's calls to agents (they run in the background) complete."""
        await self.master.wait_background()

    # ---- agents --------------------------------------------------------------------------------

    async def add_agent(
        self,
        resources: str = "cpus:4;mem:1024",
        *,
        agent_id: str | None = None,
        hostname: str | None = None,
        port: int | None = None,
        tasks: Iterable[TaskRecord] = (),
    ) -> str:
        """(Re-)register an agent; returns its id. Re-registering reports `tasks`."""
        known = self.master.agents.get(agent_id) if agent_id else None
        info = AgentInfo(
            hostname=hostname or (known.hostname if known else "10.0.0.1"),
            port=port or (known.port if known else next(self._ports)),
            resources=Resources.parse(resources).to_v1(),
            id=agent_id,
        )
        reply = self.master.register_agent(RegisterAgent(agent_info=info, tasks=list(tasks)))
        await self.settle()
        return reply.agent_id

    def address(self, agent_id: str) -> str:
        return self.master.agents[agent_id].address

    async def status_update(
        self,
        agent_id: str,
        fw: Framework | str,
        task_id: str,
        state: TaskState,
        *,
        uuid: str | None = None,
        message: str | None = None,
    ) -> dict[str, Any]:
        """The agent reports `task_id` in `state` (a fresh uuid unless given); returns it."""
        fid = fw if isinstance(fw, str) else fw.framework_id
        status = task_status(
            task_id,
            state,
            agent_id=agent_id,
            timestamp=self.clock.time(),
            uuid=uuid or new_uuid(),
            message=message,
        )
        self.master.status_update(StatusUpdate(agent_id=agent_id, framework_id=fid, status=status))
        await self.settle()
        return status

    async def heartbeat(self, agent_id: str) -> None:
        self.master.heartbeat(agent_id)

    # ---- frameworks ----------------------------------------------------------------------------

    async def subscribe(
        self, name: str = "f", *, framework_id: str | None = None, **info: Any
    ) -> Framework:
        """SUBSCRIBE (with `framework_id`: re-subscribe after a failover)."""
        framework_info: dict[str, Any] = {"user": "root", "name": name, **info}
        body: dict[str, Any] = {
            "type": "SUBSCRIBE",
            "subscribe": {"framework_info": framework_info},
        }
        if framework_id is not None:
            body["framework_id"] = wrap(framework_id)
            framework_info["id"] = wrap(framework_id)
        entry, stream = self.master.subscribe(parse_subscribe(body))
        await self.settle()
        return Framework(entry.framework_id, stream)

    async def call(self, fw: Framework, call_type: str, part: dict[str, Any] | None = None) -> None:
        """A scheduler call, checked and parsed as the HTTP layer does (framework, stream id)."""
        entry = self.master.framework_for_call(fw.framework_id, fw.stream_id)
        body: dict[str, Any] = {"type": call_type, "framework_id": wrap(fw.framework_id)}
        if part is not None:
            body[call_type.lower()] = part
        self.master.scheduler_call(entry, parse_scheduler_call(call_type, body))
        await self.settle()

    async def operator(self, call_type: str, part: dict[str, Any]) -> None:
        """An operator call that changes state (DRAIN_AGENT, UPDATE_QUOTA, ...)."""
        body = {"type": call_type, call_type.lower(): part}
        self.master.operator_call(parse_operator_call(call_type, body))
        await self.settle()

    async def accept(
        self,
        fw: Framework,
        offers: Iterable[dict[str, Any]],
        operations: list[dict[str, Any]],
        refuse_seconds: float | None = None,
    ) -> None:
        offers = list(offers)
        fw.answered.update(o["id"]["value"] for o in offers)
        part: dict[str, Any] = {"offer_ids": [o["id"] for o in offers], "operations": operations}
        if refuse_seconds is not None:
            part["filters"] = {"refuse_seconds": refuse_seconds}
        await self.call(fw, "ACCEPT", part)

    async def launch(
        self,
        fw: Framework,
        offer: dict[str, Any],
        *task_ids: str,
        resources: str = "cpus:1;mem:128",
    ) -> None:
        """ACCEPT `offer` with one LAUNCH of a task per id, each taking `resources`."""
        infos = [task_info(t, offer, resources) for t in task_ids]
        await self.accept(fw, [offer], [{"type": "LAUNCH", "launch": {"task_infos": infos}}])

    async def decline(
        self, fw: Framework, offers: Iterable[dict[str, Any]], refuse_seconds: float | None = None
    ) -> None:
        offers = list(offers)
        fw.answered.update(o["id"]["value"] for o in offers)
        part: dict[str, Any] = {"offer_ids": [o["id"] for o in offers]}
        if refuse_seconds is not None:
            part["filters"] = {"refuse_seconds": refuse_seconds}
        await self.call(fw, "DECLINE", part)

    async def acknowledge(self, fw: Framework, status: dict[str, Any]) -> None:
        """ACKNOWLEDGE a status received (it must carry a uuid)."""
        part = {
            "agent_id": status["agent_id"],
            "task_id": status["task_id"],
            "uuid": status["uuid"],
        }
        await self.call(fw, "ACKNOWLEDGE", part)

    async def reconcile(self, fw: Framework, *tasks: tuple[str, str | None]) -> None:
        """RECONCILE the (task id, agent id or None) given; none: implicit reconciliation."""
        part = [{"task_id": wrap(t), **({"agent_id": wrap(a)} if a else {})} for t, a in tasks]
        await self.call(fw, "RECONCILE", {"tasks": part})

    async def kill(self, fw: Framework, task_id: str) -> None:
        await self.call(fw, "KILL", {"task_id": wrap(task_id)})

    async def disconnect(self, fw: Framework) -> None:
        """The framework's subscription connection ends (its failover timeout starts)."""
        self.master.stream_closed(fw.framework_id, fw.stream_id)
        fw.events()  # keep what was received before the end
        await self.settle()

    # ---- time and the loops --------------------------------------------------------------------

    async def allocate(self) -> int:
        """Run one allocation cycle now (as the allocation loop does); returns the offers made."""
        made = self.master.allocate_now()
        await self.settle()
        return made

    async def advance(self, seconds: float, *, allocate: bool = True) -> None:
        """Move time on, then run what the master's loops would: housekeeping and allocation."""
        self.clock.advance(seconds)
        self.master.housekeeping()
        if allocate:
            self.master.allocate_now()
        await self.settle()

    # ---- what the master did -------------------------------------------------------------------

    def agent_calls(self, kind: type[C], address: str | None = None) -> list[C]:
        """The calls of type `kind` the master made to agents (to `address`, if given)."""
        return [
            r.msg
            for r in self.agent_client.recorded
            if isinstance(r.msg, kind) and (address is None or r.address == address)
        ]

    def store_is_gone(self, agent_id: str) -> bool:
        """True if the registry records the agent as marked gone."""
        return self.master.registry.is_gone(agent_id)

    def task_state(self, fw: Framework, task_id: str) -> TaskState | None:
        """The task's state in the master (active or completed), or None if unknown."""
        entry = self.master.frameworks.get(fw.framework_id)
        if entry is None:
            entry = next(
                (f for f in self.master.completed_frameworks if f.framework_id == fw.framework_id),
                None,
            )
        if entry is None:
            return None
        if task_id in entry.tasks:
            return entry.tasks[task_id].state
        done = [t for t in entry.completed_tasks if t.task_id == task_id]
        return done[-1].state if done else None
