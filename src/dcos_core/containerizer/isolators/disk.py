"""disk/du: the sandbox's disk use, measured every `--container-disk-watch-interval` seconds.

With `--enforce-container-disk-quota` a task whose sandbox outgrows its `disk` resource fails with
`REASON_CONTAINER_LIMITATION_DISK` ("Disk usage (X) exceeds quota (Y)", as Mesos says it).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

from dcos_core.containerizer.isolators.base import ContainerView, Limitation, NoOpIsolator
from dcos_core.containerizer.spec import REASON_CONTAINER_LIMITATION_DISK

MB: Final = 1024 * 1024


def disk_usage(path: Path) -> int:
    """Bytes used by the files under `path` (like `du -sb`, each inode counted once;
    symlinks are not followed; files that vanish while walking are skipped)."""
    total = 0
    seen: set[tuple[int, int]] = set()
    for root, dirs, files in os.walk(path, onerror=lambda e: None):
        for name in (*dirs, *files):
            try:
                st = os.lstat(os.path.join(root, name))
            except OSError:
                continue
            key = (st.st_dev, st.st_ino)
            if key in seen:
                continue
            seen.add(key)
            total += st.st_blocks * 512
    return total


class DiskDuIsolator(NoOpIsolator):
    name = "disk/du"

    def __init__(self, interval: float, enforce: bool) -> None:
        self.interval = interval
        self.enforce = enforce
        self._used: dict[str, int] = {}

    async def watch(self, view: ContainerView) -> Limitation:
        quota = int(view.spec.resources.scalar("disk") * MB)
        while True:
            used = await asyncio.to_thread(disk_usage, view.spec.sandbox)
            self._used[view.container_id] = used
            if self.enforce and quota > 0 and used > quota:
                return Limitation(
                    REASON_CONTAINER_LIMITATION_DISK,
                    f"Disk usage ({used // MB}MB) exceeds quota ({quota // MB}MB)",
                )
            await asyncio.sleep(self.interval)

    async def usage(self, view: ContainerView) -> Mapping[str, Any]:
        out: dict[str, Any] = {"disk_limit_bytes": int(view.spec.resources.scalar("disk") * MB)}
        if view.container_id in self._used:
            out["disk_used_bytes"] = self._used[view.container_id]
        return out

    async def cleanup(self, container_id: str) -> None:
        self._used.pop(container_id, None)
