"""`PosixContainerizer`: one process group (session) per container, no other isolation.

Every container is started with `start_new_session=True`, so its main process leads a new process
group and everything it forks stays in that group unless it calls `setsid` itself. `destroy`
signals the whole group, so grandchildren are killed too.

Orphaned grandchildren are re-parented to the nearest *child subreaper*. When PID 1 does not reap
(containers, micro-VMs) they would linger as zombies, so `make_subreaper()` lets the agent process
adopt and reap them (`os.waitpid(-pgid)` once the group leader has been reaped).
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import os
import signal
import sys
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any, Final

import psutil

from dcos_core.clock import Clock, SystemClock
from dcos_core.containerizer import bookkeeping
from dcos_core.containerizer.isolators.posix import process_usage
from dcos_core.containerizer.spec import (
    LaunchSpec,
    Termination,
)
from dcos_core.errors import IsolationError

log = logging.getLogger("dcos_core.containerizer.posix")

_POLL: Final = 0.02  # seconds between checks of a group while destroying it
_REAP_TIMEOUT: Final = 5.0  # how long to wait for the kernel to clear a SIGKILLed group
_PR_SET_CHILD_SUBREAPER: Final = 36


def make_subreaper() -> bool:
    """Make this process adopt orphaned descendants (Linux `PR_SET_CHILD_SUBREAPER`).

    Returns False where that is not available. Affects the whole process; call it once at start.
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return bool(libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0)
    except (OSError, AttributeError):
        return False


@dataclass
class _Container:
    spec: LaunchSpec
    proc: asyncio.subprocess.Process
    pgid: int
    done: asyncio.Future[Termination]
    watcher: asyncio.Task[None] | None = None
    destroying: asyncio.Task[None] | None = None


class PosixContainerizer:
    """Runs each container as its own process group.

    Example:
        >>> c = PosixContainerizer()
        >>> c.containers()
        []
    """

    def __init__(self, clock: Clock | None = None) -> None:
        self._clock = clock or SystemClock()
        self._containers: dict[str, _Container] = {}

    async def launch(self, spec: LaunchSpec) -> int | None:
        bookkeeping.check_new(self._containers, spec.container_id)
        try:
            spec.sandbox.mkdir(parents=True, exist_ok=True)
            with open(spec.stdout_path, "ab") as out, open(spec.stderr_path, "ab") as err:
                proc = await asyncio.create_subprocess_exec(
                    *spec.args,
                    stdin=asyncio.subprocess.DEVNULL,
                    stdout=out,
                    stderr=err,
                    cwd=spec.sandbox,
                    env=dict(spec.env),
                    start_new_session=True,
                    user=spec.user,
                )
        except (OSError, ValueError, KeyError) as e:
            # KeyError: unknown user; OSError: missing executable, permissions, ...
            raise IsolationError(f"cannot launch container {spec.container_id}: {e}") from None
        loop = asyncio.get_running_loop()
        c = _Container(spec, proc, proc.pid, loop.create_future())
        c.watcher = asyncio.create_task(self._watch(c), name=f"watch-{spec.container_id}")
        self._containers[spec.container_id] = c
        log.info("launched container %s (pid %d): %s", spec.container_id, proc.pid, spec.args)
        return proc.pid

    async def _watch(self, c: _Container) -> None:
        rc = await c.proc.wait()
        _reap_group(c.pgid)
        if not c.done.done():
            c.done.set_result(Termination.from_returncode(rc))

    async def wait(self, container_id: str) -> Termination:
        return await bookkeeping.wait_done(bookkeeping.known(self._containers, container_id))

    async def destroy(self, container_id: str, grace_period: float) -> None:
        c = self._containers.get(container_id)
        if c is not None:
            await bookkeeping.destroy_once(c, lambda: self._destroy(c, grace_period))

    async def _destroy(self, c: _Container, grace_period: float) -> None:
        loop = asyncio.get_running_loop()
        try:
            if _alive(c):
                _signal_group(c.pgid, signal.SIGTERM)
                deadline = loop.time() + max(0.0, grace_period)
                while _alive(c) and loop.time() < deadline:
                    await asyncio.sleep(_POLL)
                if _alive(c):
                    log.info("container %s outlived its grace period; SIGKILL", c.spec.container_id)
                    _signal_group(c.pgid, signal.SIGKILL)
            # The main process is reaped by asyncio's child watcher; then adopted orphans by us.
            await asyncio.wait_for(asyncio.shield(c.done), _REAP_TIMEOUT)
            deadline = loop.time() + _REAP_TIMEOUT
            while _alive(c) and loop.time() < deadline:
                _signal_group(c.pgid, signal.SIGKILL)
                await asyncio.sleep(_POLL)
            if _alive(c):
                raise IsolationError(
                    f"processes of container {c.spec.container_id} survive SIGKILL"
                )
        except TimeoutError:
            raise IsolationError(
                f"main process of container {c.spec.container_id} did not exit after SIGKILL"
            ) from None
        finally:
            if c.done.done() or c.proc.returncode is not None:
                self._containers.pop(c.spec.container_id, None)
        log.info("destroyed container %s", c.spec.container_id)

    async def usage(self, container_id: str) -> dict[str, Any]:
        c = bookkeeping.known(self._containers, container_id)
        return await asyncio.to_thread(_group_usage, c.pgid, self._clock.time())

    async def recover(self, keep: Collection[str]) -> set[str]:
        """Process groups are not checkpointed: nothing to re-attach."""
        return set()

    def containers(self) -> list[str]:
        return bookkeeping.live(self._containers)


# ---- process-group helpers (thin I/O) --------------------------------------------------------


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def _reap_group(pgid: int) -> None:
    """Reap zombies of the group that are our children (adopted orphans, as a subreaper)."""
    while True:
        try:
            pid, _status = os.waitpid(-pgid, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def group_members(pgid: int) -> list[psutil.Process]:
    """Processes of the group that are not zombies."""
    out = []
    for p in psutil.process_iter():
        try:
            if os.getpgid(p.pid) == pgid and p.status() != psutil.STATUS_ZOMBIE:
                out.append(p)
        except (ProcessLookupError, psutil.Error):
            continue
    return out


def _alive(c: _Container) -> bool:
    return _group_alive(c.pgid, reap=c.proc.returncode is not None)


def _group_alive(pgid: int, reap: bool) -> bool:
    """True while a live (non-zombie) process is in the group.

    `reap` only once asyncio has reaped the leader: `waitpid(-pgid)` would otherwise steal the
    leader's exit status from asyncio's child watcher.
    """
    if reap:
        _reap_group(pgid)
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return bool(group_members(pgid))


def _group_usage(pgid: int, timestamp: float) -> dict[str, Any]:
    return {"timestamp": timestamp, **process_usage([p.pid for p in group_members(pgid)])}
