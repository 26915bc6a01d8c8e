"""`dcos-core local`: a master and N agents on 127.0.0.1 as child processes.

Each daemon is its own process (as in production), so one can crash or be killed without the
others. SIGTERM/SIGINT stops the agents first (with SIGUSR1, so that they kill every task,
checkpointed or not), then the master, all within 10 s; a child that does not stop in time is
killed. Each agent gets its own cgroup root (`dcos-local/agent-<i>`), so that one agent's recovery
never mistakes another's containers for orphans.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
from rich.console import Console

from dcos_core.config import LocalSettings

STOP_DEADLINE = 8.0


def _spawn(args: list[str], log: Path) -> subprocess.Popen[bytes]:
    out = log.open("ab")
    return subprocess.Popen(
        [sys.executable, "-m", "dcos_core", *args],
        stdout=out,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
    )


def _stop(procs: list[subprocess.Popen[bytes]], deadline: float, sig: int = signal.SIGTERM) -> None:
    for p in procs:
        if p.poll() is None:
            p.send_signal(sig)
    for p in procs:
        try:
            p.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def run_local(settings: LocalSettings, log_level: str = "warning") -> int:
    """Start the cluster, print its URLs when ready, wait for a signal. Returns an exit code."""
    console = Console(stderr=False)
    work = settings.work_dir.resolve()
    work.mkdir(parents=True, exist_ok=True)
    master_addr = f"127.0.0.1:{settings.master_port}"
    stop_requested = False

    def on_signal(_sig: int, _frame: object) -> None:
        nonlocal stop_requested
        stop_requested = True

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    master = _spawn(
        [
            "master",
            "--ip",
            "127.0.0.1",
            "--port",
            str(settings.master_port),
            "--work-dir",
            str(work / "master"),
            "--log-level",
            log_level,
        ],
        work / "master.log",
    )
    agents: list[subprocess.Popen[bytes]] = []
    for i in range(settings.agents):
        args = [
            "agent",
            "--master",
            master_addr,
            "--ip",
            "127.0.0.1",
            "--port",
            str(settings.agent_port + i),
            "--work-dir",
            str(work / f"agent-{i}"),
            "--containerizers",
            settings.containerizers,
            "--cgroups-root",
            f"dcos-local/agent-{i}",
            "--log-level",
            log_level,
        ]
        if settings.agent_resources:
            args += ["--resources", settings.agent_resources]
        if settings.isolation:
            args += ["--isolation", settings.isolation]
        agents.append(_spawn(args, work / f"agent-{i}.log"))
    frameworks: list[subprocess.Popen[bytes]] = []
    if settings.marathon:
        marathon_args = ["marathon", "--master", master_addr, "--port", str(settings.marathon_port)]
        marathon_args += ["--work-dir", str(work / "marathon"), "--log-level", log_level]
        frameworks.append(_spawn(marathon_args, work / "marathon.log"))
    if settings.chronos:
        chronos_args = ["chronos", "--master", master_addr, "--port", str(settings.chronos_port)]
        chronos_args += ["--work-dir", str(work / "chronos"), "--log-level", log_level]
        frameworks.append(_spawn(chronos_args, work / "chronos.log"))
    code = 0
    try:
        with console.status(f"starting a master and {settings.agents} agent(s)..."):
            ready = _wait_ready(
                master_addr,
                settings.agents,
                [master, *agents, *frameworks],
                lambda: stop_requested,
                [f"http://127.0.0.1:{settings.marathon_port}/ping"] * settings.marathon
                + [f"http://127.0.0.1:{settings.chronos_port}/ping"] * settings.chronos,
            )
        if not ready:
            console.print(f"[red]cluster did not start; see the logs in {work}[/red]")
            code = 1
        else:
            console.print(f"[green]dcos-core local cluster is up[/green] (work dir {work})")
            console.print(f"  master   http://{master_addr}  (Mesos v1 API, /master/state)")
            for i in range(settings.agents):
                console.print(f"  agent {i}  http://127.0.0.1:{settings.agent_port + i}")
            if settings.marathon:
                console.print(
                    f"  marathon http://127.0.0.1:{settings.marathon_port}  (REST API v2: /v2/apps)"
                )
            if settings.chronos:
                console.print(
                    f"  chronos  http://127.0.0.1:{settings.chronos_port}  (/v1/scheduler/jobs)"
                )
            console.print("Press Ctrl-C to stop.")
            while not stop_requested:
                if master.poll() is not None:
                    console.print(f"[red]master exited with {master.returncode}[/red]")
                    code = 1
                    break
                time.sleep(0.2)
    finally:
        deadline = time.monotonic() + STOP_DEADLINE
        _stop(frameworks, deadline - 4)
        _stop(agents, deadline, signal.SIGUSR1)
        _stop([master], deadline + 1.5)
    return code


def _wait_ready(
    master: str,
    agents: int,
    procs: list[subprocess.Popen[bytes]],
    stopping: object,
    also: list[str] | None = None,
) -> bool:
    deadline = time.monotonic() + 60
    with httpx.Client(timeout=2) as http:
        while time.monotonic() < deadline:
            if callable(stopping) and stopping():
                return False
            if any(p.poll() is not None for p in procs):
                return False
            try:
                r = http.get(f"http://{master}/master/slaves")
                registered = r.status_code == 200 and len(r.json()["slaves"]) >= agents
                if registered and all(http.get(u).status_code == 200 for u in also or []):
                    return True
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
    return False


if os.name != "posix":  # pragma: no cover
    raise ImportError("dcos-core local needs a POSIX system")
