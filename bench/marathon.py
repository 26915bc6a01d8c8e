"""Marathon benchmark: time from `POST /v2/apps` to all instances running, and back.

    python -m bench.marathon                          # JSON lines, one per scenario
    python -m bench.marathon --plot docs/marathon-bench.png
    python -m bench.marathon --scenarios simulated --sim-instances 2000 --sim-agents 200
    python -m bench.marathon --curves > out.jsonl; python -m bench.marathon \
        --from-jsonl out.jsonl --plot docs/marathon-bench.png     # plot saved runs

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
  `dcos_core.http11` (`bench.harness.SimFleet`). No process is started for a task.

Each agent has room for 1.25 times its share of the instances (`agent_capacity`): Marathon fills
an offer before it takes the next, so with big agents the whole app would land on one of them.

Measured: POST -> all running (s; `completed` is False if that took longer than `timeout`,
and the figures are then those at the timeout), POST -> first running (s, to the poll
resolution), instances per second, the running-instances curve (one sample per poll), the CPU
seconds of the marathon, master (and real agent) processes over that span (psutil), and DELETE ->
all gone (s; `deleted` is False if that took longer than `timeout`). Every
process started here is stopped by its PID in a `finally`; the temp dir is removed.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, Final

import httpx

from bench.harness import (
    HOST,
    Proc,
    SimFleet,
    Workspace,
    cpu_of,
    cpu_spent,
    emit,
    finish,
    load_jsonl,
    machine,
    master_metrics,
    plot_args,
    pyplot,
    save,
    sim_resources,
    start_agents,
    start_framework,
    start_master,
    wait_metric,
)

TARGET_REAL_S: Final = 30.0  # 1,000 instances on 10 real agents
TARGET_SIMULATED_S: Final = 20.0  # 10,000 instances on 1,000 simulated agents
APP_CMD: Final = "sleep 3600"
APP_CPUS: Final = 0.01
APP_MEM: Final = 8
SPREAD: Final = 1.25  # each agent has room for 1.25 x its share of the instances
_LIVE_STATES: Final = ("staging", "starting", "running", "killing", "unreachable")


def agent_capacity(instances: int, agents: int) -> tuple[float, int]:
    """(cpus, mem MB) of each agent: room for `SPREAD` times its share of the instances (at
    least 4), so that Marathon, which fills an offer before it takes the next, spreads the app
    over every agent instead of packing it onto the first one."""
    per_agent = max(4, math.ceil(instances * SPREAD / agents))
    return round(per_agent * APP_CPUS + 0.01, 2), per_agent * APP_MEM + 64


# ---- the measurement -------------------------------------------------------------------------


class _AppsPoller:
    """`GET /v2/apps?id=/bench` (no task embedding) for the bench apps `ids`, every `poll` s;
    counts the polls Marathon did not answer in 30 s."""

    def __init__(self, http: httpx.AsyncClient, url: str, ids: list[str], poll: float) -> None:
        self.http = http
        self.url = url
        self.ids = set(ids)
        self.poll = poll
        self.timed_out = 0

    async def until(self, deadline: float) -> AsyncIterator[tuple[int, int, int]]:
        """(apps found, tasks running in all, deployments in all), one per poll, until the
        consumer stops or `deadline` (monotonic) has passed."""
        while True:
            try:
                r = await self.http.get(f"{self.url}/v2/apps", params={"id": "/bench"})
                r.raise_for_status()
            except httpx.TimeoutException:  # Marathon too busy to answer in 30 s
                self.timed_out += 1
                if time.monotonic() > deadline:
                    return
                continue
            apps = [a for a in r.json()["apps"] if a["id"] in self.ids]
            yield (
                len(apps),
                sum(int(a.get("tasksRunning", 0)) for a in apps),
                sum(len(a.get("deployments", [])) for a in apps),
            )
            if time.monotonic() > deadline:
                return
            await asyncio.sleep(self.poll)


def _app_ids(apps: int) -> list[str]:
    return ["/bench"] if apps == 1 else [f"/bench-{i}" for i in range(apps)]


async def _wait_running(
    apps: _AppsPoller, instances: int, t0: float, deadline: float
) -> tuple[list[tuple[float, int]], float | None, bool]:
    """Until every instance runs and no deployment is left, or `deadline`: the curve of (s since
    `t0`, running), the first running (s), whether all ran (else the curve so far)."""
    curve: list[tuple[float, int]] = [(0.0, 0)]
    first_s: float | None = None
    deployments = -1
    async for _found, running, deployments in apps.until(deadline):
        now = time.monotonic() - t0
        curve.append((round(now, 3), running))
        if running and first_s is None:
            first_s = now
        if running >= instances and deployments == 0:
            break
    return curve, first_s, curve[-1][1] >= instances and deployments == 0


async def _wait_gone(
    apps: _AppsPoller, master_port: int, fleet: SimFleet | None, t1: float, deadline: float
) -> tuple[float | None, bool]:
    """Until Marathon has forgotten the apps and no task is live, or `deadline`: when the apps
    were gone (s since `t1`), whether every task is gone."""
    forgotten_s: float | None = None
    live = -1
    async for found, _running, _deployments in apps.until(deadline):
        if not found and forgotten_s is None:
            forgotten_s = time.monotonic() - t1
        m = await master_metrics(apps.http, master_port)
        live = sum(int(m.get(f"master/tasks_{s}", 0)) for s in _LIVE_STATES)
        if forgotten_s is not None and live == 0 and (fleet is None or not fleet.live_tasks):
            break
    return forgotten_s, live == 0 and forgotten_s is not None


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
    with Workspace("marathon", stop_timeout=20.0, logs=3) as ws:
        fleet: SimFleet | None = None
        http = httpx.AsyncClient(timeout=30)
        try:
            t_setup = time.monotonic()
            master_port, master = await start_master(ws)
            real_agents: list[Proc] = []
            cpus, mem = agent_capacity(instances, agents)
            if scenario == "real":
                res = f"cpus:{cpus:g};mem:{mem};disk:1024;ports:[31000-31999]"
                real_agents = await start_agents(ws, master_port, agents, res)
            else:
                fleet = SimFleet(master_port, agents, sim_resources(cpus, mem))
                await fleet.start()
            await wait_metric(http, master_port, "master/slaves_active", agents, 120)
            mport, marathon = await start_framework(ws, "marathon", master_port)
            url = f"http://{HOST}:{mport}"
            setup_s = time.monotonic() - t_setup

            ids = _app_ids(apps)
            sizes = [instances // apps + (1 if i < instances % apps else 0) for i in range(apps)]
            named = {"marathon": marathon, "master": master}
            cpu0 = cpu_of(named, real_agents)
            bench_cpu0 = time.process_time()
            t0 = time.monotonic()
            for app_id, size in zip(ids, sizes, strict=True):
                body = {"id": app_id, "cmd": APP_CMD, "cpus": APP_CPUS, "mem": APP_MEM}
                r = await http.post(f"{url}/v2/apps", json=body | {"instances": size})
                if r.status_code != 201:
                    raise RuntimeError(f"POST /v2/apps: {r.status_code} {r.text}")
            post_s = time.monotonic() - t0
            polls = _AppsPoller(http, url, ids, poll)
            curve, first_s, completed = await _wait_running(polls, instances, t0, t0 + timeout)
            all_s = curve[-1][0]
            cpu1 = cpu_of(named, real_agents)
            bench_cpu = time.process_time() - bench_cpu0

            # ---- delete -------------------------------------------------------------------------
            t1 = time.monotonic()
            for app_id in ids:
                r = await http.delete(f"{url}/v2/apps{app_id}")
                if r.status_code != 200:
                    raise RuntimeError(f"DELETE /v2/apps{app_id}: {r.status_code} {r.text}")
            deadline = t1 + (timeout if delete_timeout is None else delete_timeout)
            forgotten_s, deleted = await _wait_gone(polls, master_port, fleet, t1, deadline)
            delete_s = time.monotonic() - t1
            cpu2 = cpu_of(named, real_agents)

            cpu = cpu_spent(cpu0, cpu1)
            target = TARGET_REAL_S if scenario == "real" else TARGET_SIMULATED_S
            if scenario == "simulated":
                cpu["bench_process_with_simulated_agents"] = round(bench_cpu, 2)
            out: dict[str, Any] = {
                "scenario": scenario,
                "containerizer": "none (simulated)" if fleet else "posix (no isolation)",
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
                "cpu_seconds_delete": cpu_spent(cpu1, cpu2),
                "deleted": deleted,  # False: tasks still live `timeout` s after DELETE
                "delete_seconds": round(delete_s, 3),
                "delete_app_gone_seconds": round(forgotten_s or delete_s, 3),
                "setup_seconds": round(setup_s, 3),
                "poll_seconds": poll,
                "polls_timed_out": polls.timed_out,  # GET /v2/apps not answered in 30 s
                "curve": curve,
                "machine": machine(),
            }
            if fleet is not None:
                out["simulated_agents"] = {
                    "run_task": fleet.run_tasks,
                    "kill_task": fleet.kill_tasks,
                    "acknowledgements": fleet.acks,
                    "status_updates_sent": fleet.updates_sent,
                    "status_update_errors": fleet.update_errors,
                }
        finally:
            await http.aclose()
            # Marathon first (it would relaunch), then the agents (SIGUSR1: kill their tasks),
            # then the master; the simulated agents last, so that the master's calls are answered.
            ws.stop()
            if fleet is not None:
                await fleet.stop()
    return out


def plot(results: list[dict[str, Any]], path: Path) -> None:
    plt = pyplot()

    fig, axes = plt.subplots(1, len(results), figsize=(6.5 * len(results), 4.2), squeeze=False)
    for ax, r in zip(axes[0], results, strict=True):
        xs = [p[0] for p in r["curve"]]
        ys = [p[1] for p in r["curve"]]
        target = TARGET_REAL_S if r["scenario"] == "real" else TARGET_SIMULATED_S
        ax.plot(xs, ys, color="#4477aa", label="instances running")
        ax.axvline(target, color="red", linestyle="--", label=f"target {target:g} s")
        ax.axhline(r["instances"], color="grey", linestyle=":", linewidth=0.8)
        done = r["seconds_to_all_running"]
        ax.annotate(
            f"all {r['instances']:,} running: {done:.1f} s",
            xy=(done, r["instances"]),
            xytext=(0.03, 0.6),
            textcoords="axes fraction",
            arrowprops={"arrowstyle": "->", "color": "#555555"},
        )
        ax.set_xlim(0, max(target, done) * 1.08)
        ax.set_ylim(0, r["instances"] * 1.05)
        ax.set_xlabel("seconds since POST /v2/apps")
        ax.set_ylabel("tasksRunning")
        kind = (
            "real agents, posix containerizer"
            if r["scenario"] == "real"
            else "simulated agents (bench process)"
        )
        ax.set_title(f"{r['instances']:,} instances on {r['agents']:,} {kind}", fontsize=10)
        ax.legend(loc="upper left")
    fig.suptitle("Marathon: POST /v2/apps -> all instances running (2 cores)", fontsize=10)
    save(fig, path)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--scenarios", default="real,simulated")
    ap.add_argument("--real-instances", type=int, default=1000)
    ap.add_argument("--real-agents", type=int, default=10)
    ap.add_argument("--sim-instances", type=int, default=10000)
    ap.add_argument("--sim-agents", type=int, default=1000)
    ap.add_argument("--apps", type=int, default=1)
    ap.add_argument("--timeout", type=float, default=300.0, help="cap on each wait (s)")
    ap.add_argument("--delete-timeout", type=float, help="cap on the deletion (s)")
    plot_args(ap, keep="--curves")
    ap.add_argument("--curves", action="store_true", help="keep the curves in the JSON lines")
    args = ap.parse_args()
    if args.from_jsonl:
        return finish(plot, load_jsonl(args.from_jsonl), args.plot)
    results = []
    for scenario in args.scenarios.split(","):
        if scenario == "real":
            n, agents = args.real_instances, args.real_agents
        else:
            n, agents = args.sim_instances, args.sim_agents
        r = asyncio.run(
            run(
                scenario,
                n,
                agents,
                args.apps,
                timeout=args.timeout,
                delete_timeout=args.delete_timeout,
            )
        )
        results.append(r)
        emit(r, drop=() if args.curves else ("curve",))
    return finish(plot, results, args.plot)


if __name__ == "__main__":
    raise SystemExit(main())
