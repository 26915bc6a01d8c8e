"""`dcos-core local` (and `bash scripts/up.sh`) as a new user runs it: Ctrl-C in the terminal,
several agents, a second cluster beside the first, ports already taken."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest

from dcos_core.containerizer.cgroups import destroy_root
from dcos_core.local import cluster_id
from tests.cluster import RawScheduler, free_port, pid_alive, task_info, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.slow]
ROOT = Path(__file__).resolve().parents[2]
DCOS_CORE = (sys.executable, "-m", "dcos_core")


@dataclass
class Local:
    """A `dcos-core local` started in its own session: its process group is what a terminal's
    foreground group is, and Ctrl-C there is SIGINT to the whole group."""

    proc: subprocess.Popen[str]
    work: Path
    master_port: int
    agent_port: int
    marathon_port: int
    agents: int
    output: list[str] = field(default_factory=list)  # what it printed so far

    def __post_init__(self) -> None:
        def read() -> None:
            assert self.proc.stdout is not None
            for line in self.proc.stdout:
                self.output.append(line)

        threading.Thread(target=read, daemon=True).start()

    @property
    def printed(self) -> str:
        return "".join(self.output)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.master_port}"

    @property
    def marathon(self) -> str:
        return f"http://127.0.0.1:{self.marathon_port}"

    def agent_url(self, i: int) -> str:
        return f"http://127.0.0.1:{self.agent_port + i}"

    def wait_up(self) -> None:
        """Up as a user sees it: `local` said so (and the master and Marathon answer)."""
        wait_for(lambda: "Press Ctrl-C to stop." in self.printed, 60, "local: cluster is up")
        wait_for(
            lambda: len(httpx.get(f"{self.url}/master/slaves").json()["slaves"]) == self.agents,
            60,
            f"{self.agents} agents",
        )
        wait_for(lambda: httpx.get(f"{self.marathon}/ping").text == "pong", 30, "marathon")

    def task_pids(self) -> dict[str, int]:
        out = {}
        for i in range(self.agents):
            st = httpx.get(f"{self.agent_url(i)}/state", timeout=5).json()
            for fw in st["frameworks"]:
                for ex in fw["executors"]:
                    if ex.get("pid"):
                        out.update({t["id"]: int(ex["pid"]) for t in ex["tasks"]})
        return out

    def run_sleep(self, task_id: str) -> tuple[RawScheduler, int]:
        """A raw framework with one `sleep 300` task running: the framework and the task's pid."""
        s = RawScheduler(f"127.0.0.1:{self.master_port}")
        s.subscribe()
        offer = s.wait_offers()[0]
        s.launch(offer, [task_info(task_id, offer, "sleep 300")])
        s.wait_update(task_id, "TASK_RUNNING")
        return s, self.task_pids()[task_id]

    def ctrl_c(self) -> None:
        os.killpg(self.proc.pid, signal.SIGINT)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        for i in range(self.agents):  # whatever a failed test left behind
            destroy_root(f"dcos-local/{cluster_id(self.work)}/agent-{i}")


def _ports(n: int) -> list[int]:
    """`n` free ports, consecutive where the agents need it (first agent port + i)."""
    while True:
        base = free_port()
        ports = list(range(base, base + n))
        if all(_free(p) for p in ports):
            return ports


def _free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _start(
    work: Path, agents: int, *extra: str, up_sh: bool = False, like: Local | None = None
) -> Local:
    """A local cluster in `work`, on free ports or on the ports of the cluster `like`."""
    if like is not None:
        master_port, agent_port, marathon_port = (
            like.master_port,
            like.agent_port,
            like.marathon_port,
        )
    else:
        master_port, marathon_port = free_port(), free_port()
        agent_port = _ports(agents)[0]
    args = [
        "--agents", str(agents), "--master-port", str(master_port),
        "--agent-port", str(agent_port), "--marathon-port", str(marathon_port),
        "--no-chronos", *extra,
    ]  # fmt: skip
    if up_sh:  # the README's first command, exactly as a user runs it
        cmd = ["bash", str(ROOT / "scripts" / "up.sh"), *args]
        env = {**os.environ, "DCOS_LOCAL_WORK_DIR": str(work)}
    else:
        cmd = [*DCOS_CORE, "local", "--work-dir", str(work), *args]
        env = dict(os.environ)
    proc = subprocess.Popen(
        cmd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
        start_new_session=True,
    )
    return Local(proc, work, master_port, agent_port, marathon_port, agents)


