"""posix/cpu and posix/mem: no limits, usage summed over the container's processes (psutil).
The fallback on hosts where cgroups cannot be used."""

from __future__ import annotations

import asyncio
from collections.abc import Collection, Mapping
from typing import Any

import psutil

from dcos_core.containerizer.isolators.base import ContainerView, NoOpIsolator


def process_usage(pids: Collection[int]) -> dict[str, Any]:
    """CPU times, RSS, process and thread counts of `pids` (vanished ones are skipped)."""
    user = system = 0.0
    rss = threads = processes = 0
    for pid in pids:
        try:
            p = psutil.Process(pid)
            with p.oneshot():
                t = p.cpu_times()
                user += t.user + t.children_user
                system += t.system + t.children_system
                rss += p.memory_info().rss
                threads += p.num_threads()
                processes += 1
        except psutil.Error:
            continue
    return {
        "cpus_user_time_secs": round(user, 3),
        "cpus_system_time_secs": round(system, 3),
        "mem_rss_bytes": rss,
        "mem_total_bytes": rss,
        "processes": processes,
        "threads": threads,
    }


class PosixCpuIsolator(NoOpIsolator):
    name = "posix/cpu"

    async def usage(self, view: ContainerView) -> Mapping[str, Any]:
        pids = view.pids() if view.pids is not None else []
        u = await asyncio.to_thread(process_usage, pids)
        return {k: u[k] for k in ("cpus_user_time_secs", "cpus_system_time_secs", "processes")}


class PosixMemIsolator(NoOpIsolator):
    name = "posix/mem"

    async def usage(self, view: ContainerView) -> Mapping[str, Any]:
        pids = view.pids() if view.pids is not None else []
        u = await asyncio.to_thread(process_usage, pids)
        return {k: u[k] for k in ("mem_rss_bytes", "mem_total_bytes", "threads")}
