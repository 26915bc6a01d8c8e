"""Why a framework got no offer for a role: the per-agent notes of a cycle, summed up.

The cycle (`cycle.CycleRunner`) notes, per agent it looked at, why a (framework, role) got nothing
there and what the agent had free for the role. `record()` turns those notes into one `WhyEntry`
per (framework, role) that got nothing: the blocking reason (the one seen on the most agents) and
the counts. Details and the per-agent list are rendered only when asked (`WhyEntry.render`), so a
cycle pays for counting, never for text.

Example:
    >>> from dcos_core.resources import Resources
    >>> facts = CycleFacts(candidates=["a1", "a2"], granted=set())
    >>> free = Resources.parse("cpus:0.5;mem:900")
    >>> e = record(({"a1": (Reason.INSUFFICIENT_RESOURCES, free)},), facts, at=1.0)
    >>> e.reason, e.counts[Reason.NO_AGENT_FITS]
    (<Reason.INSUFFICIENT_RESOURCES: 'INSUFFICIENT_RESOURCES'>, 1)
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from dcos_core.allocator.cycle import AgentNote, Notes
from dcos_core.allocator.types import REASON_PRIORITY, Reason
from dcos_core.resources import EMPTY, Resources

AGENTS_SHOWN = 50
"""At most this many agents are listed per role (the counts cover every agent)."""

_MAIN_SCALARS = ("cpus", "mem", "disk", "gpus")
_UNITS = {"mem": " MiB", "disk": " MiB"}
_RANK = {r: i for i, r in enumerate(REASON_PRIORITY)}


@dataclass(slots=True)
class CycleFacts:
    """What one cycle saw, shared by every entry it recorded."""

    candidates: list[str]  # the active agents it visited
    granted: set[str]  # the agents that gave something to some framework


@dataclass(slots=True)
class WhyEntry:
    """The recorded reason of one (framework, role) that got nothing in a cycle."""

    reason: Reason
    at: float
    fixed_detail: str | None = None  # INACTIVE, SUPPRESSED, NO_AGENTS: no per-agent view
    counts: dict[Reason, int] = field(default_factory=dict)  # agents per reason
    notes: tuple[Notes, ...] = ()
    facts: CycleFacts | None = None

    def agent_reasons(self) -> Iterable[tuple[str, AgentNote]]:
        """(agent id, (reason, free)) for every agent the cycle visited."""
        noted: dict[str, AgentNote] = {}
        for n in self.notes:
            noted.update(n)
        yield from noted.items()
        if self.facts is None:
            return
        for aid in self.facts.candidates:
            if aid in noted:
                continue
            if aid in self.facts.granted:
                yield aid, (Reason.LOWER_SHARE_FIRST, EMPTY)
            else:
                yield aid, (Reason.NO_AGENT_FITS, EMPTY)

    def render(self, total_of: Callable[[str], Resources | None]) -> dict[str, object]:
        """`{"reason", "detail", "at", "agents", "agent_counts"}`; `total_of(agent_id)` is the
        agent's total now (None if it is gone)."""
        out: dict[str, object] = {"reason": self.reason, "at": self.at}
        if self.fixed_detail is not None:
            out["detail"] = self.fixed_detail
            return out
        rows = sorted(self.agent_reasons(), key=lambda x: (_RANK.get(x[1][0], 99), x[0]))
        agents: list[dict[str, object]] = []
        scarce: dict[str, int] = {}
        most_free: dict[str, int] = {}
        for aid, (reason, free) in rows:
            total = total_of(aid)
            name = scarcest(free, total) if total is not None else None
            if reason == Reason.INSUFFICIENT_RESOURCES and name is not None:
                scarce[name] = scarce.get(name, 0) + 1
            if reason in (Reason.INSUFFICIENT_RESOURCES, Reason.FILTERED):
                for n, v in free.totals().items():
                    most_free[n] = max(most_free.get(n, 0), v)
            if len(agents) < AGENTS_SHOWN:
                agents.append(
                    {
                        "agent_id": aid,
                        "reason": reason,
                        "detail": agent_detail(reason, free, total, name),
                        "free": _scalars(free),
                    }
                )
        out["detail"] = self._detail(scarce, most_free)
        out["agents"] = agents
        out["agent_counts"] = {str(r): n for r, n in _ordered(self.counts) if n}
        if scarce:
            out["scarce"] = max(scarce, key=lambda n: (scarce[n], -_MAIN_SCALARS.index(n)))
        return out

    def _detail(self, scarce: dict[str, int], most_free: dict[str, int]) -> str:
        parts: list[str] = []
        ordered = _ordered(self.counts)
        ordered.sort(key=lambda x: x[0] != self.reason)  # the reported reason first
        for reason, n in ordered:
            if not n:
                continue
            if reason == Reason.INSUFFICIENT_RESOURCES:
                names = sorted(scarce, key=lambda k: (-scarce[k], _MAIN_SCALARS.index(k)))
                what = "insufficient " + (" and ".join(names) if names else "resources")
                parts.append(
                    f"{what} on {n} agent(s): the framework declined what is left there"
                    + (f" ({_text(most_free)} at most)" if most_free else "")
                )
            elif reason == Reason.FILTERED:
                parts.append(f"the framework declined {n} whole unused agent(s)")
            elif reason == Reason.LOWER_SHARE_FIRST:
                parts.append(
                    f"{n} agent(s) went to roles or frameworks with a lower (weighted) "
                    "dominant share first"
                )
            elif reason == Reason.NO_AGENT_FITS:
                parts.append(f"nothing free on {n} agent(s)")
            else:
                parts.append(f"{reason.value.lower()} on {n} agent(s)")
        return "; ".join(parts) or "no active agent has unallocated resources"


