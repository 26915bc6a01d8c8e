"""Test helpers: real master and agent processes on 127.0.0.1, and a raw HTTP scheduler.

The raw scheduler speaks the Mesos v1 scheduler API with nothing but `http.client` and parses
RecordIO by hand, so the tests check the wire format itself, not our SDK.
"""

from __future__ import annotations

import http.client
import json
import os
import queue
import re
import signal
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from bench.harness import Proc, free_port, wait_for
from dcos_core.containerizer.cgroups import destroy_root

__all__ = ["Cluster", "Proc", "RawScheduler", "free_port", "pid_alive", "task_info", "wait_for"]


PORT_SLICES = 10


def agent_port_slice(resources: str, i: int) -> str:
    """`resources` with agent `i`'s own slice of a wide `ports` range.

    Every test agent listens on 127.0.0.1, so two agents offering the same port would start two
    tasks on one port ("Address already in use"). A range of 200 ports or more is split into
    `PORT_SLICES` disjoint slices, one per agent (agent `i` gets slice `i % PORT_SLICES`).

    Example:
        >>> agent_port_slice("cpus:1;ports:[31000-31999]", 1)
        'cpus:1;ports:[31100-31199]'
    """
    m = re.search(r"ports:\[(\d+)-(\d+)\]", resources)
    if not m:
        return resources
    lo, hi = int(m.group(1)), int(m.group(2))
    width = (hi - lo + 1) // PORT_SLICES
    if hi - lo + 1 < 200:
        return resources
    start = lo + (i % PORT_SLICES) * width
    return resources[: m.start()] + f"ports:[{start}-{start + width - 1}]" + resources[m.end() :]


