"""A real agent process against a stand-in master served by this test on 127.0.0.1.

Checks the agent's half of `dcos_core.protocol.internal`: registration, heartbeats, ordered
status updates retried until acknowledged, kills, and a clean stop on SIGTERM.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI, Request

pytestmark = pytest.mark.integration

RETRY_MIN = 0.4  # the agent's status_update_retry_min for this test


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class StandInMaster:
    """Implements the master's three internal endpoints and records every call."""

    def __init__(self) -> None:
        self.registrations: list[dict[str, Any]] = []
        self.heartbeats: list[dict[str, Any]] = []
        self.statuses: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        app = FastAPI()

        @app.post("/internal/agent/register")
        async def register(request: Request) -> dict[str, Any]:
            with self.lock:
                self.registrations.append(await request.json())
            return {"agent_id": "M1-S0", "master_id": "M1", "heartbeat_interval_seconds": 0.2}

        @app.post("/internal/agent/heartbeat")
        async def heartbeat(request: Request) -> dict[str, Any]:
            with self.lock:
                self.heartbeats.append(await request.json())
            return {}

        @app.post("/internal/agent/status", status_code=202)
        async def status(request: Request) -> dict[str, Any]:
            body = await request.json()
            with self.lock:
                self.statuses.append(body)
            return {}

        self.port = free_port()
        self.server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning")
        )
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def updates(self, task_id: str) -> list[tuple[str, str]]:
        """(state, uuid) of every status POST received for the task, in arrival order."""
        with self.lock:
            return [
                (s["status"]["state"], s["status"]["uuid"])
                for s in self.statuses
                if s["status"]["task_id"]["value"] == task_id
            ]


def until(pred: Callable[[], Any], timeout: float = 10.0, what: str = "condition") -> Any:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = pred()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def master() -> Iterator[StandInMaster]:
    m = StandInMaster()
    m.thread.start()
    until(lambda: m.server.started, what="stand-in master")
    yield m
    m.server.should_exit = True
    m.thread.join(5)


