"""Quota bookkeeping for one allocation cycle: consumption, headroom and offer caps.

* consumption(role) = scalars allocated in the role's subtree (offered + used) + its unallocated
  reservations ("Quota consumption = allocations + reservations", Mesos docs/quota.md);
* headroom = unreserved scalars not allocated on active agents;
* a role may take unreserved scalars only up to its limits (and its ancestors'), and only as far
  as the headroom left stays enough for the unmet guarantees of *other* roles.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from dcos_core.allocator.sorter import Millis, add_millis
from dcos_core.allocator.types import Quota, Reason
from dcos_core.resources import UNRESERVED, Resources, is_ancestor_or_self


def ancestors_or_self(role: str) -> list[str]:
    """`eng/web/x` -> `["eng/web/x", "eng/web", "eng"]`."""
    out = [role]
    while "/" in role:
        role = role.rsplit("/", 1)[0]
        out.append(role)
    return out


class QuotaCycle:
    """Quota state during one cycle, updated as grants are made."""

    def __init__(
        self,
        quotas: Mapping[str, Quota],
        subtree_alloc: Mapping[str, Mapping[str, int]],
        free: Iterable[tuple[Resources, bool]],
    ) -> None:
        """Start a cycle.

        Args:
            quotas: role -> quota.
            subtree_alloc: role -> scalars allocated in its subtree (for the quota roles).
            free: (unallocated resources, agent is active) of the agents; inactive agents count
                for unallocated reservations only, not for headroom.
        """
        self.guarantees = {r: q.guarantees.totals() for r, q in quotas.items() if q.guarantees}
        self.limits: dict[str, Millis] = {}
        for r, q in quotas.items():
            lim = q.limit_totals()
            if lim is not None:
                self.limits[r] = lim
        self.consumed: dict[str, Millis] = {r: dict(subtree_alloc.get(r, {})) for r in quotas}
        self.headroom: Millis = {}
        for res, active in free:
            for (name, rrole, _k), v in res:
                if not isinstance(v, int):
                    continue
                if rrole == UNRESERVED:
                    if not active:
                        continue
                    self.headroom[name] = self.headroom.get(name, 0) + v
                    continue
                for qrole, c in self.consumed.items():
                    if is_ancestor_or_self(qrole, rrole):
                        c[name] = c.get(name, 0) + v

    def unmet(self, role: str) -> Millis:
        """What `role` still lacks of its guarantee (empty if it has none or it is met)."""
        g = self.guarantees.get(role)
        if not g:
            return {}
        c = self.consumed[role]
        return {n: v - c.get(n, 0) for n, v in g.items() if v > c.get(n, 0)}

    def roles_below_guarantee(self) -> set[str]:
        """Roles whose guarantee is not met yet (they take part in stage 1)."""
        return {r for r in self.guarantees if self.unmet(r)}

    def caps(self, role: str, stage1: bool) -> tuple[Millis, dict[str, Reason]]:
        """Most unreserved scalar millis `role` may get now, per name, and what limits each.

        Names without an entry are not capped. In stage 1 the guaranteed names are capped at
        what is still unmet, so that stage 1 only makes progress toward the guarantee.
        """
        caps: Millis = {}
        why: dict[str, Reason] = {}
        mine = ancestors_or_self(role)
        for q in mine:
            lim = self.limits.get(q)
            if lim:
                c = self.consumed[q]
                for n, v in lim.items():
                    rem = max(v - c.get(n, 0), 0)
                    if n not in caps or rem < caps[n]:
                        caps[n] = rem
                        why[n] = Reason.QUOTA_LIMIT
        needed: Millis = {}
        for q in self.guarantees:
            if q not in mine:
                add_millis(needed, self.unmet(q))
        own = self.unmet(role) if stage1 else {}
        for n, need in needed.items():
            if n in own:
                continue
            rem = max(self.headroom.get(n, 0) - need, 0)
            if n not in caps or rem < caps[n]:
                caps[n] = rem
                why[n] = Reason.QUOTA_HEADROOM
        for n, v in own.items():
            if n not in caps or v < caps[n]:
                caps[n] = v
                why.setdefault(n, Reason.QUOTA_LIMIT)
        return caps, why

    def charge(self, role: str, offer: Resources) -> None:
        """Account a grant of `offer` to `role`."""
        mine = [q for q in ancestors_or_self(role) if q in self.consumed]
        for (name, rrole, _k), v in offer:
            if not isinstance(v, int):
                continue
            if rrole == UNRESERVED:
                self.headroom[name] = self.headroom.get(name, 0) - v
            for q in mine:
                # a reservation inside q's subtree was already counted as consumed by q
                if rrole == UNRESERVED or not is_ancestor_or_self(q, rrole):
                    c = self.consumed[q]
                    c[name] = c.get(name, 0) + v


def shrink(offerable: Resources, caps: Mapping[str, int]) -> Resources:
    """Cap the unreserved scalars of `offerable`; reserved and non-scalar parts are kept."""
    if not caps:
        return offerable
    out = {}
    for key, v in offerable:
        name, rrole, _k = key
        if isinstance(v, int) and rrole == UNRESERVED and name in caps:
            v = min(v, caps[name])
        out[key] = v
    return Resources(out)
