"""Launch benchmark: command tasks through a real master and one real agent, full isolation.

`run()` starts a master and one agent process on 127.0.0.1 (the agent with the Mesos
containerizer and its default isolation: cgroups cpu/mem/pids, pid namespace, filesystem/linux
when run as root), then:

1. *Floor*: `tasks` plain spawns of `/bin/true` with `asyncio.create_subprocess_exec`, `window`
   at a time: what this machine can do at best (no cluster, no isolation).
2. *Throughput*: a raw v1 scheduler launches `tasks` command tasks running `/bin/true`
   (`shell: false`), keeping `window` in flight; each is launched on the next offer after a slot
   frees. Reported: tasks launched *and finished* per second, from the first ACCEPT to the last
   TASK_FINISHED.
3. *Latency*: `launches` tasks one at a time (an idle agent): ACCEPT -> TASK_RUNNING received, p50
   and p99 (the scheduler acknowledges every update at once).

The ratio floor/cluster says what the cluster's path (offers, master, agent, launcher, cgroups,
namespaces, status updates) costs per task. Every process started here is stopped by its PID.
"""

from __future__ import annotations

import asyncio
import os
import platform
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil

from dcos_core.containerizer.cgroups import destroy_root
from dcos_core.master.bench import (
    HOST,
    _Proc,
    _Scheduler,
    _wait_http,
    free_port,
    percentile,
    start_master,
)

TARGET_TASKS_PER_S = 25.0
TARGET_P99_MS = 150.0
AGENT_RESOURCES = "cpus:64;mem:65536;disk:65536;ports:[31000-31999]"


def _true_task(task_id: str, agent_id: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": task_id,
        "task_id": {"value": task_id},
        "agent_id": agent_id,
        "resources": [
            {"name": "cpus", "type": "SCALAR", "scalar": {"value": 0.1}},
            {"name": "mem", "type": "SCALAR", "scalar": {"value": 32}},
        ],
        "command": {"shell": False, "value": "/bin/true", "arguments": ["true"]},
    }


def _fits(offers: list[dict[str, Any]]) -> int:
    """How many bench tasks (0.1 cpus, 32 MB) the offers hold together."""
    total = {"cpus": 0.0, "mem": 0.0}
    for o in offers:
        for r in o["resources"]:
            if r["name"] in total:
                total[r["name"]] += float(r["scalar"]["value"])
    return int(min(total["cpus"] / 0.1 + 1e-9, total["mem"] / 32 + 1e-9))


async def floor(tasks: int, window: int) -> dict[str, Any]:
    """Plain `/bin/true` spawns, `window` at a time; spawns finished per second."""
    sem = asyncio.Semaphore(window)

    async def one() -> None:
        async with sem:
            p = await asyncio.create_subprocess_exec("/bin/true")
            await p.wait()

    t0 = time.perf_counter()
    await asyncio.gather(*(one() for _ in range(tasks)))
    seconds = time.perf_counter() - t0
    return {"tasks": tasks, "seconds": round(seconds, 3), "per_s": round(tasks / seconds, 1)}


async def _throughput(port: int, tasks: int, window: int) -> dict[str, Any]:
    sched = _Scheduler(port, "bench-launch", ack_workers=8)
    finished: dict[str, float] = {}
    failed: list[str] = []
    slots = asyncio.Semaphore(window)
    all_done = asyncio.Event()

    def on_update(status: dict[str, Any], now: float) -> None:
        state = status["state"]
        tid = status["task_id"]["value"]
        if state in ("TASK_RUNNING", "TASK_STARTING", "TASK_KILLING"):
            return
        if tid not in finished:
            finished[tid] = now
            if state != "TASK_FINISHED":
                failed.append(f"{tid}: {state} {status.get('message', '')}")
            slots.release()
            if len(finished) >= tasks:
                all_done.set()

    sched.on_update = on_update
    try:
        await sched.subscribe()
        launched = 0
        t0 = time.time()
        while launched < tasks:
            await slots.acquire()
            n = 1
            while n < tasks - launched and not slots.locked():
                await slots.acquire()
                n += 1
            offers = await sched.wait_offers(30)
            fit = _fits(offers)
            for _ in range(max(0, n - fit)):  # the offers hold fewer: give the slots back
                slots.release()
            n = min(n, fit)
            infos = [_true_task(f"t-{launched + k}", offers[0]["agent_id"]) for k in range(n)]
            launched += n
            await sched.call(
                "ACCEPT",
                {
                    "offer_ids": [o["id"] for o in offers],
                    "operations": [{"type": "LAUNCH", "launch": {"task_infos": infos}}],
                    "filters": {"refuse_seconds": 0},
                },
            )
        await asyncio.wait_for(all_done.wait(), 120)
        seconds = max(finished.values()) - t0
        await sched.call("TEARDOWN")
    finally:
        await sched.close()
    return {
        "tasks": tasks,
        "window": window,
        "seconds": round(seconds, 3),
        "per_s": round(tasks / seconds, 1),
        "not_finished": failed[:5],
        "failed": len(failed),
    }


