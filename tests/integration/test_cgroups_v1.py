"""cgroups v1 for real: limits enforced by the kernel on processes started by the test.

Runs as root on a host with cgroup v1 at /sys/fs/cgroup (CI and dev machines). Every cgroup is
created under a random `dcos-test-<hex>` root at the top of each hierarchy and removed in the
fixture teardown; only processes started here are ever signalled.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from dcos_core.containerizer.cgroups import (
    V1Cgroups,
    cfs_quota_us,
    cpu_shares,
    detect,
    open_cgroups,
)
from dcos_core.errors import IsolationError

MOUNT = Path("/sys/fs/cgroup")
MiB = 1024 * 1024

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(
        os.geteuid() != 0 or not (MOUNT / "memory" / "cgroup.procs").is_file(),
        reason="needs root and the cgroup v1 memory controller at /sys/fs/cgroup/memory",
    ),
]

PY = sys.executable
# Each child blocks on a line from stdin so that it is moved into the cgroup before it works.
HOG = "import sys\nsys.stdin.readline()\nb = b'x' * (200 * 1024 * 1024)\nprint('survived')\n"
SMALL = "import sys\nsys.stdin.readline()\nb = b'x' * (16 * 1024 * 1024)\nprint(len(b))\n"
SLEEPER = "import sys\nsys.stdin.read()\n"
BUSY = (
    "import sys, time\nsys.stdin.readline()\nt = time.monotonic()\n"
    "while time.monotonic() - t < 1.5:\n    pass\n"
)


@pytest.fixture
def cg() -> Iterator[V1Cgroups]:
    host = detect(MOUNT)
    assert host.version == 1
    assert {"cpu", "cpuacct", "memory", "pids"} <= host.controllers
    c = open_cgroups(host, root=f"dcos-test-{uuid.uuid4().hex[:12]}")
    assert isinstance(c, V1Cgroups)
    roots = [p.parent for p in c.cgroup_paths("x")]
    assert len(roots) == 4 and all(r.is_dir() for r in roots)
    try:
        yield c
    finally:
        for cid in c.containers():
            c.destroy(cid)
        for r in roots:
            r.rmdir()


@pytest.fixture
def procs() -> Iterator[list[subprocess.Popen[bytes]]]:
    """Processes started by a test; killed and reaped at teardown."""
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for p in started:
        if p.poll() is None:
            p.kill()
        p.wait(10)


def _start(started: list[subprocess.Popen[bytes]], *args: str) -> subprocess.Popen[bytes]:
    p = subprocess.Popen(
        list(args), stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    started.append(p)
    return p


def _go(p: subprocess.Popen[bytes]) -> None:
    assert p.stdin is not None
    p.stdin.write(b"go\n")
    p.stdin.flush()


def _open_fds() -> set[str]:
    return set(os.listdir("/proc/self/fd"))


async def test_memory_limit_oom_kill_and_wait_oom(
    cg: V1Cgroups, procs: list[subprocess.Popen[bytes]]
) -> None:
    [memdir] = cg.create("mem", ["memory"])
    assert memdir == MOUNT / "memory" / cg.root / "mem"
    cg.set_memory("mem", 64 * MiB, 32 * MiB)
    assert (memdir / "memory.limit_in_bytes").read_text().strip() == str(64 * MiB)
    assert (memdir / "memory.oom_control").read_text().startswith("oom_kill_disable 0")

    sleeper = _start(procs, PY, "-c", SLEEPER)
    hog = _start(procs, PY, "-c", HOG)
    cg.join("mem", sleeper.pid)
    cg.join("mem", hog.pid)
    assert cg.procs("mem") == sorted([sleeper.pid, hog.pid])
    assert cg.oom_kills("mem") == 0

    fds = _open_fds()
    # A 60 s poll interval: only the eventfd can wake the waiter within the 10 s below.
    waiter = asyncio.create_task(cg.wait_oom("mem", poll_interval=60))
    await asyncio.sleep(0.2)
    assert not waiter.done()
    assert len(_open_fds() - fds) >= 2  # eventfd + memory.oom_control
    started = time.monotonic()
    _go(hog)
    await asyncio.wait_for(waiter, 10)
    woke_after = time.monotonic() - started
    assert await asyncio.to_thread(hog.wait, 10) == -signal.SIGKILL, hog.stdout
    assert hog.stdout is not None and b"survived" not in hog.stdout.read()
    assert cg.oom_kills("mem") >= 1
    assert woke_after < 5
    assert _open_fds() <= fds  # the waiter closed its fds

    assert sleeper.poll() is None  # the other process of the container is untouched
    assert cg.procs("mem") == [sleeper.pid]
    stats = cg.stats("mem")
    assert stats["mem_limit_bytes"] == 64 * MiB
    assert stats["mem_soft_limit_bytes"] == 32 * MiB
    assert 56 * MiB <= stats["mem_max_usage_bytes"] <= 64 * MiB
    assert stats["processes"] == 1

    kills = cg.oom_kills("mem")
    small = _start(procs, PY, "-c", SMALL)
    cg.join("mem", small.pid)
    _go(small)
    out, _ = await asyncio.to_thread(small.communicate, timeout=30)
    assert small.returncode == 0
    assert out.strip() == str(16 * MiB).encode()
    assert cg.oom_kills("mem") == kills


async def test_wait_oom_is_cancellable_and_closes_fds(cg: V1Cgroups) -> None:
    cg.create("idle", ["memory"])
    fds = _open_fds()
    waiter = asyncio.create_task(cg.wait_oom("idle", poll_interval=0.05))
    await asyncio.sleep(0.2)
    assert not waiter.done()
    assert len(_open_fds() - fds) >= 2
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    assert _open_fds() <= fds


def test_cpu_quota_throttles(cg: V1Cgroups, procs: list[subprocess.Popen[bytes]]) -> None:
    dirs = cg.create("cpu", ["cpu"])
    assert [d.parent.parent.name for d in dirs] == ["cpu", "cpuacct"]
    cg.set_cpu("cpu", cpu_shares(0.1), cfs_quota_us(0.1))
    cpudir = dirs[0]
    assert (cpudir / "cpu.shares").read_text().strip() == "102"
    assert (cpudir / "cpu.cfs_quota_us").read_text().strip() == "10000"
    assert (cpudir / "cpu.cfs_period_us").read_text().strip() == "100000"

    busy = _start(procs, PY, "-c", BUSY)
    cg.join("cpu", busy.pid)
    _go(busy)
    assert busy.wait(30) == 0
    stats = cg.stats("cpu")
    cpu_time = stats["cpus_user_time_secs"] + stats["cpus_system_time_secs"]
    assert stats["cpus_nr_throttled"] > 0
    assert stats["cpus_nr_periods"] >= 10
    assert stats["cpus_throttled_time_secs"] > 0.5
    assert 0.1 <= cpu_time <= 0.3, stats
    assert stats["cpus_limit"] == pytest.approx(0.1)

    cg.set_cpu("cpu", 1024, -1)
    assert (cpudir / "cpu.cfs_quota_us").read_text().strip() == "-1"
    assert "cpus_limit" not in cg.stats("cpu")


def test_pids_limit_stops_forks(cg: V1Cgroups, procs: list[subprocess.Popen[bytes]]) -> None:
    [pidsdir] = cg.create("pids", ["pids"])
    cg.set_pids("pids", 5)
    assert (pidsdir / "pids.max").read_text().strip() == "5"
    sh = _start(procs, "sh", "-c", "read x; for i in $(seq 20); do sleep 5 & done; wait")
    cg.join("pids", sh.pid)
    _go(sh)
    most = 0
    deadline = time.monotonic() + 1.0
    while time.monotonic() < deadline:
        most = max(most, len(cg.procs("pids")))
        time.sleep(0.01)
    assert 2 <= most <= 5
    _, err = sh.communicate(timeout=30)
    assert b"fork" in err.lower(), err
    events = (pidsdir / "pids.events").read_text().split()
    assert int(events[1]) > 0  # "max <number of refused forks>"
    cg.destroy("pids")  # kills the orphaned sleeps (all started by this test)
    assert not pidsdir.exists()


def test_procs_kill_all_destroy(cg: V1Cgroups, procs: list[subprocess.Popen[bytes]]) -> None:
    dirs = cg.create("all", ["cpu", "memory", "pids"])
    assert dirs == cg.cgroup_paths("all")
    assert cg.create("all", ["cpu", "memory", "pids"]) == dirs  # idempotent
    assert "all" in cg.containers()
    a, b, c = (_start(procs, PY, "-c", SLEEPER) for _ in range(3))
    cg.join("all", a.pid)
    cg.join("all", b.pid)
    nested = MOUNT / "memory" / cg.root / "all" / "nested"
    nested.mkdir()
    cg.join("all", c.pid)
    (nested / "cgroup.procs").write_text(str(c.pid))  # c moves to a child cgroup in memory
    assert cg.procs("all") == sorted([a.pid, b.pid, c.pid])
    assert cg.kill_all("all", 0) == 3  # signal 0: existence check only

    cg.destroy("all")
    assert [p.wait(10) for p in (a, b, c)] == [-signal.SIGKILL] * 3
    assert not any(d.exists() for d in dirs)
    assert cg.procs("all") == []
    assert cg.stats("all") == {}
    assert cg.oom_kills("all") == 0
    assert "all" not in cg.containers()
    cg.destroy("all")  # idempotent


def test_errors_name_the_file(cg: V1Cgroups) -> None:
    with pytest.raises(IsolationError, match=r"memory.limit_in_bytes.*create\(\) it first"):
        cg.set_memory("missing", 64 * MiB)
    cg.create("j", ["memory"])
    with pytest.raises(IsolationError, match=r"j/cgroup\.procs"):
        cg.join("j", 2**22 + 1)  # above pid_max: the kernel refuses it
