"""`MesosContainerizer`: containers built by a pipeline of isolators, started by a launcher.

Launch (Mesos `MesosContainerizerProcess::launch`): every isolator `prepare`s (cgroups created and
limited, image resolved...), their `LaunchFragment`s are merged into one launcher configuration,
and `launcher.py` (a small stdlib-only process, one per container, in its own session) enters the
namespaces, forks the task, puts it in its cgroups *before* it execs, and records how it ended in
`<runtime_dir>/<id>/termination`. The launcher is not the agent's: when the agent dies, launchers
and tasks keep running, and `recover()` finds them again through the runtime directory.

Isolators then `watch` the container; the first `Limitation` (memory, disk, ports) destroys it and
becomes the reason of its `Termination`. `destroy` sends SIGTERM to every process of the container
(its cgroups, or its session without cgroups), SIGKILL after the grace period, then `cleanup`s
the isolators and removes the runtime directory.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import pwd
import py_compile
import shutil
import signal
import sys
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import psutil

from dcos_core.clock import Clock, SystemClock
from dcos_core.containerizer import bookkeeping
from dcos_core.containerizer.cgroups import Cgroups
from dcos_core.containerizer.isolators.base import (
    ContainerView,
    Isolator,
    LaunchFragment,
    Limitation,
)
from dcos_core.containerizer.isolators.cgroups import CgroupsMemIsolator
from dcos_core.containerizer.isolators.selection import (
    build_isolators,
    choose_isolation,
    host_facts,
)
from dcos_core.containerizer.spec import (
    REASON_EXECUTOR_TERMINATED,
    ContainerizerConfig,
    LaunchSpec,
    Termination,
)
from dcos_core.errors import InvalidError, IsolationError
from dcos_core.resources import Resources

log = logging.getLogger("dcos_core.containerizer.mesos")

LAUNCHER: Final = Path(__file__).with_name("launcher.py")
_POLL: Final = 0.02
_KILL_TIMEOUT: Final = 5.0


@dataclass
class UserIds:
    uid: int
    gid: int
    groups: list[int]


def resolve_user(name: str) -> UserIds:
    """uid, gid and groups of a user; `InvalidError` (field `user`) if there is no such user."""
    try:
        pw = pwd.getpwnam(name)
    except KeyError:
        raise InvalidError(f"user '{name}' does not exist on this agent", "user") from None
    return UserIds(pw.pw_uid, pw.pw_gid, os.getgrouplist(name, pw.pw_gid))


def merge_fragments(spec: LaunchSpec, fragments: list[LaunchFragment]) -> dict[str, Any]:
    """The launcher configuration (without file paths) from the isolators' fragments.

    Example:
        >>> s = LaunchSpec("c", Path("/sb"), command="true", env={"A": "1"})
        >>> cfg = merge_fragments(s, [LaunchFragment(namespaces={"pid", "mount"}, cwd="/sb")])
        >>> cfg["namespaces"], cfg["argv"], cfg["cwd"]
        (['mount', 'pid'], ['/bin/sh', '-c', 'true'], '/sb')
    """
    env = dict(spec.env)
    namespaces: set[str] = set()
    cgroups: list[str] = []
    mounts: list[dict[str, Any]] = []
    overlay = None
    cwd = str(spec.sandbox)
    hostname = None
    for f in fragments:
        namespaces |= f.namespaces
        cgroups.extend(p for p in f.cgroups if p not in cgroups)
        mounts.extend(f.mounts)
        env.update(f.env)
        overlay = f.rootfs_overlay or overlay
        cwd = f.cwd or cwd
        hostname = f.hostname or hostname
    return {
        "container_id": spec.container_id,
        "argv": list(spec.args),
        "env": env,
        "cwd": cwd,
        "namespaces": sorted(namespaces),
        "hostname": hostname,
        "rootfs": None,
        "rootfs_overlay": overlay,
        "mounts": mounts,
        "cgroups": cgroups,
    }


def spec_to_json(spec: LaunchSpec) -> dict[str, Any]:
    """What `recover()` needs to rebuild a `LaunchSpec` (not the image or volumes)."""
    return {
        "container_id": spec.container_id,
        "sandbox": str(spec.sandbox),
        "command": spec.command,
        "argv": list(spec.argv) if spec.argv is not None else None,
        "stdout": str(spec.stdout_path),
        "stderr": str(spec.stderr_path),
        "resources": spec.resources.to_v1(),
        "user": spec.user,
        "limits": dict(spec.limits),
        "ports": list(spec.ports),
    }


def spec_from_json(d: dict[str, Any]) -> LaunchSpec:
    return LaunchSpec(
        d["container_id"],
        Path(d["sandbox"]),
        command=d.get("command"),
        argv=tuple(d["argv"]) if d.get("argv") is not None else None,
        stdout=Path(d["stdout"]),
        stderr=Path(d["stderr"]),
        resources=Resources.from_v1(d.get("resources") or []),
        user=d.get("user"),
        limits={k: float(v) for k, v in (d.get("limits") or {}).items()},
        ports=tuple(d.get("ports") or ()),
    )


@dataclass
class _Container:
    spec: LaunchSpec
    runtime: Path
    done: asyncio.Future[Termination]
    launcher_pid: int | None = None
    pid: int | None = None
    proc: asyncio.subprocess.Process | None = None
    limitation: Limitation | None = None
    tasks: list[asyncio.Task[Any]] = field(default_factory=list)
    destroying: asyncio.Task[None] | None = None


class MesosContainerizer:
    """Runs containers through the launcher with the configured isolators."""

    def __init__(
        self,
        config: ContainerizerConfig,
        isolators: list[Isolator],
        cgroups: Cgroups | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.config = config
        self.isolators = isolators
        self.cgroups = cgroups
        self._clock = clock or SystemClock()
        self._containers: dict[str, _Container] = {}
        config.runtime_dir.mkdir(parents=True, exist_ok=True)
        self.launcher = _compiled_launcher(config.runtime_dir)

    @classmethod
    def create(
        cls,
        config: ContainerizerConfig,
        clock: Clock | None = None,
        agent_port_ranges: list[tuple[int, int]] | None = None,
        configured: tuple[str, ...] | None = None,
    ) -> MesosContainerizer:
        """Check this host, choose the isolators (`configured` or the default) and build."""
        facts = host_facts(config.cgroups_mount)
        names = choose_isolation(configured, facts)
        isolators, cgroups = build_isolators(
            names, config, facts, agent_port_ranges or [(31000, 32000)]
        )
        return cls(config, isolators, cgroups, clock)

    @property
    def isolation(self) -> list[str]:
        return [i.name for i in self.isolators]

    # ---- launch ----------------------------------------------------------------------------

    async def launch(self, spec: LaunchSpec) -> int | None:
        cid = spec.container_id
        bookkeeping.check_new(self._containers, cid)
        if spec.container.type != "MESOS":
            raise InvalidError(
                f"{spec.container.type} containers need the docker containerizer on this agent "
                "(--containerizers=mesos,docker)",
                "task.container.type",
            )
        user = self._user(spec.user)
        runtime = self.config.runtime_dir / cid
        loop = asyncio.get_running_loop()
        c = _Container(spec, runtime, loop.create_future())
        self._containers[cid] = c
        prepared: list[Isolator] = []
        try:
            await asyncio.to_thread(self._make_dirs, spec, runtime, user)
            fragments = []
            for iso in self.isolators:
                prepared.append(iso)
                fragments.append(await iso.prepare(spec))
            cfg = merge_fragments(spec, fragments)
            cfg.update(
                stdout=str(spec.stdout_path),
                stderr=str(spec.stderr_path),
                user=None if user is None else vars(user),
                pid_file=str(runtime / "pid"),
                launcher_pid_file=str(runtime / "launcher.pid"),
                termination=str(runtime / "termination"),
            )
            (runtime / "launcher.json").write_text(json.dumps(cfg))
            await self._start_launcher(c)
        except BaseException as e:
            self._containers.pop(cid, None)
            for iso in reversed(prepared):
                with contextlib.suppress(Exception):
                    await iso.cleanup(cid)
            shutil.rmtree(runtime, ignore_errors=True)
            if isinstance(e, OSError):
                raise IsolationError(f"cannot launch container {cid}: {e}") from None
            raise
        c.tasks.append(asyncio.create_task(self._wait_launcher(c), name=f"wait-{cid}"))
        self._start_watches(c)
        log.info("launched container %s (pid %s) with %s", cid, c.pid, ",".join(self.isolation))
        return c.pid

    @staticmethod
    def _user(name: str | None) -> UserIds | None:
        """Who the task runs as; None = as the agent. Only root can switch users."""
        if not name:
            return None
        ids = resolve_user(name)
        if os.geteuid() != 0:
            if ids.uid != os.geteuid():
                raise InvalidError(
                    f"the agent does not run as root: it can run tasks as "
                    f"{pwd.getpwuid(os.geteuid()).pw_name}, not as '{name}'",
                    "user",
                )
            return None
        return ids

    def _make_dirs(self, spec: LaunchSpec, runtime: Path, user: UserIds | None) -> None:
        runtime.mkdir(parents=True, exist_ok=True)
        (runtime / "spec.json").write_text(json.dumps(spec_to_json(spec)))
        spec.sandbox.mkdir(parents=True, exist_ok=True)
        for p in (spec.stdout_path, spec.stderr_path):
            p.touch(exist_ok=True)
        if user is not None:
            for p in (spec.sandbox, spec.stdout_path, spec.stderr_path):
                os.chown(p, user.uid, user.gid)

    async def _start_launcher(self, c: _Container) -> None:
        r, w = os.pipe()
        try:
            with open(c.runtime / "launcher.log", "ab") as logf:
                c.proc = await asyncio.create_subprocess_exec(
                    sys.executable,
                    "-I",
                    "-S",
                    str(self.launcher),
                    "--config",
                    str(c.runtime / "launcher.json"),
                    "--report-fd",
                    str(w),
                    pass_fds=(w,),
                    stdin=asyncio.subprocess.DEVNULL,
                    stdout=logf,
                    stderr=logf,
                    start_new_session=True,
                )
        except BaseException:
            os.close(r)
            raise
        finally:
            os.close(w)
        c.launcher_pid = c.proc.pid
        report = await _read_report(r)
        if "pid" in report:
            c.pid = int(report["pid"])
            return
        await c.proc.wait()
        message = report.get("error") or _tail(c.runtime / "launcher.log") or "launcher failed"
        raise IsolationError(f"cannot launch container {c.spec.container_id}: {message}")

    def _start_watches(self, c: _Container) -> None:
        view = self._view(c)
        for iso in self.isolators:
            c.tasks.append(asyncio.create_task(self._watch(c, iso, view)))

    def _view(self, c: _Container) -> ContainerView:
        return ContainerView(c.spec.container_id, c.spec, lambda: self._pids(c))

    async def _watch(self, c: _Container, iso: Isolator, view: ContainerView) -> None:
        limitation = await iso.watch(view)
        if c.done.done() or c.limitation is not None:
            return
        c.limitation = limitation
        log.warning("container %s: %s", c.spec.container_id, limitation.message)
        with contextlib.suppress(OSError):
            (c.runtime / "limitation.json").write_text(json.dumps(vars(limitation)))
        # Mesos destroys a limited container at once (no grace period).
        self._kill_all(c, signal.SIGKILL)

    async def _wait_launcher(self, c: _Container) -> None:
        if c.proc is not None:
            await c.proc.wait()
        elif c.launcher_pid is not None:
            await _wait_pid(c.launcher_pid)
        term = await asyncio.to_thread(self._termination, c)
        if not c.done.done():
            c.done.set_result(term)

    def _termination(self, c: _Container) -> Termination:
        path = c.runtime / "termination"
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError):
            data = None
        limitation = c.limitation
        if limitation is None:
            limitation = _read_limitation(c.runtime)
        if limitation is None:
            for iso in self.isolators:
                if isinstance(iso, CgroupsMemIsolator) and iso.oom_killed(c.spec.container_id):
                    limitation = iso.limitation(self._view(c))
        if data is None:
            return Termination(
                None,
                None,
                "The container's launcher ended without recording how the task ended",
                REASON_EXECUTOR_TERMINATED,
            )
        if data.get("signal"):
            base = Termination.from_returncode(-int(data["signal"]))
        else:
            base = Termination.from_returncode(int(data.get("exit_code") or 0))
        if limitation is not None:
            return Termination(base.exit_code, base.signal, limitation.message, limitation.reason)
        return base

    # ---- wait / destroy / usage ------------------------------------------------------------

    async def wait(self, container_id: str) -> Termination:
        return await bookkeeping.wait_done(bookkeeping.known(self._containers, container_id))

    async def destroy(self, container_id: str, grace_period: float) -> None:
        c = self._containers.get(container_id)
        if c is not None:
            await bookkeeping.destroy_once(c, lambda: self._destroy(c, grace_period))

    async def _destroy(self, c: _Container, grace: float) -> None:
        cid = c.spec.container_id
        loop = asyncio.get_running_loop()
        if not c.done.done():
            self._kill_all(c, signal.SIGTERM)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(c.done), max(0.0, grace))
        deadline = loop.time() + _KILL_TIMEOUT
        while True:
            pids = await asyncio.to_thread(self._pids, c)
            if not pids:
                break
            if loop.time() > deadline:
                raise IsolationError(f"processes {pids} of container {cid} survive SIGKILL")
            self._kill_all(c, signal.SIGKILL, pids)
            await asyncio.sleep(_POLL)
        try:
            await asyncio.wait_for(asyncio.shield(c.done), _KILL_TIMEOUT)
        except TimeoutError:
            if c.launcher_pid is not None:  # the launcher itself is stuck: end it
                with contextlib.suppress(ProcessLookupError):
                    os.kill(c.launcher_pid, signal.SIGKILL)
            await asyncio.wait_for(asyncio.shield(c.done), _KILL_TIMEOUT)
        for t in c.tasks:
            t.cancel()
        await asyncio.gather(*c.tasks, return_exceptions=True)
        for iso in reversed(self.isolators):
            try:
                await iso.cleanup(cid)
            except Exception as e:  # keep cleaning the others; report once below
                log.error("cleanup of %s for container %s failed: %s", iso.name, cid, e)
        await asyncio.to_thread(shutil.rmtree, c.runtime, True)
        self._containers.pop(cid, None)
        log.info("destroyed container %s", cid)

    def _pids(self, c: _Container) -> list[int]:
        """Host pids of the container's processes (not its launcher)."""
        if self.cgroups is not None:
            pids = self.cgroups.procs(c.spec.container_id)
        else:
            pids = _session_members(c.launcher_pid) if c.launcher_pid else []
        return [p for p in pids if p != c.launcher_pid]

    def _kill_all(self, c: _Container, sig: int, pids: list[int] | None = None) -> None:
        for pid in pids if pids is not None else self._pids(c):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, sig)

    async def usage(self, container_id: str) -> dict[str, Any]:
        c = bookkeeping.known(self._containers, container_id)
        out: dict[str, Any] = {"timestamp": self._clock.time()}
        view = self._view(c)
        for iso in self.isolators:
            out.update(await iso.usage(view))
        return out

    def containers(self) -> list[str]:
        return bookkeeping.live(self._containers)

    # ---- recovery --------------------------------------------------------------------------

    async def recover(self, keep: Collection[str]) -> set[str]:
        found = await asyncio.to_thread(self._scan)
        keep_set = set(keep)
        recovered: set[str] = set()
        loop = asyncio.get_running_loop()
        orphans: list[_Container] = []
        for cid, (spec, launcher_pid, pid) in found.items():
            c = _Container(spec, self.config.runtime_dir / cid, loop.create_future())
            c.launcher_pid, c.pid = launcher_pid, pid
            if cid in keep_set:
                self._containers[cid] = c
                c.tasks.append(asyncio.create_task(self._wait_launcher(c), name=f"wait-{cid}"))
                if launcher_pid is not None:
                    self._start_watches(c)
                recovered.add(cid)
            else:
                orphans.append(c)
        for iso in self.isolators:
            await iso.recover(recovered, [o.spec.container_id for o in orphans])
        for o in orphans:
            log.info("destroying orphaned container %s", o.spec.container_id)
            self._kill_all(o, signal.SIGKILL)
            if o.launcher_pid is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(o.launcher_pid, signal.SIGKILL)
            await asyncio.to_thread(shutil.rmtree, o.runtime, True)
        log.info("recovered %d containers, destroyed %d orphans", len(recovered), len(orphans))
        return recovered

    def _scan(self) -> dict[str, tuple[LaunchSpec, int | None, int | None]]:
        out: dict[str, tuple[LaunchSpec, int | None, int | None]] = {}
        for d in sorted(self.config.runtime_dir.iterdir()):
            if not d.is_dir():
                continue
            try:
                spec = spec_from_json(json.loads((d / "spec.json").read_text()))
            except (OSError, ValueError, KeyError, InvalidError):
                shutil.rmtree(d, ignore_errors=True)  # never got far enough to run anything
                continue
            launcher_pid = _read_pid(d / "launcher.pid")
            if launcher_pid is not None and not _is_launcher(launcher_pid, d.name):
                launcher_pid = None  # gone (or the pid was reused)
            out[d.name] = (spec, launcher_pid, _read_pid(d / "pid"))
        return out


