"""The agent's `/metrics/snapshot` (Mesos agent names) and `/metrics` (Prometheus text) over its
real HTTP app, with real task processes (posix containerizer)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import make_agent, task
from prometheus_client.parser import text_string_to_metric_families

from dcos_core.agent.api import create_agent_app
from dcos_core.agent.service import Agent
from dcos_core.containerizer.posix import PosixContainerizer, make_subreaper


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[tuple[httpx.AsyncClient, Agent]]:
    make_subreaper()
    agent, _master = make_agent(tmp_path / "work", containerizer=PosixContainerizer())
    await agent.register()
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=create_agent_app(agent)), base_url="http://agent"
    ) as c:
        yield c, agent
    await agent.stop()


async def run(c: httpx.AsyncClient, t: dict[str, Any]) -> None:
    r = await c.post(
        "/internal/run_task",
        json={"framework_id": "F", "framework_info": {"name": "fw"}, "task": t},
    )
    assert r.status_code == 202


async def until(c: httpx.AsyncClient, name: str, value: float) -> dict[str, float]:
    for _ in range(500):
        snap: dict[str, float] = (await c.get("/metrics/snapshot")).json()
        if snap[name] == value:
            return snap
        await asyncio.sleep(0.01)
    raise AssertionError(f"{name} never became {value}: {snap}")


async def prometheus(c: httpx.AsyncClient) -> dict[str, float]:
    r = await c.get("/metrics")
    assert r.status_code == 200
    assert r.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
    return {
        s.name: s.value
        for family in text_string_to_metric_families(r.text)
        for s in family.samples
        if not s.labels
    }


async def test_metrics_count_tasks_and_resources(client: Any) -> None:
    c, _agent = client
    snap = (await c.get("/metrics/snapshot")).json()
    assert snap["slave/registered"] == 1 and snap["slave/tasks_running"] == 0
    assert (snap["slave/cpus_total"], snap["slave/mem_total"]) == (4, 4096)
    assert snap["slave/cpus_used"] == 0 and snap["system/cpus_total"] >= 1
    assert {"system/load_1min", "system/mem_total_bytes", "slave/uptime_secs"} <= set(snap)

    await run(c, task("web.1", "sleep 100"))
    snap = await until(c, "slave/tasks_running", 1)
    assert (snap["slave/cpus_used"], snap["slave/mem_used"]) == (0.1, 32)
    assert snap["slave/executors_running"] == 1 and snap["slave/frameworks_active"] == 1
    prom = await prometheus(c)
    assert prom["dcos_slave_tasks_running"] == 1
    assert prom["dcos_slave_mem_used"] == 32 and prom["dcos_slave_cpus_total"] == 4
    assert prom["dcos_slave_registered"] == 1

    await run(c, task("done.1", "true"))
    await run(c, task("bad.1", "exit 3"))
    await until(c, "slave/tasks_finished", 1)
    snap = await until(c, "slave/tasks_failed", 1)
    assert snap["slave/tasks_running"] == 1 and snap["slave/cpus_used"] == 0.1
    r = await c.post("/internal/kill_task", json={"framework_id": "F", "task_id": "web.1"})
    assert r.status_code == 202
    snap = await until(c, "slave/tasks_killed", 1)
    assert snap["slave/tasks_running"] == 0 and snap["slave/cpus_used"] == 0
    prom = await prometheus(c)
    assert (prom["dcos_slave_tasks_finished"], prom["dcos_slave_tasks_failed"]) == (1, 1)
    assert prom["dcos_slave_tasks_killed"] == 1 and prom["dcos_slave_tasks_running"] == 0
