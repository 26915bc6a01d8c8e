"""The hierarchical DRF allocator: its public calls, policy (weights, quota) and introspection.

What it knows lives in `state` (agents, frameworks and the one ledger of allocations); one cycle
is run by `cycle.CycleRunner`, which gets what it uses passed in.

Pure: no I/O, time only from the injected `Clock`, randomness only from `random.Random(seed)`.
`allocate()` returns `OfferGrant`s (data); the master turns them into offers. Everything granted
counts as allocated at once, until it comes back through `recover()`.

Bookkeeping invariants (per agent): `available + sum(alloc.values()) == total` unless the total
shrank below what is allocated (then `available` is empty); the role tree holds the same
allocations as scalar totals, per role and per framework.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable, Mapping

from dcos_core.allocator.cycle import CycleRunner
from dcos_core.allocator.filters import MAX_REFUSE_SECONDS, RefuseFilters
from dcos_core.allocator.quota import QuotaCycle, ancestors_or_self
from dcos_core.allocator.sorter import Millis, RoleTree, add_millis
from dcos_core.allocator.state import AgentState, Allocations, FrameworkState, has_reservations
from dcos_core.allocator.types import (
    AllocatorConfig,
    OfferGrant,
    Quota,
    Reason,
)
from dcos_core.allocator.why import CycleFacts, WhyEntry, record
from dcos_core.clock import Clock
from dcos_core.errors import ConflictError, InvalidError, NotFoundError
from dcos_core.resources import EMPTY, Resources, validate_role


def _sum(rs: Iterable[Resources]) -> Resources:
    out = EMPTY
    for r in rs:
        out = out + r
    return out


class Allocator:
    """Hierarchical weighted DRF allocator with Mesos semantics.

    Example:
        >>> from dcos_core.clock import FakeClock
        >>> a = Allocator(AllocatorConfig(), FakeClock(), seed=1)
        >>> a.add_agent("a1", Resources.parse("cpus:4;mem:1024"))
        >>> a.add_framework("fw1", ["web"])
        >>> [(g.framework_id, str(g.resources)) for g in a.allocate()]
        [('fw1', 'cpus:4;mem:1024')]
    """

    def __init__(self, config: AllocatorConfig, clock: Clock, seed: int = 0) -> None:
        self.config = config
        self.clock = clock
        self.rng = random.Random(seed)
        self.tree = RoleTree(config.fair_sharing_excluded)
        self.filters = RefuseFilters()
        self.agents: dict[str, AgentState] = {}
        self.frameworks: dict[str, FrameworkState] = {}
        self.allocations = Allocations(self.tree)
        # framework -> role -> agent -> resources (offered + used); may name unknown frameworks
        self.alloc = self.allocations.by_framework
        self.cluster: Millis = {}
        self.quotas: dict[str, Quota] = {}
        self.why: dict[str, dict[str, WhyEntry]] = {}  # framework -> role -> last reason
        self._stats: dict[str, float] = {"cycles": 0, "last_cycle_seconds": 0.0, "grants": 0}

    # ---- agents ------------------------------------------------------------------------------

    def add_agent(
        self,
        agent_id: str,
        total: Resources,
        used: Mapping[tuple[str, str], Resources] | None = None,
        attributes: Mapping[str, object] | None = None,
    ) -> None:
        """Add an agent; `used` is what (framework, role) already run on it (re-registration).

        The frameworks named in `used` need not be known yet: their usage is charged now and
        stays theirs when they (re-)subscribe.
        """
        if agent_id in self.agents:
            raise ConflictError(f"agent '{agent_id}' is already added")
        agent = AgentState(agent_id, total, total, attributes=dict(attributes or {}))
        agent.reserved = has_reservations(total)
        self.agents[agent_id] = agent
        add_millis(self.cluster, total.totals())
        self.tree.set_totals(self.cluster)
        for (fw, role), res in (used or {}).items():
            if res:
                validate_role(role)
                self.allocations.charge(agent, fw, role, res)

    def remove_agent(self, agent_id: str) -> None:
        """Forget an agent and everything allocated on it."""
        agent = self._agent(agent_id)
        for (fw, role), res in list(agent.alloc.items()):
            self.allocations.uncharge(agent, fw, role, res)
        del self.agents[agent_id]
        add_millis(self.cluster, agent.total.totals(), -1)
        self.tree.set_totals(self.cluster)
        self.filters.clear_agent(agent_id)

    def update_agent_total(self, agent_id: str, total: Resources) -> None:
        """Change an agent's total (oversubscription, resize); allocations stay as they are."""
        agent = self._agent(agent_id)
        add_millis(self.cluster, agent.total.totals(), -1)
        add_millis(self.cluster, total.totals())
        self.tree.set_totals(self.cluster)
        agent.total = total
        agent.reserved = has_reservations(total)
        agent.available = total - _sum(agent.alloc.values())

    def deactivate_agent(self, agent_id: str) -> None:
        """Stop offering an agent (draining, deactivated); allocations stay."""
        self._agent(agent_id).active = False

    def activate_agent(self, agent_id: str) -> None:
        """Offer an agent again."""
        self._agent(agent_id).active = True

    # ---- frameworks --------------------------------------------------------------------------

    def add_framework(
        self,
        framework_id: str,
        roles: Iterable[str],
        suppressed_roles: Iterable[str] = (),
        active: bool = True,
        min_allocatable: Mapping[str, tuple[Resources, ...]] | None = None,
    ) -> None:
        """Add a framework subscribed to `roles`; `min_allocatable` overrides per role."""
        if framework_id in self.frameworks:
            raise ConflictError(f"framework '{framework_id}' is already added")
        fw = FrameworkState(framework_id, (), set(), active, dict(min_allocatable or {}))
        self.frameworks[framework_id] = fw
        self._set_roles(fw, roles, suppressed_roles)

    def update_framework(
        self, framework_id: str, roles: Iterable[str], suppressed_roles: Iterable[str] = ()
    ) -> None:
        """Change a framework's roles and suppressed roles (UPDATE_FRAMEWORK)."""
        self._set_roles(self._fw(framework_id), roles, suppressed_roles)

    def remove_framework(self, framework_id: str) -> None:
        """Forget a framework and free everything it had allocated."""
        fw = self._fw(framework_id)
        for role in fw.roles:
            self.tree.deactivate(role, framework_id)
        for role, by_agent in list(self.alloc.get(framework_id, {}).items()):
            for agent_id, res in list(by_agent.items()):
                self.allocations.uncharge(self.agents[agent_id], framework_id, role, res)
        self.alloc.pop(framework_id, None)
        for role in fw.roles:
            node = self.tree.get(role)
            if node is not None:
                node.fw_counts.pop(framework_id, None)
        del self.frameworks[framework_id]
        self.filters.clear(framework_id)
        self.why.pop(framework_id, None)

    def activate_framework(self, framework_id: str) -> None:
        """The framework is connected again: offer to it."""
        fw = self._fw(framework_id)
        fw.active = True
        self._sync(fw)

    def deactivate_framework(self, framework_id: str) -> None:
        """The framework disconnected: no offers; it keeps its allocations."""
        fw = self._fw(framework_id)
        fw.active = False
        self._sync(fw)

    def suppress(self, framework_id: str, roles: Iterable[str] | None = None) -> None:
        """Stop offering to the framework for `roles` (None = all of its roles)."""
        fw = self._fw(framework_id)
        fw.suppressed |= set(fw.roles if roles is None else roles) & set(fw.roles)
        self._sync(fw)

    def revive(self, framework_id: str, roles: Iterable[str] | None = None) -> None:
        """Offer again for `roles` (None = all): unsuppress and drop their refuse filters."""
        fw = self._fw(framework_id)
        chosen = set(fw.roles if roles is None else roles)
        fw.suppressed -= chosen
        self.filters.clear(framework_id, None if roles is None else chosen)
        self._sync(fw)

    def _set_roles(
        self, fw: FrameworkState, roles: Iterable[str], suppressed: Iterable[str]
    ) -> None:
        new_roles = tuple(sorted({validate_role(r) for r in roles}))
        for role in set(fw.roles) - set(new_roles):
            self.tree.deactivate(role, fw.id)
        fw.roles = new_roles
        fw.suppressed = set(suppressed) & set(new_roles)
        why = self.why.get(fw.id)
        if why is not None:
            for role in set(why) - set(new_roles):
                del why[role]
        self._sync(fw)

    def _sync(self, fw: FrameworkState) -> None:
        """Make the sorters' membership match the framework's state."""
        for role in fw.roles:
            if fw.active and role not in fw.suppressed:
                self.tree.activate(role, fw.id)
            else:
                self.tree.deactivate(role, fw.id)

    # ---- resources flowing back --------------------------------------------------------------

    def recover(
        self,
        framework_id: str,
        agent_id: str,
        role: str,
        resources: Resources,
        refuse_seconds: float | None = None,
    ) -> None:
        """Give offered-but-unused or freed resources back to the agent.

        With `refuse_seconds`, a refused-offer filter hides offers on this agent to this
        framework and role that fit in `resources`, for that long (negative or NaN: the default
        of the config; capped at 365 days). Resources of a removed agent or of a removed
        framework are ignored (they were freed when it was removed); recovering more than the
        framework holds there is a caller bug and raises `InvalidError`.
        """
        agent = self.agents.get(agent_id)
        if agent is None:
            return
        if resources:
            cur = self.allocations.held(framework_id, role, agent_id)
            if cur is None and framework_id not in self.frameworks:
                return  # removed framework: remove_framework() already freed everything
            if cur is None or not cur.contains(resources):
                raise InvalidError(
                    f"cannot recover {resources} on agent '{agent_id}': framework "
                    f"'{framework_id}' has only {cur or EMPTY} there in role '{role}'",
                    "resources",
                )
            self.allocations.uncharge(agent, framework_id, role, resources)
        if refuse_seconds is not None and framework_id in self.frameworks:
            secs = refuse_seconds
            if math.isnan(secs) or secs < 0:
                secs = self.config.default_refuse_seconds
            secs = min(secs, MAX_REFUSE_SECONDS)
            if secs > 0:
                until = self.clock.monotonic() + secs
                self.filters.add(framework_id, role, agent_id, resources, until)

    def convert(
        self,
        framework_id: str,
        agent_id: str,
        role: str,
        consumed: Resources,
        converted: Resources,
    ) -> None:
        """Apply RESERVE/UNRESERVE to allocated resources: `consumed` becomes `converted`.

        The agent's total changes the same way.
        """
        agent = self._agent(agent_id)
        cur = self.allocations.held(framework_id, role, agent_id)
        if cur is None or not cur.contains(consumed):
            raise InvalidError(
                f"framework '{framework_id}' does not hold {consumed} on agent '{agent_id}'",
                "consumed",
            )
        if consumed.totals() != converted.totals():
            raise InvalidError("a conversion must keep the scalar quantities", "converted")
        self.allocations.uncharge(agent, framework_id, role, consumed)
        agent.available = agent.available - consumed
        agent.total = agent.total - consumed + converted
        agent.reserved = has_reservations(agent.total)
        agent.available = agent.available + converted
        self.allocations.charge(agent, framework_id, role, converted)

    # ---- policy ------------------------------------------------------------------------------

    def set_weights(self, weights: Mapping[str, float]) -> None:
        """Replace all role weights; a role not named has weight 1.0."""
        for role, w in weights.items():
            validate_role(role)
            if not (w > 0 and math.isfinite(w)):
                raise InvalidError(f"weight of '{role}' must be a positive number", "weights")
        self.tree.set_weights(weights)

    def set_quota(self, role: str, quota: Quota | None) -> None:
        """Set (or, with None, remove) the quota of `role`."""
        validate_role(role)
        if quota is None:
            self.quotas.pop(role, None)
        else:
            self.quotas[role] = quota
            self.tree.node(role)

    # ---- the cycle ---------------------------------------------------------------------------

    def allocate(self, agent_ids: Iterable[str] | None = None) -> list[OfferGrant]:
        """Run one allocation cycle over all (or the given) agents and return the grants.

        The grants are charged as allocated immediately; give back what is not used with
        `recover()`.
        """
        started = self.clock.perf_counter()
        if self.tree.dirty:
            self.tree.rebuild()
        if agent_ids is None:
            candidates = [a for a in self.agents.values() if a.active]
        else:
            seen = dict.fromkeys(agent_ids)
            candidates = [a for i in seen if (a := self.agents.get(i)) is not None and a.active]
        quota = self._quota_cycle() if self.quotas else None
        runner = CycleRunner(
            tree=self.tree,
            filters=self.filters,
            allocations=self.allocations,
            min_allocatable=self.config.min_allocatable,
            frameworks=self.frameworks,
            now=self.clock.monotonic(),
            quota=quota,
        )
        self.rng.shuffle(candidates)
        stage1 = quota.roles_below_guarantee() if quota is not None else set()
        if stage1:
            runner.run(candidates, stage1)
            self.rng.shuffle(candidates)
        runner.run(candidates, None)
        grants = runner.grants()
        self._record_reasons(runner, candidates)
        self._stats["cycles"] += 1
        self._stats["grants"] += len(grants)
        self._stats["last_cycle_seconds"] = self.clock.perf_counter() - started
        return grants

    def _quota_cycle(self) -> QuotaCycle:
        subtree = {}
        for role in self.quotas:
            node = self.tree.get(role)
            subtree[role] = node.subtree_alloc if node is not None else {}
        free = ((a.available, a.active) for a in self.agents.values() if a.active or a.reserved)
        return QuotaCycle(self.quotas, subtree, free)

    def _record_reasons(self, runner: CycleRunner, candidates: list[AgentState]) -> None:
        """Remember, per framework and role that got nothing, why (for `why_not`).

        Only counting happens here; the text and the per-agent list are made by `why_not`.
        """
        at = self.clock.time()
        granted = runner.granted
        facts: CycleFacts | None = None
        n_agents = len(self.agents)
        for fid, fw in self.frameworks.items():
            for role in fw.roles:
                if (fid, role) in granted:
                    by_role = self.why.get(fid)
                    if by_role is not None:
                        by_role.pop(role, None)
                    continue
                entry = self._fixed_reason(fw, role, candidates, n_agents, at)
                if entry is None:
                    if facts is None:
                        facts = CycleFacts([a.id for a in candidates], runner.agents_with_grants)
                    notes = tuple(
                        n
                        for n in (runner.role_notes.get(role), runner.fw_notes.get((fid, role)))
                        if n
                    )
                    entry = record(notes, facts, at)
                self.why.setdefault(fid, {})[role] = entry

    @staticmethod
    def _fixed_reason(
        fw: FrameworkState, role: str, candidates: list[AgentState], n_agents: int, at: float
    ) -> WhyEntry | None:
        """The reasons that hold for every agent at once (no per-agent view), or None."""
        if not fw.active:
            return WhyEntry(Reason.INACTIVE, at, "the framework is deactivated (disconnected)")
        if role in fw.suppressed:
            return WhyEntry(Reason.SUPPRESSED, at, f"offers for role '{role}' are suppressed")
        if not candidates:
            if not n_agents:
                return WhyEntry(Reason.NO_AGENTS, at, "no agent is registered")
            return WhyEntry(Reason.NO_AGENTS, at, f"none of the {n_agents} agent(s) is active")
        return None

    # ---- introspection -----------------------------------------------------------------------

    def why_not(self, framework_id: str) -> dict[str, dict[str, object]]:
        """Per role that got nothing in the last cycle, why.

        Each role maps to `{"reason", "detail", "at"}` and, unless the reason holds for every
        agent (INACTIVE, SUPPRESSED, NO_AGENTS), `"agents"` (up to `AGENTS_SHOWN` of
        `{"agent_id", "reason", "detail", "free"}`, the blocking reasons first), `"agent_counts"`
        (reason -> agents) and, for INSUFFICIENT_RESOURCES, `"scarce"` (e.g. `"cpus"`).
        """
        self._fw(framework_id)

        def total_of(agent_id: str) -> Resources | None:
            agent = self.agents.get(agent_id)
            return agent.total if agent is not None else None

        return {
            role: entry.render(total_of)
            for role, entry in sorted(self.why.get(framework_id, {}).items())
        }

    def allocated(self, framework_id: str) -> dict[str, Resources]:
        """agent_id -> resources allocated to the framework (offered + used), over its roles."""
        out: dict[str, Resources] = {}
        for by_agent in self.alloc.get(framework_id, {}).values():
            for agent_id, res in by_agent.items():
                out[agent_id] = out.get(agent_id, EMPTY) + res
        return out

    def role_summary(self) -> dict[str, dict[str, object]]:
        """role -> weight, allocated resources (whole subtree), frameworks, quota, share.

        The share is the weighted dominant share of the role's subtree, as the sorter sees it.
        """
        if self.tree.dirty:
            self.tree.rebuild()
        allocated: dict[str, Resources] = {}  # of the role's subtree (eng includes eng/web)
        for by_role in self.alloc.values():
            for role, by_agent in by_role.items():
                res = _sum(by_agent.values())
                for r in ancestors_or_self(role):
                    allocated[r] = allocated.get(r, EMPTY) + res
        subscribed: dict[str, list[str]] = {}
        for fid, fw in self.frameworks.items():
            for role in fw.roles:
                subscribed.setdefault(role, []).append(fid)
        named = set(allocated) | set(subscribed) | set(self.quotas) | set(self.tree.weights)
        roles = {a for r in named for a in ancestors_or_self(r)}
        out: dict[str, dict[str, object]] = {}
        for role in sorted(roles):
            node = self.tree.node(role)
            out[role] = {
                "weight": node.weight,
                "allocated": allocated.get(role, EMPTY),
                "frameworks": sorted(subscribed.get(role, [])),
                "quota": self.quotas.get(role),
                "share": self.tree.share(node),
            }
        return out

    def agent_available(self, agent_id: str) -> Resources:
        """What is neither offered nor used on the agent."""
        return self._agent(agent_id).available

    def stats(self) -> dict[str, float]:
        """Counters for metrics: cycles, grants, last cycle time, agents, frameworks, filters."""
        out = dict(self._stats)
        out["agents"] = len(self.agents)
        out["agents_active"] = sum(1 for a in self.agents.values() if a.active)
        out["frameworks"] = len(self.frameworks)
        out["outstanding_filters"] = self.filters.count(self.clock.monotonic())
        return out

    # ---- helpers -----------------------------------------------------------------------------

    def _agent(self, agent_id: str) -> AgentState:
        agent = self.agents.get(agent_id)
        if agent is None:
            raise NotFoundError(f"agent '{agent_id}' is not known to the allocator")
        return agent

    def _fw(self, framework_id: str) -> FrameworkState:
        fw = self.frameworks.get(framework_id)
        if fw is None:
            raise NotFoundError(f"framework '{framework_id}' is not known to the allocator")
        return fw
