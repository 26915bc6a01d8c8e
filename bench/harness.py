"""What the benchmarks (and the test cluster in `tests/cluster.py`) share.

* ports and waits: `free_port`, `wait_for` (sync), `wait_http` and `wait_metric` (async);
* processes: `Proc`, a `dcos-core` daemon stopped by its PID only, and `Workspace`, a temp dir
  with the daemons started in it (`start_master`, `start_agents`, `start_framework`), all
  stopped and removed on exit;
* figures: `percentile` (nearest rank), CPU seconds (`Proc.cpu`, `cpu_of`, `cpu_spent`),
  `machine`;
* traffic: `Scheduler` (a raw v1 scheduler) and `SimFleet` (simulated agents in this process);
* output: `emit` (JSON lines), `load_jsonl`, `plot_args` + `finish` (the `--plot` option) and
  `pyplot` + `save` for the charts in docs/.

Run a benchmark from the repository root: `python -m bench.<name> --help`.
"""

from __future__ import annotations

import argparse
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
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Final

import httpx
import psutil

from dcos_core.http11 import HttpClient, HttpError
from dcos_core.model.task import TaskState
from dcos_core.protocol.v1 import new_status_uuid, task_status
from dcos_core.recordio import Decoder

if TYPE_CHECKING:
    from matplotlib.figure import Figure

HOST: Final = "127.0.0.1"
# the agent flags of the benchmarks' real agents: no isolation, quick status retries and kills
POSIX_AGENT: Final = (
    "--containerizers",
    "posix",
    "--status-update-retry-min",
    "1",
    "--executor-shutdown-grace-period",
    "1",
)

# ---- ports, waits, figures -----------------------------------------------------------------


