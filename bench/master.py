"""Master benchmark: status-update throughput and ACCEPT -> TASK_RUNNING latency.

    python -m bench.master                       # JSON lines, one per grid point
    python -m bench.master --plot docs/master-bench.png

`run()` starts a real master process on 127.0.0.1 (memory store, 50 ms allocation interval), then:

1. *Latency* (first, on an idle master): one real agent process (`--containerizer posix`) and a
   raw v1 scheduler. `launches` samples, one at a time: ACCEPT one task (`sleep 30`) on the
   outstanding offers, time from sending the ACCEPT to receiving its TASK_RUNNING event (the
   scheduler acknowledges every update at once: the agent sends TASK_RUNNING only after
   TASK_STARTING is acknowledged, as Mesos does), then KILL it and wait for TASK_KILLED so the
   agent is idle for the next sample. Each sample also records where the time went (the agent's
   status timestamps are on the same clock).
2. *Throughput*: the bench plays `agents` simulated agents (`bench.harness.SimFleet`: each
   registers over the internal protocol and serves the agent endpoints with a minimal HTTP/1.1
   server, in-process). A second scheduler launches `tasks` tasks in one ACCEPT per agent; the
   simulated agents answer run_task with TASK_STARTING and TASK_RUNNING. Then they send `updates`
   TASK_RUNNING updates (each with a fresh uuid) with at most `concurrency` in flight; the
   scheduler counts the UPDATE events on its stream and acknowledges every one. Reported:
   updates/s accepted by the master (202s), updates/s delivered on the event stream,
   acknowledgements/s accepted, and acks the master forwarded.

The main grid: 4 simulated agents, the scheduler acknowledging every update (with the latency
samples), then the same without acknowledgements (the status path alone). Hot-path HTTP (status
updates, acknowledgements) goes over `bench.harness.Conn`, a minimal keep-alive HTTP/1.1 client
(the bench process shares the machine with the master); the rest uses httpx. Every process
started here is stopped by its PID, also on error.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import statistics
import sys
import time
from pathlib import Path
from typing import Any, Final

from bench.harness import (
    POSIX_AGENT,
    Conn,
    Scheduler,
    SimFleet,
    Workspace,
    emit,
    finish,
    machine,
    percentile,
    pyplot,
    save,
    sim_resources,
    start_agents,
    start_master,
    task_info,
)
from dcos_core.model.task import TaskState

TARGET_P99_MS: Final = 100.0
SIM_AGENT_RESOURCES: Final = sim_resources(1000, 1_000_000, 100_000)
REAL_AGENT_RESOURCES: Final = "cpus:4;mem:4096;disk:4096;ports:[31000-31999]"
STREAM_CAP_S: Final = 60.0  # longest wait for the events (and acks) of the throughput phase


def _shell(command: str) -> dict[str, Any]:
    return {"shell": True, "value": command}


# ---- phase 1: ACCEPT -> TASK_RUNNING latency on a real agent ----------------------------------


async def _latency(port: int, launches: int) -> dict[str, Any]:
    sched = Scheduler(port, "bench-latency", ack_workers=2)
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
            task = task_info(tid, offers[0]["agent_id"], _shell("sleep 30"), 0.1, 32)
            t0 = time.time()
            marks[tid] = {"accept_sent": t0}
            await sched.accept(offers, [task], filters={"refuse_seconds": 0})
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
    fleet = SimFleet(port, agents, SIM_AGENT_RESOURCES)
    sched = Scheduler(port, "bench-throughput", ack_workers=32)
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
    conns = [Conn(port) for _ in range(concurrency)]
    try:
        await fleet.start()
        sim_ids = {s.agent_id for s in fleet.agents}
        await sched.subscribe()
        offers: dict[str, dict[str, Any]] = {}
        deadline = time.monotonic() + 20
        while len(offers) < agents:
            for o in await sched.wait_offers(max(0.1, deadline - time.monotonic())):
                if o["agent_id"]["value"] in sim_ids:
                    offers[o["agent_id"]["value"]] = o
        t_launch = time.time()
        per_agent = [tasks // agents + (1 if i < tasks % agents else 0) for i in range(agents)]
        n = 0
        for (aid, offer), count in zip(offers.items(), per_agent, strict=True):
            infos = [
                task_info(f"tp-{n + k}", {"value": aid}, _shell("sleep 3600"), 0.01, 1)
                for k in range(count)
            ]
            n += count
            await sched.accept([offer], infos)
        await asyncio.wait_for(all_running.wait(), 60)
        launch_s = time.time() - t_launch
        # Let the launch-time acknowledgements reach the agents before the measured phase.
        drain_deadline = time.monotonic() + 10
        while (
            sched.acks_accepted < 2 * tasks or fleet.acks < sched.acks_accepted
        ) and time.monotonic() < drain_deadline:
            await asyncio.sleep(0.02)
        backlog = sched.acks_accepted - fleet.acks
        drain_s = time.time() - t_launch - launch_s
        targets = [(s, fid, tid) for s in fleet.agents for tid, fid in s.tasks.items()]
        bodies = [
            targets[j % len(targets)][0].status_body(
                targets[j % len(targets)][1], targets[j % len(targets)][2], TaskState.RUNNING
            )
            for j in range(updates)
        ]
        acks_before = sched.acks_accepted
        agent_acks_before = fleet.acks
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
            fleet.acks - agent_acks_before < sched.acks_accepted - acks_before
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
            "acks_forwarded_to_agents": fleet.acks - agent_acks_before,
            "seconds": round(max(last_accept[0], phase["last"], sched.ack_last) - t0, 3),
        }
    finally:
        with contextlib.suppress(Exception):
            await sched.call("TEARDOWN")
        await sched.close()
        for c in conns:
            await c.close()
        await fleet.stop()


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
    with Workspace("master") as ws:
        port, _master = await start_master(ws)
        await start_agents(ws, port, 1, REAL_AGENT_RESOURCES, POSIX_AGENT)
        latency = await _latency(port, launches) if launches else {"samples": 0}
        throughput = await _throughput(port, agents, updates, tasks, concurrency, ack)
    return {
        "machine": machine(),
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


# ---- the command -----------------------------------------------------------------------------


def plot(results: list[dict[str, Any]], path: Path) -> None:
    plt = pyplot()

    lat = next(r["latency_ms"] for r in results if r["latency_ms"].get("samples"))
    samples = sorted(lat["samples_ms"])
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.2))
    ax1.hist(samples, bins=40, color="#4477aa")
    ax1.axvline(
        TARGET_P99_MS, color="red", linestyle="--", label=f"target p99 {TARGET_P99_MS:g} ms"
    )
    ax1.set_xlabel("ACCEPT -> TASK_RUNNING (ms)")
    ax1.set_ylabel("samples")
    ax1.legend()
    ys = [(i + 1) / len(samples) for i in range(len(samples))]
    ax2.step(samples, ys, where="post", color="#4477aa")
    ax2.axvline(TARGET_P99_MS, color="red", linestyle="--")
    ax2.axhline(0.99, color="grey", linestyle=":")
    ax2.set_xlabel("ACCEPT -> TASK_RUNNING (ms)")
    ax2.set_ylabel("CDF")
    ax2.set_xlim(0, max(TARGET_P99_MS * 1.1, samples[-1] * 1.05))
    parts = []
    for r in results:
        t = r["throughput"]
        parts.append(
            f"{t['agents']} agents, {'ack' if t['ack'] else 'no ack'}: "
            f"{t['accepted_per_s']:.0f} upd/s accepted, {t['delivered_per_s']:.0f} delivered"
            + (f", {t['acks_per_s']:.0f} acks/s" if t["ack"] else "")
        )
    cpus = results[0]["machine"]["cpus"]
    fig.suptitle(
        f"dcos-core master, {cpus} cores: latency p50 {lat['p50']:.0f} / p99 {lat['p99']:.0f} / "
        f"max {lat['max']:.0f} ms ({lat['samples']} samples)\n" + "\n".join(parts),
        fontsize=9,
    )
    save(fig, path)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--agents", type=int, default=4, help="simulated agents")
    ap.add_argument("--updates", type=int, default=5000, help="status updates per grid point")
    ap.add_argument("--tasks", type=int, default=300, help="tasks the updates are spread over")
    ap.add_argument("--launches", type=int, default=200, help="ACCEPT->RUNNING samples")
    ap.add_argument("--plot", type=Path, help="write a latency histogram/CDF PNG here")
    args = ap.parse_args(argv)
    grid = [
        {"ack": True, "launches": args.launches},
        {"ack": False, "launches": 0},
    ]
    results = []
    for point in grid:
        r = asyncio.run(
            run(
                agents=args.agents,
                updates=args.updates,
                launches=point["launches"],
                tasks=args.tasks,
                ack=point["ack"],
            )
        )
        results.append(r)
        emit(r)
    return finish(plot, results, args.plot)


if __name__ == "__main__":
    sys.exit(main())
