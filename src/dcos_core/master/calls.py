"""The v1 scheduler and operator calls, parsed into typed values (as `protocol.internal` is for
the agents' calls).

`parse_scheduler_call` and `parse_operator_call` check a call's own part with the messages and
field names of Mesos (`InvalidError`, 400) and return a frozen value; the use cases get that
value and check it only against the master's state (unknown offers, roles, agents).

Example:
    >>> parse_scheduler_call("KILL", {"kill": {"task_id": {"value": "web"}}})
    Kill(task_id='web', kill_policy=None)
"""

from __future__ import annotations

import base64
import binascii
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from dcos_core.allocator import Quota
from dcos_core.allocator.filters import MAX_REFUSE_SECONDS
from dcos_core.errors import InvalidError
from dcos_core.master.entries import FrameworkEntry
from dcos_core.master.validation import validate_operation_shapes
from dcos_core.protocol.v1 import unwrap
from dcos_core.resources import UNRESERVED, Resources, to_millis, validate_role

# ----------------------------------------------------------------------------------------------
# scheduler calls


@dataclass(frozen=True)
class FrameworkRoles:
    """A FrameworkInfo's roles and the subset of them that is suppressed."""

    roles: tuple[str, ...]
    suppressed: frozenset[str]


@dataclass(frozen=True)
class Subscribe:
    """SUBSCRIBE: a new framework (no id) or a known one re-subscribing (failover)."""

    framework_info: dict[str, Any]
    framework_id: str | None
    roles: FrameworkRoles


@dataclass(frozen=True)
class UpdateFramework:
    framework_info: dict[str, Any]
    framework_id: str | None  # `framework_info.id`, if given
    roles: FrameworkRoles


@dataclass(frozen=True)
class Accept:
    offer_ids: tuple[str, ...]
    operations: tuple[dict[str, Any], ...]  # shapes checked (`validate_operation_shapes`)
    refuse_seconds: float | None  # None: the master's default


@dataclass(frozen=True)
class Decline:
    offer_ids: tuple[str, ...]
    refuse_seconds: float | None  # None: the master's default


@dataclass(frozen=True)
class Kill:
    task_id: str
    kill_policy: dict[str, Any] | None


@dataclass(frozen=True)
class Shutdown:
    """SHUTDOWN of an executor (a command task is its own executor)."""

    executor_id: str
    agent_id: str


@dataclass(frozen=True)
class Acknowledge:
    agent_id: str
    task_id: str
    uuid: str  # base64, checked


@dataclass(frozen=True)
class ReconcileTask:
    task_id: str
    agent_id: str | None


@dataclass(frozen=True)
class Reconcile:
    """RECONCILE: the tasks named, or (none named) every active task of the framework."""

    tasks: tuple[ReconcileTask, ...]


@dataclass(frozen=True)
class Revive:
    roles: tuple[str, ...] | None  # None: all of the framework's roles


@dataclass(frozen=True)
class Suppress:
    roles: tuple[str, ...] | None  # None: all of the framework's roles


@dataclass(frozen=True)
class Teardown:
    pass


@dataclass(frozen=True)
class Ignored:
    """A call Mesos accepts and this master ignores (REQUEST, MESSAGE, inverse offers, ...)."""

    type: str


SchedulerCall = (
    Accept
    | Decline
    | Revive
    | Suppress
    | Kill
    | Shutdown
    | Acknowledge
    | Reconcile
    | Teardown
    | UpdateFramework
    | Ignored
)

IGNORED_SCHEDULER_CALLS: Final = frozenset(
    {
        "MESSAGE",
        "REQUEST",
        "ACCEPT_INVERSE_OFFERS",
        "DECLINE_INVERSE_OFFERS",
        "ACKNOWLEDGE_OPERATION_STATUS",
        "RECONCILE_OPERATIONS",
    }
)