async def _latency(port: int, launches: int) -> dict[str, Any]:
    sched = _Scheduler(port, "bench-launch-latency", ack_workers=2)
    waiters: dict[tuple[str, str], asyncio.Future[float]] = {}

    def on_update(status: dict[str, Any], now: float) -> None:
        fut = waiters.pop((status["task_id"]["value"], status["state"]), None)
        if fut is not None and not fut.done():
            fut.set_result(now)

    sched.on_update = on_update
    loop = asyncio.get_running_loop()
    samples: list[float] = []
    try:
        await sched.subscribe()
        for i in range(launches):
            offers = await sched.wait_offers(30)
            tid = f"lat-{i}"
            running = waiters[(tid, "TASK_RUNNING")] = loop.create_future()
            done = waiters[(tid, "TASK_FINISHED")] = loop.create_future()
            t0 = time.time()
            await sched.call(
                "ACCEPT",
                {
                    "offer_ids": [o["id"] for o in offers],
                    "operations": [
                        {
                            "type": "LAUNCH",
                            "launch": {"task_infos": [_true_task(tid, offers[0]["agent_id"])]},
                        }
                    ],
                    "filters": {"refuse_seconds": 0},
                },
            )
            samples.append((await asyncio.wait_for(running, 10) - t0) * 1000)
            await asyncio.wait_for(done, 10)
        await sched.call("TEARDOWN")
    finally:
        await sched.close()
    return {
        "samples": len(samples),
        "p50": round(percentile(samples, 50), 1),
        "p99": round(percentile(samples, 99), 1),
        "max": round(max(samples), 1) if samples else 0.0,
        "samples_ms": [round(x, 2) for x in samples],
    }


async def run(
    tasks: int = 300, window: int = 16, launches: int = 100, isolation: str | None = None
) -> dict[str, Any]:
    """All three phases against a fresh master and agent; returns the figures (JSON-ready)."""
    if tasks < 1 or window < 1 or launches < 0:
        raise ValueError("need tasks >= 1, window >= 1, launches >= 0")
    work = Path(tempfile.mkdtemp(prefix="dcos-launch-bench-"))
    procs: list[_Proc] = []
    agent_port = 0
    try:
        port, master = await start_master(work, procs)
        agent_port = free_port()
        args = [
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
            AGENT_RESOURCES,
            "--cgroups-root",
            f"dcos-bench/{agent_port}",
            "--log-level",
            "warning",
        ]
        if isolation:
            args += ["--isolation", isolation]
        agent = _Proc(args, work / "agent.log")
        procs.append(agent)
        await _wait_http(f"http://{HOST}:{agent_port}/health", agent)
        isolation_used = await _agent_isolation(work / "agent.log", isolation)
        base = await floor(tasks, window)
        before = _cpu(master, agent)
        throughput = await _throughput(port, tasks, window)
        after = _cpu(master, agent)
        throughput["cpu_ms_per_task"] = {
            k: round((after[k] - before[k]) * 1000 / tasks, 1) for k in after
        }
        latency = await _latency(port, launches) if launches else {"samples": 0}
        return {
            "machine": {
                "cpus": os.cpu_count(),
                "python": platform.python_version(),
                "platform": platform.platform(),
                "root": os.geteuid() == 0,
            },
            "params": {"tasks": tasks, "window": window, "launches": launches},
            "isolation": isolation_used,
            "floor": base,
            "throughput": throughput,
            "ratio": round(base["per_s"] / throughput["per_s"], 1),
            "latency_ms": latency,
            "targets": {"tasks_per_s": TARGET_TASKS_PER_S, "p99_ms": TARGET_P99_MS},
        }
    except BaseException as e:
        logs = "\n".join(f"--- {p.log.name}\n{p.tail()}" for p in procs)
        if isinstance(e, Exception):
            raise RuntimeError(f"launch bench failed: {e!r}\n{logs}") from e
        raise
    finally:
        for p in reversed(procs):
            p.stop()
        shutil.rmtree(work, ignore_errors=True)
        if agent_port:
            destroy_root(f"dcos-bench/{agent_port}")


def _cpu(master: _Proc, agent: _Proc) -> dict[str, float]:
    """CPU seconds so far of the master, the agent, and the agent's reaped children (launchers
    and tasks)."""
    m = psutil.Process(master.p.pid).cpu_times()
    a = psutil.Process(agent.p.pid).cpu_times()
    return {
        "master": m.user + m.system,
        "agent": a.user + a.system,
        "launchers_and_tasks": a.children_user + a.children_system,
    }


async def _agent_isolation(log: Path, configured: str | None) -> str:
    if configured:
        return configured
    from dcos_core.containerizer.isolators.selection import choose_isolation, host_facts
    from dcos_core.containerizer.spec import ContainerizerConfig

    facts = host_facts(ContainerizerConfig(runtime_dir=log.parent).cgroups_mount)
    return ",".join(choose_isolation(None, facts))
