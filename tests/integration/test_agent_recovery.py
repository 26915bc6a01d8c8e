"""Agent recovery with real processes: checkpointed tasks survive `kill -9` of their agent.

A framework with `checkpoint: true` runs tasks under the Mesos containerizer (cgroups, pid
namespace); the agent is SIGKILLed and restarted again and again. The tasks keep their processes,
updates arrive in order, a task that ends while the agent is down gets its terminal update, and
the tasks of a non-checkpointing framework are killed at restart (Mesos semantics).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest

from tests.cluster import Cluster, RawScheduler, task_info, wait_for

pytestmark = [
    pytest.mark.integration,
    pytest.mark.slow,
    pytest.mark.skipif(os.geteuid() != 0, reason="the Mesos containerizer's isolation needs root"),
]


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    c = Cluster(tmp_path, agent_ping_timeout=1.0, max_agent_ping_timeouts=10)
    try:
        yield c.start(agents=1)
    finally:
        c.stop()


def framework(name: str, checkpoint: bool) -> dict[str, Any]:
    return {
        "user": "root",
        "name": name,
        "failover_timeout": 300.0,
        "checkpoint": checkpoint,
        "capabilities": [{"type": "PARTITION_AWARE"}],
    }


def agent_tasks(cluster: Cluster) -> dict[str, dict[str, Any]]:
    url = f"http://127.0.0.1:{cluster.agent_ports[0]}/state"
    st = httpx.get(url, timeout=5).json()
    out = {}
    for fw in st["frameworks"]:
        for ex in fw["executors"]:
            for t in ex["tasks"]:
                out[t["id"]] = {**t, "pid": ex.get("pid")}
    return out


def restart_agent(cluster: Cluster, expect_running: set[str]) -> None:
    cluster.agents[0].kill9()
    cluster.start_agent(0)

    def recovered() -> bool:
        try:
            tasks = agent_tasks(cluster)
        except httpx.HTTPError:
            return False
        slaves = cluster.state()["slaves"]
        return (
            all(tasks.get(t, {}).get("state") == "TASK_RUNNING" for t in expect_running)
            and len(slaves) == 1
            and slaves[0]["active"]
        )

    wait_for(recovered, 30, "agent recovered and re-registered")


def updates_of(sched: RawScheduler, task_id: str) -> list[dict[str, Any]]:
    return [
        e["update"]["status"]
        for e in sched.seen
        if e["type"] == "UPDATE" and e["update"]["status"]["task_id"]["value"] == task_id
    ]


def test_task_survives_ten_agent_kill9s_with_the_same_pid(cluster: Cluster) -> None:
    sched = RawScheduler(cluster.master_addr, framework("recovery", checkpoint=True))
    sched.subscribe()
    offer = sched.wait_offers()[0]
    sched.launch(
        offer,
        [
            task_info("long", offer, "exec sleep 600"),
            task_info("short", offer, "sleep 4; echo done; exit 0"),
        ],
    )
    running = sched.wait_update("long", "TASK_RUNNING")
    pid = running["container_status"]["executor_pid"]
    created = psutil.Process(pid).create_time()
    agent_id = cluster.state()["slaves"][0]["id"]

    for i in range(10):
        restart_agent(cluster, {"long"})
        assert psutil.Process(pid).create_time() == created, f"restarted at kill {i + 1}"
        assert agent_tasks(cluster)["long"]["pid"] == pid

    # The short task ended while agents were being killed: its FINISHED arrived, exactly once
    # per delivery, after its RUNNING.
    sched.wait_update("short", "TASK_FINISHED", timeout=30)
    master = cluster.state()
    assert [s["id"] for s in master["slaves"]] == [agent_id]  # same agent, re-registered
    tasks = {t["id"]: t for f in master["frameworks"] for t in f["tasks"]}
    assert tasks["long"]["state"] == "TASK_RUNNING"

    sched.send("KILL", {"task_id": {"value": "long"}, "agent_id": {"value": agent_id}})
    sched.wait_update("long", "TASK_KILLED", timeout=15)
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE

    for task_id, expected in (
        ("long", ["TASK_STARTING", "TASK_RUNNING", "TASK_KILLED"]),
        ("short", ["TASK_STARTING", "TASK_RUNNING", "TASK_FINISHED"]),
    ):
        states = [s["state"] for s in updates_of(sched, task_id)]
        deduped = [s for i, s in enumerate(states) if i == 0 or states[i - 1] != s]
        assert deduped == expected, states  # in order, none lost (resends may repeat one)
    sched.close()


def test_non_checkpointing_tasks_are_killed_when_the_agent_restarts(cluster: Cluster) -> None:
    sched = RawScheduler(cluster.master_addr, framework("no-checkpoint", checkpoint=False))
    sched.subscribe()
    offer = sched.wait_offers()[0]
    sched.launch(offer, [task_info("t", offer, "exec sleep 600")])
    pid = sched.wait_update("t", "TASK_RUNNING")["container_status"]["executor_pid"]
    cluster.agents[0].kill9()
    assert psutil.pid_exists(pid)  # the container outlives its agent...
    cluster.start_agent(0)
    lost = sched.wait_event(
        lambda e: (
            e["type"] == "UPDATE"
            and e["update"]["status"]["task_id"]["value"] == "t"
            and e["update"]["status"]["state"] in ("TASK_GONE", "TASK_LOST", "TASK_FAILED")
        ),
        30,
    )
    assert lost
    wait_for(
        lambda: not psutil.pid_exists(pid) or psutil.Process(pid).status() == "zombie",
        10,
        "orphaned task killed",
    )  # ...until the new agent destroys the orphan
    sched.close()


def test_recover_cleanup_kills_everything(cluster: Cluster) -> None:
    sched = RawScheduler(cluster.master_addr, framework("cleanup", checkpoint=True))
    sched.subscribe()
    offer = sched.wait_offers()[0]
    sched.launch(offer, [task_info("t", offer, "exec sleep 600")])
    pid = sched.wait_update("t", "TASK_RUNNING")["container_status"]["executor_pid"]
    cluster.agents[0].kill9()
    cluster.agent_args = ["--recover", "cleanup"]
    cluster.start_agent(0)
    wait_for(
        lambda: not psutil.pid_exists(pid) or psutil.Process(pid).status() == "zombie",
        20,
        "task killed by --recover=cleanup",
    )
    ev = sched.wait_event(
        lambda e: (
            e["type"] == "UPDATE" and e["update"]["status"]["state"] in ("TASK_GONE", "TASK_LOST")
        ),
        30,
    )
    assert ev["update"]["status"]["task_id"]["value"] == "t"
    sched.close()


def test_sigterm_leaves_checkpointed_tasks_running_for_the_next_agent(cluster: Cluster) -> None:
    sched = RawScheduler(cluster.master_addr, framework("upgrade", checkpoint=True))
    sched.subscribe()
    offer = sched.wait_offers()[0]
    sched.launch(offer, [task_info("t", offer, "exec sleep 600")])
    pid = sched.wait_update("t", "TASK_RUNNING")["container_status"]["executor_pid"]
    cluster.agents[0].stop()  # SIGTERM, as systemd does on a restart or an upgrade
    assert psutil.pid_exists(pid)
    cluster.start_agent(0)
    wait_for(
        lambda: agent_tasks(cluster).get("t", {}).get("state") == "TASK_RUNNING", 30, "recovered"
    )
    assert agent_tasks(cluster)["t"]["pid"] == pid
    flags = httpx.get(f"http://127.0.0.1:{cluster.agent_ports[0]}/state", timeout=5).json()["flags"]
    assert flags["containerizers"] == "mesos" and flags["recover"] == "reconnect"
    assert flags["isolation"].split(",") == [
        "cgroups/cpu",
        "cgroups/mem",
        "cgroups/pids",
        "namespaces/pid",
        "filesystem/linux",
    ]
    sched.close()
