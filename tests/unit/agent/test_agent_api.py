"""The agent's HTTP API: internal endpoints, /state, /files, /monitor, /health."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import make_agent, task

from dcos_core.agent.api import create_agent_app
from dcos_core.agent.master_client import InMemoryMasterClient
from dcos_core.agent.service import Agent
from dcos_core.containerizer.posix import PosixContainerizer, make_subreaper


@pytest.fixture
async def client(
    tmp_path: Path,
) -> AsyncIterator[tuple[httpx.AsyncClient, Agent, InMemoryMasterClient]]:
    make_subreaper()
    agent, master = make_agent(tmp_path / "work", containerizer=PosixContainerizer())
    await agent.register()
    app = create_agent_app(agent)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://agent"
    ) as c:
        yield c, agent, master
    await agent.stop()


async def launch(c: httpx.AsyncClient, agent: Agent, t: dict[str, Any]) -> None:
    r = await c.post(
        "/internal/run_task",
        json={"framework_id": "F", "framework_info": {"name": "fw"}, "task": t},
    )
    assert r.status_code == 202
    entry = agent.tasks[("F", t["task_id"]["value"])]
    for _ in range(300):
        if entry.executor.pid is not None and entry.state.value != "TASK_STARTING":
            return
        await asyncio.sleep(0.01)


async def test_state_shape(client: Any) -> None:
    c, agent, _master = client
    await launch(c, agent, task("web.1", "echo hello; sleep 100"))
    s = (await c.get("/state")).json()
    assert s["id"] == "M1-S0" and s["hostname"] == "127.0.0.1" and s["port"] == 5051
    assert s["resources"]["cpus"] == 4 and s["resources"]["ports"] == "[31000-32000]"
    assert s["attributes"] == {"rack": "r1"}
    assert s["master_hostname"] == "127.0.0.1"
    [fw] = s["frameworks"]
    assert (fw["id"], fw["name"]) == ("F", "fw")
    [ex] = fw["executors"]
    assert ex["id"] == "web.1" and ex["pid"] == agent.tasks[("F", "web.1")].executor.pid
    assert os.path.isdir(ex["directory"])
    [t] = ex["tasks"]
    assert t["id"] == "web.1" and t["state"] == "TASK_RUNNING" and t["slave_id"] == "M1-S0"
    assert t["resources"]["mem"] == 32
    assert [st["state"] for st in t["statuses"]] == ["TASK_STARTING", "TASK_RUNNING"]
    assert (await c.get("/slave(1)/state")).json()["id"] == "M1-S0"
    assert s["completed_frameworks"] == []


async def test_files_browse_and_read(client: Any) -> None:
    c, agent, _master = client
    await launch(c, agent, task("t", "echo hello; sleep 100"))
    sandbox = str(agent.tasks[("F", "t")].executor.sandbox)
    for _ in range(100):
        r = (await c.get("/files/read", params={"path": sandbox + "/stdout"})).json()
        if r["data"]:
            break
        await asyncio.sleep(0.02)
    assert r == {"data": "hello\n", "offset": 0}
    size = (await c.get("/files/read", params={"path": sandbox + "/stdout", "offset": -1})).json()
    assert size == {"data": "", "offset": 6}
    part = await c.get(
        "/files/read", params={"path": sandbox + "/stdout", "offset": 1, "length": 3}
    )
    assert part.json() == {"data": "ell", "offset": 1}
    entries = (await c.get("/files/browse", params={"path": sandbox})).json()
    assert [Path(e["path"]).name for e in entries] == ["stderr", "stdout"]
    assert set(entries[0]) == {"path", "size", "mode", "mtime", "nlink", "uid", "gid"}


@pytest.mark.parametrize(
    "path",
    ["/etc/passwd", "../../etc/passwd", "{sandbox}/../../../../../../../../etc/passwd", "{link}"],
)
async def test_files_outside_sandboxes_are_refused(client: Any, tmp_path: Path, path: str) -> None:
    c, agent, _master = client
    await launch(c, agent, task("t", "sleep 100"))
    sandbox = agent.tasks[("F", "t")].executor.sandbox
    (sandbox / "escape").symlink_to("/etc")
    path = path.format(sandbox=sandbox, link=f"{sandbox}/escape/passwd")
    for endpoint in ("/files/read", "/files/browse"):
        r = await c.get(endpoint, params={"path": path})
        assert r.status_code in (403, 404), r.text
        assert "root:" not in r.text and r.json()["message"]


async def test_missing_file_is_404(client: Any) -> None:
    c, agent, _master = client
    r = await c.get("/files/read", params={"path": str(agent.config.work_dir / "slaves" / "nope")})
    assert r.status_code == 404


async def test_bad_bodies_are_400_not_500(client: Any) -> None:
    c, _agent, _master = client
    for path, body in [
        ("/internal/run_task", {"framework_id": "F"}),
        ("/internal/run_task", {"framework_id": "F", "task": {"name": "no id"}}),
        ("/internal/run_task", {"framework_id": "F", "task": {"task_id": {"value": "a/b"}}}),
        ("/internal/kill_task", {"task_id": "x"}),
        ("/internal/acknowledge", {"framework_id": "F"}),
        ("/internal/shutdown_framework", []),
    ]:
        r = await c.post(path, json=body)
        assert r.status_code == 400, (path, body, r.text)
        assert r.json()["message"]
    r = await c.post(
        "/internal/run_task", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert r.status_code == 400


async def test_internal_calls_answer_202(client: Any) -> None:
    c, _agent, _master = client
    r = await c.post("/internal/kill_task", json={"framework_id": "F", "task_id": "ghost"})
    assert r.status_code == 202
    r = await c.post(
        "/internal/acknowledge", json={"framework_id": "F", "task_id": "g", "uuid": "x"}
    )
    assert r.status_code == 202
    r = await c.post("/internal/shutdown_framework", json={"framework_id": "F"})
    assert r.status_code == 202


async def test_monitor_health_version(client: Any) -> None:
    c, agent, _master = client
    await launch(c, agent, task("t", "sleep 100"))
    [stat] = (await c.get("/monitor/statistics")).json()
    assert stat["executor_id"] == "t" and stat["framework_id"] == "F"
    assert stat["statistics"]["processes"] >= 1 and stat["statistics"]["cpus_limit"] == 0.1
    assert stat["statistics"]["mem_limit_bytes"] == 32 * 1024 * 1024
    h = await c.get("/health")
    assert h.status_code == 200 and h.content == b""
    assert "version" in (await c.get("/version")).json()
