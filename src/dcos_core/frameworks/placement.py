"""Pure placement: fit app instances into v1 offers, with Marathon's constraints and reasons.

Two layers, both free of I/O:

* `check_constraints(constraints, agent, placed)` is the feasibility check of Marathon's
  constraints (`docs/constraints.md`): `UNIQUE`, `CLUSTER`, `GROUP_BY`, `LIKE`, `UNLIKE`,
  `MAX_PER`, `IS`. It returns `None` or a human reason.
* `OfferMatcher` is one allocation round: it walks the offers in the order given (first fit),
  checks role, constraints, maintenance, cpus/mem/disk/gpus and ports, and takes what it uses out of
  the offer's remainder with exact `Resources` arithmetic, so that nothing is handed out twice. Each
  offer it could not use is counted under its first failing reason, in Marathon's funnel order
  (`REASONS`), for `/v2/queue` `processedOffersSummary` and `lastUnusedOffers`.

Example:
    >>> offer = {"id": {"value": "O1"}, "agent_id": {"value": "S1"}, "hostname": "h1",
    ...          "resources": [{"name": "cpus", "type": "SCALAR", "scalar": {"value": 1}},
    ...                        {"name": "mem", "type": "SCALAR", "scalar": {"value": 256}}]}
    >>> m = OfferMatcher([offer])
    >>> m.match("/web", Request(cpus=0.5, mem=128), []).offer_id
    'O1'
    >>> m.remaining("O1").scalar("cpus"), m.match("/web", Request(cpus=0.6, mem=1), [])
    (0.5, None)
    >>> m.rejections("/web")
    {'InsufficientCpus': 1}
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from typing import Any, Final, NamedTuple

from dcos_core.errors import NotFoundError
from dcos_core.frameworks.sdk_protocol import (
    offer_agent_id,
    offer_id,
    offer_resources,
    offer_role,
)
from dcos_core.resources import UNRESERVED, Key, Resources, Value, merge_ranges, to_millis

# ------------------------------------------------------------------------------------------------
# reasons (Marathon's NoOfferMatchReason)

UNFULFILLED_ROLE: Final = "UnfulfilledRole"
UNFULFILLED_CONSTRAINT: Final = "UnfulfilledConstraint"
AGENT_UNAVAILABLE: Final = "AgentMaintenance"
INSUFFICIENT_CPUS: Final = "InsufficientCpus"
INSUFFICIENT_MEMORY: Final = "InsufficientMemory"
INSUFFICIENT_DISK: Final = "InsufficientDisk"
INSUFFICIENT_GPUS: Final = "InsufficientGpus"
INSUFFICIENT_PORTS: Final = "InsufficientPorts"
DECLINED_SCARCE_RESOURCES: Final = "DeclinedScarceResources"

REASONS: Final[tuple[str, ...]] = (
    UNFULFILLED_ROLE,
    UNFULFILLED_CONSTRAINT,
    AGENT_UNAVAILABLE,
    INSUFFICIENT_CPUS,
    INSUFFICIENT_MEMORY,
    INSUFFICIENT_DISK,
    INSUFFICIENT_GPUS,
    INSUFFICIENT_PORTS,
    DECLINED_SCARCE_RESOURCES,
)
"""Marathon's `NoOfferMatchReason.reasonFunnel` order: an offer counts under its first failure."""

OPERATORS: Final = ("UNIQUE", "CLUSTER", "GROUP_BY", "LIKE", "UNLIKE", "MAX_PER", "IS")
_SCALAR_REASONS: Final = (
    ("cpus", INSUFFICIENT_CPUS),
    ("mem", INSUFFICIENT_MEMORY),
    ("disk", INSUFFICIENT_DISK),
    ("gpus", INSUFFICIENT_GPUS),
)


# ------------------------------------------------------------------------------------------------
# data


