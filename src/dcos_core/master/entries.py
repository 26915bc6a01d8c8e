"""What the master knows about agents, frameworks, tasks and offers (in memory)."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any

from dcos_core.model.task import TaskState
from dcos_core.resources import Resources

COMPLETED_TASKS_KEPT = 1000
COMPLETED_FRAMEWORKS_KEPT = 50


@dataclass
class TaskEntry:
    task_id: str
    framework_id: str
    agent_id: str
    info: dict[str, Any]  # v1 TaskInfo as launched
    resources: Resources
    role: str
    state: TaskState = TaskState.STAGING
    statuses: list[dict[str, Any]] = field(default_factory=list)
    latest_uuid: str | None = None
    unreachable_time: float | None = None

    @property
    def name(self) -> str:
        return str(self.info.get("name", ""))


@dataclass
class OfferEntry:
    offer_id: str
    framework_id: str
    agent_id: str
    role: str
    resources: Resources
    created: float  # monotonic


@dataclass
class AgentEntry:
    agent_id: str
    hostname: str
    port: int
    total: Resources
    attributes: list[dict[str, Any]]
    registered_time: float
    reregistered_time: float | None = None
    last_heartbeat: float = 0.0  # monotonic
    connected: bool = True  # registered and heard from recently
    recovered: bool = False  # known from the registry, not re-registered since master start
    unreachable_time: float | None = None
    deactivated: bool = False
    draining: bool = False
    drain_mark_gone: bool = False
    version: str = ""
    tasks: dict[tuple[str, str], TaskEntry] = field(default_factory=dict)  # (fw, task) -> task
    ip: str = ""  # where the master reaches the agent; the hostname if empty (Mesos --ip)

    @property
    def address(self) -> str:
        return f"{self.ip or self.hostname}:{self.port}"

    @property
    def active(self) -> bool:
        return self.connected and not self.deactivated and not self.draining


@dataclass
class FrameworkEntry:
    framework_id: str
    info: dict[str, Any]  # v1 FrameworkInfo (with id)
    registered_time: float
    reregistered_time: float | None = None
    unregistered_time: float | None = None
    connected: bool = False
    recovered: bool = False  # known from the registry or an agent, not subscribed since start
    stream_id: str | None = None
    failover_deadline: float | None = None  # monotonic
    suppressed_roles: set[str] = field(default_factory=set)
    tasks: dict[str, TaskEntry] = field(default_factory=dict)
    completed_tasks: deque[TaskEntry] = field(
        default_factory=lambda: deque(maxlen=COMPLETED_TASKS_KEPT)
    )
    offers: dict[str, OfferEntry] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return str(self.info.get("name", ""))

    @property
    def roles(self) -> list[str]:
        caps = self.capabilities
        if "MULTI_ROLE" in caps and self.info.get("roles"):
            return [str(r) for r in self.info["roles"]]
        return [str(self.info.get("role") or "*")]

    @property
    def capabilities(self) -> set[str]:
        return {
            str(c.get("type")) for c in self.info.get("capabilities", []) if isinstance(c, dict)
        }

    @property
    def partition_aware(self) -> bool:
        return "PARTITION_AWARE" in self.capabilities

    @property
    def failover_timeout(self) -> float:
        try:
            return max(0.0, float(self.info.get("failover_timeout", 0.0)))
        except (TypeError, ValueError):
            return 0.0

    @property
    def active(self) -> bool:
        return self.connected
