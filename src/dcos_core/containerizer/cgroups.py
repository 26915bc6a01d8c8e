"""Linux control groups for containers: v1 and v2 behind one interface (thin I/O, no policy).

`detect(mount)` says which version is mounted and which controllers are usable;
`open_cgroups(host, root)` returns a `Cgroups` that creates, limits, measures and removes one
cgroup per container under `<root>` (e.g. `dcos`). Layout:

* v1: `<mount>/<controller>/<root>/<container_id>` for each controller used
  (`cpu`, `cpuacct`, `memory`, `pids`; `cpu,cpuacct` co-mounted hierarchies are handled);
* v2: `<mount>/<root>/<container_id>` (controllers enabled through `cgroup.subtree_control`).

`<mount>` is configurable (`--cgroups-mount`) so that an agent inside a container host can use a
sub-cgroup bound elsewhere (`/run/hostcg/memory`, ...; see shared/reference/test-hosts.md).

The isolators decide every value; this module only reads and writes cgroupfs files and turns
`OSError`s into `IsolationError`s that name the file and say what the operator can do.

Example::

    host = detect(Path("/sys/fs/cgroup"))
    cg = open_cgroups(host, root="dcos")
    cg.create("c1", ["cpu", "memory"])
    cg.set_cpu("c1", cpu_shares(0.5), cfs_quota_us(0.5))
    cg.set_memory("c1", 64 * 1024 * 1024)
    cg.join("c1", pid)
    ...
    cg.destroy("c1")
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import signal
import time
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from dcos_core.errors import IsolationError

__all__ = [
    "CONTROLLERS",
    "Cgroups",
    "CgroupsHost",
    "V1Cgroups",
    "V2Cgroups",
    "cfs_quota_us",
    "cpu_shares",
    "detect",
    "open_cgroups",
]

CONTROLLERS = ("cpu", "memory", "pids")
"""What the isolators may ask for; on v1 `cpu` implies `cpuacct` (for the cpu time statistics)."""

_V1_CONTROLLERS = ("cpu", "cpuacct", "memory", "pids")
_FALLBACK_HINT = "or leave the cgroups isolators out (--isolation=posix/cpu,posix/mem)"
# cgroup v1 reports "no limit" as PAGE_COUNTER_MAX * page size (9223372036854771712 on x86-64).
_V1_UNLIMITED = 2**62
_MISSING = (errno.ENOENT, errno.ENODEV, errno.ENOTDIR, errno.ESRCH)


@dataclass(frozen=True)
class CgroupsHost:
    """What `detect` found: the cgroup version, where it is mounted, the usable controllers.

    >>> CgroupsHost(1, Path("/sys/fs/cgroup"), frozenset({"cpu", "cpuacct", "memory"})).version
    1
    """

    version: int
    mount: Path
    controllers: frozenset[str]


def cpu_shares(cpus: float) -> int:
    """v1 `cpu.shares` for a cpu request, as Mesos does: `max(int(1024 * cpus), 2)`.

    >>> cpu_shares(0.5), cpu_shares(0.0)
    (512, 2)
    """
    return max(int(1024 * cpus), 2)


def cfs_quota_us(cpus: float, period_us: int = 100_000) -> int:
    """CFS quota for a cpu limit, as Mesos does: `max(int(period_us * cpus), 1000)`.

    >>> cfs_quota_us(0.1), cfs_quota_us(0.001)
    (10000, 1000)
    """
    return max(int(period_us * cpus), 1000)


def detect(mount: Path = Path("/sys/fs/cgroup")) -> CgroupsHost:
    """Find the cgroup version mounted at `mount` and the controllers this process may use.

    v2 if `<mount>/cgroup.controllers` exists (pure unified hierarchy; the controllers are read
    from it), else v1 if `<mount>/<controller>/cgroup.procs` exists for one of `cpu`, `cpuacct`,
    `memory`, `pids` (a co-mounted `cpu,cpuacct` directory is found too). A controller whose
    directory is not writable (`os.access(W_OK)`) is left out. Raises `IsolationError` if neither
    layout is there.

    Example (on a host, so not a doctest)::

        detect(Path("/sys/fs/cgroup"))
        # CgroupsHost(version=1, mount=PosixPath('/sys/fs/cgroup'), controllers=frozenset(...))
    """
    mount = Path(mount)
    if (mount / "cgroup.controllers").is_file():
        try:
            available = (mount / "cgroup.controllers").read_text().split()
        except OSError as e:
            raise IsolationError(
                f"cannot read {mount / 'cgroup.controllers'}: {e.strerror}; check --cgroups-mount"
            ) from e
        usable = frozenset(c for c in available if c in CONTROLLERS)
        if not os.access(mount, os.W_OK):
            usable = frozenset()
        return CgroupsHost(2, mount, usable)
    found = _v1_hierarchies(mount)
    if not found:
        raise IsolationError(
            f"no cgroup found at {mount}: neither cgroup v2 ({mount}/cgroup.controllers) nor "
            f"cgroup v1 ({mount}/<controller>/cgroup.procs for cpu, cpuacct, memory or pids); "
            f"mount cgroupfs there, pass --cgroups-mount, {_FALLBACK_HINT}"
        )
    usable = frozenset(c for c, d in found.items() if os.access(d, os.W_OK))
    return CgroupsHost(1, mount, usable)


def _v1_hierarchies(mount: Path) -> dict[str, Path]:
    """Controller -> hierarchy directory under `mount` (`<mount>/cpu`, or `<mount>/cpu,cpuacct`)."""
    found: dict[str, Path] = {}
    for controller in _V1_CONTROLLERS:
        d = mount / controller
        if (d / "cgroup.procs").is_file():
            found[controller] = d
    with contextlib.suppress(OSError):
        for entry in sorted(os.listdir(mount)):
            names = entry.split(",")
            d = mount / entry
            if len(names) < 2 or not (d / "cgroup.procs").is_file():
                continue
            for controller in names:
                if controller in _V1_CONTROLLERS and controller not in found:
                    found[controller] = d
    return found


class Cgroups(Protocol):
    """One cgroup per container under `<mount>[/<controller>]/<root>/<container_id>`."""

    host: CgroupsHost
    root: str

    def create(self, container_id: str, controllers: Collection[str]) -> list[Path]:
        """Create the container's cgroup in each needed hierarchy; idempotent.

        v1: `cpu` also creates the `cpuacct` cgroup if that is a separate hierarchy. Returns
        the directories whose `cgroup.procs` a process must be written to, to join the
        container. A requested controller that is not usable -> `IsolationError`.
        """
        ...

    def set_cpu(
        self, container_id: str, shares: int, quota_us: int | None, period_us: int = 100_000
    ) -> None:
        """v1: `cpu.shares`, and `cpu.cfs_period_us`/`cpu.cfs_quota_us` if `quota_us` is not
        None (-1 = unlimited). v2: `cpu.weight` converted from the shares and `cpu.max`
        (`"<quota> <period>"`, or `"max <period>"` for None/-1)."""
        ...

    def set_memory(
        self, container_id: str, limit_bytes: int, soft_limit_bytes: int | None = None
    ) -> None:
        """v1: `memory.limit_in_bytes` (+ `memory.soft_limit_in_bytes`); v2: `memory.max`
        (+ `memory.low`) and `memory.swap.max = 0` if that file exists. -1 = unlimited. The
        kernel OOM killer stays enabled and v1 `memsw` is left alone."""
        ...

    def set_pids(self, container_id: str, max_pids: int) -> None:
        """`pids.max` (a negative value writes `max`)."""
        ...

    def join(self, container_id: str, pid: int) -> None:
        """Write `pid` to every existing `cgroup.procs` of the container."""
        ...

    def procs(self, container_id: str) -> list[int]:
        """Sorted pids in the container's cgroups (nested cgroups included); [] if gone."""
        ...

    def oom_kills(self, container_id: str) -> int:
        """Kernel OOM kills in the container so far (0 if unknown or gone)."""
        ...

    async def wait_oom(self, container_id: str, poll_interval: float = 0.5) -> None:
        """Return once `oom_kills` exceeds its value at call time; cancellable."""
        ...

    def stats(self, container_id: str) -> dict[str, float | int]:
        """Mesos `ResourceStatistics` fields that are available; {} for an unknown container."""
        ...

    def kill_all(self, container_id: str, sig: int) -> int:
        """Send `sig` to every process of the container; returns how many were signalled."""
        ...

    def destroy(self, container_id: str, timeout: float = 5.0) -> None:
        """SIGKILL every process, then remove the container's cgroups; idempotent, blocking."""
        ...

    def remove_root(self) -> None:
        """Remove `<root>` (and its parents below the mount) where empty."""
        ...

    def containers(self) -> set[str]:
        """Names of the cgroups directly under `<root>` (for orphan cleanup)."""
        ...

    def cgroup_paths(self, container_id: str) -> list[Path]:
        """The container's directories (existing or not), one per hierarchy used."""
        ...


