"""The master: frameworks, agents, offers, tasks. No HTTP here.

Decisions come from the pure allocator (`dcos_core.allocator`); the use cases (mixed in from
`frameworks.py`, `agents.py`, `operator.py` on top of `core.MasterCore`) apply them and do the I/O:
events to framework streams, calls to agents, writes to the registry.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from dcos_core.config import parse_weights
from dcos_core.errors import InvalidError, NotFoundError
from dcos_core.master import calls
from dcos_core.master.agents import AgentCalls
from dcos_core.master.calls import quota_from_config
from dcos_core.master.entries import (
    AgentEntry,
    FrameworkEntry,
    OfferEntry,
)
from dcos_core.master.frameworks import FrameworkCalls
from dcos_core.master.operator import OperatorCalls
from dcos_core.protocol.v1 import wrap
from dcos_core.resources import Resources

log = logging.getLogger(__name__)


class Master(FrameworkCalls, AgentCalls, OperatorCalls):
    """The leading master of a cluster: the use cases plus the allocation and housekeeping loops."""

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
        await self.wait_background(timeout=2)
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
            self.allocator.set_quota(role, quota_from_config(cfg))
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
                ip=str(data.get("ip", "")),
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

    # ------------------------------------------------------------------------------------------
    # calls

    def scheduler_call(self, fw: FrameworkEntry, call: calls.SchedulerCall) -> None:
        """Run a scheduler call (other than SUBSCRIBE) of the subscribed framework `fw`."""
        match call:
            case calls.Accept():
                self.accept(fw, call)
            case calls.Decline():
                self.decline(fw, call)
            case calls.Revive():
                self.revive(fw, call)
            case calls.Suppress():
                self.suppress(fw, call)
            case calls.Kill():
                self.kill(fw, call)
            case calls.Shutdown():
                self.shutdown_executor(fw, call)
            case calls.Acknowledge():
                self.acknowledge(fw, call)
            case calls.Reconcile():
                self.reconcile(fw, call)
            case calls.Teardown():
                self.teardown(fw)
            case calls.UpdateFramework():
                self.update_framework(fw, call)
            case calls.Ignored():
                pass  # as the Mesos allocator does (REQUEST), or for features this master lacks

    def operator_call(self, call: calls.OperatorCall) -> None:
        """Run an operator call that changes state."""
        match call:
            case calls.UpdateWeights():
                self.update_weights(call)
            case calls.UpdateQuota():
                self.update_quota(call)
            case calls.DrainAgent():
                self.drain_agent(call)
            case calls.DeactivateAgent():
                self.deactivate_agent(call)
            case calls.ReactivateAgent():
                self.reactivate_agent(call)
            case calls.MarkAgentGone():
                self.mark_agent_gone(call)
            case calls.TeardownFramework():
                fw = self.frameworks.get(call.framework_id)
                if fw is None:
                    raise InvalidError(
                        f"Framework {call.framework_id} cannot be found", "teardown.framework_id"
                    )
                self.teardown(fw)

    # ------------------------------------------------------------------------------------------
    # allocation

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
                "address": {
                    "hostname": agent.hostname,
                    "ip": agent.ip or agent.hostname,
                    "port": agent.port,
                },
                "path": "/slave(1)",
            },
            "resources": offer.resources.to_v1(allocation_role=offer.role),
            "attributes": agent.attributes,
            "executor_ids": [],
            "allocation_info": {"role": offer.role},
        }

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

    def why_not(self, framework_id: str) -> dict[str, Any]:
        """Why a framework got no offers (the allocator's recorded reasons), per role.

        Each role has `reason`, `detail`, `at` and, where the reason differs per agent,
        `agents` (each with the agent's `hostname` and `address` added) and `agent_counts`.
        """
        if framework_id not in self.frameworks:
            raise NotFoundError(f"Framework {framework_id} is not known")
        out: dict[str, Any] = {}
        for role, r in self.allocator.why_not(framework_id).items():
            entry: dict[str, Any] = dict(r, reason=str(r.get("reason")))
            agents = r.get("agents")
            if isinstance(agents, list):
                rows = []
                for a in agents:
                    known = self.agents.get(str(a.get("agent_id")))
                    row = dict(a, reason=str(a.get("reason")))
                    if known is not None:
                        row["hostname"] = known.hostname
                        row["address"] = known.address
                    rows.append(row)
                entry["agents"] = rows
            out[role] = entry
        return out
