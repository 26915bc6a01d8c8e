"""Master benchmark: status-update throughput and ACCEPT -> TASK_RUNNING latency.

`run()` starts a real master process on 127.0.0.1 (memory store, 50 ms allocation interval), then:

1. *Latency* (first, on an idle master): one real agent process (`--containerizer posix`) and a
   raw v1 scheduler. `launches` samples, one at a time: ACCEPT one task (`sleep 30`) on the
   outstanding offers, time from sending the ACCEPT to receiving its TASK_RUNNING event (the
   scheduler acknowledges every update at once: the agent sends TASK_RUNNING only after
   TASK_STARTING is acknowledged, as Mesos does), then KILL it and wait for TASK_KILLED so the
   agent is idle for the next sample. Each sample also records where the time went (the agent's
   status timestamps are on the same clock).
2. *Throughput*: the bench plays `agents` simulated agents (each registers over the internal
   protocol and serves the agent endpoints with a tiny ASGI app under uvicorn, in-process). A second
   scheduler launches `tasks` tasks in one ACCEPT per agent; the simulated agents answer run_task
   with TASK_STARTING and TASK_RUNNING. Then they send `updates` TASK_RUNNING updates (each with a
   fresh uuid) with at most `concurrency` in flight; the scheduler counts the UPDATE events on its
   stream and acknowledges every one. Reported: updates/s accepted by the master (202s), updates/s
   delivered on the event stream, acknowledgements/s accepted, and acks the master forwarded.

Hot-path HTTP (status updates, acknowledgements) goes through a minimal keep-alive HTTP/1.1 client
on asyncio streams, so that the bench process (sharing the machine with the master) spends as little
CPU as possible per request; the rest uses httpx. Every process started here is stopped by its PID,
also on error.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, MutableMapping
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from dcos_core.model.task import TaskState
from dcos_core.protocol.v1 import new_status_uuid, task_status
from dcos_core.recordio import Decoder

HOST = "127.0.0.1"
TARGET_P99_MS = 100.0
SIM_AGENT_RESOURCES: list[dict[str, Any]] = [
    {"name": "cpus", "type": "SCALAR", "scalar": {"value": 1000}},
    {"name": "mem", "type": "SCALAR", "scalar": {"value": 1_000_000}},
    {"name": "disk", "type": "SCALAR", "scalar": {"value": 100_000}},
    {"name": "ports", "type": "RANGES", "ranges": {"range": [{"begin": 31000, "end": 32000}]}},
]
REAL_AGENT_RESOURCES = "cpus:4;mem:4096;disk:4096;ports:[31000-31999]"
STREAM_CAP_S = 60.0  # longest wait for the events (and acks) of the throughput phase

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of a non-empty list."""
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[k]


# ---- processes -----------------------------------------------------------------------------


class _Proc:
    """A dcos-core daemon started by the bench; stopped by its PID only."""

    def __init__(self, args: list[str], log: Path) -> None:
        self.log = log
        with log.open("ab") as out:
            self.p = subprocess.Popen(
                [sys.executable, "-m", "dcos_core", *args],
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )

    def stop(self, timeout: float = 10.0) -> None:
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
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


async def start_master(work: Path, procs: list[_Proc]) -> tuple[int, _Proc]:
    """A bench master (memory store, 50 ms allocation interval) on a free port, once healthy."""
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


# ---- a minimal keep-alive HTTP/1.1 client for the hot paths ---------------------------------


class _Conn:
    """One keep-alive connection; `post()` returns the status code. Reconnects once if dropped."""

    def __init__(self, port: int) -> None:
        self.port = port
        self._r: asyncio.StreamReader | None = None
        self._w: asyncio.StreamWriter | None = None

    async def post(self, path: str, body: bytes, headers: str = "") -> int:
        for attempt in (0, 1):
            try:
                return await self._post(path, body, headers)
            except (OSError, asyncio.IncompleteReadError, ValueError):
                await self.close()
                if attempt:
                    raise
        raise AssertionError("unreachable")

    async def _post(self, path: str, body: bytes, headers: str) -> int:
        if self._w is None or self._r is None:
            self._r, self._w = await asyncio.open_connection(HOST, self.port)
        head = (
            f"POST {path} HTTP/1.1\r\nHost: {HOST}:{self.port}\r\n"
            f"Content-Type: application/json\r\n{headers}Content-Length: {len(body)}\r\n\r\n"
        )
        self._w.write(head.encode() + body)
        raw = await self._r.readuntil(b"\r\n\r\n")
        lines = raw.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        length = 0
        close = False
        for line in lines[1:]:
            name, _, value = line.partition(":")
            name = name.strip().lower()
            if name == "content-length":
                length = int(value)
            elif name == "connection" and value.strip().lower() == "close":
                close = True
        if length:
            await self._r.readexactly(length)
        if close:
            await self.close()
        return status

    async def close(self) -> None:
        w, self._r, self._w = self._w, None, None
        if w is not None:
            w.close()
            with contextlib.suppress(OSError):
                await w.wait_closed()