def framework_roles(info: dict[str, Any], suppressed: Any, field_name: str) -> FrameworkRoles:
    """The roles of a FrameworkInfo (checked) and the suppressed ones (a subset of them)."""
    roles = FrameworkEntry("?", info, 0.0).roles
    for role in roles:
        validate_role(role, "framework_info.roles")
    chosen = frozenset(str(r) for r in suppressed or [])
    if not chosen <= set(roles):
        raise InvalidError("suppressed roles must be a subset of the framework's roles", field_name)
    return FrameworkRoles(tuple(roles), chosen)


def parse_subscribe(body: dict[str, Any]) -> Subscribe:
    sub = body.get("subscribe")
    if not isinstance(sub, dict) or not isinstance(sub.get("framework_info"), dict):
        raise InvalidError("Expecting 'subscribe.framework_info' to be present", "subscribe")
    info = dict(sub["framework_info"])
    for req in ("user", "name"):
        if not isinstance(info.get(req), str):
            raise InvalidError(f"Missing required field: {req}", f"framework_info.{req}")
    fid_given = body.get("framework_id") or info.get("id")
    fid = unwrap(fid_given, "framework_info.id") if fid_given else None
    roles = framework_roles(info, sub.get("suppressed_roles"), "subscribe.suppressed_roles")
    return Subscribe(info, fid, roles)


def _update_framework(body: dict[str, Any]) -> UpdateFramework:
    upd = body.get("update_framework")
    if not isinstance(upd, dict) or not isinstance(upd.get("framework_info"), dict):
        raise InvalidError("Expecting 'update_framework.framework_info'", "update_framework")
    info = dict(upd["framework_info"])
    fid = unwrap(info["id"], "framework_info.id") if info.get("id") else None
    roles = framework_roles(info, upd.get("suppressed_roles"), "update_framework.suppressed_roles")
    return UpdateFramework(info, fid, roles)


def _part(body: dict[str, Any], key: str) -> dict[str, Any]:
    part = body.get(key)
    if not isinstance(part, dict):
        raise InvalidError(f"Expecting '{key}' to be present", key)
    return part


def _offer_ids(value: Any, field_name: str) -> tuple[str, ...]:
    if not isinstance(value, list):
        raise InvalidError("must be a list of offer ids", field_name)
    return tuple(unwrap(v, f"{field_name}[{i}]") for i, v in enumerate(value))


def _refuse_seconds(filters: Any) -> float | None:
    """Filters.refuse_seconds: None (the default) if absent or negative, capped at 365 days."""
    if not isinstance(filters, dict) or "refuse_seconds" not in filters:
        return None
    try:
        value = float(filters["refuse_seconds"])
    except (TypeError, ValueError):
        raise InvalidError("must be a number", "filters.refuse_seconds") from None
    if value < 0:
        return None
    return min(value, MAX_REFUSE_SECONDS)


def _roles(part: Any) -> tuple[str, ...] | None:
    if not isinstance(part, dict) or not part.get("roles"):
        return None
    roles = part["roles"]
    if not isinstance(roles, list):
        raise InvalidError("must be a list of roles", "roles")
    return tuple(str(r) for r in roles)


def _accept(body: dict[str, Any]) -> Accept:
    accept = _part(body, "accept")
    ids = _offer_ids(accept.get("offer_ids"), "accept.offer_ids")
    operations = validate_operation_shapes(accept.get("operations", []))
    return Accept(ids, tuple(operations), _refuse_seconds(accept.get("filters")))


def _decline(body: dict[str, Any]) -> Decline:
    decline = _part(body, "decline")
    ids = _offer_ids(decline.get("offer_ids"), "decline.offer_ids")
    return Decline(ids, _refuse_seconds(decline.get("filters")))


def _kill(body: dict[str, Any]) -> Kill:
    kill = _part(body, "kill")
    tid = unwrap(kill.get("task_id"), "kill.task_id")
    policy = kill.get("kill_policy")
    return Kill(tid, policy if isinstance(policy, dict) else None)


def _shutdown(body: dict[str, Any]) -> Shutdown:
    sd = _part(body, "shutdown")
    eid = unwrap(sd.get("executor_id"), "shutdown.executor_id")
    return Shutdown(eid, unwrap(sd.get("agent_id"), "shutdown.agent_id"))


