"""Operator use cases of the v1 operator API that change state."""

from __future__ import annotations

import logging

from dcos_core.errors import ConflictError, NotFoundError
from dcos_core.master.calls import (
    DeactivateAgent,
    DrainAgent,
    MarkAgentGone,
    ReactivateAgent,
    UpdateQuota,
    UpdateWeights,
    quota_from_config,
)
from dcos_core.master.core import MasterCore
from dcos_core.master.entries import AgentEntry
from dcos_core.model.task import TaskState
from dcos_core.protocol.internal import KillTask
from dcos_core.protocol.v1 import wrap
from dcos_core.resources import Resources

log = logging.getLogger(__name__)


class OperatorCalls(MasterCore):
    """Operators: agent maintenance (deactivate, drain, mark gone), weights and quota."""

    def _agent(self, aid: str) -> AgentEntry:
        agent = self.agents.get(aid)
        if agent is None:
            raise NotFoundError(f"Agent {aid} is not known")
        return agent

    def deactivate_agent(self, call: DeactivateAgent) -> None:
        agent = self._agent(call.agent_id)
        agent.deactivated = True
        self._quiet_agent(agent)

    def reactivate_agent(self, call: ReactivateAgent) -> None:
        agent = self._agent(call.agent_id)
        agent.deactivated = False
        agent.draining = False
        if agent.connected:
            self.allocator.activate_agent(agent.agent_id)
        self._save_agent(agent)
        self.trigger_allocation()

    def drain_agent(self, call: DrainAgent) -> None:
        """DRAIN_AGENT: no more offers, and every task on the agent is killed."""
        agent = self._agent(call.agent_id)
        grace = call.max_grace_period
        agent.draining = True
        agent.drain_mark_gone = call.mark_gone
        self._quiet_agent(agent)
        policy = {"grace_period": grace} if grace is not None else None
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

    def update_weights(self, call: UpdateWeights) -> None:
        merged = self.weights | call.weights
        self.registry.save_weights(merged)
        self.weights = merged
        self.allocator.set_weights(merged)
        self.trigger_allocation()

    def update_quota(self, call: UpdateQuota) -> None:
        """UPDATE_QUOTA: all configs are valid and applied, or none is."""
        for cfg in call.configs:
            limits = cfg.quota.limits
            if call.force or limits is None:
                continue
            used = self._role_consumption(cfg.role)
            for name, millis in used.totals().items():
                limit = limits.totals().get(name)
                if limit is not None and millis > limit:
                    raise ConflictError(
                        f"role '{cfg.role}' already consumes {millis / 1000:g} {name}, above the "
                        f"limit {limit / 1000:g}; use force to set it anyway"
                    )
        parsed = {cfg.role: cfg.config for cfg in call.configs}
        self.registry.save_quotas(parsed)
        for role, stored in parsed.items():
            if stored is None:
                self.quotas.pop(role, None)
                self.allocator.set_quota(role, None)
            else:
                self.quotas[role] = stored
                self.allocator.set_quota(role, quota_from_config(stored))
        self.trigger_allocation()

    def _role_consumption(self, role: str) -> Resources:
        total = Resources()
        for agent in self.agents.values():
            for task in agent.tasks.values():
                if task.role == role and not task.state.terminal:
                    total = total + task.resources.scalar_part()
            total = total + agent.total.reserved(role).scalar_part()
        return total

    def mark_agent_gone(self, call: MarkAgentGone) -> None:
        """MARK_AGENT_GONE: the operator asserts the agent is gone for good (Mesos semantics).

        The agent is recorded as gone in the registry (it stays refused after a master restart),
        its tasks become TASK_GONE_BY_OPERATOR (TASK_LOST for frameworks that are not
        partition-aware), its offers are rescinded and it gets no more. Marking an agent that is
        already gone again is a no-op; an agent the master never knew is a 404.
        """
        aid = call.agent_id
        agent = self.agents.get(aid)
        if agent is None:
            if self.registry.is_gone(aid):
                log.info("agent %s is already marked gone", aid)
                return
            raise NotFoundError(f"Agent {aid} is not known")
        self._mark_gone(agent, f"Agent {aid} was marked gone by the operator")

    def _mark_gone(self, agent: AgentEntry, why: str | None = None) -> None:
        """Remove the agent for good: registry first (if that fails, nothing has changed).

        Also the end of a DRAIN_AGENT with `mark_gone` (then `why` is None)."""
        aid = agent.agent_id
        why = why or f"Agent {aid} was drained and marked gone by the operator"
        self.registry.mark_gone(
            aid,
            {
                "hostname": agent.hostname,
                "ip": agent.ip,
                "port": agent.port,
                "gone_time": self.clock.time(),
            },
        )
        log.warning("agent %s (%s) is gone: %s", aid, agent.address, why)
        for offer in [o for o in self.offers.values() if o.agent_id == aid]:
            self._drop_offer(offer, rescind=True)
        if agent.connected:
            self.allocator.remove_agent(aid)
        agent.connected = False
        for key, task in list(agent.tasks.items()):
            fw = self.frameworks.get(task.framework_id)
            if fw is None:
                agent.tasks.pop(key, None)
                continue
            task.state = TaskState.GONE_BY_OPERATOR
            status = self._master_update(
                fw,
                task.task_id,
                TaskState.GONE_BY_OPERATOR,
                aid,
                "REASON_AGENT_REMOVED_BY_OPERATOR",
                why,
            )
            self._keep_status(fw, task, status)
            self._finish_task(fw, task, recover=False)
        for fid in list(self.streams):
            self._send(fid, {"type": "FAILURE", "failure": {"agent_id": wrap(aid)}})
        self.agents.pop(aid, None)
        self._operator_event({"type": "AGENT_REMOVED", "agent_removed": {"agent_id": wrap(aid)}})
        self._count("master/slave_removals")
