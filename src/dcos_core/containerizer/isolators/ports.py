"""network/ports: notices a task listening on a TCP port it was not given.

Every `--container-ports-watch-interval` seconds the listening sockets of the container's
processes are compared with the task's `ports` resources; only ports inside the agent's own
`ports` range count (ephemeral ports are the kernel's business). With
`--enforce-container-ports` such a task fails with `REASON_CONTAINER_LIMITATION`; without it the
violation is logged and shown in `/monitor/statistics` (`ports_violations`). Like Mesos says:
this is a safety net against mistakes, not a security boundary.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Collection, Mapping
from typing import Any

import psutil

from dcos_core.containerizer.isolators.base import ContainerView, Limitation, NoOpIsolator
from dcos_core.containerizer.spec import REASON_CONTAINER_LIMITATION

log = logging.getLogger("dcos_core.containerizer.ports")


def listening_ports(pids: Collection[int]) -> set[int]:
    """TCP ports on which one of `pids` listens."""
    wanted = set(pids)
    out: set[int] = set()
    if not wanted:
        return out
    try:
        conns = psutil.net_connections(kind="tcp")
    except psutil.Error:
        return out
    for c in conns:
        if c.pid in wanted and c.status == psutil.CONN_LISTEN and c.laddr:
            out.add(int(c.laddr.port))
    return out


def unowned(listening: Collection[int], owned: Collection[int], agent_ranges: Any) -> list[int]:
    """Ports of `listening` inside the agent's ranges that the task does not own, sorted.

    Example:
        >>> unowned({31000, 31005, 40000}, {31000}, [(31000, 32000)])
        [31005]
    """
    owned_set = set(owned)
    return sorted(
        p for p in listening if p not in owned_set and any(lo <= p <= hi for lo, hi in agent_ranges)
    )


class PortsIsolator(NoOpIsolator):
    name = "network/ports"

    def __init__(self, interval: float, enforce: bool, agent_ranges: list[tuple[int, int]]) -> None:
        self.interval = interval
        self.enforce = enforce
        self.agent_ranges = agent_ranges
        self._violations: dict[str, list[int]] = {}

    async def watch(self, view: ContainerView) -> Limitation:
        while True:
            await asyncio.sleep(self.interval)
            pids = view.pids() if view.pids is not None else []
            ports = await asyncio.to_thread(listening_ports, pids)
            bad = unowned(ports, view.spec.ports, self.agent_ranges)
            if bad != self._violations.get(view.container_id, []):
                if bad:
                    log.warning(
                        "container %s listens on ports it does not own: %s",
                        view.container_id,
                        bad,
                    )
                self._violations[view.container_id] = bad
            if bad and self.enforce:
                return Limitation(
                    REASON_CONTAINER_LIMITATION,
                    f"Container is listening on ports it was not given: {', '.join(map(str, bad))}",
                )

    async def usage(self, view: ContainerView) -> Mapping[str, Any]:
        bad = self._violations.get(view.container_id)
        return {"ports_violations": bad} if bad else {}

    async def cleanup(self, container_id: str) -> None:
        self._violations.pop(container_id, None)
