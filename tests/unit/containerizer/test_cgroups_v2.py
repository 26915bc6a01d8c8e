"""cgroups v2 code path against a fake cgroupfs tree in tmp_path.

The fake tree stands in for the kernel: interface files are plain files, and a test adds the
files a real kernel would create on mkdir (`_populate`) before the module reads or writes them
(the module never creates interface files, so a missing one is an error as on a real host).
"""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from dcos_core.containerizer.cgroups import (
    CONTROLLERS,
    V2Cgroups,
    cfs_quota_us,
    cpu_shares,
    detect,
    open_cgroups,
)
from dcos_core.errors import IsolationError

CID = "c1"


def _populate(d: Path, **files: str) -> None:
    """Create the interface files a kernel would create in a new cgroup directory."""
    d.mkdir(parents=True, exist_ok=True)
    defaults = {
        "cgroup.procs": "",
        "cgroup.controllers": "",
        "cgroup.subtree_control": "",
        "cpu.weight": "100\n",
        "cpu.max": "max 100000\n",
        "cpu.stat": "usage_usec 0\nuser_usec 0\nsystem_usec 0\n",
        "memory.max": "max\n",
        "memory.low": "0\n",
        "memory.current": "0\n",
        "memory.events": "low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\noom_group_kill 0\n",
        "memory.stat": "anon 0\nfile 0\n",
        "pids.max": "max\n",
    }
    defaults.update({k.replace("__", "."): v for k, v in files.items()})
    for name, text in defaults.items():
        (d / name).write_text(text)


@pytest.fixture
def mount(tmp_path: Path) -> Path:
    m = tmp_path / "cgroup"
    m.mkdir()
    (m / "cgroup.controllers").write_text("cpuset cpu io memory hugetlb pids rdma misc\n")
    (m / "cgroup.subtree_control").write_text("")
    (m / "cgroup.procs").write_text("1\n")
    _populate(m / "dcos")
    return m


@pytest.fixture
def cg(mount: Path) -> V2Cgroups:
    c = open_cgroups(detect(mount), root="dcos")
    assert isinstance(c, V2Cgroups)
    return c


@pytest.fixture
def cdir(cg: V2Cgroups, mount: Path) -> Path:
    [d] = cg.create(CID, CONTROLLERS)
    _populate(d)
    return d


def _set_kv(path: Path, key: str, value: int) -> None:
    lines = [
        f"{key} {value}" if line.split()[0] == key else line
        for line in path.read_text().splitlines()
    ]
    path.write_text("\n".join(lines) + "\n")


def test_detect_v2_reads_controllers(mount: Path) -> None:
    host = detect(mount)
    assert host.version == 2
    assert host.mount == mount
    assert host.controllers == frozenset({"cpu", "memory", "pids"})


def test_detect_v2_partial_controllers(mount: Path) -> None:
    (mount / "cgroup.controllers").write_text("memory io\n")
    assert detect(mount).controllers == frozenset({"memory"})


def test_detect_nothing_raises(tmp_path: Path) -> None:
    with pytest.raises(IsolationError, match=r"--cgroups-mount.*--isolation=posix"):
        detect(tmp_path)


def test_open_enables_controllers_in_subtree_control(mount: Path) -> None:
    open_cgroups(detect(mount), root="dcos")
    assert (mount / "cgroup.subtree_control").read_text() == "+cpu +memory +pids"
    assert (mount / "dcos" / "cgroup.subtree_control").read_text() == "+cpu +memory +pids"


def test_open_writes_only_missing_controllers(mount: Path) -> None:
    (mount / "cgroup.subtree_control").write_text("cpu memory\n")  # kernel format
    (mount / "dcos" / "cgroup.subtree_control").write_text("cpu memory pids\n")
    open_cgroups(detect(mount), root="dcos")
    assert (mount / "cgroup.subtree_control").read_text() == "+pids"
    assert (mount / "dcos" / "cgroup.subtree_control").read_text() == "cpu memory pids\n"


def test_open_nested_root_and_empty_root(mount: Path) -> None:
    _populate(mount / "a")
    _populate(mount / "a" / "b")
    c = open_cgroups(detect(mount), root="/a/b/")
    assert c.root == "a/b"
    assert (mount / "a" / "cgroup.subtree_control").read_text() == "+cpu +memory +pids"
    assert (mount / "a" / "b" / "cgroup.subtree_control").read_text() == "+cpu +memory +pids"
    assert c.cgroup_paths("x") == [mount / "a" / "b" / "x"]
    assert open_cgroups(detect(mount), root="").cgroup_paths("x") == [mount / "x"]


def test_open_rejects_dotdot_root(mount: Path) -> None:
    with pytest.raises(IsolationError, match="invalid cgroups root"):
        open_cgroups(detect(mount), root="../escape")


def test_open_fails_when_subtree_control_cannot_be_written(mount: Path) -> None:
    (mount / "dcos" / "cgroup.subtree_control").unlink()  # kernel would say ENOENT/EBUSY
    with pytest.raises(IsolationError, match=r"dcos/cgroup.subtree_control.*leaf cgroup"):
        open_cgroups(detect(mount), root="dcos")


