"""Pure checks of what frameworks send: tasks in a LAUNCH, operations in an ACCEPT.

They return a rejection reason (Mesos `TaskStatus.Reason` and a message) instead of raising, so
that one bad task becomes a TASK_ERROR update and the rest of the ACCEPT still runs.
"""

from __future__ import annotations

from collections.abc import Container
from dataclasses import dataclass
from typing import Any, Final

from dcos_core.errors import InvalidError
from dcos_core.ids import validate_id
from dcos_core.protocol.v1 import unwrap
from dcos_core.resources import Resources

SUPPORTED_OPERATIONS: Final = frozenset({"LAUNCH", "LAUNCH_GROUP", "RESERVE", "UNRESERVE"})
KNOWN_OPERATIONS: Final = SUPPORTED_OPERATIONS | {
    "CREATE",
    "DESTROY",
    "GROW_VOLUME",
    "SHRINK_VOLUME",
    "CREATE_DISK",
    "DESTROY_DISK",
}


@dataclass(frozen=True)
class Rejection:
    reason: str  # REASON_TASK_INVALID, REASON_INVALID_OFFERS, ...
    message: str


@dataclass(frozen=True)
class ValidTask:
    task_id: str
    info: dict[str, Any]
    resources: Resources


def task_id_of(info: Any) -> str | None:
    """The task id of a TaskInfo, or None when it has none."""
    if isinstance(info, dict):
        tid = info.get("task_id")
        if isinstance(tid, dict) and isinstance(tid.get("value"), str):
            return str(tid["value"])
    return None


def validate_task(
    info: Any, offer_agent_id: str, remaining: Resources, active_task_ids: Container[str]
) -> ValidTask | Rejection:
    """Check one TaskInfo against the offer it is launched from."""
    if not isinstance(info, dict):
        return Rejection("REASON_TASK_INVALID", "TaskInfo must be an object")
    try:
        task_id = validate_id(unwrap(info.get("task_id"), "task_id"), "task_id")
        agent_id = unwrap(info.get("agent_id"), "agent_id")
        if not isinstance(info.get("name"), str):
            raise InvalidError("'name' is required", "name")
        resources = Resources.from_v1(info.get("resources", []), "resources")
    except InvalidError as e:
        return Rejection("REASON_TASK_INVALID", f"Task is invalid: {e}")
    if task_id in active_task_ids:
        return Rejection("REASON_TASK_INVALID", f"Task {task_id} has duplicate ID")
    if agent_id != offer_agent_id:
        return Rejection(
            "REASON_TASK_INVALID",
            f"Task uses agent {agent_id} but the offer is for agent {offer_agent_id}",
        )
    has_command = isinstance(info.get("command"), dict)
    has_executor = isinstance(info.get("executor"), dict)
    if has_command == has_executor:
        return Rejection(
            "REASON_TASK_INVALID", "Task should have exactly one of 'command' or 'executor'"
        )
    cmd = info.get("command") if has_command else info["executor"].get("command")
    if not isinstance(cmd, dict) or not (cmd.get("value") or cmd.get("arguments")):
        container = info.get("container")
        if not (isinstance(container, dict) and container.get("docker")):
            return Rejection("REASON_TASK_INVALID", "Task's command has no 'value'")
    if not resources:
        return Rejection("REASON_TASK_INVALID", "Task uses no resources")
    if not remaining.contains(resources):
        return Rejection(
            "REASON_TASK_INVALID",
            f"Task uses more resources ({resources}) than available in the offer ({remaining})",
        )
    return ValidTask(task_id, info, resources)


def validate_operation_shapes(operations: Any) -> list[dict[str, Any]]:
    """Synchronous shape check of ACCEPT operations (a bad one makes the call a 400)."""
    if not isinstance(operations, list):
        raise InvalidError("must be a list", "accept.operations")
    for i, op in enumerate(operations):
        f = f"accept.operations[{i}]"
        if not isinstance(op, dict):
            raise InvalidError("must be an object", f)
        t = op.get("type")
        if t not in KNOWN_OPERATIONS:
            raise InvalidError(f"unknown operation type '{t}'", f"{f}.type")
        if t not in SUPPORTED_OPERATIONS:
            raise InvalidError(f"operation {t} is not supported by this master yet", f"{f}.type")
        if t == "LAUNCH" and not isinstance((op.get("launch") or {}).get("task_infos"), list):
            raise InvalidError("LAUNCH needs launch.task_infos", f)
        if t == "LAUNCH_GROUP" and not isinstance(
            ((op.get("launch_group") or {}).get("task_group") or {}).get("tasks"), list
        ):
            raise InvalidError("LAUNCH_GROUP needs launch_group.task_group.tasks", f)
        if t in ("RESERVE", "UNRESERVE"):
            body = op.get(t.lower()) or {}
            Resources.from_v1(body.get("resources"), f"{f}.{t.lower()}.resources")
    return operations