class Cluster:
    """A master and agents as separate processes, with short timeouts for tests."""

    def __init__(
        self,
        work: Path,
        *,
        agent_ping_timeout: float = 0.5,
        max_agent_ping_timeouts: int = 4,
        allocation_interval: float = 0.2,
        agent_resources: str = "cpus:4;mem:4096;disk:4096;ports:[31000-31999]",
        status_update_retry_min: float = 0.5,
        master_args: list[str] | None = None,
        agent_args: list[str] | None = None,
        master_ip: str = "127.0.0.1",
    ) -> None:
        self.work = work
        self.master_ip = master_ip  # another address only on a network the test made
        self.master_port = free_port()
        self.master_addr = f"{master_ip}:{self.master_port}"
        self.url = f"http://{self.master_addr}"
        self.agent_ping_timeout = agent_ping_timeout
        self.max_agent_ping_timeouts = max_agent_ping_timeouts
        self.allocation_interval = allocation_interval
        self.agent_resources = agent_resources
        self.status_update_retry_min = status_update_retry_min
        self.master_args = master_args or []
        self.agent_args = agent_args or []
        self.master: Proc | None = None
        self.marathon: Proc | None = None
        self.marathon_port = 0
        self.chronos: Proc | None = None
        self.chronos_port = 0
        self.agents: list[Proc] = []
        self.agent_ports: list[int] = []
        self.http = httpx.Client(timeout=10)

    def start_master(self) -> None:
        self.master = Proc(
            [
                "master",
                "--ip",
                self.master_ip,
                "--port",
                str(self.master_port),
                "--work-dir",
                str(self.work / "master"),
                "--allocation-interval",
                str(self.allocation_interval),
                "--agent-ping-timeout",
                str(self.agent_ping_timeout),
                "--max-agent-ping-timeouts",
                str(self.max_agent_ping_timeouts),
                "--agent-reregister-timeout",
                "30",
                "--log-level",
                "info",
                *self.master_args,
            ],
            self.work / "master.log",
        )
        wait_for(lambda: self.http.get(f"{self.url}/health").status_code == 200, 30, "master")

    def start_agent(self, i: int | None = None, extra: list[str] | None = None) -> Proc:
        if i is None:
            i = len(self.agents)
            self.agent_ports.append(free_port())
        port = self.agent_ports[i]
        proc = Proc(
            [
                "agent",
                "--master",
                self.master_addr,
                "--ip",
                "127.0.0.1",
                "--port",
                str(port),
                "--work-dir",
                str(self.work / f"agent-{i}"),
                "--resources",
                agent_port_slice(self.agent_resources, i),
                "--status-update-retry-min",
                str(self.status_update_retry_min),
                "--status-update-retry-max",
                "5",
                "--executor-shutdown-grace-period",
                "1",
                "--cgroups-root",
                f"dcos-test/agent-{port}",
                "--log-level",
                "info",
                *self.agent_args,
                *(extra or []),
            ],
            self.work / f"agent-{i}.log",
        )
        if i < len(self.agents):
            self.agents[i] = proc
        else:
            self.agents.append(proc)
        return proc

    def start_marathon(self, extra: list[str] | None = None) -> Proc:
        """Start (or restart) Marathon on its port; returns once it answers /ping."""
        self.marathon_port = self.marathon_port or free_port()
        self.marathon = self._start_framework("marathon", self.marathon_port, extra or [])
        return self.marathon

    def start_chronos(self, extra: list[str] | None = None) -> Proc:
        """Start (or restart) Chronos on its port; returns once it answers /ping."""
        self.chronos_port = self.chronos_port or free_port()
        extra = ["--failure-retry-delay", "0.5", *(extra or [])]
        self.chronos = self._start_framework("chronos", self.chronos_port, extra)
        return self.chronos

    def _start_framework(self, name: str, port: int, extra: list[str]) -> Proc:
        proc = Proc(
            [
                *(name, "--master", self.master_addr, "--port", str(port)),
                *("--work-dir", str(self.work / name), "--log-level", "info"),
                *extra,
            ],
            self.work / f"{name}.log",
        )
        url = f"http://127.0.0.1:{port}"
        wait_for(lambda: self.http.get(f"{url}/ping").status_code == 200, 30, name)
        return proc

    @property
    def chronos_url(self) -> str:
        return f"http://127.0.0.1:{self.chronos_port}"

    @property
    def marathon_url(self) -> str:
        return f"http://127.0.0.1:{self.marathon_port}"

    def start(self, agents: int = 1) -> Cluster:
        self.start_master()
        for _ in range(agents):
            self.start_agent()
        self.wait_agents(agents)
        return self

    def wait_agents(self, n: int, timeout: float = 30) -> list[dict[str, Any]]:
        def ok() -> list[dict[str, Any]] | None:
            slaves = self.state()["slaves"]
            return slaves if len([s for s in slaves if s["active"]]) >= n else None

        return list(wait_for(ok, timeout, f"{n} agents registered"))

    def state(self) -> dict[str, Any]:
        r = self.http.get(f"{self.url}/master/state")
        r.raise_for_status()
        return dict(r.json())

    def operator(self, call: dict[str, Any]) -> httpx.Response:
        return self.http.post(f"{self.url}/api/v1", json=call)

    def stop(self) -> None:
        if self.marathon is not None:
            self.marathon.stop()
        if self.chronos is not None:
            self.chronos.stop()
        for a in self.agents:  # SIGUSR1: kill every task, checkpointed or not
            a.stop(sig=signal.SIGUSR1)
        if self.master is not None:
            self.master.stop()
        self.http.close()
        for port in self.agent_ports:  # tasks of agents a test SIGKILLed and never restarted
            destroy_root(f"dcos-test/agent-{port}")

    def logs(self) -> str:
        out = []
        for f in sorted(self.work.glob("*.log")):
            out.append(f"==== {f.name}\n{f.read_text(errors='replace')[-4000:]}")
        return "\n".join(out)