def open_cgroups(host: CgroupsHost, root: str = "dcos") -> Cgroups:
    """A `V1Cgroups` or `V2Cgroups` for `host`, with `<root>` created.

    v2 also enables `+cpu +memory +pids` (those available) in the `cgroup.subtree_control` of
    the mount and of every directory down to `<root>`. `root` may be "" (use the mount itself,
    e.g. a bound sub-cgroup) or contain slashes. Raises `IsolationError` if that fails.

    Example (on a host, as root, so not a doctest)::

        cg = open_cgroups(detect(), root="dcos")
        cg.create("c1", ["memory"])  # [PosixPath('/sys/fs/cgroup/memory/dcos/c1')]
    """
    root = _check_root(root)
    if host.version == 1:
        return V1Cgroups(host, root)
    if host.version == 2:
        return V2Cgroups(host, root)
    raise IsolationError(f"unsupported cgroup version {host.version} at {host.mount}")


def _check_root(root: str) -> str:
    parts = [p for p in root.split("/") if p]
    if any(p in (".", "..") for p in parts) or "\0" in root:
        raise IsolationError(
            f"invalid cgroups root {root!r}: use a relative path without '.' or '..' "
            "(e.g. --cgroups-root=dcos)"
        )
    return "/".join(parts)


def _check_id(container_id: str) -> str:
    if (
        not container_id
        or "/" in container_id
        or "\0" in container_id
        or container_id
        in (
            ".",
            "..",
        )
    ):
        raise IsolationError(
            f"invalid container id {container_id!r} for a cgroup name: it must be one path "
            "component (no '/', not '.' or '..')"
        )
    return container_id


