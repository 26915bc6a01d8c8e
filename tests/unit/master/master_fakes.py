"""An in-process master for unit tests: in-memory store, fake clock, recording agent client."""

from __future__ import annotations

from typing import Any

from dcos_core.clock import FakeClock
from dcos_core.config import MasterSettings
from dcos_core.master.service import Master
from dcos_core.protocol.internal import (
    Acknowledge,
    AgentInfo,
    KillTask,
    RegisterAgent,
    RunTask,
    ShutdownFramework,
    TaskRecord,
)
from dcos_core.state import InMemoryStore

FRAMEWORK = {
    "user": "root",
    "name": "f",
    "checkpoint": True,
    "failover_timeout": 300,
    "capabilities": [{"type": "PARTITION_AWARE"}, {"type": "TASK_KILLING_STATE"}],
}
RESOURCES = [{"name": "cpus", "type": "SCALAR", "scalar": {"value": 0.5}}]


class RecordingAgentClient:
    def __init__(self) -> None:
        self.calls: list[Any] = []

    async def run_task(self, address: str, msg: RunTask) -> None:
        self.calls.append(msg)

    async def kill_task(self, address: str, msg: KillTask) -> None:
        self.calls.append(msg)

    async def acknowledge(self, address: str, msg: Acknowledge) -> None:
        self.calls.append(msg)

    async def shutdown_framework(self, address: str, msg: ShutdownFramework) -> None:
        self.calls.append(msg)

    async def close(self) -> None:
        return None


def make_master() -> Master:
    m = Master(MasterSettings(), InMemoryStore(), RecordingAgentClient(), FakeClock(1000.0))
    m.recover()
    return m


def register(master: Master, agent_id: str | None, *tasks: tuple[str, str]) -> str:
    info = AgentInfo(
        hostname="127.0.0.1",
        port=5051,
        resources=[{"name": "cpus", "type": "SCALAR", "scalar": {"value": 4}}],
        id=agent_id,
    )
    records = [
        TaskRecord(
            framework_id="fw-1",
            framework_info=FRAMEWORK,
            task={"task_id": {"value": tid}, "name": tid, "resources": RESOURCES},
            state=state,
        )
        for tid, state in tasks
    ]
    return master.register_agent(RegisterAgent(agent_info=info, tasks=records)).agent_id
