"""Helpers for Mesos v1 JSON shapes shared by master, agent and frameworks.

Mesos wraps ids in objects (`{"value": "..."}`) and encodes `bytes` as base64; these helpers
keep that in one place.
"""

from __future__ import annotations

import base64
import uuid as _uuid
from typing import Any

from dcos_core.errors import InvalidError
from dcos_core.model.task import TaskState


def wrap(value: str) -> dict[str, str]:
    """`"abc"` -> `{"value": "abc"}`."""
    return {"value": value}


def unwrap(obj: Any, field: str) -> str:
    """`{"value": "abc"}` -> `"abc"`, with a clear error for anything else."""
    if isinstance(obj, dict) and isinstance(obj.get("value"), str) and obj["value"]:
        return str(obj["value"])
    raise InvalidError("must be an object with a non-empty string 'value'", field)


def new_status_uuid() -> str:
    """A fresh status-update uuid, base64 of 16 random bytes (as Mesos sends it)."""
    return base64.b64encode(_uuid.uuid4().bytes).decode()


def task_status(
    task_id: str,
    state: TaskState,
    *,
    agent_id: str | None,
    timestamp: float,
    source: str = "SOURCE_EXECUTOR",
    message: str | None = None,
    reason: str | None = None,
    uuid: str | None = None,
    executor_id: str | None = None,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Build a v1 `TaskStatus` JSON object."""
    s: dict[str, Any] = {
        "task_id": wrap(task_id),
        "state": state.value,
        "source": source,
        "timestamp": timestamp,
    }
    if agent_id:
        s["agent_id"] = wrap(agent_id)
    if executor_id:
        s["executor_id"] = wrap(executor_id)
    if message:
        s["message"] = message
    if reason:
        s["reason"] = reason
    if uuid:
        s["uuid"] = uuid
    if extra:
        s.update(extra)
    return s