@contextlib.contextmanager
def running(work: Path, agents: int, *extra: str, up_sh: bool = False) -> Iterator[Local]:
    local = _start(work, agents, *extra, up_sh=up_sh)
    try:
        local.wait_up()
        yield local
    finally:
        local.stop()


def _dcos_core(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*DCOS_CORE, *args], capture_output=True, text=True, timeout=30)


def _post_app(local: Local, app: dict[str, Any]) -> None:
    r = httpx.post(f"{local.marathon}/v2/apps", json=app, timeout=10)
    assert r.status_code == 201, r.text


def _app(local: Local, app_id: str) -> dict[str, Any]:
    return dict(httpx.get(f"{local.marathon}/v2/apps/{app_id}", timeout=10).json()["app"])


def test_ctrl_c_in_the_terminal_of_up_sh_stops_everything_and_leaves_no_task(
    tmp_path: Path,
) -> None:
    """SIGINT to the whole process group (a terminal's Ctrl-C). Before: the agents got the SIGINT
    themselves, kept their checkpointed tasks for recovery, and 4 http.server tasks stayed up."""
    local = _start(tmp_path / "up", 2, up_sh=True)
    try:
        local.wait_up()
        _post_app(
            local,
            {
                "id": "/web",
                "instances": 4,
                "cpus": 0.1,
                "mem": 64,
                "cmd": "exec python3 -m http.server $PORT0 --bind 127.0.0.1",
            },
        )
        wait_for(lambda: _app(local, "web")["tasksRunning"] == 4, 60, "4 instances running")
        pids = list(local.task_pids().values())
        assert len(pids) == 4 and all(pid_alive(p) for p in pids)
        t0 = time.monotonic()
        local.ctrl_c()
        local.proc.wait(15)
        took = time.monotonic() - t0
        assert took < 10, took
        assert local.proc.returncode == 0
        left = [p for p in pids if pid_alive(p)]
        assert not left, f"task processes left behind: {left}"
        with pytest.raises(ProcessLookupError):  # nothing of the group is left either
            os.killpg(local.proc.pid, 0)
    finally:
        local.stop()
    assert "cluster is up" in local.printed


def test_local_killed_with_sigkill_takes_its_daemons_and_tasks_along(tmp_path: Path) -> None:
    local = _start(tmp_path / "k", 1)
    try:
        local.wait_up()
        daemons = [c.pid for c in psutil.Process(local.proc.pid).children()]
        assert len(daemons) == 3  # master, agent, Marathon
        s, task = local.run_sleep("k-task")
        s.close()
        local.proc.kill()
        local.proc.wait(5)
        wait_for(lambda: not any(pid_alive(p) for p in [*daemons, task]), 15, "all gone")
    finally:
        local.stop()


def test_restart_on_the_same_ports_right_after_a_stop(tmp_path: Path) -> None:
    """The port check binds as the daemons do: connections of the cluster just stopped (in
    TIME_WAIT) are no reason to refuse. Before: "port ... is not free" for a second."""
    first = _start(tmp_path / "r", 1)
    try:
        first.wait_up()
        with httpx.Client() as h:  # kept-alive connections that the servers close at stop
            for i in range(first.agents):
                h.get(f"{first.agent_url(i)}/state").raise_for_status()
            h.get(f"{first.url}/master/state").raise_for_status()
    finally:
        first.stop()
    second = _start(first.work, 1, like=first)
    try:
        second.wait_up()
    finally:
        second.stop()
    assert "cluster is up" in second.printed


