"""Marathon benchmark: time from `POST /v2/apps` to all instances running, and back.

`run()` starts a master process (memory store, 50 ms allocation interval), the agents and a
`dcos-core marathon` process (`--store memory`) on 127.0.0.1, then POSTs `apps` app(s) of
`{"cmd": "sleep 3600", "cpus": 0.01, "mem": 8}` with `instances` instances in all and polls
`GET /v2/apps?id=/bench` (no task embedding) every `poll` seconds until every instance is
TASK_RUNNING and no deployment is left. "Healthy" is "running": the apps have no health checks.
Then it DELETEs the app(s) and measures the time until Marathon has forgotten them and the master
counts no live task.

Two scenarios:

* `real`: `agents` real `dcos-core agent` processes with the **posix containerizer** (no
  isolation: a task is a plain process group, so that 1,000 `sleep` tasks stay cheap on 2 cores).
* `simulated`: the bench process plays `agents` agents: each registers over the internal protocol
  and serves `/internal/*` (run_task, kill_task, acknowledge, shutdown_framework) on its own port
  with a minimal HTTP/1.1 server on asyncio streams; run_task is answered with TASK_STARTING then
  TASK_RUNNING, kill_task with TASK_KILLED, status updates go to `/internal/agent/status` through
  `dcos_core.http11`. No process is started for a task.

Each agent has room for 1.25 times its share of the instances (`agent_capacity`): Marathon fills
an offer before it takes the next, so with big agents the whole app would land on one of them.

Measured: POST -> all running (s; `completed` is False if that took longer than `timeout`,
and the figures are then those at the timeout), POST -> first running (s, to the poll
resolution), instances per second, the running-instances curve (one sample per poll), the CPU
seconds of the marathon, master (and real agent) processes over that span (psutil), and DELETE ->
all gone (s; `deleted` is False if that took longer than `timeout`). Every
process started here is stopped by its PID in a `finally`; the temp dir is removed.

This module imports no master, agent or containerizer code (frameworks may not): it has its own
small process wrapper and simulated agents.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import deque
from pathlib import Path
from typing import Any, Final

import httpx
import psutil

from dcos_core.http11 import HttpClient, HttpError
from dcos_core.model.task import TaskState
from dcos_core.protocol.v1 import new_status_uuid, task_status

HOST: Final = "127.0.0.1"
TARGET_REAL_S: Final = 30.0  # 1,000 instances on 10 real agents
TARGET_SIMULATED_S: Final = 20.0  # 10,000 instances on 1,000 simulated agents
APP_CMD: Final = "sleep 3600"
APP_CPUS: Final = 0.01
APP_MEM: Final = 8
SPREAD: Final = 1.25  # each agent has room for 1.25 x its share of the instances
_LIVE_STATES: Final = ("staging", "starting", "running", "killing", "unreachable")
_RESPONSE: Final = (
    b"HTTP/1.1 202 Accepted\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"
)


def agent_capacity(instances: int, agents: int) -> tuple[float, int]:
    """(cpus, mem MB) of each agent: room for `SPREAD` times its share of the instances (at
    least 4), so that Marathon, which fills an offer before it takes the next, spreads the app
    over every agent instead of packing it onto the first one."""
    per_agent = max(4, math.ceil(instances * SPREAD / agents))
    return round(per_agent * APP_CPUS + 0.01, 2), per_agent * APP_MEM + 64


def _sim_resources(cpus: float, mem: int) -> list[dict[str, Any]]:
    return [
        {"name": "cpus", "type": "SCALAR", "scalar": {"value": cpus}},
        {"name": "mem", "type": "SCALAR", "scalar": {"value": mem}},
        {"name": "disk", "type": "SCALAR", "scalar": {"value": 1024}},
        {"name": "ports", "type": "RANGES", "ranges": {"range": [{"begin": 31000, "end": 31999}]}},
    ]


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


# ---- processes -----------------------------------------------------------------------------


class _Proc:
    """A dcos-core daemon started by the bench; stopped by its PID only."""

    def __init__(self, args: list[str], log: Path, stop_signal: int = signal.SIGTERM) -> None:
        self.log = log
        self.stop_signal = stop_signal
        with log.open("ab") as out:
            self.p = subprocess.Popen(
                [sys.executable, "-m", "dcos_core", *args],
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        self.ps = psutil.Process(self.p.pid)

    def cpu(self, children: bool = False) -> float:
        """CPU seconds so far (with `children`: also those of its reaped children)."""
        try:
            t = self.ps.cpu_times()
        except psutil.Error:
            return 0.0
        return t.user + t.system + ((t.children_user + t.children_system) if children else 0.0)

    def stop(self, timeout: float = 20.0) -> None:
        if self.p.poll() is None:
            self.p.send_signal(self.stop_signal)
            try:
                self.p.wait(timeout)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()

    def tail(self, n: int = 2000) -> str:
        try:
            return self.log.read_text(errors="replace")[-n:]
        except OSError:
            return ""


async def _wait_http(url: str, proc: _Proc, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient(timeout=2) as client:
        while time.monotonic() < deadline:
            if proc.p.poll() is not None:
                raise RuntimeError(f"process exited ({proc.p.returncode}):\n{proc.tail()}")
            with contextlib.suppress(httpx.HTTPError):
                if (await client.get(url)).status_code == 200:
                    return
            await asyncio.sleep(0.05)
    raise RuntimeError(f"{url} not up after {timeout} s:\n{proc.tail()}")


async def _start_master(work: Path, procs: list[_Proc]) -> tuple[int, _Proc]:
    port = free_port()
    master = _Proc(
        [
            "master",
            "--ip",
            HOST,
            "--port",
            str(port),
            "--work-dir",
            str(work / "master"),
            "--store",
            "memory",
            "--allocation-interval",
            "0.05",
            "--log-level",
            "warning",
        ],
        work / "master.log",
    )
    procs.append(master)
    await _wait_http(f"http://{HOST}:{port}/health", master)
    return port, master


async def _start_real_agents(
    work: Path, master_port: int, n: int, resources: str, procs: list[_Proc]
) -> list[_Proc]:
    agents: list[_Proc] = []
    ports: list[int] = []
    for i in range(n):
        port = free_port()
        agent = _Proc(
            [
                "agent",
                "--master",
                f"{HOST}:{master_port}",
                "--ip",
                HOST,
                "--port",
                str(port),
                "--work-dir",
                str(work / f"agent-{i}"),
                "--resources",
                resources,
                "--containerizers",
                "posix",
                "--status-update-retry-min",
                "1",
                "--executor-shutdown-grace-period",
                "1",
                "--log-level",
                "warning",
            ],
            work / f"agent-{i}.log",
            stop_signal=signal.SIGUSR1,  # kill every task, then exit
        )
        procs.append(agent)
        agents.append(agent)
        ports.append(port)
    for agent, port in zip(agents, ports, strict=True):
        await _wait_http(f"http://{HOST}:{port}/health", agent, timeout=60)
    return agents


async def _start_marathon(work: Path, master_port: int, procs: list[_Proc]) -> tuple[int, _Proc]:
    port = free_port()
    marathon = _Proc(
        [
            "marathon",
            "--master",
            f"{HOST}:{master_port}",
            "--ip",
            HOST,
            "--port",
            str(port),
            "--work-dir",
            str(work / "marathon"),
            "--store",
            "memory",
            "--log-level",
            "warning",
        ],
        work / "marathon.log",
    )
    procs.append(marathon)
    await _wait_http(f"http://{HOST}:{port}/ping", marathon)
    return port, marathon


# ---- simulated agents ------------------------------------------------------------------------


class _SimAgent:
    """One simulated agent: its id, its port (a minimal HTTP/1.1 server) and its tasks."""

    def __init__(self, index: int, fleet: _SimFleet) -> None:
        self.index = index
        self.fleet = fleet
        self.agent_id = ""
        self.port = 0
        self.tasks: dict[str, str] = {}  # task id -> framework id
        self.server: asyncio.Server | None = None

    async def listen(self) -> None:
        self.server = await asyncio.start_server(self._serve, HOST, 0, backlog=64)
        self.port = int(self.server.sockets[0].getsockname()[1])

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.split(b"\r\n")
                path = lines[0].split(b" ", 2)[1]
                length = 0
                close = False
                for line in lines[1:]:
                    name, _, value = line.partition(b":")
                    name = name.strip().lower()
                    if name == b"content-length":
                        length = int(value)
                    elif name == b"connection" and value.strip().lower() == b"close":
                        close = True
                body = await reader.readexactly(length) if length else b""
                self.handle(path, body)
                writer.write(_RESPONSE)
                if close:
                    break
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, OSError, ValueError):
            pass
        finally:
            writer.close()

    def handle(self, path: bytes, body: bytes) -> None:
        fleet = self.fleet
        if path == b"/internal/acknowledge":
            fleet.acks += 1
        elif path == b"/internal/run_task":
            msg = json.loads(body)
            fid, tid = msg["framework_id"], msg["task"]["task_id"]["value"]
            self.tasks[tid] = fid
            fleet.run_tasks += 1
            fleet.outbox.append((self, fid, tid, (TaskState.STARTING, TaskState.RUNNING)))
            fleet.wake.set()
        elif path == b"/internal/kill_task":
            msg = json.loads(body)
            tid = msg["task_id"]
            fleet.kill_tasks += 1
            fid = self.tasks.pop(tid, None)
            if fid is not None:
                fleet.outbox.append((self, fid, tid, (TaskState.KILLED,)))
                fleet.wake.set()
        elif path == b"/internal/shutdown_framework":
            fid = json.loads(body)["framework_id"]
            for tid in [t for t, f in self.tasks.items() if f == fid]:
                del self.tasks[tid]

    def status_body(self, fid: str, tid: str, state: TaskState) -> bytes:
        status = task_status(
            tid,
            state,
            agent_id=self.agent_id,
            timestamp=time.time(),
            uuid=new_status_uuid(),
            executor_id=tid,
        )
        return json.dumps(
            {"agent_id": self.agent_id, "framework_id": fid, "status": status}
        ).encode()


class _SimFleet:
    """`n` simulated agents in this process, sharing the connections to the master.

    Status updates of a task are sent in order by one sender (STARTING then RUNNING); `senders`
    of them run at once, each on a kept-alive connection of a shared `HttpClient`.
    """

    def __init__(
        self, master_port: int, n: int, resources: list[dict[str, Any]], senders: int = 32
    ) -> None:
        self.resources = resources
        self.http = HttpClient(f"http://{HOST}:{master_port}", timeout=30, size=senders)
        self.agents = [_SimAgent(i, self) for i in range(n)]
        self.senders = senders
        self.outbox: deque[tuple[_SimAgent, str, str, tuple[TaskState, ...]]] = deque()
        self.wake = asyncio.Event()
        self.acks = 0
        self.run_tasks = 0
        self.kill_tasks = 0
        self.updates_sent = 0
        self.update_errors = 0
        self.heartbeat_interval = 15.0
        self._tasks: list[asyncio.Task[None]] = []

    @property
    def live_tasks(self) -> int:
        return sum(len(a.tasks) for a in self.agents)

    async def start(self, concurrency: int = 32) -> None:
        sem = asyncio.Semaphore(concurrency)

        async def register(agent: _SimAgent) -> None:
            async with sem:
                await agent.listen()
                body = {
                    "agent_info": {
                        "hostname": HOST,
                        "port": agent.port,
                        "resources": self.resources,
                    },
                    "version": "bench",
                }
                r = await self.http.post("/internal/agent/register", json.dumps(body).encode())
                if r.status != 200:
                    raise RuntimeError(f"register: {r.status} {r.text}")
                doc = json.loads(r.body)
                agent.agent_id = doc["agent_id"]
                self.heartbeat_interval = float(doc.get("heartbeat_interval_seconds", 15.0))

        await asyncio.gather(*(register(a) for a in self.agents))
        self._tasks.append(asyncio.create_task(self._heartbeats()))
        self._tasks.extend(asyncio.create_task(self._sender()) for _ in range(self.senders))

    async def _heartbeats(self) -> None:
        """Every agent heartbeats twice per interval, spread over the interval."""
        pause = self.heartbeat_interval / 2 / max(1, len(self.agents))
        while True:
            for agent in self.agents:
                await asyncio.sleep(pause)
                body = json.dumps({"agent_id": agent.agent_id}).encode()
                with contextlib.suppress(HttpError):
                    await self.http.post("/internal/agent/heartbeat", body)

    async def _sender(self) -> None:
        while True:
            while not self.outbox:
                self.wake.clear()
                await self.wake.wait()
            agent, fid, tid, states = self.outbox.popleft()
            for state in states:
                try:
                    r = await self.http.post(
                        "/internal/agent/status", agent.status_body(fid, tid, state)
                    )
                    self.updates_sent += 1
                    if r.status != 202:
                        self.update_errors += 1
                except HttpError:
                    self.update_errors += 1

    async def stop(self) -> None:
        for t in self._tasks:
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for a in self.agents:
            if a.server is not None:
                a.server.close()
        for a in self.agents:
            if a.server is not None:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(a.server.wait_closed(), 1)
        await self.http.close()


# ---- the measurement -------------------------------------------------------------------------


async def _metrics(http: httpx.AsyncClient, master_port: int) -> dict[str, float]:
    r = await http.get(f"http://{HOST}:{master_port}/metrics/snapshot")
    r.raise_for_status()
    return dict(r.json())


async def _wait_agents(http: httpx.AsyncClient, master_port: int, n: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if (await _metrics(http, master_port)).get("master/slaves_active", 0) >= n:
            return
        await asyncio.sleep(0.1)
    raise RuntimeError(f"{n} agents not registered after {timeout} s")


async def _apps_state(http: httpx.AsyncClient, url: str, ids: set[str]) -> tuple[int, int, int]:
    """(apps found, tasks running in all, deployments in all) of the bench apps."""
    r = await http.get(f"{url}/v2/apps", params={"id": "/bench"})
    r.raise_for_status()
    apps = [a for a in r.json()["apps"] if a["id"] in ids]
    return (
        len(apps),
        sum(int(a.get("tasksRunning", 0)) for a in apps),
        sum(len(a.get("deployments", [])) for a in apps),
    )


def _app_ids(apps: int) -> list[str]:
    return ["/bench"] if apps == 1 else [f"/bench-{i}" for i in range(apps)]


async def run(
    scenario: str = "real",
    instances: int = 1000,
    agents: int = 10,
    apps: int = 1,
    *,
    poll: float = 0.2,
    timeout: float = 300.0,
    delete_timeout: float | None = None,
) -> dict[str, Any]:
    """One scenario on a fresh master + agents + Marathon; returns the figures (JSON-ready).

    `scenario` is `real` (agent processes, posix containerizer) or `simulated` (agents played by
    this process); `instances` are spread over `apps` apps; `poll` is the sampling period of
    `/v2/apps`; `timeout` bounds the deployment and `delete_timeout` (default: `timeout`) the
    deletion.
    """
    if scenario not in ("real", "simulated"):
        raise ValueError("scenario must be 'real' or 'simulated'")
    if instances < 1 or agents < 1 or apps < 1 or apps > instances:
        raise ValueError("need instances >= apps >= 1 and agents >= 1")
    work = Path(tempfile.mkdtemp(prefix="dcos-marathon-bench-"))
    procs: list[_Proc] = []
    fleet: _SimFleet | None = None
    http = httpx.AsyncClient(timeout=30)
    try:
        t_setup = time.monotonic()
        master_port, master = await _start_master(work, procs)
        real_agents: list[_Proc] = []
        cpus, mem = agent_capacity(instances, agents)
        if scenario == "real":
            res = f"cpus:{cpus:g};mem:{mem};disk:1024;ports:[31000-31999]"
            real_agents = await _start_real_agents(work, master_port, agents, res, procs)
        else:
            fleet = _SimFleet(master_port, agents, _sim_resources(cpus, mem))
            await fleet.start()
        await _wait_agents(http, master_port, agents, 120)
        mport, marathon = await _start_marathon(work, master_port, procs)
        url = f"http://{HOST}:{mport}"
        setup_s = time.monotonic() - t_setup

        ids = _app_ids(apps)
        sizes = [instances // apps + (1 if i < instances % apps else 0) for i in range(apps)]
        cpu0 = _cpu(master, marathon, real_agents)
        bench_cpu0 = time.process_time()
        t0 = time.monotonic()
        for app_id, size in zip(ids, sizes, strict=True):
            body = {"id": app_id, "cmd": APP_CMD, "cpus": APP_CPUS, "mem": APP_MEM}
            r = await http.post(f"{url}/v2/apps", json=body | {"instances": size})
            if r.status_code != 201:
                raise RuntimeError(f"POST /v2/apps: {r.status_code} {r.text}")
        post_s = time.monotonic() - t0
        curve: list[tuple[float, int]] = [(0.0, 0)]
        first_s: float | None = None
        deadline = t0 + timeout
        slow_polls = 0
        while True:
            try:
                _found, running, deployments = await _apps_state(http, url, set(ids))
            except httpx.TimeoutException:  # Marathon too busy to answer in 30 s
                slow_polls += 1
                if time.monotonic() > deadline:
                    break
                continue
            now = time.monotonic() - t0
            curve.append((round(now, 3), running))
            if running and first_s is None:
                first_s = now
            if running >= instances and deployments == 0:
                break
            if time.monotonic() > deadline:  # reported as not completed, with the curve so far
                break
            await asyncio.sleep(poll)
        all_s = curve[-1][0]
        completed = curve[-1][1] >= instances and deployments == 0
        cpu1 = _cpu(master, marathon, real_agents)
        bench_cpu = time.process_time() - bench_cpu0

        # ---- delete -------------------------------------------------------------------------
        t1 = time.monotonic()
        for app_id in ids:
            r = await http.delete(f"{url}/v2/apps{app_id}")
            if r.status_code != 200:
                raise RuntimeError(f"DELETE /v2/apps{app_id}: {r.status_code} {r.text}")
        deadline = t1 + (timeout if delete_timeout is None else delete_timeout)
        forgotten_s: float | None = None
        while True:
            try:
                found, _running, _deps = await _apps_state(http, url, set(ids))
            except httpx.TimeoutException:
                slow_polls += 1
                if time.monotonic() > deadline:
                    break
                continue
            now = time.monotonic() - t1
            if not found and forgotten_s is None:
                forgotten_s = now
            m = await _metrics(http, master_port)
            live = sum(int(m.get(f"master/tasks_{s}", 0)) for s in _LIVE_STATES)
            if forgotten_s is not None and live == 0 and (fleet is None or not fleet.live_tasks):
                break
            if time.monotonic() > deadline:
                break
            await asyncio.sleep(poll)
        delete_s = time.monotonic() - t1
        deleted = live == 0 and forgotten_s is not None
        cpu2 = _cpu(master, marathon, real_agents)

        cpu = {k: round(cpu1[k] - cpu0[k], 2) for k in cpu1}
        target = TARGET_REAL_S if scenario == "real" else TARGET_SIMULATED_S
        if scenario == "simulated":
            cpu["bench_process_with_simulated_agents"] = round(bench_cpu, 2)
        out: dict[str, Any] = {
            "scenario": scenario,
            "containerizer": "posix (no isolation)" if scenario == "real" else "none (simulated)",
            "instances": instances,
            "agents": agents,
            "apps": apps,
            "agent_resources": {"cpus": cpus, "mem": mem},
            "completed": completed,  # False: not all running within `timeout`
            "running_at_end": curve[-1][1],
            "seconds_to_all_running": round(all_s, 3),
            "seconds_to_first_running": round(first_s or all_s, 3),
            "instances_per_s": round(curve[-1][1] / all_s, 1) if all_s else 0.0,
            "target_s": target,
            "meets_target": completed and all_s <= target,
            "post_seconds": round(post_s, 3),
            "cpu_seconds": cpu,
            "cpu_seconds_delete": {k: round(cpu2[k] - cpu1[k], 2) for k in cpu2},
            "deleted": deleted,  # False: tasks still live `timeout` s after DELETE
            "delete_seconds": round(delete_s, 3),
            "delete_app_gone_seconds": round(forgotten_s or delete_s, 3),
            "setup_seconds": round(setup_s, 3),
            "poll_seconds": poll,
            "polls_timed_out": slow_polls,  # GET /v2/apps not answered in 30 s
            "curve": curve,
            "machine": {
                "cpus": os.cpu_count(),
                "python": platform.python_version(),
                "platform": platform.platform(),
            },
        }
        if fleet is not None:
            out["simulated_agents"] = {
                "run_task": fleet.run_tasks,
                "kill_task": fleet.kill_tasks,
                "acknowledgements": fleet.acks,
                "status_updates_sent": fleet.updates_sent,
                "status_update_errors": fleet.update_errors,
            }
        return out
    except BaseException as e:
        logs = "\n".join(f"--- {p.log.name}\n{p.tail()}" for p in procs[:3])
        if isinstance(e, Exception):
            raise RuntimeError(f"marathon bench ({scenario}) failed: {e!r}\n{logs}") from e
        raise
    finally:
        await http.aclose()
        # Marathon first (it would relaunch), then the agents (SIGUSR1: kill their tasks), then
        # the master; the simulated agents last, so that the master's calls are answered.
        for p in reversed(procs):
            p.stop()
        if fleet is not None:
            await fleet.stop()
        shutil.rmtree(work, ignore_errors=True)


def _cpu(master: _Proc, marathon: _Proc, agents: list[_Proc]) -> dict[str, float]:
    out = {"marathon": marathon.cpu(), "master": master.cpu()}
    if agents:
        out["agents"] = sum(a.cpu() for a in agents)
        out["agents_children"] = sum(a.cpu(children=True) - a.cpu() for a in agents)
    return out