def _hint(err: OSError, path: Path) -> str:
    if err.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return "run the agent as root or delegate this cgroup to the agent's user"
    if err.errno == errno.ENOENT:
        return (
            "the container's cgroup does not exist (create() it first) or its controller is "
            "not enabled in the parent's cgroup.subtree_control"
        )
    if err.errno == errno.EBUSY and path.name.startswith("memory."):
        return "the memory in use is above the new limit and could not be reclaimed"
    if err.errno == errno.EBUSY:
        return "the cgroup is busy (processes or child cgroups are in it)"
    if err.errno == errno.ESRCH:
        return "the process has exited"
    if err.errno == errno.EINVAL:
        return "the kernel rejected the value"
    return "check the cgroup mount (--cgroups-mount) and permissions"


def _write(path: Path, value: str) -> None:
    """Write one value to an existing cgroupfs file (never creates it)."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_TRUNC | os.O_CLOEXEC)
    except OSError as e:
        raise IsolationError(f"cannot open {path}: {e.strerror}; {_hint(e, path)}") from e
    try:
        os.write(fd, value.encode())
    except OSError as e:
        raise IsolationError(
            f"cannot write {value!r} to {path}: {e.strerror}; {_hint(e, path)}"
        ) from e
    finally:
        os.close(fd)


def _read(path: Path) -> str | None:
    """The file's text, or None if it (or its cgroup) does not exist."""
    try:
        return path.read_text()
    except OSError as e:
        if e.errno in _MISSING or e.errno in (errno.EOPNOTSUPP, errno.EINVAL):
            return None
        raise IsolationError(f"cannot read {path}: {e.strerror}; {_hint(e, path)}") from e


def _read_int(path: Path) -> int | None:
    text = _read(path)
    if text is None:
        return None
    try:
        return int(text.split()[0])
    except (ValueError, IndexError):
        return None


def _read_kv(path: Path) -> dict[str, int]:
    """`key value` lines (memory.stat, cpu.stat, memory.events, ...); {} if the file is absent."""
    text = _read(path)
    result: dict[str, int] = {}
    for line in (text or "").splitlines():
        parts = line.split()
        if len(parts) == 2:
            with contextlib.suppress(ValueError):
                result[parts[0]] = int(parts[1])
    return result


def _mkdir(path: Path) -> None:
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise IsolationError(f"cannot create cgroup {path}: {e.strerror}; {_hint(e, path)}") from e


