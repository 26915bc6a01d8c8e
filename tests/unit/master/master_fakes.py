"""An in-process master for unit tests: in-memory store, fake clock, recording agent client.

The tests written since drive the master through `harness.MasterHarness`."""

from __future__ import annotations

from harness import RecordingAgentClient

from dcos_core.clock import FakeClock
from dcos_core.config import MasterSettings
from dcos_core.master.service import Master
from dcos_core.protocol.internal import AgentInfo, RegisterAgent, TaskRecord
from dcos_core.state import InMemoryStore

FRAMEWORK = {
    "user": "root",
    "name": "f",
    "checkpoint": True,
    "failover_timeout": 300,
    "capabilities": [{"type": "PARTITION_AWARE"}, {"type": "TASK_KILLING_STATE"}],
}
RESOURCES = [{"name": "cpus", "type": "SCALAR", "scalar": {"value": 0.5}}]


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