def test_create_makes_dir_and_enables_controllers(cg: V2Cgroups, mount: Path) -> None:
    (mount / "dcos" / "cgroup.subtree_control").write_text("memory\n")  # e.g. reset by someone
    dirs = cg.create(CID, ["cpu", "memory"])
    assert dirs == [mount / "dcos" / CID]
    assert dirs[0].is_dir()
    assert (mount / "dcos" / "cgroup.subtree_control").read_text() == "+cpu"
    assert cg.create(CID, ["cpu", "memory"]) == dirs  # idempotent
    assert cg.cgroup_paths(CID) == dirs


def test_create_missing_controller_raises(mount: Path) -> None:
    (mount / "cgroup.controllers").write_text("cpu memory\n")
    cg = open_cgroups(detect(mount), root="dcos")
    with pytest.raises(IsolationError, match=r"'pids' is not available.*--isolation"):
        cg.create(CID, ["memory", "pids"])
    assert not (mount / "dcos" / CID).exists()
    with pytest.raises(IsolationError, match="unknown cgroup controller 'blkio'"):
        cg.create(CID, ["blkio"])


@pytest.mark.parametrize("bad", ["", ".", "..", "a/b", "../x"])
def test_invalid_container_id(cg: V2Cgroups, bad: str) -> None:
    with pytest.raises(IsolationError, match="invalid container id"):
        cg.create(bad, ["memory"])


@pytest.mark.parametrize(
    ("shares", "weight"),
    [(1024, 39), (2, 1), (512, 20), (102, 4), (262144, 10000), (10**9, 10000), (0, 1)],
)
def test_set_cpu_weight_conversion(cg: V2Cgroups, cdir: Path, shares: int, weight: int) -> None:
    cg.set_cpu(CID, shares, None)
    assert (cdir / "cpu.weight").read_text() == str(weight)


def test_set_cpu_max(cg: V2Cgroups, cdir: Path) -> None:
    cg.set_cpu(CID, cpu_shares(0.1), cfs_quota_us(0.1))
    assert (cdir / "cpu.max").read_text() == "10000 100000"
    assert (cdir / "cpu.weight").read_text() == "4"
    cg.set_cpu(CID, cpu_shares(1), None)
    assert (cdir / "cpu.max").read_text() == "max 100000"
    cg.set_cpu(CID, 1024, 50_000, period_us=200_000)
    assert (cdir / "cpu.max").read_text() == "50000 200000"
    cg.set_cpu(CID, 1024, -1)
    assert (cdir / "cpu.max").read_text() == "max 100000"


def test_set_cpu_without_cgroup_names_file(cg: V2Cgroups) -> None:
    with pytest.raises(IsolationError, match=r"dcos/nope/cpu.weight.*create\(\) it first"):
        cg.set_cpu("nope", 1024, None)


def test_set_memory(cg: V2Cgroups, cdir: Path) -> None:
    cg.set_memory(CID, 64 << 20)
    assert (cdir / "memory.max").read_text() == str(64 << 20)
    assert (cdir / "memory.low").read_text() == "0\n"  # untouched without a soft limit
    assert not (cdir / "memory.swap.max").exists()  # not created when the kernel lacks it
    (cdir / "memory.swap.max").write_text("max\n")
    cg.set_memory(CID, 128 << 20, 32 << 20)
    assert (cdir / "memory.max").read_text() == str(128 << 20)
    assert (cdir / "memory.low").read_text() == str(32 << 20)
    assert (cdir / "memory.swap.max").read_text() == "0"
    cg.set_memory(CID, -1)
    assert (cdir / "memory.max").read_text() == "max"


def test_set_pids(cg: V2Cgroups, cdir: Path) -> None:
    cg.set_pids(CID, 5)
    assert (cdir / "pids.max").read_text() == "5"
    cg.set_pids(CID, -1)
    assert (cdir / "pids.max").read_text() == "max"


def test_join_and_procs(cg: V2Cgroups, cdir: Path) -> None:
    cg.join(CID, 4242)
    assert (cdir / "cgroup.procs").read_text() == "4242"
    (cdir / "cgroup.procs").write_text("30\n4242\n7\n")
    _populate(cdir / "nested", cgroup__procs="12\n7\n")
    assert cg.procs(CID) == [7, 12, 30, 4242]
    assert cg.procs("gone") == []


def test_join_without_cgroup_raises(cg: V2Cgroups) -> None:
    with pytest.raises(IsolationError, match="create\\(\\) it first"):
        cg.join("gone", 1234)


def test_oom_kills(cg: V2Cgroups, cdir: Path) -> None:
    assert cg.oom_kills(CID) == 0
    _set_kv(cdir / "memory.events", "oom_kill", 3)
    _set_kv(cdir / "memory.events", "oom", 5)
    assert cg.oom_kills(CID) == 3
    assert cg.oom_kills("gone") == 0
    (cdir / "memory.events").unlink()
    assert cg.oom_kills(CID) == 0


