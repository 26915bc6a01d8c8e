"""The master <-> agent protocol: JSON over HTTP POST, both directions.

Agent -> master (on the master's port):
    POST /internal/agent/register   RegisterAgent  -> 200 RegisteredAgent
    POST /internal/agent/heartbeat  Heartbeat      -> 200 {} | 404 unknown agent (re-register)
    POST /internal/agent/status     StatusUpdate   -> 202 | 404 unknown agent (re-register)

Master -> agent (on the agent's port):
    POST /internal/run_task            RunTask
    POST /internal/kill_task           KillTask
    POST /internal/acknowledge         Acknowledge       (the framework ACKed an update)
    POST /internal/shutdown_framework  ShutdownFramework (kill every task of the framework)
    each -> 202 | 400 with {"message": ...}

Task and status bodies are the Mesos v1 JSON shapes (`TaskInfo`, `TaskStatus` with a base64
`uuid`), so what a framework sent reaches the agent unchanged.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class _Msg(BaseModel):
    model_config = ConfigDict(extra="ignore")


class AgentInfo(_Msg):
    hostname: str
    port: int
    resources: list[dict[str, Any]] = Field(default_factory=list)  # v1 Resource list
    attributes: list[dict[str, Any]] = Field(default_factory=list)  # v1 Attribute list
    id: str | None = None  # set when re-registering
    ip: str | None = None  # where the master reaches the agent (default: hostname)


class TaskRecord(_Msg):
    """A task the agent still has, reported when it (re-)registers."""

    framework_id: str
    framework_info: dict[str, Any] | None = None
    task: dict[str, Any]  # v1 TaskInfo as launched
    state: str  # TASK_RUNNING, ...
    unacknowledged_uuid: str | None = None


class RegisterAgent(_Msg):
    agent_info: AgentInfo
    tasks: list[TaskRecord] = Field(default_factory=list)
    version: str = ""


class RegisteredAgent(_Msg):
    agent_id: str
    master_id: str
    heartbeat_interval_seconds: float


class Heartbeat(_Msg):
    agent_id: str


class StatusUpdate(_Msg):
    agent_id: str
    framework_id: str
    status: dict[str, Any]  # v1 TaskStatus; `uuid` (base64) is set on every agent update


class RunTask(_Msg):
    framework_id: str
    framework_info: dict[str, Any] = Field(default_factory=dict)
    task: dict[str, Any]  # v1 TaskInfo with agent_id and resources


class KillTask(_Msg):
    framework_id: str
    task_id: str
    kill_policy: dict[str, Any] | None = None


class Acknowledge(_Msg):
    framework_id: str
    task_id: str
    uuid: str  # base64, as in the scheduler's ACKNOWLEDGE


class ShutdownFramework(_Msg):
    framework_id: str