def test_several_agents_offer_disjoint_task_ports_and_instances_keep_running(
    tmp_path: Path,
) -> None:
    """Before: every local agent offered 31000-32000 on 127.0.0.1, so instances on different
    agents got the same port and crash-looped with "Address already in use"."""
    with running(tmp_path / "ports", 3) as local:
        slaves = httpx.get(f"{local.url}/master/slaves").json()["slaves"]
        ranges = sorted(s["resources"]["ports"] for s in slaves)
        assert ranges == ["[31000-31333]", "[31334-31667]", "[31668-32000]"]
        _post_app(
            local,
            {
                "id": "/spread",
                "instances": 6,
                "cpus": 0.1,
                "mem": 32,
                "cmd": "exec python3 -m http.server $PORT0 --bind 127.0.0.1",
                "constraints": [["hostname", "GROUP_BY"]],
                "healthChecks": [{"protocol": "TCP", "portIndex": 0, "intervalSeconds": 1}],
            },
        )
        wait_for(lambda: _app(local, "spread")["tasksHealthy"] == 6, 90, "6 instances healthy")
        time.sleep(3)
        app = _app(local, "spread")
        assert app["tasksRunning"] == 6 and "lastTaskFailure" not in app, app
        tasks = httpx.get(f"{local.marathon}/v2/apps/spread/tasks").json()["tasks"]
        ports = [t["ports"][0] for t in tasks]
        assert len(set(ports)) == 6, ports


def test_two_local_clusters_side_by_side_never_touch_each_others_tasks(tmp_path: Path) -> None:
    """Before: both clusters' agents used the cgroup root `dcos-local/agent-0`, and the second
    agent destroyed the first cluster's containers as orphans when it started."""
    with running(tmp_path / "a", 1) as a:
        sa, a_pid = a.run_sleep("a-task")
        # the second cluster: its own work dir and ports, task ports of its own
        with running(tmp_path / "b", 1, "--agent-resources", "ports:[33000-33999]") as b:
            sb, b_pid = b.run_sleep("b-task")
            assert pid_alive(a_pid), "the second cluster's agent killed the first one's task"
            sb.close()
        # the second cluster stopped and took its own task with it, nothing else
        wait_for(lambda: not pid_alive(b_pid), 10, "b's task gone")
        assert pid_alive(a_pid)
        st = httpx.get(f"{a.url}/master/tasks").json()["tasks"]
        assert [t["state"] for t in st if t["id"] == "a-task"] == ["TASK_RUNNING"]
        sa.close()
    assert not pid_alive(a_pid)


def test_a_port_in_use_is_one_line_and_exit_1_before_anything_starts(tmp_path: Path) -> None:
    """Before: `local` printed "cluster is up" (another master answered on that port) and then
    "master exited with 3"; the cause was in a traceback in master.log."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        r = _dcos_core(
            *("local", "--work-dir", str(tmp_path / "w"), "--master-port", str(port)),
            *("--agent-port", str(_ports(1)[0]), "--marathon-port", str(free_port())),
            "--no-chronos",
        )
        assert r.returncode == 1, r.stdout + r.stderr
        assert "cluster is up" not in r.stdout
        lines = r.stderr.strip().splitlines()
        assert lines == [
            f"dcos-core local: port {port} of the master (--master-port) is not free on "
            "127.0.0.1 (Address already in use): stop what listens there (another local "
            "cluster?) or choose another port"
        ], r.stderr
        assert not (tmp_path / "w").exists()  # nothing started, nothing written
        # each daemon alone says the same in one line, exit 2, before touching its state
        for daemon in ("master", "agent", "marathon", "chronos"):
            d = _dcos_core(daemon, "--port", str(port), "--work-dir", str(tmp_path / daemon))
            assert d.returncode == 2, (daemon, d.stderr)
            assert "Traceback" not in d.stderr, d.stderr
            assert f"cannot listen on 127.0.0.1:{port}: the address is already in use" in (d.stderr)
            assert not (tmp_path / daemon).exists()


def test_too_few_task_ports_for_the_agents_is_refused(tmp_path: Path) -> None:
    r = _dcos_core(
        *("local", "--work-dir", str(tmp_path / "w"), "--agents", "3"),
        *("--agent-resources", "cpus:1;ports:[31000-31001]"),
    )
    assert r.returncode == 2
    assert r.stderr.strip() == (
        "dcos-core local: 3 agents need at least 3 task ports, the range has 2"
    )
