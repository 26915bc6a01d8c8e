"""Values the allocator takes and returns: its configuration, quotas, offer grants, reasons."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from dcos_core.errors import InvalidError
from dcos_core.resources import UNRESERVED, Resources

MinAllocatable = tuple[Resources, ...]


def _default_min_allocatable() -> MinAllocatable:
    return (Resources.parse("cpus:0.01"), Resources.parse("mem:32"))


@dataclass(frozen=True)
class AllocatorConfig:
    """Allocator knobs, with the Mesos master defaults.

    Args:
        min_allocatable: an offer is made only if it holds at least one of these quantities
            (Mesos `--min_allocatable_resources`, default `cpus:0.01|mem:32`); empty = any.
        default_refuse_seconds: the filter length used when a framework asks for a negative one.
        fair_sharing_excluded: resource names left out of dominant shares (e.g. `{"gpus"}`).

    Example:
        >>> AllocatorConfig.parse_min_allocatable("cpus:1|mem:64")
        (Resources('cpus:1'), Resources('mem:64'))
    """

    min_allocatable: MinAllocatable = field(default_factory=_default_min_allocatable)
    default_refuse_seconds: float = 5.0
    fair_sharing_excluded: frozenset[str] = frozenset()

    @staticmethod
    def parse_min_allocatable(text: str) -> MinAllocatable:
        """Parse the Mesos flag form `cpus:0.01|mem:32` (alternatives separated by `|`).

        Only unreserved scalars are allowed: the minimum is a quantity, not a reservation.
        """
        out: list[Resources] = []
        for part in filter(None, (p.strip() for p in text.split("|"))):
            r = Resources.parse(part)
            for (name, role, _kind), value in r:
                if not isinstance(value, int):
                    raise InvalidError(f"'{name}' is not a scalar", "min_allocatable")
                if role != UNRESERVED:
                    raise InvalidError(f"'{name}' must not be reserved", "min_allocatable")
            out.append(r)
        return tuple(out)


@dataclass(frozen=True, slots=True)
class OfferGrant:
    """One offer to make: everything given on one agent to one role of one framework."""

    framework_id: str
    agent_id: str
    role: str
    resources: Resources


@dataclass(frozen=True)
class Quota:
    """A role's quota: guaranteed and maximum scalar quantities (reservations count as used).

    Args:
        guarantees: resources kept available for the role before fair sharing (scalars only).
        limits: the most the role may hold (scalars only); `None` means no limit. A name not
            in `limits` is not limited.
        zero_limits: names limited to 0 (a `Resources` value cannot hold a zero quantity, so
            `limits=Resources.parse("cpus:0")` would mean "no cpu limit"; use
            `Quota.parse("", "cpus:0")` or this field instead).

    Example:
        >>> Quota.parse("cpus:1", "cpus:4;gpus:0").limit_totals()
        {'cpus': 4000, 'gpus': 0}
    """

    guarantees: Resources
    limits: Resources | None = None
    zero_limits: frozenset[str] = frozenset()

    @staticmethod
    def parse(guarantees: str, limits: str | None = None) -> Quota:
        """Build from the flag form; `name:0` in `limits` becomes a zero limit."""
        zero: set[str] = set()
        if limits is not None:
            for part in filter(None, (p.strip() for p in limits.split(";"))):
                name, _sep, value = part.partition(":")
                try:
                    if float(value) == 0:
                        zero.add(name.strip())
                except ValueError:
                    pass
        return Quota(
            Resources.parse(guarantees),
            None if limits is None else Resources.parse(limits),
            frozenset(zero),
        )

    def limit_totals(self) -> dict[str, int] | None:
        """Limits in thousandths per name, zero limits included; None if there are none."""
        if self.limits is None and not self.zero_limits:
            return None
        out = dict(self.limits.totals()) if self.limits is not None else {}
        for name in self.zero_limits:
            out[name] = 0
        return out

    def __post_init__(self) -> None:
        for label, res in (("guarantees", self.guarantees), ("limits", self.limits)):
            if res is None:
                continue
            for (name, role, _kind), value in res:
                if not isinstance(value, int):
                    raise InvalidError(f"quota on non-scalar '{name}'", f"quota.{label}")
                if role != UNRESERVED:
                    raise InvalidError(f"quota on reserved '{name}({role})'", f"quota.{label}")
        lim = self.limit_totals()
        if lim is not None:
            for name, g in self.guarantees.totals().items():
                if name in lim and g > lim[name]:
                    raise InvalidError(f"guarantee of '{name}' exceeds its limit", "quota")


class Reason(StrEnum):
    """Why a framework got no offer for a role in the last allocation cycle.

    Recorded per agent; the framework-level reason is the one seen on the most agents (ties:
    the earliest in `REASON_PRIORITY`), agents with nothing free at all counting only when no
    agent had anything free for the role.
    """

    NO_AGENTS = "NO_AGENTS"
    """No agent is registered and active (all are missing, deactivated or draining)."""
    NO_AGENT_FITS = "NO_AGENT_FITS"
    """Nothing was free on the agent(s): everything is used by tasks or offered to others."""
    INACTIVE = "INACTIVE"
    """The framework is deactivated (disconnected): it keeps its allocation, gets no offers."""
    SUPPRESSED = "SUPPRESSED"
    """The framework suppressed offers for the role."""
    INSUFFICIENT_RESOURCES = "INSUFFICIENT_RESOURCES"
    """What is left on a partly used agent is too little: the framework declined that much (a
    refuse filter hides it) and nothing more has become free there since."""
    FILTERED = "FILTERED"
    """The framework declined a whole, unused agent (a refuse filter hides it): it does not want
    that agent (constraints, nothing to launch, or tasks bigger than the agent)."""
    QUOTA_LIMIT = "QUOTA_LIMIT"
    """The role (or an ancestor) reached its quota limit."""
    QUOTA_HEADROOM = "QUOTA_HEADROOM"
    """The free resources are held back for other roles' unmet quota guarantees."""
    MIN_ALLOCATABLE = "MIN_ALLOCATABLE"
    """What was left on the agents was below the minimum allocatable resources."""
    RESERVED_FOR_OTHER_ROLE = "RESERVED_FOR_OTHER_ROLE"
    """The free resources are reserved for roles the framework is not subscribed to."""
    LOWER_SHARE_FIRST = "LOWER_SHARE_FIRST"
    """Roles or frameworks with a lower (weighted) dominant share took the free resources first."""


# The reason reported when several were seen in one cycle: among those seen on the most agents,
# the earliest in this tuple wins (so the report is deterministic). Causes that block whatever
# the framework does (quota, too little left) come before its own choices (filters) and before
# the fair-share order; NO_AGENT_FITS (nothing free at all) is last: it is reported only when no
# agent had anything free for the role.
REASON_PRIORITY: tuple[Reason, ...] = (
    Reason.QUOTA_LIMIT,
    Reason.QUOTA_HEADROOM,
    Reason.INSUFFICIENT_RESOURCES,
    Reason.MIN_ALLOCATABLE,
    Reason.RESERVED_FOR_OTHER_ROLE,
    Reason.FILTERED,
    Reason.LOWER_SHARE_FIRST,
    Reason.NO_AGENT_FITS,
)
