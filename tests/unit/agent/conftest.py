"""Shared builders for agent tests: an Agent over the in-memory master and a containerizer."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from dcos_core.agent.master_client import InMemoryMasterClient
from dcos_core.agent.service import Agent, AgentConfig
from dcos_core.clock import SystemClock
from dcos_core.containerizer.base import Containerizer
from dcos_core.containerizer.simulated import SimulatedContainerizer
from dcos_core.resources import Resources


def make_agent(
    tmp_path: Path,
    containerizer: Containerizer | None = None,
    master: InMemoryMasterClient | None = None,
    grace: float = 3.0,
) -> tuple[Agent, InMemoryMasterClient]:
    master = master or InMemoryMasterClient(heartbeat_interval=0.05)
    config = AgentConfig(
        hostname="127.0.0.1",
        port=5051,
        work_dir=tmp_path,
        resources=Resources.parse("cpus:4;mem:4096;ports:[31000-32000]"),
        attributes=[{"name": "rack", "type": "TEXT", "text": {"value": "r1"}}],
        executor_shutdown_grace_period=grace,
        status_update_retry_min=0.2,
        status_update_retry_max=1.0,
        registration_backoff_max=0.1,
        master_hostname="127.0.0.1",
    )
    agent = Agent(
        config,
        master=master,
        containerizer=containerizer or SimulatedContainerizer(),
        clock=SystemClock(),
    )
    return agent, master


def task(task_id: str, cmd: str | None = "sleep 100", **extra: Any) -> dict[str, Any]:
    t: dict[str, Any] = {
        "name": task_id,
        "task_id": {"value": task_id},
        "agent_id": {"value": "S"},
        "resources": [
            {"name": "cpus", "type": "SCALAR", "scalar": {"value": 0.1}},
            {"name": "mem", "type": "SCALAR", "scalar": {"value": 32}},
            {
                "name": "ports",
                "type": "RANGES",
                "ranges": {
                    "range": [{"begin": 31005, "end": 31005}, {"begin": 31001, "end": 31002}]
                },
            },
        ],
    }
    if cmd is not None:
        t["command"] = {"value": cmd}
    t.update(extra)
    return t
