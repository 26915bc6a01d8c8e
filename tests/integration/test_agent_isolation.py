"""Isolation end to end: a real master and agent, the raw scheduler API, and what a user sees.

Each test launches tasks through `Cluster` (master and agent processes on 127.0.0.1) and checks
the result where an operator would: status updates, the agent's `/state`, `/monitor/statistics`,
the files API, processes and (for Docker) the engine itself. The OOM killer, CFS throttling, the
pid namespace and user switching of the Mesos containerizer; the Docker containerizer's tasks
and their recovery after `kill -9` of the agent.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import docker
import httpx
import pytest

from tests.cluster import Cluster, RawScheduler, task_info, wait_for
from tests.docker_engine import DockerEngine

pytestmark = [
    pytest.mark.integration,
    pytest.mark.slow,
    pytest.mark.skipif(os.geteuid() != 0, reason="the containerizers' isolation needs root"),
]


MakeCluster = Callable[..., Cluster]


@pytest.fixture
def make_cluster(tmp_path: Path) -> Iterator[MakeCluster]:
    """`make_cluster(agent_args)`: a started cluster with one agent, stopped after the test."""
    built: list[Cluster] = []

    def make(agent_args: list[str] | None = None) -> Cluster:
        c = Cluster(
            tmp_path, agent_ping_timeout=1.0, max_agent_ping_timeouts=10, agent_args=agent_args
        )
        built.append(c)
        return c.start(agents=1)

    yield make
    for c in built:
        c.stop()


def framework(name: str, *, user: str = "root", checkpoint: bool = False) -> dict[str, Any]:
    return {
        "user": user,
        "name": name,
        "failover_timeout": 300.0,
        "checkpoint": checkpoint,
        "capabilities": [{"type": "PARTITION_AWARE"}],
    }


def agent_url(cluster: Cluster) -> str:
    return f"http://127.0.0.1:{cluster.agent_ports[0]}"


def agent_state(cluster: Cluster) -> dict[str, Any]:
    r = httpx.get(f"{agent_url(cluster)}/state", timeout=5)
    r.raise_for_status()
    return dict(r.json())


def agent_executors(cluster: Cluster) -> dict[str, dict[str, Any]]:
    """Executors (running and completed) by task id, from the agent's `/state`."""
    st = agent_state(cluster)
    out: dict[str, dict[str, Any]] = {}
    for fw in st["frameworks"] + st["completed_frameworks"]:
        for ex in fw["executors"] + fw["completed_executors"]:
            for t in ex["tasks"] + ex["completed_tasks"]:
                out[t["id"]] = {**ex, "task": t}
    return out


def sandbox_stdout(cluster: Cluster, task_id: str) -> str:
    """The task's stdout through `GET /files/read` of its executor's `directory`."""
    directory = agent_executors(cluster)[task_id]["directory"]
    r = httpx.get(
        f"{agent_url(cluster)}/files/read",
        params={"path": f"{directory}/stdout", "offset": 0},
        timeout=5,
    )
    r.raise_for_status()
    body = r.json()
    assert body["offset"] == 0
    return str(body["data"])


def wait_stdout(
    cluster: Cluster, task_id: str, pred: Callable[[str], bool], timeout: float = 10
) -> str:
    def ok() -> str | None:
        out = sandbox_stdout(cluster, task_id)
        return out if pred(out) else None

    return str(wait_for(ok, timeout, f"stdout of {task_id}"))


TERMINAL = {"TASK_FINISHED", "TASK_FAILED", "TASK_KILLED", "TASK_ERROR", "TASK_LOST"}


def update(
    sched: RawScheduler, task_id: str, states: set[str], timeout: float = 15
) -> dict[str, Any]:
    """The task's first update in `states`, received already (while waiting for another task's)
    or next; updates on the way are acknowledged."""

    def pred(e: dict[str, Any]) -> bool:
        return (
            e["type"] == "UPDATE"
            and e["update"]["status"]["task_id"]["value"] == task_id
            and e["update"]["status"]["state"] in states
        )

    seen = [e for e in sched.seen if pred(e)]
    ev = seen[0] if seen else sched.wait_event(pred, timeout)
    return dict(ev["update"]["status"])


def running(sched: RawScheduler, task_id: str, timeout: float = 15) -> dict[str, Any]:
    return update(sched, task_id, {"TASK_RUNNING"}, timeout)


def terminal_update(sched: RawScheduler, task_id: str, timeout: float = 15) -> dict[str, Any]:
    return update(sched, task_id, TERMINAL, timeout)


