"""Typed identifiers, in the formats Mesos uses (`<master-id>-S<n>`, `-O<n>`, `-<nnnn>`)."""

from __future__ import annotations

import re
import uuid
from typing import NewType

from dcos_core.errors import InvalidError

AgentId = NewType("AgentId", str)
FrameworkId = NewType("FrameworkId", str)
TaskId = NewType("TaskId", str)
OfferId = NewType("OfferId", str)
MasterId = NewType("MasterId", str)

_NAME_MAX = 255
_BAD_ID = re.compile(r"[\x00-\x1f\x7f/\\]")


def new_uuid() -> str:
    """A random UUID4 as text."""
    return str(uuid.uuid4())


def validate_id(value: str, field: str) -> str:
    """Check an id as Mesos does: non-empty, <= 255 bytes, not . or .., no / \\ or control chars.

    Example:
        >>> validate_id("web.1", "task_id")
        'web.1'
    """
    if not value:
        raise InvalidError("must not be empty", field)
    if len(value.encode()) > _NAME_MAX:
        raise InvalidError(f"is longer than {_NAME_MAX} bytes", field)
    if value in (".", ".."):
        raise InvalidError(f"'{value}' is not a valid id", field)
    if _BAD_ID.search(value):
        raise InvalidError(f"'{value}' contains '/', '\\' or a control character", field)
    return value


class IdGenerator:
    """Issues framework, agent and offer ids under one master id, as Mesos does."""

    def __init__(self, master_id: str) -> None:
        self.master_id = master_id
        self._frameworks = 0
        self._agents = 0
        self._offers = 0

    def framework(self) -> FrameworkId:
        fid = f"{self.master_id}-{self._frameworks:04d}"
        self._frameworks += 1
        return FrameworkId(fid)

    def agent(self) -> AgentId:
        aid = f"{self.master_id}-S{self._agents}"
        self._agents += 1
        return AgentId(aid)

    def offer(self) -> OfferId:
        oid = f"{self.master_id}-O{self._offers}"
        self._offers += 1
        return OfferId(oid)