@dataclass(frozen=True)
class AgentInfo:
    """What constraints look at: the agent's id, hostname and flattened attributes.

    `attributes` maps an attribute name to its text form (a scalar rounded to thousandths,
    ranges as `[a-b,c-d]`, sets as `{x,y}`); the agent's fault domain, if any, adds `region` and
    `zone` (for the `@region` / `@zone` fields) unless attributes of those names exist.
    """

    agent_id: str
    hostname: str
    attributes: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class PlacedInstance:
    """An existing instance of the same app: running, staging, or matched earlier this round."""

    agent_id: str
    hostname: str
    attributes: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Request:
    """One instance of an app to place.

    `ports` are host ports: 0 = the lowest free port of the offer, any other number = exactly that
    port (`require_ports` is recorded for the caller; with it, pass the fixed ports, not 0).
    `accepted_roles` None = the matcher's `default_roles` (Marathon: `*` plus the framework role).
    `constraints` are Marathon triples `[field, operator, value?]`.
    """

    cpus: float
    mem: float
    disk: float = 0.0
    gpus: int = 0
    ports: tuple[int, ...] = ()
    require_ports: bool = False
    accepted_roles: tuple[str, ...] | None = None
    constraints: tuple[tuple[str, ...], ...] = ()


@dataclass(frozen=True)
class Match:
    """Where one instance goes and exactly what it takes from the offer."""

    offer_id: str
    agent_id: str
    resources: list[dict[str, Any]]
    """v1 `Resource` JSON for `TaskInfo.resources` (with the offer's `allocation_info`)."""
    host_ports: tuple[int, ...]
    """The ports chosen, in the order of `Request.ports`."""


class Rejection(NamedTuple):
    """Why one offer was not used for an app: a `REASONS` code and a human detail."""

    reason: str
    detail: str


# ------------------------------------------------------------------------------------------------
# agents