def ports_resource(offer: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    ranges = next(r for r in offer["resources"] if r["name"] == "ports")["ranges"]["range"]
    port = int(ranges[0]["begin"])
    return port, {
        "name": "ports",
        "type": "RANGES",
        "ranges": {"range": [{"begin": port, "end": port}]},
    }


# ---- Mesos containerizer ------------------------------------------------------------------


def test_oom_fails_the_task_and_spares_its_neighbour(make_cluster: MakeCluster) -> None:
    cluster = make_cluster()
    sched = RawScheduler(cluster.master_addr, framework("oom"))
    sched.subscribe()
    offer = sched.wait_offers()[0]
    hog = "exec python3 -c 'b = bytearray(400*1024*1024); import time; time.sleep(60)'"
    sched.launch(
        offer,
        [
            task_info("neighbour", offer, "exec sleep 600", mem=64),
            task_info("hog", offer, hog, mem=64),
        ],
    )
    running(sched, "neighbour")
    started = running(sched, "hog")
    failed = terminal_update(sched, "hog", timeout=10)
    elapsed = failed["timestamp"] - started["timestamp"]  # both stamped by the agent

    assert failed["state"] == "TASK_FAILED", failed
    assert failed["reason"] == "REASON_CONTAINER_LIMITATION_MEMORY", failed
    assert "Memory limit exceeded" in failed["message"], failed
    assert elapsed < 5.0, f"TASK_FAILED {elapsed:.1f} s after TASK_RUNNING"

    time.sleep(0.5)
    executors = agent_executors(cluster)
    assert executors["neighbour"]["task"]["state"] == "TASK_RUNNING"
    master_tasks = {t["id"]: t for f in cluster.state()["frameworks"] for t in f["tasks"]}
    assert master_tasks["neighbour"]["state"] == "TASK_RUNNING"
    sched.close()


def test_cfs_quota_shows_in_monitor_statistics(make_cluster: MakeCluster) -> None:
    cluster = make_cluster(["--cgroups-enable-cfs"])
    sched = RawScheduler(cluster.master_addr, framework("cfs"))
    sched.subscribe()
    offer = sched.wait_offers()[0]
    sched.launch(offer, [task_info("busy", offer, "while :; do :; done", cpus=0.1, mem=48)])
    running(sched, "busy")

    def sample() -> dict[str, Any] | None:
        r = httpx.get(f"{agent_url(cluster)}/monitor/statistics", timeout=5)
        r.raise_for_status()
        for entry in r.json():
            if entry["executor_id"] == "busy":
                assert entry["framework_id"] == sched.framework_id
                return dict(entry["statistics"])
        return None

    first = wait_for(sample, 10, "statistics of the busy task")
    start = time.monotonic()
    time.sleep(2.5)
    last = sample()
    elapsed = time.monotonic() - start
    assert last is not None

    cpu = (last["cpus_user_time_secs"] + last["cpus_system_time_secs"]) - (
        first["cpus_user_time_secs"] + first["cpus_system_time_secs"]
    )
    assert last["cpus_nr_throttled"] > 0, last
    assert 0.02 * elapsed <= cpu <= 0.3 * elapsed, (cpu, elapsed, last)  # about 0.1 core
    assert last["mem_limit_bytes"] == 48 * 1024 * 1024
    assert last["cpus_limit"] == pytest.approx(0.1)
    sched.close()


def test_task_has_its_own_pid_namespace(make_cluster: MakeCluster) -> None:
    cluster = make_cluster()
    sched = RawScheduler(cluster.master_addr, framework("pidns"))
    sched.subscribe()
    offer = sched.wait_offers()[0]
    sched.launch(offer, [task_info("ns", offer, "echo $$; ls /proc | grep -c '^[0-9]'")])
    assert terminal_update(sched, "ns")["state"] == "TASK_FINISHED"

    out = wait_stdout(cluster, "ns", lambda s: len(s.split()) >= 2)
    pid, count = (int(x) for x in out.split()[:2])
    assert pid == 1, out
    assert 1 <= count <= 5, out  # the shell and its pipeline, not the host's processes
    sched.close()


@contextlib.contextmanager
def traversable_by_others(path: Path) -> Iterator[None]:
    """Let every user traverse `path` and its parents up to the system temporary directory.

    pytest makes its base directories 0700; the sandbox below must be reachable for `nobody`.
    The modes are restored afterwards.
    """
    stop = Path(tempfile.gettempdir()).resolve()
    chain = []
    p = path.resolve()
    while p != stop and p != p.parent and stop in p.parents:
        chain.append(p)
        p = p.parent
    saved = {p: stat.S_IMODE(p.stat().st_mode) for p in chain}
    try:
        for p, mode in saved.items():
            os.chmod(p, mode | 0o001)
        yield
    finally:
        for p, mode in saved.items():
            with contextlib.suppress(OSError):
                os.chmod(p, mode)


def test_tasks_run_as_the_framework_user_and_unknown_users_are_errors(
    make_cluster: MakeCluster, tmp_path: Path
) -> None:
    with traversable_by_others(tmp_path):
        cluster = make_cluster()
        sched = RawScheduler(cluster.master_addr, framework("users", user="nobody"))
        sched.subscribe()
        offer = sched.wait_offers()[0]
        bad = task_info("bad-user", offer, "true")
        bad["command"]["user"] = "no-such-user"
        sched.launch(offer, [task_info("who", offer, "id -u"), bad])

        who = terminal_update(sched, "who")
        assert who["state"] == "TASK_FINISHED", who
        assert wait_stdout(cluster, "who", lambda s: s.strip() != "").strip() == "65534"

        error = terminal_update(sched, "bad-user")
        assert error["state"] == "TASK_ERROR", error
        assert error["reason"] == "REASON_TASK_INVALID", error
        assert "no-such-user" in error["message"], error
        sched.close()


# ---- Docker containerizer -----------------------------------------------------------------


def docker_args(engine: DockerEngine) -> list[str]:
    return ["--containerizers", "mesos,docker", "--docker-host", engine.host]


def docker_task(
    task_id: str, offer: dict[str, Any], image: str, command: str, **extra: Any
) -> dict[str, Any]:
    return task_info(
        task_id,
        offer,
        command,
        container={"type": "DOCKER", "docker": {"image": image, "network": "HOST"}},
        **extra,
    )


def test_docker_task_finishes_with_its_output_in_the_sandbox(
    make_cluster: MakeCluster, docker_engine: DockerEngine
) -> None:
    cluster = make_cluster(docker_args(docker_engine))
    sched = RawScheduler(cluster.master_addr, framework("docker"))
    sched.subscribe()
    offer = sched.wait_offers()[0]
    sched.launch(
        offer, [docker_task("hello", offer, docker_engine.image, "echo from-docker; exit 0")]
    )
    done = terminal_update(sched, "hello", timeout=60)
    assert done["state"] == "TASK_FINISHED", done
    assert "from-docker" in wait_stdout(cluster, "hello", lambda s: "from-docker" in s)
    sched.close()


def test_docker_task_survives_agent_kill9_and_is_removed_when_killed(
    make_cluster: MakeCluster, docker_engine: DockerEngine
) -> None:
    cluster = make_cluster(docker_args(docker_engine))
    sched = RawScheduler(cluster.master_addr, framework("docker-ckpt", checkpoint=True))
    sched.subscribe()
    offer = sched.wait_offers()[0]
    port, ports = ports_resource(offer)
    task = docker_task(
        "web",
        offer,
        docker_engine.image,
        "exec httpd -f -p 127.0.0.1:$PORT0 -h /var/www",
    )
    task["resources"].append(ports)
    sched.launch(offer, [task])
    running(sched, "web", timeout=60)

    def page() -> bool:
        return "hello from busybox" in httpx.get(f"http://127.0.0.1:{port}/", timeout=2).text

    wait_for(page, 20, "httpd answering")
    container_id = agent_executors(cluster)["web"]["container"]
    client = docker.DockerClient(base_url=docker_engine.host, timeout=30)
    try:
        name = f"mesos-{container_id}"
        pid = client.containers.get(name).attrs["State"]["Pid"]
        assert pid > 0
        agent_id = cluster.state()["slaves"][0]["id"]

        cluster.agents[0].kill9()
        assert page()  # the container outlives its agent
        cluster.start_agent(0)

        def recovered() -> bool:
            ex = agent_executors(cluster).get("web")
            slaves = cluster.state()["slaves"]
            return (
                ex is not None
                and ex["task"]["state"] == "TASK_RUNNING"
                and len(slaves) == 1
                and slaves[0]["active"]
            )

        wait_for(recovered, 30, "agent recovered the Docker task and re-registered")
        c = client.containers.get(name)
        assert c.attrs["State"]["Running"] and c.attrs["State"]["Pid"] == pid  # same container
        master_tasks = {t["id"]: t for f in cluster.state()["frameworks"] for t in f["tasks"]}
        assert master_tasks["web"]["state"] == "TASK_RUNNING"
        assert page()

        sched.send("KILL", {"task_id": {"value": "web"}, "agent_id": {"value": agent_id}})
        killed = terminal_update(sched, "web", timeout=30)
        assert killed["state"] == "TASK_KILLED", killed

        def removed() -> bool:
            try:
                client.containers.get(name)
            except docker.errors.NotFound:
                return True
            return False

        wait_for(removed, 20, "container removed")
    finally:
        client.close()
    sched.close()