def _compiled_launcher(runtime_dir: Path) -> Path:
    """The launcher compiled once to bytecode: saves ~12 ms of compiling per container start
    (a script run by path is never cached). Falls back to the source if compiling fails."""
    target = runtime_dir / f".launcher-{sys.implementation.cache_tag}.pyc"
    try:
        py_compile.compile(str(LAUNCHER), cfile=str(target), doraise=True)
    except (OSError, py_compile.PyCompileError) as e:
        log.warning("cannot precompile the launcher (%s); running it from source", e)
        return LAUNCHER
    return target


# ---- process helpers (thin I/O) --------------------------------------------------------------


async def _read_report(fd: int) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    transport, _ = await loop.connect_read_pipe(
        lambda: asyncio.StreamReaderProtocol(reader), os.fdopen(fd, "rb", buffering=0)
    )
    try:
        data = await reader.read()
    finally:
        transport.close()
    for line in data.decode(errors="replace").splitlines():
        with contextlib.suppress(ValueError):
            obj = json.loads(line)
            if isinstance(obj, dict):
                return obj
    return {}


async def _wait_pid(pid: int) -> None:
    """Return when process `pid` (not our child) has ended."""
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return
    except OSError:  # no pidfd: poll
        while psutil.pid_exists(pid) and not _zombie(pid):
            await asyncio.sleep(0.2)
        return
    loop = asyncio.get_running_loop()
    ended: asyncio.Future[None] = loop.create_future()

    def on_readable() -> None:
        if not ended.done():
            ended.set_result(None)

    loop.add_reader(fd, on_readable)
    try:
        await ended
    finally:
        loop.remove_reader(fd)
        os.close(fd)


def _zombie(pid: int) -> bool:
    try:
        return bool(psutil.Process(pid).status() == psutil.STATUS_ZOMBIE)
    except psutil.Error:
        return True


def _is_launcher(pid: int, container_id: str) -> bool:
    try:
        p = psutil.Process(pid)
        return p.status() != psutil.STATUS_ZOMBIE and any(
            container_id in part for part in p.cmdline()
        )
    except psutil.Error:
        return False


def _session_members(sid: int) -> list[int]:
    out = []
    for p in psutil.process_iter():
        try:
            if os.getsid(p.pid) == sid and p.status() != psutil.STATUS_ZOMBIE:
                out.append(p.pid)
        except (OSError, psutil.Error):
            continue
    return out


def _read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def _read_limitation(runtime: Path) -> Limitation | None:
    try:
        d = json.loads((runtime / "limitation.json").read_text())
        return Limitation(str(d["reason"]), str(d["message"]))
    except (OSError, ValueError, KeyError):
        return None


def _tail(path: Path, lines: int = 3) -> str:
    try:
        return " ".join(path.read_text(errors="replace").strip().splitlines()[-lines:])
    except OSError:
        return ""