def _rmdir_tree(top: Path, deadline: float) -> None:
    """Remove `top` and its child cgroups, children first, retrying EBUSY until `deadline`."""
    if not top.is_dir():
        return
    dirs = [Path(d) for d, _, _ in os.walk(top, topdown=False)]
    for d in dirs:
        while True:
            try:
                os.rmdir(d)
                break
            except FileNotFoundError:
                break
            except OSError as e:
                if e.errno == errno.ENOTEMPTY:
                    # cgroupfs never says ENOTEMPTY (it says EBUSY): this is a plain directory
                    # standing in for a cgroup (a fake tree in tests); drop its regular files.
                    try:
                        for f in os.scandir(d):
                            if f.is_file(follow_symlinks=False):
                                os.unlink(f.path)
                        os.rmdir(d)
                    except OSError as e2:
                        raise IsolationError(
                            f"cannot remove {d}: {e2.strerror}; it is not a cgroup directory "
                            "(check --cgroups-mount)"
                        ) from e2
                    break
                if e.errno != errno.EBUSY or time.monotonic() > deadline:
                    raise IsolationError(
                        f"cannot remove cgroup {d}: {e.strerror}; {_hint(e, d)}; remove it by "
                        "hand (rmdir) once its processes are gone"
                    ) from e
                time.sleep(0.01)


class _Base:
    """What v1 and v2 share: paths, pid listing, killing and removal."""

    host: CgroupsHost
    root: str

    def cgroup_paths(self, container_id: str) -> list[Path]:
        _check_id(container_id)
        return [base / container_id for base in self._root_dirs()]

    def _root_dirs(self) -> list[Path]:
        raise NotImplementedError

    def remove_root(self) -> None:
        """Remove `<root>` (and its parents below the mount) where empty; for tidy teardowns.
        Directories that still hold containers are left alone."""
        depth = len([p for p in self.root.split("/") if p])
        for d in self._root_dirs():
            for level in [d, *list(d.parents)[: max(0, depth - 1)]]:
                try:
                    level.rmdir()
                except OSError:
                    break

    def join(self, container_id: str, pid: int) -> None:
        dirs = [d for d in self.cgroup_paths(container_id) if d.is_dir()]
        if not dirs:
            raise IsolationError(
                f"cannot add pid {pid} to container {container_id!r}: it has no cgroup under "
                f"{self._root_dirs()}; create() it first"
            )
        for d in dirs:
            _write(d / "cgroup.procs", str(pid))

    def procs(self, container_id: str) -> list[int]:
        pids: set[int] = set()
        for top in self.cgroup_paths(container_id):
            for d, _, _ in os.walk(top):
                text = _read(Path(d) / "cgroup.procs")
                pids.update(int(p) for p in (text or "").split() if p.isdigit())
        return sorted(pids)

    def kill_all(self, container_id: str, sig: int) -> int:
        count = 0
        for pid in self.procs(container_id):
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                continue
            count += 1
        return count

    def destroy(self, container_id: str, timeout: float = 5.0) -> None:
        deadline = time.monotonic() + timeout
        while pids := self.procs(container_id):
            if time.monotonic() > deadline:
                raise IsolationError(
                    f"processes {pids} of container {container_id!r} survived SIGKILL for "
                    f"{timeout} s (uninterruptible sleep? check /proc/<pid>/stack); its cgroups "
                    f"{[str(p) for p in self.cgroup_paths(container_id)]} are left in place"
                )
            self.kill_all(container_id, signal.SIGKILL)
            time.sleep(0.01)
        for top in self.cgroup_paths(container_id):
            _rmdir_tree(top, deadline)

    def containers(self) -> set[str]:
        names: set[str] = set()
        for base in self._root_dirs():
            with contextlib.suppress(FileNotFoundError, NotADirectoryError):
                names.update(e.name for e in os.scandir(base) if e.is_dir(follow_symlinks=False))
        return names

    def _procs_count(self, container_id: str, out: dict[str, float | int]) -> None:
        if any(p.is_dir() for p in self.cgroup_paths(container_id)):
            out["processes"] = len(self.procs(container_id))


