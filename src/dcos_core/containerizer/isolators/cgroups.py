"""cgroups/cpu, cgroups/mem and cgroups/pids: limits and accounting through Linux cgroups.

Values as Mesos sets them (`src/slave/containerizer/mesos/isolators/cgroups/subsystems`):
cpu shares = max(1024 x cpus, 2) always; a CFS quota of 100 ms x cpus (the limit if the task gives
one) when `--cgroups-enable-cfs` is set or the task asks for a cpu limit; memory hard limit = the
task's mem limit or request (at least 32 MiB), soft limit = the request; pids.max = the agent's
`--cgroups-pids-limit`. An OOM kill is read from the kernel's counter (v1 `memory.oom_control`
and its eventfd, v2 `memory.events`), never guessed from an exit code.

The three isolators share one `Cgroups` handle and one cgroup per container (per hierarchy).
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Collection, Mapping
from typing import Any, Final

from dcos_core.containerizer.cgroups import Cgroups, cfs_quota_us, cpu_shares
from dcos_core.containerizer.isolators.base import (
    ContainerView,
    LaunchFragment,
    Limitation,
    NoOpIsolator,
)
from dcos_core.containerizer.spec import REASON_CONTAINER_LIMITATION_MEMORY, LaunchSpec

MIN_MEMORY_BYTES: Final = 32 * 1024 * 1024
MB: Final = 1024 * 1024


def memory_limits(spec: LaunchSpec) -> tuple[int, int]:
    """`(hard, soft)` bytes for a task: hard = limit (or request), soft = request, >= 32 MiB.

    Example:
        >>> from pathlib import Path
        >>> from dcos_core.resources import Resources
        >>> s = LaunchSpec("c", Path("/s"), command="x", resources=Resources.parse("mem:64"))
        >>> memory_limits(s)
        (67108864, 67108864)
    """
    request = int(spec.resources.scalar("mem") * MB)
    limit = spec.limits.get("mem")
    hard = request if limit is None else (-1 if math.isinf(limit) else int(limit * MB))
    soft = max(request, MIN_MEMORY_BYTES)
    if hard != -1:
        hard = max(hard, MIN_MEMORY_BYTES)
    return hard, soft


def cpu_settings(spec: LaunchSpec, enable_cfs: bool) -> tuple[int, int | None]:
    """`(shares, cfs_quota_us or None)`; quota -1 for an infinite cpu limit.

    Example:
        >>> from pathlib import Path
        >>> from dcos_core.resources import Resources
        >>> s = LaunchSpec("c", Path("/s"), command="x", resources=Resources.parse("cpus:0.1"))
        >>> cpu_settings(s, True), cpu_settings(s, False)
        ((102, 10000), (102, None))
    """
    cpus = spec.resources.scalar("cpus")
    limit = spec.limits.get("cpus")
    shares = cpu_shares(cpus)
    if limit is not None:
        return shares, -1 if math.isinf(limit) else cfs_quota_us(limit)
    if enable_cfs and cpus > 0:
        return shares, cfs_quota_us(cpus)
    return shares, None


class _CgroupsIsolator(NoOpIsolator):
    controller = ""

    def __init__(self, cgroups: Cgroups) -> None:
        self.cgroups = cgroups

    async def prepare(self, spec: LaunchSpec) -> LaunchFragment:
        paths = await asyncio.to_thread(self._prepare, spec)
        return LaunchFragment(cgroups=[str(p) for p in paths])

    def _prepare(self, spec: LaunchSpec) -> list[Any]:
        paths = self.cgroups.create(spec.container_id, [self.controller])
        self.configure(spec)
        return paths

    def configure(self, spec: LaunchSpec) -> None:
        raise NotImplementedError

    async def cleanup(self, container_id: str) -> None:
        # Processes are gone by now; destroy() only removes the (shared) cgroup directories.
        await asyncio.to_thread(self.cgroups.destroy, container_id)

    async def recover(self, keep: Collection[str], orphans: Collection[str]) -> None:
        found = await asyncio.to_thread(self.cgroups.containers)
        for cid in (found | set(orphans)) - set(keep):
            await asyncio.to_thread(self.cgroups.destroy, cid)


class CgroupsCpuIsolator(_CgroupsIsolator):
    name = "cgroups/cpu"
    controller = "cpu"

    def __init__(self, cgroups: Cgroups, enable_cfs: bool) -> None:
        super().__init__(cgroups)
        self.enable_cfs = enable_cfs

    def configure(self, spec: LaunchSpec) -> None:
        shares, quota = cpu_settings(spec, self.enable_cfs)
        self.cgroups.set_cpu(spec.container_id, shares, quota)

    async def usage(self, view: ContainerView) -> Mapping[str, Any]:
        stats = await asyncio.to_thread(self.cgroups.stats, view.container_id)
        keys = (
            "cpus_user_time_secs",
            "cpus_system_time_secs",
            "cpus_nr_periods",
            "cpus_nr_throttled",
            "cpus_throttled_time_secs",
            "processes",
        )
        return {k: stats[k] for k in keys if k in stats}


class CgroupsMemIsolator(_CgroupsIsolator):
    name = "cgroups/mem"
    controller = "memory"

    def configure(self, spec: LaunchSpec) -> None:
        hard, soft = memory_limits(spec)
        self.cgroups.set_memory(spec.container_id, hard, soft)

    async def watch(self, view: ContainerView) -> Limitation:
        await self.cgroups.wait_oom(view.container_id)
        return await asyncio.to_thread(self.limitation, view)

    def limitation(self, view: ContainerView) -> Limitation:
        """The memory limitation of `view`, with what it asked for and what it used."""
        stats = self.cgroups.stats(view.container_id)
        hard, _soft = memory_limits(view.spec)
        used = stats.get("mem_max_usage_bytes", stats.get("mem_total_bytes", 0))
        return Limitation(
            REASON_CONTAINER_LIMITATION_MEMORY,
            f"Memory limit exceeded: Requested: {hard // MB}MB Maximum Used: {int(used) // MB}MB",
        )

    def oom_killed(self, container_id: str) -> bool:
        return self.cgroups.oom_kills(container_id) > 0

    async def usage(self, view: ContainerView) -> Mapping[str, Any]:
        stats = await asyncio.to_thread(self.cgroups.stats, view.container_id)
        keys = (
            "mem_total_bytes",
            "mem_rss_bytes",
            "mem_cache_bytes",
            "mem_limit_bytes",
            "mem_soft_limit_bytes",
            "mem_max_usage_bytes",
        )
        return {k: stats[k] for k in keys if k in stats}


class CgroupsPidsIsolator(_CgroupsIsolator):
    name = "cgroups/pids"
    controller = "pids"

    def __init__(self, cgroups: Cgroups, limit: int) -> None:
        super().__init__(cgroups)
        self.limit = limit

    def configure(self, spec: LaunchSpec) -> None:
        if self.limit > 0:
            self.cgroups.set_pids(spec.container_id, self.limit)