def record(notes: tuple[Notes, ...], facts: CycleFacts, at: float) -> WhyEntry:
    """The entry of a (framework, role) from its notes of one cycle (role-level first).

    Every visited agent counts once: its note if it has one, else LOWER_SHARE_FIRST if it gave
    something to someone, else NO_AGENT_FITS (nothing free). The reason is the one on the most
    agents, ties broken by `REASON_PRIORITY`; NO_AGENT_FITS wins only when nothing else was seen.
    """
    counts: dict[Reason, int] = {}
    noted = 0
    noted_granted = 0
    granted = facts.granted
    for n in notes:
        for aid, (reason, _free) in n.items():
            counts[reason] = counts.get(reason, 0) + 1
            noted += 1
            if aid in granted:
                noted_granted += 1
    others = len(granted) - noted_granted
    if others > 0:
        counts[Reason.LOWER_SHARE_FIRST] = others
    nothing_free = len(facts.candidates) - noted - max(others, 0)
    reason = Reason.NO_AGENT_FITS
    if counts:
        best = max(counts.values())
        reason = next(r for r in REASON_PRIORITY if counts.get(r) == best)
    if nothing_free > 0:
        counts[Reason.NO_AGENT_FITS] = nothing_free
    return WhyEntry(reason, at, counts=counts, notes=notes, facts=facts)


def scarcest(free: Resources, total: Resources) -> str | None:
    """The main scalar (cpus, mem, disk, gpus) with the smallest free part of the agent's total.

    Example:
        >>> scarcest(Resources.parse("cpus:0.5;mem:900"), Resources.parse("cpus:2;mem:1024"))
        'cpus'
    """
    have = total.totals()
    got = free.totals()
    best: tuple[float, str] | None = None
    for name in _MAIN_SCALARS:
        t = have.get(name, 0)
        if t <= 0:
            continue
        part = got.get(name, 0) / t
        if best is None or part < best[0]:
            best = (part, name)
    return best[1] if best is not None else None


def agent_detail(
    reason: Reason, free: Resources, total: Resources | None, scarce: str | None
) -> str:
    """One line on one agent: what blocks the framework there."""
    if reason == Reason.INSUFFICIENT_RESOURCES:
        if scarce is not None and total is not None:
            return (
                f"insufficient {scarce}: {_num(free.scalar(scarce))}{_UNITS.get(scarce, '')} "
                f"of {_num(total.scalar(scarce))} free; the framework declined what is left"
            )
        return "the framework declined what is left"
    if reason == Reason.FILTERED:
        return f"the framework declined the whole agent ({_text(free.totals())})"
    if reason == Reason.NO_AGENT_FITS:
        return "nothing free"
    if reason == Reason.LOWER_SHARE_FIRST:
        return "offered to a role or framework with a lower share first"
    if reason == Reason.MIN_ALLOCATABLE:
        return f"what is left ({_text(free.totals())}) is below the minimum allocatable"
    if reason == Reason.QUOTA_LIMIT:
        return "the role reached its quota limit"
    if reason == Reason.QUOTA_HEADROOM:
        return "the free resources are held back for other roles' quota guarantees"
    if reason == Reason.RESERVED_FOR_OTHER_ROLE:
        return "the free resources are reserved for other roles"
    return reason.value.lower()


def _ordered(counts: dict[Reason, int]) -> list[tuple[Reason, int]]:
    return sorted(counts.items(), key=lambda x: (-x[1], _RANK.get(x[0], 99)))


def _scalars(r: Resources) -> dict[str, float]:
    return {name: v / 1000 for name, v in sorted(r.totals().items())}


def _num(v: float) -> str:
    return f"{v:.3f}".rstrip("0").rstrip(".")


def _text(totals: dict[str, int]) -> str:
    names = [n for n in _MAIN_SCALARS if n in totals] + sorted(
        n for n in totals if n not in _MAIN_SCALARS
    )
    return ", ".join(f"{n} {_num(totals[n] / 1000)}{_UNITS.get(n, '')}" for n in names)
