"""`SimulatedContainerizer`: containers without processes, for scale tests and benchmarks.

A container runs until destroyed, except for a few commands honoured without any process:
`true` (exit 0), `false` (exit 1), `exit N` (exit N) and `sleep N` (exit 0 after N seconds).
"""

from __future__ import annotations

import asyncio
import re
import signal
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any, Final

from dcos_core.clock import Clock, SystemClock
from dcos_core.containerizer import bookkeeping
from dcos_core.containerizer.spec import LaunchSpec, Termination

_EXIT: Final = re.compile(r"exit\s+(\d+)")
_SLEEP: Final = re.compile(r"sleep\s+(\d+(?:\.\d+)?)")


def planned_exit(spec: LaunchSpec) -> tuple[float, int] | None:
    """`(after_seconds, exit_code)` the simulated command ends with, or None (runs forever).

    Example:
        >>> from pathlib import Path
        >>> planned_exit(LaunchSpec("c", Path("/x"), command="sleep 2"))
        (2.0, 0)
    """
    text = (spec.command if spec.command is not None else " ".join(spec.argv or ())).strip()
    if text == "true":
        return (0.0, 0)
    if text == "false":
        return (0.0, 1)
    if m := _EXIT.fullmatch(text):
        return (0.0, int(m.group(1)) % 256)
    if m := _SLEEP.fullmatch(text):
        return (float(m.group(1)), 0)
    return None


@dataclass
class _Sim:
    spec: LaunchSpec
    done: asyncio.Future[Termination]
    timer: asyncio.TimerHandle | None
    started: float


class SimulatedContainerizer:
    """Bookkeeping only: no process, no file except the sandbox's empty stdout/stderr."""

    def __init__(self, clock: Clock | None = None) -> None:
        self._clock = clock or SystemClock()
        self._containers: dict[str, _Sim] = {}

    async def launch(self, spec: LaunchSpec) -> int | None:
        bookkeeping.check_new(self._containers, spec.container_id)
        loop = asyncio.get_running_loop()
        done: asyncio.Future[Termination] = loop.create_future()
        timer = None
        plan = planned_exit(spec)
        if plan is not None:
            after, code = plan
            timer = loop.call_later(after, _finish, done, Termination.from_returncode(code))
        self._containers[spec.container_id] = _Sim(spec, done, timer, self._clock.time())
        return None

    async def wait(self, container_id: str) -> Termination:
        return await bookkeeping.wait_done(bookkeeping.known(self._containers, container_id))

    async def destroy(self, container_id: str, grace_period: float) -> None:
        c = self._containers.pop(container_id, None)
        if c is None:
            return
        if c.timer is not None:
            c.timer.cancel()
        # A simulated process obeys SIGTERM at once.
        _finish(c.done, Termination.from_returncode(-signal.SIGTERM))

    async def usage(self, container_id: str) -> dict[str, Any]:
        bookkeeping.known(self._containers, container_id)
        return {
            "timestamp": self._clock.time(),
            "cpus_user_time_secs": 0.0,
            "cpus_system_time_secs": 0.0,
            "mem_rss_bytes": 0,
            "processes": 0,
            "threads": 0,
        }

    async def recover(self, keep: Collection[str]) -> set[str]:
        """Simulated containers do not survive the agent: nothing to find."""
        return set()

    def containers(self) -> list[str]:
        return list(self._containers)


def _finish(done: asyncio.Future[Termination], t: Termination) -> None:
    if not done.done():
        done.set_result(t)