async def test_wait_oom_returns_after_a_kill(cg: V2Cgroups, cdir: Path) -> None:
    _set_kv(cdir / "memory.events", "oom_kill", 2)  # earlier kills do not count
    waiter = asyncio.create_task(cg.wait_oom(CID, poll_interval=0.01))
    await asyncio.sleep(0.1)
    _set_kv(cdir / "memory.events", "oom", 1)  # OOM without a kill: keep waiting
    await asyncio.sleep(0.1)
    assert not waiter.done()
    _set_kv(cdir / "memory.events", "oom_kill", 3)
    await asyncio.wait_for(waiter, 2)


async def test_wait_oom_cancellable_and_waits_when_gone(cg: V2Cgroups, cdir: Path) -> None:
    waiter = asyncio.create_task(cg.wait_oom(CID, poll_interval=0.01))
    await asyncio.sleep(0.05)
    (cdir / "memory.events").unlink()  # cgroup removed: 0 kills, never "increased"
    await asyncio.sleep(0.1)
    assert not waiter.done()
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter


def test_stats(cg: V2Cgroups, cdir: Path) -> None:
    (cdir / "cpu.stat").write_text(
        "usage_usec 3500000\nuser_usec 2500000\nsystem_usec 1000000\n"
        "nr_periods 40\nnr_throttled 7\nthrottled_usec 250000\n"
    )
    (cdir / "cpu.max").write_text("10000 100000\n")
    (cdir / "memory.current").write_text("1048576\n")
    (cdir / "memory.stat").write_text("anon 524288\nfile 262144\nkernel 4096\n")
    (cdir / "memory.max").write_text("67108864\n")
    (cdir / "memory.peak").write_text("2097152\n")
    (cdir / "cgroup.procs").write_text("11\n12\n")
    assert cg.stats(CID) == {
        "cpus_user_time_secs": 2.5,
        "cpus_system_time_secs": 1.0,
        "cpus_nr_periods": 40,
        "cpus_nr_throttled": 7,
        "cpus_throttled_time_secs": 0.25,
        "cpus_limit": 0.1,
        "mem_total_bytes": 1048576,
        "mem_rss_bytes": 524288,
        "mem_cache_bytes": 262144,
        "mem_limit_bytes": 67108864,
        "mem_max_usage_bytes": 2097152,
        "processes": 2,
    }


def test_stats_skips_missing_and_unlimited(cg: V2Cgroups, cdir: Path) -> None:
    for name in ("cpu.stat", "memory.stat", "memory.current"):
        (cdir / name).unlink()
    stats = cg.stats(CID)
    assert stats == {"processes": 0}  # memory.max "max" and cpu.max "max ..." are omitted
    assert cg.stats("unknown") == {}


def test_containers(cg: V2Cgroups, mount: Path) -> None:
    assert cg.containers() == set()
    cg.create("a", ["memory"])
    cg.create("b", ["cpu"])
    assert cg.containers() == {"a", "b"}  # interface files under <root> are not containers


def test_kill_all_signals_own_process(cg: V2Cgroups, cdir: Path) -> None:
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        (cdir / "cgroup.procs").write_text(f"{proc.pid}\n")
        assert cg.kill_all(CID, signal.SIGTERM) == 1
        assert proc.wait(10) == -signal.SIGTERM
        assert cg.kill_all("gone", signal.SIGTERM) == 0
    finally:
        proc.kill()
        proc.wait()


def test_destroy_removes_tree_and_is_idempotent(cg: V2Cgroups, cdir: Path) -> None:
    _populate(cdir / "nested" / "deeper")
    cg.destroy(CID, timeout=1)
    assert not cdir.exists()
    assert (cdir.parent / "cgroup.subtree_control").exists()  # <root> itself is kept
    cg.destroy(CID, timeout=1)  # idempotent
    assert cg.containers() == set()


def test_destroy_raises_when_processes_stay(cg: V2Cgroups, cdir: Path) -> None:
    # A fake cgroup.procs keeps listing the pid after the kill, like a process stuck in D state.
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        (cdir / "cgroup.procs").write_text(f"{proc.pid}\n")
        with pytest.raises(IsolationError, match=rf"\[{proc.pid}\].*survived SIGKILL"):
            cg.destroy(CID, timeout=0.2)
        assert proc.wait(10) == -signal.SIGKILL
        assert cdir.exists()
    finally:
        proc.kill()
        proc.wait()


def test_helpers() -> None:
    assert cpu_shares(1) == 1024
    assert cpu_shares(0.001) == 2
    assert cfs_quota_us(0.1) == 10_000
    assert cfs_quota_us(2.5) == 250_000
    assert cfs_quota_us(0.001) == 1000
    assert cfs_quota_us(1, period_us=50_000) == 50_000


def test_module_imports_only_errors_from_dcos_core() -> None:
    import dcos_core.containerizer.cgroups as mod

    source = Path(mod.__file__).read_text()
    imports = [
        line
        for line in source.splitlines()
        if line.startswith(("import ", "from ")) and "dcos_core" in line
    ]
    assert imports == ["from dcos_core.errors import IsolationError"]
