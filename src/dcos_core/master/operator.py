"""Operator use cases of the v1 operator API that change state."""

from __future__ import annotations

import logging
import math
from typing import Any

from dcos_core.allocator import Quota
from dcos_core.errors import ConflictError, InvalidError, NotFoundError
from dcos_core.master.core import MasterCore
from dcos_core.master.entries import AgentEntry
from dcos_core.model.task import TaskState
from dcos_core.protocol.internal import KillTask
from dcos_core.protocol.v1 import unwrap, wrap
from dcos_core.resources import UNRESERVED, Resources, to_millis, validate_role

log = logging.getLogger(__name__)


class OperatorCalls(MasterCore):
    """Operators: agent maintenance (deactivate, drain, mark gone), weights and quota."""

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
            if not (w > 0 and math.isfinite(w)):
                raise InvalidError("must be a positive finite number", f"{f}.weight")
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
            q = quota_from_config(cfg, f)
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

    def mark_agent_gone(self, body: dict[str, Any]) -> None:
        """MARK_AGENT_GONE: the operator asserts the agent is gone for good (Mesos semantics).

        The agent is recorded as gone in the registry (it stays refused after a master restart),
        its tasks become TASK_GONE_BY_OPERATOR (TASK_LOST for frameworks that are not
        partition-aware), its offers are rescinded and it gets no more. Marking an agent that is
        already gone again is a no-op; an agent the master never knew is a 404.
        """
        part = body.get("mark_agent_gone")
        if not isinstance(part, dict):
            raise InvalidError("Expecting 'mark_agent_gone' to be present", "mark_agent_gone")
        aid = unwrap(part.get("agent_id"), "mark_agent_gone.agent_id")
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


def _scalar_map(r: Resources) -> dict[str, dict[str, float]]:
    return {name: {"value": millis / 1000} for name, millis in r.totals().items()}


def quota_from_config(cfg: dict[str, Any], field: str = "quota") -> Quota:
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