def free_port(host: str = HOST) -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def wait_for(predicate: Callable[[], Any], timeout: float = 20.0, what: str = "condition") -> Any:
    """Poll `predicate` every 50 ms until it returns something true, and return that; HTTP and
    OS errors and a missing key count as "not yet". AssertionError after `timeout` s."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = predicate()
        except (httpx.HTTPError, OSError, KeyError):
            last = None
        if last:
            return last
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def percentile(values: Sequence[float], q: float) -> float:
    """The `q`-th percentile (nearest rank: the smallest value with >= q % of them at or below);
    NaN for no values.

    Example:
        >>> percentile([float(i) for i in range(1, 101)], 99)
        99.0
    """
    if not values:
        return math.nan
    s = sorted(values)
    k = max(1, math.ceil(q / 100 * len(s)))
    return s[k - 1]


def machine() -> dict[str, Any]:
    return {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def cpu_of(named: Mapping[str, Proc], agents: Sequence[Proc] = ()) -> dict[str, float]:
    """CPU seconds so far of each named process and, if there are `agents`, of the agents and of
    their reaped children (their tasks), each summed."""
    out = {name: p.cpu() for name, p in named.items()}
    if agents:
        out["agents"] = sum(a.cpu() for a in agents)
        out["agents_children"] = sum(a.children_cpu() for a in agents)
    return out


def cpu_spent(before: Mapping[str, float], after: Mapping[str, float]) -> dict[str, float]:
    """CPU seconds between two readings of the same processes, to 10 ms."""
    return {k: round(after[k] - before[k], 2) for k in after}


# ---- processes -----------------------------------------------------------------------------


class Proc:
    """A `dcos-core` daemon (`python -m dcos_core <args>`, output to `log`); stopped by its PID
    only, with `stop_signal` unless `stop()` is given another."""

    def __init__(self, args: list[str], log: Path, stop_signal: int = signal.SIGTERM) -> None:
        self.args = args
        self.log = log
        self.stop_signal = stop_signal
        with log.open("ab") as out:
            self.p = subprocess.Popen(
                [sys.executable, "-m", "dcos_core", *args],
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        self._ps = psutil.Process(self.p.pid)

    @property
    def pid(self) -> int:
        return self.p.pid

    def alive(self) -> bool:
        return self.p.poll() is None

    def stop(self, timeout: float = 10.0, sig: int | None = None) -> int:
        """Signal it, wait up to `timeout` s, SIGKILL it if still running; its exit code."""
        if self.p.poll() is None:
            self.p.send_signal(self.stop_signal if sig is None else sig)
            try:
                self.p.wait(timeout)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()
        return self.p.returncode

    def kill9(self) -> None:
        self.p.kill()
        self.p.wait()

    def cpu(self) -> float:
        """Its CPU seconds so far."""
        return self._cpu_seconds()[0]

    def children_cpu(self) -> float:
        """The CPU seconds so far of its reaped children (an agent's: its tasks, launchers)."""
        return self._cpu_seconds()[1]

    def _cpu_seconds(self) -> tuple[float, float]:
        try:
            t = self._ps.cpu_times()
        except psutil.Error:
            return 0.0, 0.0
        return t.user + t.system, t.children_user + t.children_system

    def tail(self, n: int = 2000) -> str:
        try:
            return self.log.read_text(errors="replace")[-n:]
        except OSError:
            return ""


async def wait_http(url: str, proc: Proc, timeout: float = 30.0) -> None:
    """Until `url` answers 200; RuntimeError (with the log's tail) if `proc` exits first."""
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient(timeout=2) as client:
        while time.monotonic() < deadline:
            if not proc.alive():
                raise RuntimeError(f"process exited ({proc.p.returncode}):\n{proc.tail()}")
            with contextlib.suppress(httpx.HTTPError):
                if (await client.get(url)).status_code == 200:
                    return
            await asyncio.sleep(0.05)
    raise RuntimeError(f"{url} not up after {timeout} s:\n{proc.tail()}")


class Workspace:
    """A temp dir and the daemons a benchmark starts in it.

    On exit every daemon is stopped by its PID (the last started first, so that a framework
    stops before its agents and the master) and the dir is removed. An exception leaving the
    block comes back as `RuntimeError("<name> bench failed: ...")` with the tails of the logs
    of the first `logs` daemons.
    """

    def __init__(
        self,
        name: str,
        *,
        tmp_dir: Path | None = None,
        stop_timeout: float = 10.0,
        logs: int | None = None,
    ) -> None:
        self.name = name
        self.work = Path(tempfile.mkdtemp(prefix=f"dcos-{name}-bench-", dir=tmp_dir))
        self.procs: list[Proc] = []
        self.stop_timeout = stop_timeout
        self.logs = logs

    def start(self, args: list[str], log: str, stop_signal: int = signal.SIGTERM) -> Proc:
        proc = Proc(args, self.work / log, stop_signal)
        self.procs.append(proc)
        return proc

    def stop(self) -> None:
        """Stop every daemon, the last started first (again: a no-op)."""
        for p in reversed(self.procs):
            p.stop(self.stop_timeout)

    def __enter__(self) -> Workspace:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            if isinstance(error, Exception):
                tails = "\n".join(f"--- {p.log.name}\n{p.tail()}" for p in self.procs[: self.logs])
                raise RuntimeError(f"{self.name} bench failed: {error!r}\n{tails}") from error
        finally:
            self.stop()
            shutil.rmtree(self.work, ignore_errors=True)


async def start_master(ws: Workspace) -> tuple[int, Proc]:
    """A master (memory store, 50 ms allocation interval) on a free port, once healthy."""
    port = free_port()
    master = ws.start(
        [
            "master",
            *("--ip", HOST, "--port", str(port), "--work-dir", str(ws.work / "master")),
            *("--store", "memory", "--allocation-interval", "0.05", "--log-level", "warning"),
        ],
        "master.log",
    )
    await wait_http(f"http://{HOST}:{port}/health", master)
    return port, master


async def start_agents(
    ws: Workspace,
    master_port: int,
    n: int,
    resources: str,
    extra: Sequence[str] = POSIX_AGENT,
    stop_signal: int = signal.SIGUSR1,  # kill every task, then exit
) -> list[Proc]:
    """`n` agent processes (`agent-<i>`) with `resources` and the flags `extra`, once healthy."""
    agents: list[Proc] = []
    ports: list[int] = []
    for i in range(n):
        port = free_port()
        agents.append(
            ws.start(
                [
                    "agent",
                    *("--master", f"{HOST}:{master_port}", "--ip", HOST, "--port", str(port)),
                    *("--work-dir", str(ws.work / f"agent-{i}"), "--resources", resources),
                    *extra,
                    *("--log-level", "warning"),
                ],
                f"agent-{i}.log",
                stop_signal,
            )
        )
        ports.append(port)
    for agent, port in zip(agents, ports, strict=True):
        await wait_http(f"http://{HOST}:{port}/health", agent, timeout=60)
    return agents


async def start_framework(
    ws: Workspace, name: str, master_port: int, extra: Sequence[str] = ()
) -> tuple[int, Proc]:
    """`dcos-core <name>` (marathon, chronos) with a memory store, once it answers /ping."""
    port = free_port()
    proc = ws.start(
        [
            name,
            *("--master", f"{HOST}:{master_port}", "--ip", HOST, "--port", str(port)),
            *("--work-dir", str(ws.work / name), "--store", "memory"),
            *extra,
            *("--log-level", "warning"),
        ],
        f"{name}.log",
    )
    await wait_http(f"http://{HOST}:{port}/ping", proc)
    return port, proc


async def master_metrics(http: httpx.AsyncClient, master_port: int) -> dict[str, float]:
    r = await http.get(f"http://{HOST}:{master_port}/metrics/snapshot")
    r.raise_for_status()
    return dict(r.json())


async def wait_metric(
    http: httpx.AsyncClient, master_port: int, key: str, at_least: float, timeout: float
) -> None:
    """Until the master's metric `key` (e.g. `master/slaves_active`) is >= `at_least`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if (await master_metrics(http, master_port)).get(key, 0) >= at_least:
            return
        await asyncio.sleep(0.1)
    raise RuntimeError(f"{key} not >= {at_least:g} after {timeout} s")


# ---- a raw v1 scheduler, and a lean client for the hot paths -----------------------------------


def _length_and_close(header_lines: list[bytes]) -> tuple[int, bool]:
    """The Content-Length of an HTTP/1.1 head (0 if none), and whether it says Connection: close."""
    length = 0
    close = False
    for line in header_lines:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"connection" and value.strip().lower() == b"close":
            close = True
    return length, close


class Conn:
    """One kept-alive HTTP/1.1 connection: `post()` returns the status code; reconnects once if
    the connection was dropped.

    For the hot paths (status updates, acknowledgements): no timeout, no pool, so it costs less
    CPU per request than `dcos_core.http11.HttpClient`, and the bench process shares the machine
    with what it measures (the master bench's status path alone measured ~25 % less with it).
    """

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
        lines = (await self._r.readuntil(b"\r\n\r\n")).split(b"\r\n")
        status = int(lines[0].split(b" ", 2)[1])
        length, close = _length_and_close(lines[1:])
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


def task_info(
    task_id: str, agent_id: dict[str, Any], command: dict[str, Any], cpus: float, mem: float
) -> dict[str, Any]:
    return {
        "name": task_id,
        "task_id": {"value": task_id},
        "agent_id": agent_id,
        "resources": [
            {"name": "cpus", "type": "SCALAR", "scalar": {"value": cpus}},
            {"name": "mem", "type": "SCALAR", "scalar": {"value": mem}},
        ],
        "command": command,
    }


class Scheduler:
    """A raw v1 scheduler: an httpx event stream and a RecordIO decoder; `ack_workers` send the
    acknowledgement of every update at once, each on its own `Conn`."""

    def __init__(self, port: int, name: str, ack_workers: int) -> None:
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
        self._ack_conns = [Conn(port) for _ in range(ack_workers)]
        self._tasks: list[asyncio.Task[None]] = []
        self._resp: httpx.Response | None = None
        self._subscribed = asyncio.Event()

    async def subscribe(self) -> None:
        info = {
            "user": "root",
            "name": self.name,
            "failover_timeout": 0.0,
            "capabilities": [{"type": "PARTITION_AWARE"}],
        }
        req = self.http.build_request(
            "POST",
            "/api/v1/scheduler",
            json={"type": "SUBSCRIBE", "subscribe": {"framework_info": info}},
            headers={"Accept": "application/json"},
        )
        resp = await self.http.send(req, stream=True)
        if resp.status_code != 200:
            await resp.aread()
            raise RuntimeError(f"SUBSCRIBE: {resp.status_code} {resp.text}")
        self._resp = resp
        self.stream_id = resp.headers["Mesos-Stream-Id"]
        self._tasks.append(asyncio.create_task(self._read(resp)))
        self._tasks.extend(asyncio.create_task(self._ack(c)) for c in self._ack_conns)
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

    async def _ack(self, conn: Conn) -> None:
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
            if await conn.post("/api/v1/scheduler", body, headers) == 202:
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

    async def accept(
        self, offers: list[dict[str, Any]], tasks: list[dict[str, Any]], **extra: Any
    ) -> None:
        """ACCEPT `offers` with one LAUNCH of `tasks` (`extra`: e.g. `filters`)."""
        operation = {"type": "LAUNCH", "launch": {"task_infos": tasks}}
        payload = {"offer_ids": [o["id"] for o in offers], "operations": [operation]}
        await self.call("ACCEPT", payload | extra)

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


# ---- simulated agents ------------------------------------------------------------------------

_ACCEPTED: Final = (
    b"HTTP/1.1 202 Accepted\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"
)


def sim_resources(cpus: float, mem: float, disk: float = 1024) -> list[dict[str, Any]]:
    """The v1 resources a simulated agent registers with (ports 31000-31999)."""
    return [
        {"name": "cpus", "type": "SCALAR", "scalar": {"value": cpus}},
        {"name": "mem", "type": "SCALAR", "scalar": {"value": mem}},
        {"name": "disk", "type": "SCALAR", "scalar": {"value": disk}},
        {"name": "ports", "type": "RANGES", "ranges": {"range": [{"begin": 31000, "end": 31999}]}},
    ]


class SimAgent:
    """One simulated agent: its id, its port (a minimal HTTP/1.1 server) and its tasks."""

    def __init__(self, index: int, fleet: SimFleet) -> None:
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
        self.fleet.connections.add(writer)
        try:
            while True:
                lines = (await reader.readuntil(b"\r\n\r\n")).split(b"\r\n")
                path = lines[0].split(b" ", 2)[1]
                length, close = _length_and_close(lines[1:])
                body = await reader.readexactly(length) if length else b""
                self.handle(path, body)
                writer.write(_ACCEPTED)
                if close:
                    break
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, OSError, ValueError):
            pass
        finally:
            self.fleet.connections.discard(writer)
            writer.close()

    def handle(self, path: bytes, body: bytes) -> None:
        """run_task: TASK_STARTING then TASK_RUNNING; kill_task: TASK_KILLED (queued)."""
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
            tid = json.loads(body)["task_id"]
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
        """The body of a `/internal/agent/status` POST for the task (a fresh uuid)."""
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


class SimFleet:
    """`n` simulated agents in this process, sharing the connections to the master.

    Each registers over the internal protocol and serves `/internal/*` on its own port. Status
    updates of a task are sent in order by one sender (STARTING then RUNNING); `senders` of them
    run at once, each on a kept-alive connection of a shared `HttpClient`.
    """

    def __init__(
        self, master_port: int, n: int, resources: list[dict[str, Any]], senders: int = 32
    ) -> None:
        self.resources = resources
        self.http = HttpClient(f"http://{HOST}:{master_port}", timeout=30, size=senders)
        self.agents = [SimAgent(i, self) for i in range(n)]
        self.senders = senders
        self.outbox: deque[tuple[SimAgent, str, str, tuple[TaskState, ...]]] = deque()
        self.wake = asyncio.Event()
        self.acks = 0
        self.run_tasks = 0
        self.kill_tasks = 0
        self.updates_sent = 0
        self.update_errors = 0
        self.heartbeat_interval = 15.0
        self.connections: set[asyncio.StreamWriter] = set()  # the master's, to every agent
        self._tasks: list[asyncio.Task[None]] = []

    @property
    def live_tasks(self) -> int:
        return sum(len(a.tasks) for a in self.agents)

    async def start(self, concurrency: int = 32) -> None:
        sem = asyncio.Semaphore(concurrency)

        async def register(agent: SimAgent) -> None:
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
        for w in list(self.connections):  # ends their _serve (the master may still be up)
            w.close()
        for a in self.agents:
            if a.server is not None:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(a.server.wait_closed(), 1)
        await self.http.close()


# ---- output ----------------------------------------------------------------------------------


def emit(result: Mapping[str, Any], drop: Iterable[str] = ()) -> None:
    """Print `result` (less the keys `drop`) as one JSON line."""
    left_out = set(drop)
    print(json.dumps({k: v for k, v in result.items() if k not in left_out}), flush=True)


def load_jsonl(paths: Iterable[Path]) -> list[dict[str, Any]]:
    """The results saved as JSON lines (by `emit`) in `paths`, in order."""
    return [json.loads(line) for p in paths for line in p.read_text().splitlines() if line]


def plot_args(ap: argparse.ArgumentParser, keep: str | None = None) -> None:
    """`--plot PNG` and, if the JSON lines can `keep` what the chart needs, `--from-jsonl FILE`
    (chart saved results instead of running)."""
    ap.add_argument("--plot", type=Path, metavar="PNG", help="write the chart here")
    if keep:
        ap.add_argument(
            "--from-jsonl",
            type=Path,
            action="append",
            help=f"plot saved results (lines printed with {keep}) instead of running",
        )


def finish(
    plot: Callable[[list[dict[str, Any]], Path], None],
    results: list[dict[str, Any]],
    path: Path | None,
) -> int:
    """Chart `results` if there is a `path`; the exit code."""
    if path is not None:
        plot(results, path)
    return 0


def pyplot() -> Any:
    """`matplotlib.pyplot` on the Agg backend (no display); matplotlib is a test extra."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save(fig: Figure, path: Path, dpi: int = 110) -> None:
    """Lay out, write and close `fig`; says where on stderr."""
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi)
    pyplot().close(fig)
    print(f"plot written to {path}", file=sys.stderr)
