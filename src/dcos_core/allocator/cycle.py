"""One allocation cycle: for each agent -> roles in DRF order -> frameworks in DRF order.

This is the hot path (Mesos `__generateOffers`). Per agent it costs one walk of the role tree, one
look at the first offerable framework of each role and, per grant, a handful of integer-dict
updates; shares are re-keyed after each agent, not re-sorted.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from dcos_core.allocator.filters import RefuseFilters
from dcos_core.allocator.quota import QuotaCycle, shrink
from dcos_core.allocator.sorter import RoleNode, RoleTree
from dcos_core.allocator.state import AgentState, Allocations, FrameworkState
from dcos_core.allocator.types import MinAllocatable, OfferGrant, Reason
from dcos_core.resources import Resources

Mins = list[dict[str, int]]
INSUFFICIENT = Reason.INSUFFICIENT_RESOURCES
AgentNote = tuple[Reason, Resources]
"""Why a (framework, role) got nothing on one agent, with what the agent had free for the role."""
Notes = dict[str, AgentNote]
"""agent id -> note."""


def satisfies(totals: dict[str, int], mins: Mins) -> bool:
    """True if `totals` hold at least one of the minimum quantities (or there are none)."""
    if not mins:
        return True
    for m in mins:
        for name, v in m.items():
            if totals.get(name, 0) < v:
                break
        else:
            return True
    return False


class CycleRunner:
    """Runs the stages of one cycle and collects grants and the reasons for non-grants.

    Args:
        tree: the role tree, walked in DRF order.
        filters: the frameworks' refused-offer filters, checked at `now` (monotonic).
        allocations: the ledger every grant is written to.
        min_allocatable: the cluster's minimum offer sizes.
        frameworks: the allocator's frameworks (for their own minimum offer sizes).
        quota: this cycle's quota view, or None when no role has a quota.
    """

    def __init__(
        self,
        *,
        tree: RoleTree,
        filters: RefuseFilters,
        allocations: Allocations,
        min_allocatable: MinAllocatable,
        frameworks: Mapping[str, FrameworkState],
        now: float,
        quota: QuotaCycle | None,
    ) -> None:
        self.tree = tree
        self.filters = filters
        self.allocations = allocations
        self.now = now
        self.quota = quota
        self.offers: dict[tuple[str, str, str], Resources] = {}  # (fw, agent, role) -> offer
        self.granted: set[tuple[str, str]] = set()  # (fw, role) that got something
        self.agents_with_grants: set[str] = set()
        self.fw_notes: dict[tuple[str, str], Notes] = {}  # (fw, role) -> agent -> note
        self.role_notes: dict[str, Notes] = {}  # notes of every framework of the role
        self.mins: Mins = [m.totals() for m in min_allocatable]
        self.fw_mins: dict[tuple[str, str], Mins] = {
            (fid, role): [m.totals() for m in ms]
            for fid, fw in frameworks.items()
            for role, ms in fw.min_allocatable.items()
        }
        self.override_roles = {role for _fid, role in self.fw_mins}

    @property
    def agents_granted(self) -> int:
        return len(self.agents_with_grants)

    def grants(self) -> list[OfferGrant]:
        """The offers of this cycle, one per (framework, agent, role), in grant order."""
        return [OfferGrant(f, a, r, res) for (f, a, r), res in self.offers.items()]

    @staticmethod
    def _note(notes: Notes, agent_id: str, reason: Reason, free: Resources) -> None:
        notes[agent_id] = (reason, free)

    def run(self, agents: Iterable[AgentState], stage1: set[str] | None) -> None:
        """One stage over `agents`; `stage1` = the roles still below their guarantee, or None."""
        tree = self.tree
        filters = self.filters
        use_filters = bool(filters)
        record = stage1 is None
        mins = self.mins
        override_roles = self.override_roles
        for agent in agents:
            if not agent.available:
                continue
            aid = agent.id
            touched: list[RoleNode] = []
            for node in tree.order():
                role = node.name
                if stage1 is not None and role not in stage1:
                    continue
                offer, limited = self._offer(agent, role, stage1 is not None)
                if offer is None:
                    if record and limited is not None:
                        notes = self.role_notes.setdefault(role, {})
                        self._note(notes, aid, limited, agent.available)
                    continue
                check_each = role in override_roles
                ok = satisfies(offer.totals(), mins)
                if not ok and not check_each:
                    if record:
                        reason = limited or Reason.MIN_ALLOCATABLE
                        self._note(self.role_notes.setdefault(role, {}), aid, reason, offer)
                    continue
                fw_granted: list[str] = []
                for key in node.fw_list:
                    fid = key[2]
                    if check_each:
                        fw_mins = self.fw_mins.get((fid, role))
                        fw_ok = ok if fw_mins is None else satisfies(offer.totals(), fw_mins)
                        if not fw_ok:
                            if record:
                                reason = limited or Reason.MIN_ALLOCATABLE
                                notes = self.fw_notes.setdefault((fid, role), {})
                                self._note(notes, aid, reason, offer)
                            continue
                    if use_filters and filters.hides(fid, role, aid, offer, self.now) is not None:
                        if record:
                            # The framework declined all that is free here. On a partly used
                            # agent that means what is left is too little for it; a whole unused
                            # agent it simply does not want.
                            reason = INSUFFICIENT if agent.alloc else Reason.FILTERED
                            notes = self.fw_notes.setdefault((fid, role), {})
                            self._note(notes, aid, reason, offer)
                        continue
                    self._grant(agent, node, fid, offer)
                    fw_granted.append(fid)
                    if not agent.available:
                        break
                    nxt, limited = self._offer(agent, role, stage1 is not None)
                    if nxt is None:
                        break
                    offer = nxt
                    ok = satisfies(offer.totals(), mins)
                    if not ok and not check_each:
                        break
                if fw_granted:
                    tree.rekey_frameworks(node, fw_granted)
                    touched.append(node)
                    if not agent.available:
                        break
            if touched:
                tree.rekey_paths(touched)
                self.agents_with_grants.add(aid)

    def _offer(
        self, agent: AgentState, role: str, stage1: bool
    ) -> tuple[Resources | None, Reason | None]:
        """What `role` may be offered on `agent` now, and the quota reason if it was shrunk."""
        avail = agent.available
        offerable = avail.allocatable_to(role) if agent.reserved else avail
        if not offerable:
            return None, Reason.RESERVED_FOR_OTHER_ROLE
        quota = self.quota
        if quota is None:
            return offerable, None
        if stage1 and not quota.unmet(role):
            return None, None
        caps, why = quota.caps(role, stage1)
        if not caps:
            return offerable, None
        shrunk = shrink(offerable, caps)
        limited: Reason | None = None
        if shrunk != offerable:
            have = offerable.totals()
            got = shrunk.totals()
            cut = [why[n] for n in sorted(caps) if got.get(n, 0) < have.get(n, 0)]
            limited = Reason.QUOTA_LIMIT if Reason.QUOTA_LIMIT in cut else Reason.QUOTA_HEADROOM
        if stage1:
            got = shrunk.totals()
            if not any(got.get(n, 0) > 0 for n in quota.unmet(role)):
                return None, None
        if not shrunk:
            return None, limited
        return shrunk, limited

    def _grant(self, agent: AgentState, node: RoleNode, fid: str, offer: Resources) -> None:
        """Charge `offer` to (fid, role) on `agent` and record it as this cycle's offer."""
        role = node.name
        self.allocations.grant(agent, node, fid, offer)
        if self.quota is not None:
            self.quota.charge(role, offer)
        gk = (fid, agent.id, role)
        cur = self.offers.get(gk)
        self.offers[gk] = offer if cur is None else cur + offer
        self.granted.add((fid, role))
