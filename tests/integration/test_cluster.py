"""Whole-cluster behaviour with real processes: local cluster, example framework, failures."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.cluster import Cluster, RawScheduler, free_port, pid_alive, task_info, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.slow]
ROOT = Path(__file__).resolve().parents[2]


def _task_pids(agent_url: str) -> dict[str, int]:
    """task id -> executor pid, from the agent's /state."""
    st = httpx.get(f"{agent_url}/state", timeout=5).json()
    out = {}
    for fw in st["frameworks"]:
        for ex in fw["executors"]:
            for t in ex["tasks"]:
                if ex.get("pid"):
                    out[t["id"]] = int(ex["pid"])
    return out


def _kill_groups(pids: Iterator[int] | list[int]) -> None:
    """Clean up task process groups left behind by an agent the test SIGKILLed."""
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    c = Cluster(tmp_path)
    try:
        yield c
    finally:
        c.stop()


def test_local_cluster_runs_example_framework_across_three_agents(tmp_path: Path) -> None:
    master_port, agent_port, marathon_port = free_port(), free_port(), free_port()
    while agent_port in range(master_port - 3, master_port + 1) or marathon_port in range(
        agent_port, agent_port + 3
    ):
        agent_port, marathon_port = free_port(), free_port()
    local = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "dcos_core",
            "local",
            "--agents",
            "3",
            "--work-dir",
            str(tmp_path / "local"),
            "--master-port",
            str(master_port),
            "--agent-port",
            str(agent_port),
            "--agent-resources",
            "cpus:1;mem:1024;disk:1024;ports:[31000-31999]",
            "--marathon-port",
            str(marathon_port),
            "--no-chronos",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        url = f"http://127.0.0.1:{master_port}"
        wait_for(
            lambda: len(httpx.get(f"{url}/master/slaves").json()["slaves"]) == 3, 60, "3 agents"
        )
        # Marathon runs too, registered as a framework.
        wait_for(lambda: httpx.get(f"http://127.0.0.1:{marathon_port}/ping").text == "pong", 30)
        wait_for(
            lambda: any(
                f["name"] == "marathon"
                for f in httpx.get(f"{url}/master/frameworks").json()["frameworks"]
            ),
            30,
            "marathon registered",
        )
        # Each agent fits 10 tasks of 0.1 cpu, so 30 tasks need all three agents.
        fw = subprocess.run(
            [
                sys.executable,
                str(ROOT / "examples" / "sleep_framework.py"),
                "--master",
                f"127.0.0.1:{master_port}",
                "--tasks",
                "30",
                "--cpus",
                "0.1",
                "--mem",
                "32",
                "--command",
                "sleep 1",
                "--timeout",
                "90",
            ],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert fw.returncode == 0, fw.stdout + fw.stderr
        summary = json.loads(fw.stdout.strip().splitlines()[-1])
        assert summary["finished"] == 30
        assert len(summary["agents"]) == 3
        assert sum(summary["agents"].values()) == 30

        # Long-running tasks, then SIGTERM: the cluster stops within 10 s, no task left behind.
        s = RawScheduler(f"127.0.0.1:{master_port}")
        s.subscribe()
        launched = 0
        while launched < 3:
            for offer in s.wait_offers():
                s.launch(offer, [task_info(f"long-{launched}", offer, "sleep 300")])
                launched += 1
                if launched == 3:
                    break
        s.wait_all({f"long-{i}" for i in range(3)}, "TASK_RUNNING")
        pids = []
        for i in range(3):
            pids += _task_pids(f"http://127.0.0.1:{agent_port + i}").values()
        assert len(pids) == 3 and all(pid_alive(p) for p in pids)
        s.close()
        t0 = time.monotonic()
        local.send_signal(signal.SIGTERM)
        local.wait(15)
        assert time.monotonic() - t0 < 10
        assert local.returncode == 0
        assert not [p for p in pids if pid_alive(p)]
    finally:
        if local.poll() is None:
            local.kill()
            local.wait()
    out = local.stdout.read() if local.stdout else ""
    assert "http://127.0.0.1:" in out  # the URLs were printed when ready


def test_agent_sigkill_makes_tasks_unreachable_or_lost(cluster: Cluster) -> None:
    cluster.start(agents=1)
    pa = RawScheduler(cluster.master_addr)
    pa.subscribe()
    old = RawScheduler(
        cluster.master_addr,
        {"user": "root", "name": "not-partition-aware", "failover_timeout": 60.0},
    )
    old.subscribe()
    victim_port = cluster.agent_ports[0]
    victim = next(a["id"] for a in cluster.state()["slaves"] if a["port"] == victim_port)

    def launch_on_victim(s: RawScheduler, tid: str) -> None:
        while True:
            for offer in s.wait_offers():
                if offer["agent_id"]["value"] == victim:
                    s.launch(offer, [task_info(tid, offer, "sleep 300")])
                    s.wait_update(tid, "TASK_RUNNING")
                    return
                raise AssertionError(f"offer for an unknown agent {offer['agent_id']}")

    launch_on_victim(pa, "pa-task")
    launch_on_victim(old, "old-task")
    pids = list(_task_pids(f"http://127.0.0.1:{victim_port}").values())
    try:
        cluster.agents[0].kill9()
        # 4 missed heartbeats of 0.5 s: unreachable after ~2 s.
        st = pa.wait_update("pa-task", "TASK_UNREACHABLE", timeout=20)
        assert st["source"] == "SOURCE_MASTER"
        assert st["reason"] == "REASON_AGENT_REMOVED"
        assert "uuid" not in st
        old.wait_update("old-task", "TASK_LOST", timeout=20)
        failure = pa.wait_event(lambda e: e["type"] == "FAILURE", timeout=10)
        assert failure["failure"]["agent_id"]["value"] == victim
        state = cluster.state()
        assert state["unreachable_slaves"] == 1
        assert victim not in {a["id"] for a in state["slaves"]}
        fw = next(f for f in state["frameworks"] if f["id"] == pa.framework_id)
        assert [t["id"] for t in fw["unreachable_tasks"]] == ["pa-task"]
    finally:
        _kill_groups(pids)
        pa.close()
        old.close()


def test_master_restart_keeps_running_tasks_and_delivers_lost_updates(cluster: Cluster) -> None:
    cluster.start(agents=1)
    s = RawScheduler(cluster.master_addr)
    s.subscribe()
    fid = s.framework_id
    assert fid is not None
    offer = s.wait_offers()[0]
    s.launch(offer, [task_info("keeper", offer, "sleep 300"), task_info("short", offer, "sleep 2")])
    s.wait_all({"keeper", "short"}, "TASK_RUNNING")
    agent_url = f"http://127.0.0.1:{cluster.agent_ports[0]}"
    pid_before = _task_pids(agent_url)["keeper"]
    s.close()
    assert cluster.master is not None
    assert cluster.master.stop() == 0
    # While the master is down "short" finishes: its TASK_FINISHED cannot be delivered.
    time.sleep(3)
    cluster.start_master()
    s2 = RawScheduler(cluster.master_addr)
    s2.subscribe(framework_id=fid)
    # The agent re-registers with its tasks; the agent retries the lost update until acked.
    finished = s2.wait_update("short", "TASK_FINISHED", timeout=30)
    assert "uuid" in finished
    s2.send("RECONCILE", {"tasks": [{"task_id": {"value": "keeper"}}]})
    s2.wait_update("keeper", "TASK_RUNNING", timeout=10)
    fw = next(f for f in cluster.state()["frameworks"] if f["id"] == fid)
    assert {t["id"]: t["state"] for t in fw["tasks"]} == {"keeper": "TASK_RUNNING"}
    assert _task_pids(agent_url)["keeper"] == pid_before  # same process, never restarted
    s2.send("TEARDOWN")
    s2.close()


def test_unacknowledged_update_is_retried_until_acknowledged(cluster: Cluster) -> None:
    cluster.start(agents=1)  # agents retry after 0.5 s, doubling
    s = RawScheduler(cluster.master_addr)
    s.subscribe()
    offer = s.wait_offers()[0]
    s.launch(offer, [task_info("noack", offer, "sleep 300")])
    s.wait_update("noack", "TASK_STARTING")
    first = s.wait_update("noack", "TASK_RUNNING", ack=False)
    # Not acknowledged: the same update (same uuid) arrives again.
    again = s.wait_event(
        lambda e: e["type"] == "UPDATE" and e["update"]["status"].get("uuid") == first["uuid"],
        timeout=10,
        ack=False,
    )
    assert again["update"]["status"]["state"] == "TASK_RUNNING"
    s.ack(first)
    with pytest.raises(AssertionError, match="no event"):
        s.wait_event(
            lambda e: e["type"] == "UPDATE" and e["update"]["status"].get("uuid") == first["uuid"],
            timeout=3,
            ack=False,
        )
    s.send("TEARDOWN")
    s.close()