# ---- the scheduler ---------------------------------------------------------------------------


class _Scheduler:
    """A raw v1 scheduler: httpx stream + RecordIO decoder; acknowledges every update at once."""

    def __init__(self, port: int, name: str, ack_workers: int) -> None:
        self.port = port
        self.name = name
        self.http = httpx.AsyncClient(
            base_url=f"http://{HOST}:{port}", timeout=httpx.Timeout(10.0, read=None)
        )
        self.framework_id = ""
        self.stream_id = ""
        self.offers: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.on_update: Callable[[dict[str, Any], float], None] = lambda _s, _t: None
        self.acks_sent = 0
        self.acks_accepted = 0
        self.ack_last = 0.0
        self.acks_done = asyncio.Event()
        self.acks_wanted = -1
        self.ack_updates = True  # False: count UPDATE events without acknowledging them
        self._ack_queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._ack_conns = [_Conn(port) for _ in range(ack_workers)]
        self._tasks: list[asyncio.Task[None]] = []
        self._resp: httpx.Response | None = None
        self._subscribed = asyncio.Event()

    async def subscribe(self) -> None:
        body = {
            "type": "SUBSCRIBE",
            "subscribe": {
                "framework_info": {
                    "user": "root",
                    "name": self.name,
                    "failover_timeout": 0.0,
                    "capabilities": [{"type": "PARTITION_AWARE"}],
                }
            },
        }
        req = self.http.build_request(
            "POST",
            "/api/v1/scheduler",
            json=body,
            headers={"Accept": "application/json"},
        )
        resp = await self.http.send(req, stream=True)
        if resp.status_code != 200:
            await resp.aread()
            raise RuntimeError(f"SUBSCRIBE: {resp.status_code} {resp.text}")
        self._resp = resp
        self.stream_id = resp.headers["Mesos-Stream-Id"]
        self._tasks.append(asyncio.create_task(self._read(resp)))
        self._tasks.extend(asyncio.create_task(self._ack_worker(c)) for c in self._ack_conns)
        await asyncio.wait_for(self._subscribed.wait(), 10)

    async def _read(self, resp: httpx.Response) -> None:
        decoder = Decoder()
        async for chunk in resp.aiter_raw():
            now = time.time()
            for record in decoder.feed(chunk):
                ev = json.loads(record)
                kind = ev.get("type")
                if kind == "UPDATE":
                    status = ev["update"]["status"]
                    if status.get("uuid") and self.ack_updates:
                        self._ack_queue.put_nowait(status)
                    self.on_update(status, now)
                elif kind == "OFFERS":
                    for offer in ev["offers"]["offers"]:
                        self.offers.put_nowait(offer)
                elif kind == "SUBSCRIBED":
                    self.framework_id = ev["subscribed"]["framework_id"]["value"]
                    self._subscribed.set()

    async def _ack_worker(self, conn: _Conn) -> None:
        headers = f"Mesos-Stream-Id: {self.stream_id}\r\n"
        while True:
            status = await self._ack_queue.get()
            body = json.dumps(
                {
                    "type": "ACKNOWLEDGE",
                    "framework_id": {"value": self.framework_id},
                    "acknowledge": {
                        "agent_id": status["agent_id"],
                        "task_id": status["task_id"],
                        "uuid": status["uuid"],
                    },
                }
            ).encode()
            self.acks_sent += 1
            code = await conn.post("/api/v1/scheduler", body, headers)
            if code == 202:
                self.acks_accepted += 1
                self.ack_last = time.time()
                if self.acks_accepted == self.acks_wanted:
                    self.acks_done.set()

    async def call(self, call_type: str, payload: dict[str, Any] | None = None) -> None:
        body: dict[str, Any] = {"type": call_type, "framework_id": {"value": self.framework_id}}
        if payload is not None:
            body[call_type.lower()] = payload
        r = await self.http.post(
            "/api/v1/scheduler", json=body, headers={"Mesos-Stream-Id": self.stream_id}
        )
        if r.status_code not in (200, 202):
            raise RuntimeError(f"{call_type}: {r.status_code} {r.text}")

    def take_offers(self) -> list[dict[str, Any]]:
        out = []
        while not self.offers.empty():
            out.append(self.offers.get_nowait())
        return out

    async def wait_offers(self, timeout: float = 10.0) -> list[dict[str, Any]]:
        first = await asyncio.wait_for(self.offers.get(), timeout)
        return [first, *self.take_offers()]

    async def close(self) -> None:
        for t in self._tasks:
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._resp is not None:
            await self._resp.aclose()
        for c in self._ack_conns:
            await c.close()
        await self.http.aclose()


