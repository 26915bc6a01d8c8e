"""Refused-offer filters: a decline with `refuse_seconds` hides that agent from that framework.

Mesos `RefusedOfferFilter`: keyed by framework -> role -> agent; a filter hides an offer when the
refused resources contain the offer ("refused resources are a superset"), until it expires.
"""

from __future__ import annotations

from dcos_core.resources import Resources

MAX_REFUSE_SECONDS: float = 365 * 24 * 3600.0

_Entries = list[tuple[float, Resources]]  # (expires at, by clock.monotonic(); refused resources)


class RefuseFilters:
    """All outstanding refused-offer filters; expired ones are dropped when met.

    Example:
        >>> f = RefuseFilters()
        >>> f.add("fw", "web", "a1", Resources.parse("cpus:4"), until=10.0)
        >>> f.hides("fw", "web", "a1", Resources.parse("cpus:1"), now=5.0)
        10.0
        >>> f.hides("fw", "web", "a1", Resources.parse("cpus:1"), now=10.0) is None
        True
    """

    def __init__(self) -> None:
        self._by: dict[str, dict[str, dict[str, _Entries]]] = {}

    def __bool__(self) -> bool:
        return bool(self._by)

    def add(self, fw: str, role: str, agent: str, refused: Resources, until: float) -> None:
        """Hide offers of at most `refused` on `agent` to (`fw`, `role`) until `until`."""
        by_role = self._by.setdefault(fw, {})
        by_agent = by_role.setdefault(role, {})
        by_agent.setdefault(agent, []).append((until, refused))

    def hides(self, fw: str, role: str, agent: str, offer: Resources, now: float) -> float | None:
        """The expiry of a live filter that hides `offer`, or None if the offer may be made."""
        by_role = self._by.get(fw)
        if by_role is None:
            return None
        by_agent = by_role.get(role)
        if by_agent is None:
            return None
        entries = by_agent.get(agent)
        if entries is None:
            return None
        live = [e for e in entries if e[0] > now]
        if len(live) != len(entries):
            self._set(fw, role, agent, live)
        for until, refused in live:
            if refused.contains(offer):
                return until
        return None

    def _set(self, fw: str, role: str, agent: str, entries: _Entries) -> None:
        by_role = self._by[fw]
        by_agent = by_role[role]
        if entries:
            by_agent[agent] = entries
            return
        del by_agent[agent]
        if not by_agent:
            del by_role[role]
            if not by_role:
                del self._by[fw]

    def clear(self, fw: str, roles: set[str] | None = None) -> None:
        """Drop the filters of `fw` (for the given roles, or all of them)."""
        by_role = self._by.get(fw)
        if by_role is None:
            return
        for role in list(by_role) if roles is None else roles:
            by_role.pop(role, None)
        if not by_role:
            del self._by[fw]

    def clear_agent(self, agent: str) -> None:
        """Drop every filter on `agent` (it was removed)."""
        for fw in list(self._by):
            for role in list(self._by[fw]):
                if agent in self._by[fw][role]:
                    self._set(fw, role, agent, [])

    def count(self, now: float) -> int:
        """Filters still live at `now`."""
        return sum(
            1
            for by_role in self._by.values()
            for by_agent in by_role.values()
            for entries in by_agent.values()
            for until, _r in entries
            if until > now
        )
