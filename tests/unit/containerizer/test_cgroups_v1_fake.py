"""cgroups v1 layouts that the test hosts do not have (co-mounted cpu,cpuacct), on a fake tree."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from dcos_core.containerizer.cgroups import V1Cgroups, detect, open_cgroups
from dcos_core.errors import IsolationError


def _hierarchy(d: Path) -> None:
    d.mkdir(parents=True)
    (d / "cgroup.procs").write_text("")


@pytest.fixture
def mount(tmp_path: Path) -> Path:
    m = tmp_path / "cgroup"
    _hierarchy(m / "cpu,cpuacct")
    os.symlink("cpu,cpuacct", m / "cpu")  # as systemd lays it out
    _hierarchy(m / "memory")
    return m


def test_detect_v1_comounted(mount: Path) -> None:
    host = detect(mount)
    assert host.version == 1
    assert host.controllers == frozenset({"cpu", "cpuacct", "memory"})


def test_comounted_cpu_cpuacct_is_one_cgroup(mount: Path) -> None:
    cg = open_cgroups(detect(mount), root="dcos")
    assert isinstance(cg, V1Cgroups)
    assert cg.cgroup_paths("c") == [mount / "cpu" / "dcos" / "c", mount / "memory" / "dcos" / "c"]
    dirs = cg.create("c", ["cpu", "memory"])
    assert dirs == [mount / "cpu" / "dcos" / "c", mount / "memory" / "dcos" / "c"]
    assert (mount / "cpu,cpuacct" / "dcos" / "c").is_dir()
    with pytest.raises(IsolationError, match=r"'pids' is not mounted.*--cgroups-mount"):
        cg.create("c", ["pids"])


def test_v1_writes_and_stats(mount: Path) -> None:
    cg = open_cgroups(detect(mount), root="dcos")
    cpu, mem = cg.create("c", ["cpu", "memory"])
    for name in ("cpu.shares", "cpu.cfs_period_us", "cpu.cfs_quota_us"):
        (cpu / name).write_text("")
    for name in ("memory.limit_in_bytes", "memory.soft_limit_in_bytes"):
        (mem / name).write_text("9223372036854771712\n")
    cg.set_cpu("c", 512, 25_000, period_us=50_000)
    assert [(cpu / n).read_text() for n in ("cpu.shares", "cpu.cfs_quota_us")] == ["512", "25000"]
    assert (cpu / "cpu.cfs_period_us").read_text() == "50000"
    cg.set_memory("c", 64 << 20)
    assert (mem / "memory.limit_in_bytes").read_text() == str(64 << 20)
    ticks = os.sysconf("SC_CLK_TCK")
    (cpu / "cpuacct.stat").write_text(f"user {3 * ticks}\nsystem {ticks // 2}\n")
    (cpu / "cpu.stat").write_text("nr_periods 9\nnr_throttled 4\nthrottled_time 1500000000\n")
    (mem / "memory.usage_in_bytes").write_text("4096\n")
    (mem / "memory.stat").write_text("cache 1\nrss 2\ntotal_cache 10\ntotal_rss 20\n")
    (mem / "cgroup.procs").write_text("")
    stats = cg.stats("c")
    assert stats == {
        "cpus_user_time_secs": 3.0,
        "cpus_system_time_secs": (ticks // 2) / ticks,
        "cpus_nr_periods": 9,
        "cpus_nr_throttled": 4,
        "cpus_throttled_time_secs": 1.5,
        "cpus_limit": 0.5,
        "mem_total_bytes": 4096,
        "mem_limit_bytes": 64 << 20,  # the unlimited soft limit is omitted
        "mem_rss_bytes": 20,
        "mem_cache_bytes": 10,
        "processes": 0,
    }


async def test_wait_oom_falls_back_to_polling(mount: Path) -> None:
    # On a fake tree the eventfd registration "succeeds" but never fires: polling must catch it.
    cg = open_cgroups(detect(mount), root="dcos")
    [mem] = cg.create("c", ["memory"])
    oom = mem / "memory.oom_control"
    oom.write_text("oom_kill_disable 0\nunder_oom 0\noom_kill 1\n")
    (mem / "cgroup.event_control").write_text("")
    waiter = asyncio.create_task(cg.wait_oom("c", poll_interval=0.01))
    await asyncio.sleep(0.1)
    assert not waiter.done()
    oom.write_text("oom_kill_disable 0\nunder_oom 0\noom_kill 2\n")
    await asyncio.wait_for(waiter, 2)
    assert cg.oom_kills("c") == 2
    cg.destroy("c")
    assert cg.containers() == set()