@pytest.fixture
def agent(master: StandInMaster, tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    port = free_port()
    code = (
        "import asyncio, logging\n"
        "from pathlib import Path\n"
        "from dcos_core.agent.run import run_agent\n"
        "from dcos_core.config import AgentSettings\n"
        "logging.basicConfig(level=logging.INFO)\n"
        f"s = AgentSettings(master='127.0.0.1:{master.port}', ip='127.0.0.1', port={port},\n"
        f"    work_dir=Path({str(tmp_path / 'agent')!r}), attributes='rack:r1;weight:2.5',\n"
        f"    resources='cpus:2;mem:1024', status_update_retry_min={RETRY_MIN},\n"
        "    status_update_retry_max=2.0, executor_shutdown_grace_period=1.0)\n"
        "asyncio.run(run_agent(s))\n"
    )
    log = open(tmp_path / "agent.log", "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [sys.executable, "-c", code], stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    yield proc, f"http://127.0.0.1:{port}"
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    log.close()


def run_task(base: str, task_id: str, cmd: str, **extra: Any) -> None:
    task = {
        "name": task_id,
        "task_id": {"value": task_id},
        "agent_id": {"value": "M1-S0"},
        "resources": [{"name": "cpus", "type": "SCALAR", "scalar": {"value": 0.1}}],
        "command": {"value": cmd},
        **extra,
    }
    body = {"framework_id": "F1", "framework_info": {"name": "fw"}, "task": task}
    r = httpx.post(f"{base}/internal/run_task", json=body)
    assert r.status_code == 202, r.text


def ack(base: str, task_id: str, uuid: str) -> None:
    body = {"framework_id": "F1", "task_id": task_id, "uuid": uuid}
    assert httpx.post(f"{base}/internal/acknowledge", json=body).status_code == 202


def expect_retried_then_ack(master: StandInMaster, base: str, task_id: str, state: str) -> None:
    """`state` is the newest update; it is resent with the same uuid until acknowledged, and
    nothing after it is sent meanwhile."""
    first = until(lambda: [u for u in master.updates(task_id) if u[0] == state], what=state)[0]
    until(lambda: master.updates(task_id).count(first) >= 2, timeout=5, what=f"{state} retry")
    assert master.updates(task_id)[-1] == first  # only the front of the stream is in flight
    ack(base, task_id, first[1])


def executor_pid(base: str, task_id: str) -> int:
    def find() -> int | None:
        for fw in httpx.get(f"{base}/state").json()["frameworks"]:
            for ex in fw["executors"]:
                if ex["id"] == task_id and "pid" in ex:
                    return int(ex["pid"])
        return None

    return int(until(find, what=f"pid of {task_id}"))


def group_gone(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return True
    return False


def test_agent_speaks_the_internal_protocol(
    master: StandInMaster, agent: tuple[subprocess.Popen[bytes], str]
) -> None:
    proc, base = agent

    # registration: first time without an id, with resources and attributes
    reg = until(lambda: master.registrations, what="registration")[0]
    info = reg["agent_info"]
    assert info.get("id") is None
    assert info["hostname"] == "127.0.0.1" and info["port"] == int(base.rsplit(":", 1)[1])
    res = {r["name"]: r for r in info["resources"]}
    assert res["cpus"]["scalar"]["value"] == 2 and res["mem"]["scalar"]["value"] == 1024
    assert res["ports"]["ranges"]["range"] == [{"begin": 31000, "end": 32000}]
    assert {"name": "weight", "type": "SCALAR", "scalar": {"value": 2.5}} in info["attributes"]
    assert reg["tasks"] == []

    # heartbeats every 0.2 s with the id the master gave
    until(lambda: len(master.heartbeats) >= 3, what="heartbeats")
    assert {h["agent_id"] for h in master.heartbeats} == {"M1-S0"}

    # a task that finishes: STARTING, RUNNING, FINISHED, each retried until acknowledged
    run_task(base, "t1", "sleep 0.5")
    for state in ("TASK_STARTING", "TASK_RUNNING", "TASK_FINISHED"):
        expect_retried_then_ack(master, base, "t1", state)
    seen = [s for s, _ in master.updates("t1")]
    assert seen == sorted(seen, key=["TASK_STARTING", "TASK_RUNNING", "TASK_FINISHED"].index)
    body = next(s for s in master.statuses if s["status"]["state"] == "TASK_FINISHED")
    assert body["agent_id"] == "M1-S0" and body["framework_id"] == "F1"
    assert body["status"]["source"] == "SOURCE_EXECUTOR"
    state = until(lambda: httpx.get(f"{base}/state").json()["completed_frameworks"], what="done")
    assert state[0]["completed_executors"][0]["completed_tasks"][0]["state"] == "TASK_FINISHED"
    n = len(master.updates("t1"))
    time.sleep(RETRY_MIN * 2)
    assert len(master.updates("t1")) == n  # acknowledged: no more retries

    # a killed task: TASK_KILLED, and none of its processes is left
    run_task(base, "t2", "sleep 100 & sleep 100")
    pid = executor_pid(base, "t2")
    expect_retried_then_ack(master, base, "t2", "TASK_STARTING")
    expect_retried_then_ack(master, base, "t2", "TASK_RUNNING")
    r = httpx.post(f"{base}/internal/kill_task", json={"framework_id": "F1", "task_id": "t2"})
    assert r.status_code == 202
    expect_retried_then_ack(master, base, "t2", "TASK_KILLED")
    assert until(lambda: group_gone(pid), timeout=3, what="t2 processes gone")

    # SIGTERM stops the agent within 10 s and leaves no task process behind
    run_task(base, "t3", "trap '' TERM; sleep 100 & sleep 100")
    pid3 = executor_pid(base, "t3")
    time.sleep(0.2)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=10) == 0
    assert until(lambda: group_gone(pid3), timeout=2, what="t3 processes gone")