class V1Cgroups(_Base):
    """cgroup v1: one hierarchy per controller (`<mount>/<controller>/<root>/<container_id>`)."""

    def __init__(self, host: CgroupsHost, root: str = "dcos") -> None:
        self.host = host
        self.root = _check_root(root)
        found = _v1_hierarchies(host.mount)
        # controller -> <hierarchy>/<root>; co-mounted controllers share one directory.
        self._dirs: dict[str, Path] = {}
        for controller in _V1_CONTROLLERS:
            if controller in host.controllers and controller in found:
                self._dirs[controller] = found[controller] / self.root
        for d in self._root_dirs():
            _mkdir(d)

    def _root_dirs(self) -> list[Path]:
        seen: set[str] = set()
        result: list[Path] = []
        for d in self._dirs.values():
            key = os.path.realpath(d)
            if key not in seen:
                seen.add(key)
                result.append(d)
        return result

    def _dir(self, controller: str, container_id: str) -> Path:
        base = self._dirs.get(controller)
        if base is None:
            raise IsolationError(
                f"cgroup v1 controller {controller!r} is not mounted (or not writable) at "
                f"{self.host.mount / controller}: pass --cgroups-mount, {_FALLBACK_HINT}"
            )
        return base / _check_id(container_id)

    def create(self, container_id: str, controllers: Collection[str]) -> list[Path]:
        _check_id(container_id)
        wanted: list[str] = []
        for c in controllers:
            if c not in CONTROLLERS:
                raise IsolationError(f"unknown cgroup controller {c!r}: use one of {CONTROLLERS}")
            wanted.append(c)
            if c == "cpu" and "cpuacct" in self._dirs:
                wanted.append("cpuacct")
        result: list[Path] = []
        seen: set[str] = set()
        for c in wanted:
            d = self._dir(c, container_id)
            key = os.path.realpath(d)
            if key in seen:
                continue
            seen.add(key)
            _mkdir(d)
            result.append(d)
        return result

    def set_cpu(
        self, container_id: str, shares: int, quota_us: int | None, period_us: int = 100_000
    ) -> None:
        d = self._dir("cpu", container_id)
        _write(d / "cpu.shares", str(shares))
        if quota_us is None:
            return
        if quota_us < 0:  # lift the quota before changing the period
            _write(d / "cpu.cfs_quota_us", "-1")
            _write(d / "cpu.cfs_period_us", str(period_us))
        else:
            _write(d / "cpu.cfs_period_us", str(period_us))
            _write(d / "cpu.cfs_quota_us", str(quota_us))

    def set_memory(
        self, container_id: str, limit_bytes: int, soft_limit_bytes: int | None = None
    ) -> None:
        d = self._dir("memory", container_id)
        _write(d / "memory.limit_in_bytes", str(max(limit_bytes, -1)))
        if soft_limit_bytes is not None:
            _write(d / "memory.soft_limit_in_bytes", str(max(soft_limit_bytes, -1)))

    def set_pids(self, container_id: str, max_pids: int) -> None:
        _write(
            self._dir("pids", container_id) / "pids.max", "max" if max_pids < 0 else str(max_pids)
        )

    def oom_kills(self, container_id: str) -> int:
        if "memory" not in self._dirs:
            return 0
        return _read_kv(self._dir("memory", container_id) / "memory.oom_control").get("oom_kill", 0)

    async def wait_oom(self, container_id: str, poll_interval: float = 0.5) -> None:
        """Return when the container's `oom_kill` count exceeds the count at call time.

        Registers an eventfd on `memory.oom_control` through `cgroup.event_control` and wakes on
        it; `oom_kill` is polled as well, every `poll_interval` (and every 10 ms for 1 s after
        an event, because the kernel signals the OOM *before* the kill is counted). If the
        registration fails, polling alone is used. If the cgroup is removed, this waits until
        cancelled. Closes its file descriptors on return and on cancellation.

        Example (in a coroutine, on a host, so not a doctest)::

            await asyncio.wait_for(cg.wait_oom("c1"), timeout=60)
        """
        baseline = self.oom_kills(container_id)
        memdir = self._dir("memory", container_id)
        loop = asyncio.get_running_loop()
        woke = asyncio.Event()
        efd = ofd = -1
        try:
            try:
                efd = os.eventfd(0, os.EFD_CLOEXEC | os.EFD_NONBLOCK)
                ofd = os.open(memdir / "memory.oom_control", os.O_RDONLY | os.O_CLOEXEC)
                _write(memdir / "cgroup.event_control", f"{efd} {ofd}")
                loop.add_reader(efd, woke.set)
            except (OSError, IsolationError):
                for fd in (efd, ofd):
                    if fd >= 0:
                        os.close(fd)
                efd = ofd = -1
            fast_until = 0.0
            while self.oom_kills(container_id) <= baseline:
                interval = 0.01 if loop.time() < fast_until else poll_interval
                try:
                    await asyncio.wait_for(woke.wait(), interval)
                except TimeoutError:
                    continue
                woke.clear()
                with contextlib.suppress(BlockingIOError):
                    os.eventfd_read(efd)
                fast_until = loop.time() + 1.0
        finally:
            if efd >= 0:
                loop.remove_reader(efd)
                os.close(efd)
            if ofd >= 0:
                os.close(ofd)

    def stats(self, container_id: str) -> dict[str, float | int]:
        out: dict[str, float | int] = {}
        if "cpuacct" in self._dirs:
            acct = _read_kv(self._dir("cpuacct", container_id) / "cpuacct.stat")
            ticks = os.sysconf("SC_CLK_TCK")
            if "user" in acct:
                out["cpus_user_time_secs"] = acct["user"] / ticks
            if "system" in acct:
                out["cpus_system_time_secs"] = acct["system"] / ticks
        if "cpu" in self._dirs:
            d = self._dir("cpu", container_id)
            cpu = _read_kv(d / "cpu.stat")
            if "nr_periods" in cpu:
                out["cpus_nr_periods"] = cpu["nr_periods"]
            if "nr_throttled" in cpu:
                out["cpus_nr_throttled"] = cpu["nr_throttled"]
            if "throttled_time" in cpu:
                out["cpus_throttled_time_secs"] = cpu["throttled_time"] / 1e9
            quota = _read_int(d / "cpu.cfs_quota_us")
            period = _read_int(d / "cpu.cfs_period_us")
            if quota is not None and quota > 0 and period:
                out["cpus_limit"] = quota / period
        if "memory" in self._dirs:
            d = self._dir("memory", container_id)
            for key, name in (
                ("mem_total_bytes", "memory.usage_in_bytes"),
                ("mem_max_usage_bytes", "memory.max_usage_in_bytes"),
                ("mem_limit_bytes", "memory.limit_in_bytes"),
                ("mem_soft_limit_bytes", "memory.soft_limit_in_bytes"),
            ):
                value = _read_int(d / name)
                if value is not None and value < _V1_UNLIMITED:
                    out[key] = value
            mem = _read_kv(d / "memory.stat")
            # total_* include nested cgroups; the plain fields are this cgroup's own pages.
            for key, names in (
                ("mem_rss_bytes", ("total_rss", "rss")),
                ("mem_cache_bytes", ("total_cache", "cache")),
            ):
                for name in names:
                    if name in mem:
                        out[key] = mem[name]
                        break
        self._procs_count(container_id, out)
        return out