class RawScheduler:
    """A scheduler written against the raw wire protocol (http.client + hand-parsed RecordIO)."""

    def __init__(self, master_addr: str, framework_info: dict[str, Any] | None = None) -> None:
        self.host, port = master_addr.split(":")
        self.port = int(port)
        self.framework_info = framework_info or {
            "user": "root",
            "name": "raw-test",
            "failover_timeout": 60.0,
            "capabilities": [{"type": "PARTITION_AWARE"}],
        }
        self.events: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self.framework_id: str | None = None
        self.stream_id: str | None = None
        self._conn: http.client.HTTPConnection | None = None
        self._reader: threading.Thread | None = None
        self.seen: list[dict[str, Any]] = []

    # --- subscription -----------------------------------------------------------------------
    def subscribe(self, framework_id: str | None = None) -> dict[str, Any]:
        info = dict(self.framework_info)
        if framework_id:
            info["id"] = {"value": framework_id}
        body = {"type": "SUBSCRIBE", "subscribe": {"framework_info": info}}
        if framework_id:
            body["framework_id"] = {"value": framework_id}
        conn = http.client.HTTPConnection(self.host, self.port, timeout=30)
        conn.request(
            "POST",
            "/api/v1/scheduler",
            json.dumps(body),
            {"Content-Type": "application/json", "Accept": "application/json"},
        )
        resp = conn.getresponse()
        assert resp.status == 200, (resp.status, resp.read())
        assert resp.getheader("Transfer-Encoding") == "chunked"
        self.stream_id = resp.getheader("Mesos-Stream-Id")
        assert self.stream_id
        self._conn = conn
        self._reader = threading.Thread(target=self._read, args=(resp,), daemon=True)
        self._reader.start()
        first = self.next_event(10)
        assert first["type"] == "SUBSCRIBED", first
        self.framework_id = first["subscribed"]["framework_id"]["value"]
        return first

    def _read(self, resp: http.client.HTTPResponse) -> None:
        buf = b""
        try:
            while True:
                chunk = resp.read1(65536)
                if not chunk:
                    break
                buf += chunk
                while True:  # RecordIO: "<length>\n<length bytes>"
                    nl = buf.find(b"\n")
                    if nl < 0:
                        break
                    size = int(buf[:nl])
                    if len(buf) < nl + 1 + size:
                        break
                    record = buf[nl + 1 : nl + 1 + size]
                    buf = buf[nl + 1 + size :]
                    self.events.put(json.loads(record))
        except (OSError, ValueError, AttributeError, http.client.HTTPException):
            pass
        self.events.put(None)

    def drop_connection(self) -> None:
        if self._conn is not None and self._conn.sock is not None:
            self._conn.sock.shutdown(socket.SHUT_RDWR)
            self._conn.close()
        if self._reader is not None:
            self._reader.join(5)

    def next_event(self, timeout: float = 10, skip_heartbeats: bool = True) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError("no event in time")
            try:
                ev = self.events.get(timeout=left)
            except queue.Empty:
                raise AssertionError("no event in time") from None
            if ev is None:
                raise ConnectionError("stream closed")
            self.seen.append(ev)
            if skip_heartbeats and ev["type"] == "HEARTBEAT":
                continue
            return ev

    def wait_event(
        self, pred: Callable[[dict[str, Any]], bool], timeout: float = 15, ack: bool = True
    ) -> dict[str, Any]:
        """The next event matching `pred`; UPDATEs on the way are acknowledged (if uuid)."""
        deadline = time.monotonic() + timeout
        while True:
            ev = self.next_event(max(0.01, deadline - time.monotonic()))
            if ack and ev["type"] == "UPDATE" and "uuid" in ev["update"]["status"]:
                self.ack(ev["update"]["status"])
            if pred(ev):
                return ev

    def wait_all(self, task_ids: set[str], state: str, timeout: float = 15) -> None:
        """Wait until every task in `task_ids` reported `state` (in any order)."""
        left = set(task_ids)

        def pred(e: dict[str, Any]) -> bool:
            if e["type"] == "UPDATE" and e["update"]["status"]["state"] == state:
                left.discard(e["update"]["status"]["task_id"]["value"])
            return not left

        self.wait_event(pred, timeout)

    def wait_offers(self, timeout: float = 15) -> list[dict[str, Any]]:
        ev = self.wait_event(lambda e: e["type"] == "OFFERS", timeout)
        return list(ev["offers"]["offers"])

    def wait_update(
        self, task_id: str, state: str, timeout: float = 15, ack: bool = True
    ) -> dict[str, Any]:
        ev = self.wait_event(
            lambda e: (
                e["type"] == "UPDATE"
                and e["update"]["status"]["task_id"]["value"] == task_id
                and e["update"]["status"]["state"] == state
            ),
            timeout,
            ack,
        )
        return dict(ev["update"]["status"])

    # --- calls ------------------------------------------------------------------------------
    def call(
        self,
        body: dict[str, Any],
        *,
        stream_id: str | None = "default",
        content_type: str = "application/json",
        raw: bytes | None = None,
    ) -> tuple[int, bytes]:
        headers = {"Content-Type": content_type}
        sid = self.stream_id if stream_id == "default" else stream_id
        if sid:
            headers["Mesos-Stream-Id"] = sid
        conn = http.client.HTTPConnection(self.host, self.port, timeout=30)
        try:
            conn.request(
                "POST", "/api/v1/scheduler", raw if raw is not None else json.dumps(body), headers
            )
            resp = conn.getresponse()
            return resp.status, resp.read()
        finally:
            conn.close()

    def send(self, call_type: str, payload: dict[str, Any] | None = None) -> int:
        body: dict[str, Any] = {"type": call_type, "framework_id": {"value": self.framework_id}}
        if payload is not None:
            body[call_type.lower()] = payload
        status, text = self.call(body)
        assert status in (200, 202), (status, text)
        return status

    def ack(self, status: dict[str, Any]) -> None:
        self.send(
            "ACKNOWLEDGE",
            {"agent_id": status["agent_id"], "task_id": status["task_id"], "uuid": status["uuid"]},
        )

    def launch(
        self,
        offer: dict[str, Any],
        tasks: list[dict[str, Any]],
        refuse_seconds: float | None = None,
    ) -> None:
        payload: dict[str, Any] = {
            "offer_ids": [offer["id"]],
            "operations": [{"type": "LAUNCH", "launch": {"task_infos": tasks}}],
        }
        if refuse_seconds is not None:
            payload["filters"] = {"refuse_seconds": refuse_seconds}
        self.send("ACCEPT", payload)

    def decline_held_offers(self, refuse_seconds: float = 60.0) -> int:
        """Decline every offer this (passive) scheduler was sent and still holds.

        A test scheduler that never answers its offers keeps their resources from every other
        framework (the master has no offer timeout by default). Returns how many were declined.
        """
        while True:  # take what is queued, without waiting
            try:
                ev = self.events.get_nowait()
            except queue.Empty:
                break
            if ev is None:
                self.events.put(None)
                break
            self.seen.append(ev)
        held: dict[str, dict[str, Any]] = {}
        for ev in self.seen:
            if ev["type"] == "OFFERS":
                held.update({o["id"]["value"]: o["id"] for o in ev["offers"]["offers"]})
            elif ev["type"] == "RESCIND":
                held.pop(ev["rescind"]["offer_id"]["value"], None)
        if held:
            self.send(
                "DECLINE",
                {"offer_ids": list(held.values()), "filters": {"refuse_seconds": refuse_seconds}},
            )
        return len(held)

    def close(self) -> None:
        self.drop_connection()


def task_info(
    task_id: str,
    offer: dict[str, Any],
    command: str,
    cpus: float = 0.1,
    mem: float = 32,
    **extra: Any,
) -> dict[str, Any]:
    return {
        "name": task_id,
        "task_id": {"value": task_id},
        "agent_id": offer["agent_id"],
        "resources": [
            {"name": "cpus", "type": "SCALAR", "scalar": {"value": cpus}},
            {"name": "mem", "type": "SCALAR", "scalar": {"value": mem}},
        ],
        "command": {"shell": True, "value": command},
        **extra,
    }


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True
