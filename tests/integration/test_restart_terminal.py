"""Every task ends in a terminal state, across a stop and restart of the whole cluster.

Real processes: a master with its SQLite registry, an agent, and a checkpointing framework that
knows TASK_KILLING. Tasks are killed while the cluster stops (the agent gets SIGUSR1, as
`dcos-core local` does, while the framework is already gone), or their kill is cut short by the
agent dying (kill -9) or stopping (SIGTERM). After the restart, the agent finishes the kills it
had started, the master shows each such task terminal in `completed_tasks` (at once when the
agent reports it ended: never TASK_KILLING again), the framework receives the terminal update
when it comes back, and no task process is left.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.cluster import Cluster, RawScheduler, pid_alive, task_info, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.slow]

FRAMEWORK = {
    "user": "root",
    "name": "killer",
    "failover_timeout": 300.0,
    "checkpoint": True,
    "capabilities": [{"type": "PARTITION_AWARE"}, {"type": "TASK_KILLING_STATE"}],
}


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    # Status updates are retried every 5 s: long enough to see a task stuck between retries.
    c = Cluster(tmp_path, agent_ping_timeout=1.0, max_agent_ping_timeouts=10)
    c.status_update_retry_min = 5.0
    try:
        yield c.start(agents=1)
    finally:
        c.stop()


def launch(s: RawScheduler, task_id: str, command: str) -> int:
    """Launch one task; returns its pid once it runs."""
    offer = s.wait_offers()[0]
    s.launch(offer, [task_info(task_id, offer, command)], refuse_seconds=3600)
    running = s.wait_update(task_id, "TASK_RUNNING")
    return int(running["container_status"]["executor_pid"])


def where(cluster: Cluster, task_id: str) -> tuple[str, str] | None:
    """("tasks" | "completed_tasks" | ..., state) of a task in /master/state."""
    for fw in cluster.state()["frameworks"]:
        for key in ("tasks", "unreachable_tasks", "completed_tasks"):
            for t in fw[key]:
                if t["id"] == task_id:
                    return key, str(t["state"])
    return None


def restart(cluster: Cluster) -> None:
    cluster.start_master()
    cluster.start_agent(0)
    cluster.wait_agents(1)


def watch_until_terminal(cluster: Cluster, task_id: str, within: float) -> list[Any]:
    """Poll /master/state from now on; every place and state the task was seen in, until it is
    in completed_tasks (AssertionError if not within `within` s)."""
    seen: list[Any] = []
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        seen.append(where(cluster, task_id))
        if seen[-1] is not None and seen[-1][0] == "completed_tasks":
            return seen
        time.sleep(0.05)
    raise AssertionError(f"{task_id} not in completed_tasks within {within} s: seen {seen[-5:]}")


def test_task_killed_while_the_cluster_stops_is_terminal_right_after_restart(
    cluster: Cluster,
) -> None:
    s = RawScheduler(cluster.master_addr, FRAMEWORK)
    s.subscribe()
    fid = s.framework_id
    assert fid is not None
    pid = launch(s, "web", "sleep 600")
    s.close()  # the framework stops first (as `dcos-core local` stops Marathon first)
    assert cluster.master is not None
    cluster.agents[0].stop(sig=signal.SIGUSR1)  # kills every task: KILLING, KILLED unacked
    cluster.master.stop()
    assert not pid_alive(pid)

    restart(cluster)
    # Before the agent's next retry (5 s) the master already shows the terminal state.
    seen = watch_until_terminal(cluster, "web", 3.0)
    assert where(cluster, "web") == ("completed_tasks", "TASK_KILLED")
    assert ("tasks", "TASK_KILLING") not in seen, seen

    # The framework comes back and gets the unacknowledged updates, the terminal one last.
    s2 = RawScheduler(cluster.master_addr, FRAMEWORK)
    s2.subscribe(fid)
    killed = s2.wait_update("web", "TASK_KILLED", timeout=20)
    assert killed["source"] == "SOURCE_EXECUTOR" and killed["uuid"]
    time.sleep(1)
    assert where(cluster, "web") == ("completed_tasks", "TASK_KILLED")
    s2.close()


@pytest.mark.parametrize("how", ["kill -9", "SIGTERM"])
def test_kill_cut_short_by_the_agent_ends_killed_after_restart(cluster: Cluster, how: str) -> None:
    s = RawScheduler(cluster.master_addr, FRAMEWORK)
    s.subscribe()
    fid = s.framework_id
    assert fid is not None
    # The task ignores SIGTERM and the kill gives it a minute: the kill is still going on when
    # the agent goes away.
    pid = launch(s, "stubborn", "trap '' TERM; while true; do sleep 1; done")
    s.send(
        "KILL",
        {
            "task_id": {"value": "stubborn"},
            "kill_policy": {"grace_period": {"nanoseconds": 60_000_000_000}},
        },
    )
    s.wait_update("stubborn", "TASK_KILLING")
    time.sleep(0.5)
    assert pid_alive(pid)
    s.close()
    assert cluster.master is not None
    if how == "kill -9":
        cluster.agents[0].kill9()
    else:  # a restart or an upgrade: checkpointed tasks are left for the next agent
        cluster.agents[0].stop(sig=signal.SIGTERM)
    cluster.master.stop()
    assert pid_alive(pid)  # the kill was cut short

    restart(cluster)
    s2 = RawScheduler(cluster.master_addr, FRAMEWORK)
    s2.subscribe(fid)
    s2.wait_update("stubborn", "TASK_KILLED", timeout=20)
    wait_for(lambda: not pid_alive(pid), 10, "the task's process to be gone")
    wait_for(
        lambda: where(cluster, "stubborn") == ("completed_tasks", "TASK_KILLED"),
        10,
        "TASK_KILLED in completed_tasks",
    )
    s2.close()