def _acknowledge(body: dict[str, Any]) -> Acknowledge:
    ack = _part(body, "acknowledge")
    aid = unwrap(ack.get("agent_id"), "acknowledge.agent_id")
    tid = unwrap(ack.get("task_id"), "acknowledge.task_id")
    uuid = ack.get("uuid")
    if not isinstance(uuid, str):
        raise InvalidError("must be a base64 string", "acknowledge.uuid")
    try:
        base64.b64decode(uuid, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidError("is not valid base64", "acknowledge.uuid") from None
    return Acknowledge(aid, tid, uuid)


def _reconcile(body: dict[str, Any]) -> Reconcile:
    rec = body.get("reconcile") or {}
    if not isinstance(rec, dict) or not isinstance(rec.get("tasks", []), list):
        raise InvalidError("Expecting 'reconcile.tasks' to be a list", "reconcile.tasks")
    tasks = []
    for i, item in enumerate(rec.get("tasks", [])):
        if not isinstance(item, dict):
            raise InvalidError("must be an object", f"reconcile.tasks[{i}]")
        tid = unwrap(item.get("task_id"), f"reconcile.tasks[{i}].task_id")
        hint = item.get("agent_id")
        agent_id = hint.get("value") if isinstance(hint, dict) else None
        tasks.append(ReconcileTask(tid, str(agent_id) if agent_id else None))
    return Reconcile(tuple(tasks))


_SCHEDULER_PARSERS: Final[dict[str, Callable[[dict[str, Any]], SchedulerCall]]] = {
    "ACCEPT": _accept,
    "DECLINE": _decline,
    "REVIVE": lambda body: Revive(_roles(body.get("revive"))),
    "SUPPRESS": lambda body: Suppress(_roles(body.get("suppress"))),
    "KILL": _kill,
    "SHUTDOWN": _shutdown,
    "ACKNOWLEDGE": _acknowledge,
    "RECONCILE": _reconcile,
    "TEARDOWN": lambda _body: Teardown(),
    "UPDATE_FRAMEWORK": _update_framework,
}


def is_scheduler_call(call_type: str) -> bool:
    """True for the call types of the scheduler API other than SUBSCRIBE."""
    return call_type in _SCHEDULER_PARSERS or call_type in IGNORED_SCHEDULER_CALLS


def parse_scheduler_call(call_type: str, body: dict[str, Any]) -> SchedulerCall:
    """The typed value of a scheduler call other than SUBSCRIBE (`parse_subscribe`)."""
    if call_type in IGNORED_SCHEDULER_CALLS:
        return Ignored(call_type)
    parse = _SCHEDULER_PARSERS.get(call_type)
    if parse is None:
        raise InvalidError(f"Failed to validate scheduler::Call: unknown call type '{call_type}'")
    return parse(body)


# ----------------------------------------------------------------------------------------------
# operator calls that change state


@dataclass(frozen=True)
class UpdateWeights:
    weights: dict[str, float]


@dataclass(frozen=True)
class QuotaConfig:
    """One role's quota as given (`quota`) and as stored (`config`, the Mesos QuotaConfig JSON;
    None: remove the role's quota)."""

    role: str
    quota: Quota
    config: dict[str, Any] | None


@dataclass(frozen=True)
class UpdateQuota:
    configs: tuple[QuotaConfig, ...]
    force: bool


@dataclass(frozen=True)
class DrainAgent:
    agent_id: str
    max_grace_period: dict[str, Any] | None
    mark_gone: bool


@dataclass(frozen=True)
class DeactivateAgent:
    agent_id: str


@dataclass(frozen=True)
class ReactivateAgent:
    agent_id: str


@dataclass(frozen=True)
class MarkAgentGone:
    agent_id: str


@dataclass(frozen=True)
class TeardownFramework:
    framework_id: str


OperatorCall = (
    UpdateWeights
    | UpdateQuota
    | DrainAgent
    | DeactivateAgent
    | ReactivateAgent
    | MarkAgentGone
    | TeardownFramework
)


def _agent_id(body: dict[str, Any], key: str) -> str:
    return unwrap(_part(body, key).get("agent_id"), f"{key}.agent_id")


def _update_weights(body: dict[str, Any]) -> UpdateWeights:
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
    return UpdateWeights(new)


def _update_quota(body: dict[str, Any]) -> UpdateQuota:
    upd = body.get("update_quota")
    configs = upd.get("quota_configs") if isinstance(upd, dict) else None
    if not isinstance(configs, list):
        raise InvalidError("Expecting 'update_quota.quota_configs' list", "update_quota")
    force = bool(upd.get("force", False)) if isinstance(upd, dict) else False
    parsed: list[QuotaConfig] = []
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
        empty = not q.guarantees and q.limits is None
        stored = (
            None
            if empty
            else {
                "role": role,
                "guarantees": _scalar_map(q.guarantees),
                "limits": _scalar_map(q.limits) if q.limits is not None else {},
            }
        )
        parsed.append(QuotaConfig(role, q, stored))
    return UpdateQuota(tuple(parsed), force)


def _drain_agent(body: dict[str, Any]) -> DrainAgent:
    aid = _agent_id(body, "drain_agent")
    drain = body["drain_agent"]
    grace = drain.get("max_grace_period")
    return DrainAgent(
        aid, grace if isinstance(grace, dict) else None, bool(drain.get("mark_gone", False))
    )


def _teardown(body: dict[str, Any]) -> TeardownFramework:
    part = body.get("teardown")
    return TeardownFramework(unwrap((part or {}).get("framework_id"), "teardown.framework_id"))


_OPERATOR_PARSERS: Final[dict[str, Callable[[dict[str, Any]], OperatorCall]]] = {
    "UPDATE_WEIGHTS": _update_weights,
    "UPDATE_QUOTA": _update_quota,
    "DRAIN_AGENT": _drain_agent,
    "DEACTIVATE_AGENT": lambda body: DeactivateAgent(_agent_id(body, "deactivate_agent")),
    "REACTIVATE_AGENT": lambda body: ReactivateAgent(_agent_id(body, "reactivate_agent")),
    "MARK_AGENT_GONE": lambda body: MarkAgentGone(_agent_id(body, "mark_agent_gone")),
    "TEARDOWN": _teardown,
}


def is_operator_update(call_type: str) -> bool:
    """True for the operator calls that change state (parsed by `parse_operator_call`)."""
    return call_type in _OPERATOR_PARSERS


def parse_operator_call(call_type: str, body: dict[str, Any]) -> OperatorCall:
    """The typed value of an operator call that changes state."""
    parse = _OPERATOR_PARSERS.get(call_type)
    if parse is None:
        raise InvalidError(
            f"Failed to validate master::Call: unknown or unsupported type '{call_type}'"
        )
    return parse(body)


def _scalar_map(r: Resources) -> dict[str, dict[str, float]]:
    return {name: {"value": millis / 1000} for name, millis in r.totals().items()}


def quota_from_config(cfg: dict[str, Any], field_name: str = "quota") -> Quota:
    """The allocator's `Quota` of a Mesos QuotaConfig (`guarantees`, `limits`: name -> value)."""

    def parse(part: Any, name: str) -> Resources:
        if part in (None, {}):
            return Resources()
        if not isinstance(part, dict):
            raise InvalidError("must be a map of resource name to {value}", f"{field_name}.{name}")
        values: dict[str, float] = {}
        for k, v in part.items():
            val = v.get("value") if isinstance(v, dict) else v
            try:
                values[str(k)] = float(val)  # type: ignore[arg-type]
            except (TypeError, ValueError):
                raise InvalidError("must be a number", f"{field_name}.{name}.{k}") from None
        return Resources(
            {(n, "*", ""): to_millis(v, f"{field_name}.{n}") for n, v in values.items()}
        )

    guarantees = parse(cfg.get("guarantees"), "guarantees")
    limits = parse(cfg.get("limits"), "limits") if cfg.get("limits") else None
    return Quota(guarantees=guarantees, limits=limits)
