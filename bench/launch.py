"""Launch benchmark: command tasks through a real master and one real agent, full isolation.

    python -m bench.launch                          # JSON lines, one per window (4, 16, 32)
    python -m bench.launch --plot docs/launch-bench.png

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
About 20 s per window on 2 cores.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
from pathlib import Path
from typing import Any

from bench.harness import (
    Proc,
    Scheduler,
    Workspace,
    emit,
    finish,
    machine,
    percentile,
    plot_args,
    pyplot,
    save,
    start_agents,
    start_master,
    task_info,
)
from dcos_core.containerizer.cgroups import destroy_root

TARGET_TASKS_PER_S = 25.0
TARGET_P99_MS = 150.0
AGENT_RESOURCES = "cpus:64;mem:65536;disk:65536;ports:[31000-31999]"


def _true_task(task_id: str, agent_id: dict[str, Any]) -> dict[str, Any]:
    command = {"shell": False, "value": "/bin/true", "arguments": ["true"]}
    return task_info(task_id, agent_id, command, 0.1, 32)


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
    sched = Scheduler(port, "bench-launch", ack_workers=8)
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
            await sched.accept(offers, infos, filters={"refuse_seconds": 0})
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
    sched = Scheduler(port, "bench-launch-latency", ack_workers=2)
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
            task = _true_task(tid, offers[0]["agent_id"])
            await sched.accept(offers, [task], filters={"refuse_seconds": 0})
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
    with Workspace("launch") as ws:
        cgroups_root = f"dcos-bench/{ws.work.name}"
        try:
            port, master = await start_master(ws)
            extra = ["--cgroups-root", cgroups_root]
            if isolation:
                extra += ["--isolation", isolation]
            (agent,) = await start_agents(ws, port, 1, AGENT_RESOURCES, extra)
            isolation_used = _agent_isolation(ws.work, isolation)
            base = await floor(tasks, window)
            before = _cpu(master, agent)
            throughput = await _throughput(port, tasks, window)
            after = _cpu(master, agent)
            latency = await _latency(port, launches) if launches else {"samples": 0}
        finally:
            ws.stop()
            destroy_root(cgroups_root)
    throughput["cpu_ms_per_task"] = {
        k: round((after[k] - before[k]) * 1000 / tasks, 1) for k in after
    }
    return {
        "machine": machine() | {"root": os.geteuid() == 0},
        "params": {"tasks": tasks, "window": window, "launches": launches},
        "isolation": isolation_used,
        "floor": base,
        "throughput": throughput,
        "ratio": round(base["per_s"] / throughput["per_s"], 1),
        "latency_ms": latency,
        "targets": {"tasks_per_s": TARGET_TASKS_PER_S, "p99_ms": TARGET_P99_MS},
    }


def _cpu(master: Proc, agent: Proc) -> dict[str, float]:
    """CPU seconds so far of the master, the agent, and the agent's reaped children (launchers
    and tasks)."""
    return {
        "master": master.cpu(),
        "agent": agent.cpu(),
        "launchers_and_tasks": agent.children_cpu(),
    }


def _agent_isolation(work: Path, configured: str | None) -> str:
    if configured:
        return configured
    from dcos_core.containerizer.isolators.selection import choose_isolation, host_facts
    from dcos_core.containerizer.spec import ContainerizerConfig

    facts = host_facts(ContainerizerConfig(runtime_dir=work).cgroups_mount)
    return ",".join(choose_isolation(None, facts))


def plot(results: list[dict[str, Any]], path: Path) -> None:
    plt = pyplot()

    fig, (ax1, ax2, ax3) = plt.subplots(1, 3, figsize=(14, 4.2))
    windows = [str(r["params"]["window"]) for r in results]
    rates = [r["throughput"]["per_s"] for r in results]
    ax1.bar(windows, rates, color="#4477aa")
    ax1.axhline(TARGET_TASKS_PER_S, color="red", linestyle="--", label="target 25/s")
    for x, y in zip(windows, rates, strict=True):
        ax1.text(x, y, f"{y:g}", ha="center", va="bottom")
    ax1.set_xlabel("tasks in flight (window)")
    ax1.set_ylabel("/bin/true tasks launched and finished per s")
    ax1.set_title("isolated tasks through master + agent")
    ax1.legend(loc="lower right")

    best = max(results, key=lambda r: r["throughput"]["per_s"])
    cpu = best["throughput"]["cpu_ms_per_task"]
    ax2.bar(list(cpu), list(cpu.values()), color=["#aa3377", "#228833", "#ccbb44"])
    ax2.set_ylabel("CPU ms per task")
    ax2.set_title(
        f"where the CPU goes (window {best['params']['window']}); "
        f"floor {best['floor']['per_s']:g} spawns/s"
    )

    samples = sorted(s for r in results for s in r["latency_ms"].get("samples_ms", []))
    ys = [(i + 1) / len(samples) for i in range(len(samples))]
    ax3.step(samples, ys, where="post", color="#4477aa")
    ax3.axvline(TARGET_P99_MS, color="red", linestyle="--", label="target p99 150 ms")
    ax3.set_xlabel("ACCEPT -> TASK_RUNNING (ms), one task at a time")
    ax3.set_ylabel("fraction of launches")
    ax3.set_title(f"latency ({len(samples)} launches)")
    ax3.legend(loc="lower right")
    fig.suptitle(f"Task launch on one agent, isolation: {best['isolation']}", fontsize=9)
    save(fig, path)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tasks", type=int, default=300)
    ap.add_argument("--windows", default="4,16,32")
    ap.add_argument("--launches", type=int, default=50)
    ap.add_argument("--isolation", help="the agent's --isolation (default: the agent's own)")
    plot_args(ap)
    args = ap.parse_args()
    results = []
    for w in (int(x) for x in args.windows.split(",")):
        r = asyncio.run(
            run(tasks=args.tasks, window=w, launches=args.launches, isolation=args.isolation)
        )
        results.append(r)
        latency = {k: v for k, v in r["latency_ms"].items() if k != "samples_ms"}
        emit(r | {"latency_ms": latency})
    return finish(plot, results, args.plot)


if __name__ == "__main__":
    raise SystemExit(main())