def _fmt_scalar(value: Any) -> str:
    try:
        d = Decimal(str(value)).quantize(Decimal("0.001"), rounding=ROUND_HALF_EVEN)
    except (InvalidOperation, ValueError):
        return str(value)
    text = format(d, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def attribute_text(attr: Mapping[str, Any]) -> str | None:
    """The text form of one v1 `Attribute` (None if it has no value we understand)."""
    kind = attr.get("type")
    if kind == "TEXT" or (kind is None and "text" in attr):
        text = attr.get("text")
        return str(text.get("value", "")) if isinstance(text, Mapping) else None
    if kind == "SCALAR" or (kind is None and "scalar" in attr):
        scalar = attr.get("scalar")
        return _fmt_scalar(scalar.get("value")) if isinstance(scalar, Mapping) else None
    if kind == "RANGES" or (kind is None and "ranges" in attr):
        ranges = attr.get("ranges")
        rng = ranges.get("range", []) if isinstance(ranges, Mapping) else []
        return "[" + ",".join(f"{r.get('begin')}-{r.get('end')}" for r in rng) + "]"
    if kind == "SET" or (kind is None and "set" in attr):
        items = attr.get("set")
        values = items.get("item", []) if isinstance(items, Mapping) else []
        return "{" + ",".join(str(v) for v in values) + "}"
    return None


def agent_of_offer(offer: Mapping[str, Any]) -> AgentInfo:
    """The `AgentInfo` of a v1 `Offer` (hostname, attributes, fault domain region/zone)."""
    attributes: dict[str, str] = {}
    for attr in offer.get("attributes") or []:
        if isinstance(attr, Mapping) and isinstance(attr.get("name"), str):
            text = attribute_text(attr)
            if text is not None:
                attributes[attr["name"]] = text
    domain = offer.get("domain")
    fault = domain.get("fault_domain") if isinstance(domain, Mapping) else None
    if isinstance(fault, Mapping):
        for level in ("region", "zone"):
            part = fault.get(level)
            name = part.get("name") if isinstance(part, Mapping) else None
            if isinstance(name, str):
                attributes.setdefault(level, name)
    return AgentInfo(offer_agent_id(offer), str(offer.get("hostname", "")), attributes)


# ------------------------------------------------------------------------------------------------
# constraints

_Host = AgentInfo | PlacedInstance


def _value_of(fld: str, host: _Host) -> str | None:
    if fld in ("hostname", "@hostname"):
        return host.hostname
    if fld in ("@region", "@zone"):
        return host.attributes.get(fld[1:])
    return host.attributes.get(fld)


def _parse_int(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def _equal(attr: str, wanted: str) -> bool:
    """Text equality; two numbers are equal if they agree to thousandths (Marathon's `IS`)."""
    if attr == wanted:
        return True
    try:
        return to_millis(attr) == to_millis(wanted)
    except ValueError:
        return False


def _check_one(
    constraint: Sequence[str],
    agent: AgentInfo,
    placed: Sequence[PlacedInstance],
    candidates: Sequence[AgentInfo],
) -> str | None:
    if len(constraint) < 2:
        return f"malformed constraint {list(constraint)}: needs [field, operator, value?]"
    fld, op = constraint[0], constraint[1].upper()
    param = constraint[2] if len(constraint) > 2 else None
    where = f"{op} {fld}"
    who = f"agent {agent.hostname or agent.agent_id}"
    value = _value_of(fld, agent)
    if op == "UNLIKE":
        if param is None:
            return f"{where}: needs a regular expression"
        try:
            hit = value is not None and re.fullmatch(param, value) is not None
        except re.error as e:
            return f"{where}: invalid regular expression {param!r}: {e}"
        return f"{where}: {who} has {value!r}, which matches {param!r}" if hit else None
    if op not in OPERATORS:
        return f"{where}: unknown operator {constraint[1]!r}"
    if value is None:
        return f"{where}: {who} has no attribute {fld!r}"
    others = [v for v in (_value_of(fld, p) for p in placed) if v is not None]
    if op == "UNIQUE":
        if value in others:
            return f"{where}: {who} already runs an instance ({fld}={value!r})"
        return None
    if op == "CLUSTER":
        target = param if param else (others[0] if others else None)
        if target is not None and value != target:
            return f"{where}: {who} has {value!r}, the app runs on {target!r}"
        return None
    if op == "GROUP_BY":
        return _check_group_by(where, who, fld, value, param, others, candidates)
    if op == "LIKE":
        if param is None:
            return f"{where}: needs a regular expression"
        try:
            hit = re.fullmatch(param, value) is not None
        except re.error as e:
            return f"{where}: invalid regular expression {param!r}: {e}"
        return None if hit else f"{where}: {who} has {value!r}, which does not match {param!r}"
    if op == "MAX_PER":
        limit = _parse_int(param)
        if limit is None:
            return f"{where}: needs an integer value, got {param!r}"
        count = others.count(value)
        if count >= limit:
            return f"{where}: {fld}={value!r} already has {count} of at most {limit} instances"
        return None
    # IS
    if param is None:
        return f"{where}: needs a value"
    return None if _equal(value, param) else f"{where}: {who} has {value!r}, not {param!r}"


def _check_group_by(
    where: str,
    who: str,
    fld: str,
    value: str,
    param: str | None,
    others: list[str],
    candidates: Sequence[AgentInfo],
) -> str | None:
    groups = 0
    if param:
        parsed = _parse_int(param)
        if parsed is None:
            return f"{where}: needs an integer value, got {param!r}"
        groups = parsed
    counts = Counter(others)
    if value not in counts:
        return None  # an empty group is always among the smallest
    known = set(counts) | {v for v in (_value_of(fld, c) for c in candidates) if v is not None}
    smallest = 0 if max(groups, len(known)) > len(counts) else min(counts.values())
    if counts[value] > smallest:
        return (
            f"{where}: {who} has {fld}={value!r} with {counts[value]} instances, "
            f"another group has {smallest}"
        )
    return None


def check_constraints(
    constraints: Sequence[Sequence[str]],
    agent: AgentInfo,
    placed: Sequence[PlacedInstance],
    *,
    candidates: Sequence[AgentInfo] = (),
) -> str | None:
    """None if `agent` may take one more instance given `placed`, else the first failing reason.

    Semantics of Marathon's `docs/constraints.md`. An agent without the attribute satisfies
    only `UNLIKE`. `GROUP_BY` places on a value only if no known group has fewer instances; the
    known groups are the placed values, `N` groups when given (`["rack", "GROUP_BY", "3"]`), and
    the values of `candidates` (e.g. the agents offered this round), unseen ones counting 0.
    A malformed constraint (unknown operator, bad regex, missing number) is never satisfied.
    """
    for constraint in constraints:
        reason = _check_one(constraint, agent, placed, candidates)
        if reason is not None:
            return reason
    return None


# ------------------------------------------------------------------------------------------------
# matching


def _preference(key: Key) -> tuple[bool, str, str]:
    """Reserved slots first (by role, then kind), unreserved last."""
    return (key[1] == UNRESERVED, key[1], key[2])


def _lowest_free(ranges: Value, chosen: set[int]) -> int | None:
    assert isinstance(ranges, tuple)
    for begin, end in ranges:
        port = begin
        while port <= end:
            if port not in chosen:
                return port
            port += 1
    return None


class _OfferState:
    __slots__ = ("agent", "id", "offer", "remaining", "role", "total", "unavailable")

    def __init__(self, offer: Mapping[str, Any], now: float | None) -> None:
        self.offer = offer
        self.id = offer_id(offer)
        self.agent = agent_of_offer(offer)
        self.role = offer_role(offer)
        self.total = offer_resources(offer)
        self.remaining = self.total
        self.unavailable = now is not None and _in_maintenance(offer, now)


def _in_maintenance(offer: Mapping[str, Any], now: float) -> bool:
    """True if `now` (seconds) lies in the offer's `unavailability` window (Mesos maintenance)."""
    window = offer.get("unavailability")
    if not isinstance(window, Mapping):
        return False
    start = window.get("start")
    if not isinstance(start, Mapping):
        return False
    begin = int(start.get("nanoseconds", 0))
    now_ns = round(now * 1e9)
    duration = window.get("duration")
    if isinstance(duration, Mapping) and "nanoseconds" in duration:
        return begin <= now_ns < begin + int(duration["nanoseconds"])
    return begin <= now_ns


class OfferMatcher:
    """Fits instances into offers; one matcher per allocation round.

    It remembers what it has taken from each offer and where each app's instances went in this
    round, so a later `match` sees less and counts them for constraints.

    `now` (epoch seconds), when given, makes offers inside their `unavailability` window fail with
    `AgentMaintenance`. `gpu_scheduling_behavior="restricted"` (Marathon's flag) keeps offers with
    GPUs for apps that want GPUs: other apps get `DeclinedScarceResources`.
    """

    def __init__(
        self,
        offers: Sequence[Mapping[str, Any]],
        default_roles: tuple[str, ...] = (UNRESERVED,),
        *,
        now: float | None = None,
        gpu_scheduling_behavior: str = "unrestricted",
    ) -> None:
        self._offers = [_OfferState(o, now) for o in offers]
        self._by_id = {s.id: s for s in self._offers}
        self._default_roles = default_roles
        self._restrict_gpus = gpu_scheduling_behavior == "restricted"
        self._used: set[str] = set()
        self._placed: dict[str, list[PlacedInstance]] = {}
        self._rejected: dict[str, dict[str, Rejection]] = {}
        self._agents = [s.agent for s in self._offers]
        # (app_key, request) -> offers that can never fit it again in this round: their
        # remaining resources only shrink, so a resource or role rejection is final. Constraint
        # rejections are not (GROUP_BY may open up as other groups fill).
        self._exhausted: dict[tuple[str, Request], set[str]] = {}

    # ---- queries ---------------------------------------------------------------------------

    def rejections(self, app_key: str) -> dict[str, int]:
        """Reason -> number of offers rejected for it this round (offers not matched later)."""
        counts = Counter(r.reason for r in self._rejected.get(app_key, {}).values())
        return {reason: counts[reason] for reason in REASONS if counts[reason] > 0}

    def offer_rejections(self, app_key: str) -> dict[str, Rejection]:
        """Offer id -> its latest rejection for `app_key` (for `lastUnusedOffers`)."""
        return dict(self._rejected.get(app_key, {}))

    def placed(self, app_key: str) -> list[PlacedInstance]:
        """The instances of `app_key` matched in this round, in order."""
        return list(self._placed.get(app_key, []))

    def used_offer_ids(self) -> set[str]:
        return set(self._used)

    def unused_offer_ids(self) -> set[str]:
        return {s.id for s in self._offers} - self._used

    def remaining(self, offer_id: str) -> Resources:
        """What is left of an offer after this round's matches."""
        state = self._by_id.get(offer_id)
        if state is None:
            raise NotFoundError(f"offer '{offer_id}' is not part of this round")
        return state.remaining

    # ---- matching --------------------------------------------------------------------------

    def match(
        self, app_key: str, request: Request, placed: Sequence[PlacedInstance]
    ) -> Match | None:
        """Place one instance in the first offer (in the order given) that fits, or None."""
        roles = (
            request.accepted_roles if request.accepted_roles is not None else self._default_roles
        )
        # Only constraints look at where instances are: skip the (O(instances)) list otherwise.
        everyone = [*placed, *self._placed.get(app_key, [])] if request.constraints else []
        rejected = self._rejected.setdefault(app_key, {})
        exhausted = self._exhausted.setdefault((app_key, request), set())
        for state in self._offers:
            if state.id in exhausted:
                continue
            outcome = self._try(state, request, roles, everyone)
            if isinstance(outcome, Rejection):
                rejected[state.id] = outcome
                if outcome.reason != UNFULFILLED_CONSTRAINT:
                    exhausted.add(state.id)
                continue
            taken, ports = outcome
            state.remaining = state.remaining - taken
            self._used.add(state.id)
            rejected.pop(state.id, None)
            agent = state.agent
            self._placed.setdefault(app_key, []).append(
                PlacedInstance(agent.agent_id, agent.hostname, agent.attributes)
            )
            return Match(state.id, agent.agent_id, taken.to_v1(state.role), ports)
        return None

    def _try(
        self,
        state: _OfferState,
        request: Request,
        roles: tuple[str, ...],
        placed: Sequence[PlacedInstance],
    ) -> Rejection | tuple[Resources, tuple[int, ...]]:
        accepted = set(roles)
        if not state.total.filter(lambda k, _v: k[1] in accepted):
            return Rejection(
                UNFULFILLED_ROLE,
                f"offer has no resources for the accepted roles {sorted(accepted)}",
            )
        why = check_constraints(request.constraints, state.agent, placed, candidates=self._agents)
        if why is not None:
            return Rejection(UNFULFILLED_CONSTRAINT, why)
        if state.unavailable:
            return Rejection(AGENT_UNAVAILABLE, f"agent {state.agent.hostname} is in maintenance")
        usable = state.remaining.filter(lambda k, _v: k[1] in accepted)
        slots = sorted(usable, key=lambda kv: _preference(kv[0]))
        taken: dict[Key, Value] = {}
        wanted = (request.cpus, request.mem, request.disk, request.gpus)
        for (name, reason), amount in zip(_SCALAR_REASONS, wanted, strict=True):
            need = to_millis(amount, name)
            have = sum(v for k, v in slots if k[0] == name and isinstance(v, int))
            if have < need:
                return Rejection(reason, f"{name}: wanted {amount}, the offer has {have / 1000}")
            for key, v in slots:
                if need <= 0:
                    break
                if key[0] == name and isinstance(v, int):
                    part = min(v, need)
                    taken[key] = part
                    need -= part
        ports = self._take_ports(request, slots, taken)
        if isinstance(ports, Rejection):
            return ports
        if self._restrict_gpus and request.gpus == 0 and usable.scalar("gpus") > 0:
            return Rejection(
                DECLINED_SCARCE_RESOURCES, "the offer has GPUs and the app does not use them"
            )
        return Resources(taken), ports

    @staticmethod
    def _take_ports(
        request: Request, slots: list[tuple[Key, Value]], taken: dict[Key, Value]
    ) -> Rejection | tuple[int, ...]:
        port_slots = [(k, v) for k, v in slots if k[0] == "ports" and isinstance(v, tuple)]
        chosen: list[int] = []
        by_slot: dict[Key, list[tuple[int, int]]] = {}
        for wanted in request.ports:
            used = set(chosen)
            pick: tuple[Key, int] | None = None
            if wanted:
                for key, ranges in port_slots:
                    assert isinstance(ranges, tuple)
                    if wanted not in used and any(b <= wanted <= e for b, e in ranges):
                        pick = (key, wanted)
                        break
            else:
                for key, ranges in port_slots:
                    port = _lowest_free(ranges, used)
                    if port is not None and (pick is None or port < pick[1]):
                        pick = (key, port)
            if pick is None:
                what = f"port {wanted}" if wanted else "a free port"
                return Rejection(INSUFFICIENT_PORTS, f"ports: the offer has no {what} left")
            chosen.append(pick[1])
            by_slot.setdefault(pick[0], []).append((pick[1], pick[1]))
        for key, picked in by_slot.items():
            taken[key] = merge_ranges(picked)
        return tuple(chosen)