class V2Cgroups(_Base):
    """cgroup v2: one unified hierarchy (`<mount>/<root>/<container_id>`)."""

    def __init__(self, host: CgroupsHost, root: str = "dcos") -> None:
        self.host = host
        self.root = _check_root(root)
        self._base = host.mount / self.root if self.root else host.mount
        _mkdir(self._base)
        self._enable(host.controllers)

    def _root_dirs(self) -> list[Path]:
        return [self._base]

    def _enable(self, controllers: Iterable[str]) -> None:
        """Enable `controllers` in the subtree_control of the mount and every level to <root>."""
        wanted = [c for c in CONTROLLERS if c in set(controllers)]
        levels = [self.host.mount]
        for part in self.root.split("/") if self.root else []:
            levels.append(levels[-1] / part)
        for level in levels:
            path = level / "cgroup.subtree_control"
            enabled = {t.lstrip("+") for t in (_read(path) or "").split()}
            missing = [c for c in wanted if c not in enabled]
            if not missing:
                continue
            try:
                _write(path, " ".join(f"+{c}" for c in missing))
            except IsolationError as e:
                raise IsolationError(
                    f"{e}; a cgroup v2 cgroup that holds processes cannot enable controllers for "
                    f"its children: move the agent's own processes out of {level} into a leaf "
                    f"cgroup, pass another --cgroups-root, {_FALLBACK_HINT}"
                ) from e

    def _dir(self, container_id: str) -> Path:
        return self._base / _check_id(container_id)

    def create(self, container_id: str, controllers: Collection[str]) -> list[Path]:
        d = self._dir(container_id)
        for c in controllers:
            if c not in CONTROLLERS:
                raise IsolationError(f"unknown cgroup controller {c!r}: use one of {CONTROLLERS}")
            if c not in self.host.controllers:
                raise IsolationError(
                    f"cgroup v2 controller {c!r} is not available in "
                    f"{self.host.mount / 'cgroup.controllers'} (or the mount is not writable): "
                    "delegate it to this cgroup (e.g. systemd Delegate=yes), pass "
                    f"--cgroups-mount, {_FALLBACK_HINT}"
                )
        self._enable(controllers)
        _mkdir(d)
        return [d]

    def set_cpu(
        self, container_id: str, shares: int, quota_us: int | None, period_us: int = 100_000
    ) -> None:
        d = self._dir(container_id)
        weight = min(max(1 + ((shares - 2) * 9999) // 262142, 1), 10000)
        _write(d / "cpu.weight", str(weight))
        quota = "max" if quota_us is None or quota_us < 0 else str(quota_us)
        _write(d / "cpu.max", f"{quota} {period_us}")

    def set_memory(
        self, container_id: str, limit_bytes: int, soft_limit_bytes: int | None = None
    ) -> None:
        d = self._dir(container_id)
        _write(d / "memory.max", "max" if limit_bytes < 0 else str(limit_bytes))
        if soft_limit_bytes is not None:
            _write(d / "memory.low", "max" if soft_limit_bytes < 0 else str(soft_limit_bytes))
        if (d / "memory.swap.max").exists():
            _write(d / "memory.swap.max", "0")

    def set_pids(self, container_id: str, max_pids: int) -> None:
        _write(self._dir(container_id) / "pids.max", "max" if max_pids < 0 else str(max_pids))

    def oom_kills(self, container_id: str) -> int:
        return _read_kv(self._dir(container_id) / "memory.events").get("oom_kill", 0)

    async def wait_oom(self, container_id: str, poll_interval: float = 0.5) -> None:
        """Return when `oom_kill` in `memory.events` exceeds its value at call time (polled
        every `poll_interval`); waits until cancelled if the cgroup is removed."""
        baseline = self.oom_kills(container_id)
        while self.oom_kills(container_id) <= baseline:
            await asyncio.sleep(poll_interval)

    def stats(self, container_id: str) -> dict[str, float | int]:
        d = self._dir(container_id)
        out: dict[str, float | int] = {}
        cpu = _read_kv(d / "cpu.stat")
        for key, name, scale in (
            ("cpus_user_time_secs", "user_usec", 1e6),
            ("cpus_system_time_secs", "system_usec", 1e6),
            ("cpus_nr_periods", "nr_periods", 1),
            ("cpus_nr_throttled", "nr_throttled", 1),
            ("cpus_throttled_time_secs", "throttled_usec", 1e6),
        ):
            if name in cpu:
                out[key] = cpu[name] / scale if scale != 1 else cpu[name]
        cpu_max = (_read(d / "cpu.max") or "").split()
        if len(cpu_max) == 2 and cpu_max[0].isdigit() and cpu_max[1].isdigit():
            out["cpus_limit"] = int(cpu_max[0]) / int(cpu_max[1])
        for key, name in (
            ("mem_total_bytes", "memory.current"),
            ("mem_limit_bytes", "memory.max"),
            ("mem_max_usage_bytes", "memory.peak"),
        ):
            value = _read_int(d / name)  # "max" does not parse: omitted
            if value is not None:
                out[key] = value
        mem = _read_kv(d / "memory.stat")
        if "anon" in mem:
            out["mem_rss_bytes"] = mem["anon"]
        if "file" in mem:
            out["mem_cache_bytes"] = mem["file"]
        self._procs_count(container_id, out)
        return out


def destroy_root(root: str, mount: Path = Path("/sys/fs/cgroup")) -> None:
    """Destroy every container cgroup under `root` (killing their processes) and `root` itself.

    For teardowns of tests and benchmarks that ran agents under their own root; does nothing
    without root privileges or without a usable cgroup mount.
    """
    if os.geteuid() != 0:
        return
    try:
        cg = open_cgroups(detect(mount), root)
        for cid in cg.containers():
            cg.destroy(cid)
        cg.remove_root()
    except IsolationError:
        pass
