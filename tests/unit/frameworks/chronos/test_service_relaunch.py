"""A launch the master never saw is launched again under a new task id, so that a late second
TASK_UNKNOWN about the first launch cannot send the running relaunch back to PENDING."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from chronos_fakes import RecordingDriver

from dcos_core.clock import FakeClock
from dcos_core.frameworks.chronos.ledger import RunState
from dcos_core.frameworks.chronos.models import parse_job
from dcos_core.frameworks.chronos.service import Chronos
from dcos_core.resources import Resources
from dcos_core.state.memory import InMemoryStore


def make(at: str) -> Chronos:
    t = datetime.fromisoformat(at.replace("Z", "+00:00")).timestamp()
    return Chronos(InMemoryStore(), clock=FakeClock(t))


def add(c: Chronos, **fields: Any) -> None:
    body = {"owner": "", "disabled": False, "command": "true", **fields}
    c.put_job(parse_job(body, now=datetime.fromtimestamp(c.clock.time(), UTC)))


def advance(c: Chronos, seconds: float) -> None:
    c.clock.advance(seconds)  # type: ignore[attr-defined]
    c._plan(c.clock.time())


def offer(n: int) -> dict[str, Any]:
    return {
        "id": {"value": f"o{n}"},
        "agent_id": {"value": "a1"},
        "framework_id": {"value": "F"},
        "hostname": "h",
        "resources": Resources.parse("cpus:4;mem:4096;disk:4096").to_v1("*"),
        "allocation_info": {"role": "*"},
    }


def status(task_id: str, state: str) -> dict[str, Any]:
    return {"task_id": {"value": task_id}, "state": state, "agent_id": {"value": "a1"}}


def test_a_late_second_task_unknown_does_not_relaunch_a_running_relaunch() -> None:
    c = make("2026-01-01T00:00:00Z")
    add(c, name="j", schedule="R1/2026-01-01T00:00:05Z/PT5S", cpus=0.1, mem=16)
    advance(c, 6)
    d = RecordingDriver()
    c.driver = d
    asyncio.run(c.handle_offers([offer(1)]))
    first = d.launched[-1]
    c.on_status(status(first, "TASK_UNKNOWN"))  # reconciliation 1: never seen
    asyncio.run(c.handle_offers([offer(2)]))
    second = d.launched[-1]
    assert second != first
    c.on_status(status(first, "TASK_UNKNOWN"))  # reconciliation 2, answered late: ignored
    (run,) = c.runs.values()
    assert run.state == RunState.LAUNCHING and run.task_id == second and run.attempt == 1
    c.on_status(status(second, "TASK_DROPPED"))  # never reached the agent: no attempt used
    assert run.state == RunState.PENDING and run.attempt == 0
    asyncio.run(c.handle_offers([offer(3)]))
    assert len(set(d.launched)) == 3 and run.attempt == 1