def _task(
    task_id: str,
    agent_id: dict[str, Any],
    command: str,
    cpus: float,
    mem: float,
) -> dict[str, Any]:
    return {
        "name": task_id,
        "task_id": {"value": task_id},
        "agent_id": agent_id,
        "resources": [
            {"name": "cpus", "type": "SCALAR", "scalar": {"value": cpus}},
            {"name": "mem", "type": "SCALAR", "scalar": {"value": mem}},
        ],
        "command": {"shell": True, "value": command},
    }


# ---- simulated agents ------------------------------------------------------------------------


class _QuietServer(uvicorn.Server):
    """uvicorn without its signal capture (the bench runs inside someone else's process)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Any:
        yield


class _SimAgent:
    """Registers with the master and serves /internal/* with a tiny ASGI app (uvicorn)."""

    def __init__(self, index: int, master_port: int, launchers: int = 8) -> None:
        self.index = index
        self.master_port = master_port
        self.port = free_port()
        self.agent_id = ""
        # this agent's own connections for its launch-time updates, one per launcher
        self.conns = [_Conn(master_port) for _ in range(launchers)]
        self.tasks: list[tuple[str, str]] = []  # (framework_id, task_id)
        self.acks = 0
        self.run_tasks = 0
        self._launch_queue: asyncio.Queue[tuple[str, str]] = asyncio.Queue()
        self._server = _QuietServer(
            uvicorn.Config(
                self.app,
                host=HOST,
                port=self.port,
                log_level="warning",
                lifespan="off",
                access_log=False,
                interface="asgi3",
            )
        )
        self._tasks: list[asyncio.Task[Any]] = []

    async def app(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        body = b""
        more = True
        while more:
            msg = await receive()
            body += msg.get("body", b"")
            more = bool(msg.get("more_body"))
        path = scope["path"]
        if path == "/internal/acknowledge":
            self.acks += 1
        elif path == "/internal/run_task":
            msg = json.loads(body)
            self.run_tasks += 1
            self._launch_queue.put_nowait((msg["framework_id"], msg["task"]["task_id"]["value"]))
        await send(
            {
                "type": "http.response.start",
                "status": 202,
                "headers": [(b"content-type", b"application/json"), (b"content-length", b"2")],
            }
        )
        await send({"type": "http.response.body", "body": b"{}"})

    async def start(self, http: httpx.AsyncClient) -> None:
        self._tasks.append(asyncio.create_task(self._server.serve()))
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or self._tasks[0].done():
                raise RuntimeError(f"simulated agent {self.index} could not serve on {self.port}")
            await asyncio.sleep(0.01)
        r = await http.post(
            "/internal/agent/register",
            json={
                "agent_info": {
                    "hostname": HOST,
                    "port": self.port,
                    "resources": SIM_AGENT_RESOURCES,
                },
                "version": "bench",
            },
        )
        r.raise_for_status()
        self.agent_id = r.json()["agent_id"]
        self._tasks.append(asyncio.create_task(self._heartbeats(http)))
        self._tasks.extend(asyncio.create_task(self._launcher(c)) for c in self.conns)

    async def _heartbeats(self, http: httpx.AsyncClient) -> None:
        while True:
            await asyncio.sleep(3)
            with contextlib.suppress(httpx.HTTPError):
                await http.post("/internal/agent/heartbeat", json={"agent_id": self.agent_id})

    async def _launcher(self, conn: _Conn) -> None:
        """Answer run_task as the command executor would: TASK_STARTING, then TASK_RUNNING."""
        while True:
            fid, tid = await self._launch_queue.get()
            self.tasks.append((fid, tid))
            for state in (TaskState.STARTING, TaskState.RUNNING):
                await conn.post("/internal/agent/status", self.status_body(fid, tid, state))

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

    async def stop(self) -> None:
        self._server.should_exit = True
        for t in self._tasks[1:]:
            t.cancel()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.gather(*self._tasks, return_exceptions=True), 5)
        for c in self.conns:
            await c.close()


# ---- phase 1: ACCEPT -> TASK_RUNNING latency on a real agent ----------------------------------


async def _latency(port: int, launches: int) -> dict[str, Any]:
    sched = _Scheduler(port, "bench-latency", ack_workers=2)
    marks: dict[str, dict[str, float]] = {}
    waiters: dict[tuple[str, str], asyncio.Future[None]] = {}

    def on_update(status: dict[str, Any], now: float) -> None:
        tid = status["task_id"]["value"]
        state = status["state"]
        m = marks.setdefault(tid, {})
        m[f"{state}_recv"] = now
        m[f"{state}_emit"] = float(status.get("timestamp", now))
        fut = waiters.pop((tid, state), None)
        if fut is not None and not fut.done():
            fut.set_result(None)

    sched.on_update = on_update
    loop = asyncio.get_running_loop()
    samples: list[float] = []
    started = time.time()
    try:
        await sched.subscribe()
        offers = await sched.wait_offers(30)
        for i in range(launches):
            if not offers:
                offers = await sched.wait_offers(10)
            offers += sched.take_offers()
            tid = f"lat-{i}"
            running = waiters[(tid, "TASK_RUNNING")] = loop.create_future()
            killed = waiters[(tid, "TASK_KILLED")] = loop.create_future()
            task = _task(tid, offers[0]["agent_id"], "sleep 30", 0.1, 32)
            t0 = time.time()
            marks[tid] = {"accept_sent": t0}
            await sched.call(
                "ACCEPT",
                {
                    "offer_ids": [o["id"] for o in offers],
                    "operations": [{"type": "LAUNCH", "launch": {"task_infos": [task]}}],
                    "filters": {"refuse_seconds": 0},
                },
            )
            marks[tid]["accept_done"] = time.time()
            offers = []
            await asyncio.wait_for(running, 10)
            samples.append((marks[tid]["TASK_RUNNING_recv"] - t0) * 1000)
            await sched.call("KILL", {"task_id": {"value": tid}})
            await asyncio.wait_for(killed, 10)
        await sched.call("TEARDOWN")
    finally:
        await sched.close()
    out = _latency_summary(samples, [marks[f"lat-{i}"] for i in range(len(samples))])
    out["seconds"] = round(time.time() - started, 3)
    return out


def _latency_summary(samples: list[float], marks: list[dict[str, float]]) -> dict[str, Any]:
    out: dict[str, Any] = {"samples": len(samples), "samples_ms": [round(s, 3) for s in samples]}
    if not samples:
        return out
    out |= {
        "p50": round(percentile(samples, 50), 2),
        "p90": round(percentile(samples, 90), 2),
        "p99": round(percentile(samples, 99), 2),
        "max": round(max(samples), 2),
        "mean": round(statistics.fmean(samples), 2),
        "target_p99": TARGET_P99_MS,
        "meets_target": percentile(samples, 99) <= TARGET_P99_MS,
    }
    spans = {
        # ACCEPT POST answered by the master (202)
        "accept_call": ("accept_sent", "accept_done"),
        # master accept -> run_task POST -> agent builds the executor -> TASK_STARTING emitted
        "accept_to_starting_emitted": ("accept_sent", "TASK_STARTING_emit"),
        # agent status manager POST -> master -> event stream -> scheduler
        "starting_delivery": ("TASK_STARTING_emit", "TASK_STARTING_recv"),
        # fork/exec of the command by the posix containerizer (overlaps the STARTING ack)
        "starting_to_running_emitted": ("TASK_STARTING_emit", "TASK_RUNNING_emit"),
        # RUNNING waits for the STARTING ack, then agent -> master -> scheduler
        "running_delivery": ("TASK_RUNNING_emit", "TASK_RUNNING_recv"),
    }
    breakdown: dict[str, dict[str, float]] = {}
    for name, (a, b) in spans.items():
        values = [(m[b] - m[a]) * 1000 for m in marks if a in m and b in m]
        if values:
            breakdown[name] = {
                "p50": round(percentile(values, 50), 2),
                "p99": round(percentile(values, 99), 2),
            }
    out["breakdown_ms"] = breakdown
    return out


# ---- phase 2: status update throughput through the master ------------------------------------


async def _throughput(
    port: int, agents: int, updates: int, tasks: int, concurrency: int, ack: bool
) -> dict[str, Any]:
    http = httpx.AsyncClient(base_url=f"http://{HOST}:{port}", timeout=10)
    sims = [_SimAgent(i, port) for i in range(agents)]
    sched = _Scheduler(port, "bench-throughput", ack_workers=32)
    running: set[str] = set()
    all_running = asyncio.Event()
    phase = {"counting": False, "delivered": 0, "last": 0.0, "target": updates}
    delivered_all = asyncio.Event()

    def on_update(status: dict[str, Any], now: float) -> None:
        if phase["counting"]:
            phase["delivered"] += 1
            phase["last"] = now
            if phase["delivered"] >= phase["target"]:
                delivered_all.set()
        elif status["state"] == "TASK_RUNNING":
            running.add(status["task_id"]["value"])
            if len(running) >= tasks:
                all_running.set()

    sched.on_update = on_update
    conns = [_Conn(port) for _ in range(concurrency)]
    try:
        for sim in sims:
            await sim.start(http)
        sim_by_id = {s.agent_id: s for s in sims}
        await sched.subscribe()
        offers: dict[str, dict[str, Any]] = {}
        deadline = time.monotonic() + 20
        while len(offers) < len(sims):
            for o in await sched.wait_offers(max(0.1, deadline - time.monotonic())):
                if o["agent_id"]["value"] in sim_by_id:
                    offers[o["agent_id"]["value"]] = o
        t_launch = time.time()
        per_agent = [tasks // agents + (1 if i < tasks % agents else 0) for i in range(agents)]
        n = 0
        for (aid, offer), count in zip(offers.items(), per_agent, strict=True):
            infos = [
                _task(f"tp-{n + k}", {"value": aid}, "sleep 3600", 0.01, 1) for k in range(count)
            ]
            n += count
            await sched.call(
                "ACCEPT",
                {
                    "offer_ids": [offer["id"]],
                    "operations": [{"type": "LAUNCH", "launch": {"task_infos": infos}}],
                },
            )
        await asyncio.wait_for(all_running.wait(), 60)
        launch_s = time.time() - t_launch
        # Let the launch-time acknowledgements reach the agents before the measured phase.
        drain_deadline = time.monotonic() + 10
        while (
            sched.acks_accepted < 2 * tasks or sum(s.acks for s in sims) < sched.acks_accepted
        ) and time.monotonic() < drain_deadline:
            await asyncio.sleep(0.02)
        backlog = sched.acks_accepted - sum(s.acks for s in sims)
        drain_s = time.time() - t_launch - launch_s
        targets = [(s, fid, tid) for s in sims for fid, tid in s.tasks]
        bodies = [
            targets[j % len(targets)][0].status_body(
                targets[j % len(targets)][1], targets[j % len(targets)][2], TaskState.RUNNING
            )
            for j in range(updates)
        ]
        acks_before = sched.acks_accepted
        agent_acks_before = sum(s.acks for s in sims)
        sched.acks_wanted = acks_before + updates
        accepted = [0]
        sent = [0]
        last_accept = [0.0]

        async def worker(k: int) -> None:
            conn = conns[k]
            for j in range(k, updates, concurrency):
                if time.time() > send_deadline:
                    return
                sent[0] += 1
                if await conn.post("/internal/agent/status", bodies[j]) == 202:
                    accepted[0] += 1
                    last_accept[0] = time.time()

        sched.ack_updates = ack
        phase["counting"] = True
        t0 = time.time()
        send_deadline = t0 + STREAM_CAP_S
        await asyncio.gather(*(worker(k) for k in range(min(concurrency, updates))))
        phase["target"] = sent[0]  # fewer than `updates` if the cap cut the sending short
        if phase["delivered"] >= sent[0]:
            delivered_all.set()
        sched.acks_wanted = acks_before + sent[0]
        if sched.acks_accepted >= sched.acks_wanted or not ack:
            sched.acks_done.set()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(delivered_all.wait(), max(0.1, t0 + STREAM_CAP_S - time.time()))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(
                sched.acks_done.wait(), max(0.1, t0 + STREAM_CAP_S - time.time())
            )
        # the master forwards the last acks to the agents asynchronously
        fwd_deadline = time.monotonic() + 5
        while (
            sum(s.acks for s in sims) - agent_acks_before < sched.acks_accepted - acks_before
            and time.monotonic() < fwd_deadline
        ):
            await asyncio.sleep(0.02)
        acks = sched.acks_accepted - acks_before
        delivered = int(phase["delivered"])

        def rate(count: float, end: float) -> float:
            return round(count / (end - t0), 1) if count and end > t0 else 0.0

        return {
            "agents": agents,
            "tasks": tasks,
            "concurrency": concurrency,
            "ack": ack,
            "launch_seconds": round(launch_s, 3),
            "launch_ack_drain_seconds": round(drain_s, 3),
            "launch_acks_not_forwarded_at_start": backlog,
            "updates_sent": sent[0],
            "updates_accepted": accepted[0],
            "accepted_per_s": rate(accepted[0], last_accept[0]),
            "updates_delivered": delivered,
            "delivered_per_s": rate(delivered, phase["last"]),
            "acks_accepted": acks,
            "acks_per_s": rate(acks, sched.ack_last),
            "acks_forwarded_to_agents": sum(s.acks for s in sims) - agent_acks_before,
            "seconds": round(max(last_accept[0], phase["last"], sched.ack_last) - t0, 3),
        }
    finally:
        with contextlib.suppress(Exception):
            await sched.call("TEARDOWN")
        await sched.close()
        for c in conns:
            await c.close()
        for sim in sims:
            await sim.stop()
        await http.aclose()


# ---- entry point -----------------------------------------------------------------------------


async def run(
    agents: int = 4,
    updates: int = 20000,
    launches: int = 200,
    *,
    tasks: int | None = None,
    concurrency: int = 64,
    ack: bool = True,
) -> dict[str, Any]:
    """Run both phases against a fresh master; returns the figures (JSON-ready).

    `tasks` (default min(1000, updates / 20)) are launched for the throughput phase; `concurrency`
    status updates are in flight at once; `ack=False` leaves the updates of the measured phase
    unacknowledged (the status path alone). `launches=0` skips the latency phase.
    """
    if agents < 1 or updates < 1 or launches < 0:
        raise ValueError("need agents >= 1, updates >= 1, launches >= 0")
    tasks = tasks if tasks is not None else max(agents, min(1000, updates // 20))
    work = Path(tempfile.mkdtemp(prefix="dcos-master-bench-"))
    procs: list[_Proc] = []
    try:
        port, _master = await start_master(work, procs)
        agent_port = free_port()
        agent = _Proc(
            [
                "agent",
                "--master",
                f"{HOST}:{port}",
                "--ip",
                HOST,
                "--port",
                str(agent_port),
                "--work-dir",
                str(work / "agent"),
                "--resources",
                REAL_AGENT_RESOURCES,
                "--containerizers",
                "posix",
                "--status-update-retry-min",
                "1",
                "--executor-shutdown-grace-period",
                "1",
                "--log-level",
                "warning",
            ],
            work / "agent.log",
        )
        procs.append(agent)
        await _wait_http(f"http://{HOST}:{agent_port}/health", agent)
        latency = await _latency(port, launches) if launches else {"samples": 0}
        throughput = await _throughput(port, agents, updates, tasks, concurrency, ack)
        return {
            "machine": {
                "cpus": os.cpu_count(),
                "python": platform.python_version(),
                "platform": platform.platform(),
            },
            "params": {
                "agents": agents,
                "updates": updates,
                "launches": launches,
                "tasks": tasks,
                "concurrency": concurrency,
                "ack": ack,
            },
            "throughput": throughput,
            "latency_ms": latency,
        }
    except BaseException as e:
        logs = "\n".join(f"--- {p.log.name}\n{p.tail()}" for p in procs)
        if isinstance(e, Exception):
            raise RuntimeError(f"master bench failed: {e!r}\n{logs}") from e
        raise
    finally:
        for p in reversed(procs):
            p.stop()
        shutil.rmtree(work, ignore_errors=True)
