"""Per-container launcher: a standalone, standard-library-only script.

Run as ``python -I -S launcher.py --config CONFIG.json --report-fd N`` by the Mesos
containerizer, once per task. It must not import ``dcos_core`` (it runs with ``-I -S``) and keeps
its imports few so that it starts fast.

The launcher makes itself a child subreaper, opens the task's stdout/stderr files, enters a new
pid namespace if asked, forks the task, puts the task into its cgroups, lets it set up its mount,
UTS and IPC namespaces (root filesystem, bind mounts, /proc, /dev) and exec, reports
``{"pid": N}`` or ``{"error": "..."}`` as one JSON line on the report fd, then reaps children
until the task ends and writes the termination file ``{"exit_code": int|null, "signal":
int|null}``.

Deviations from the containerizer's description of the sequence, all invisible to it:

* Only ``CLONE_NEWPID`` is unshared by the launcher itself; the mount, UTS and IPC namespaces are
  unshared by the task's process right after the fork. pivot_root() changes the root of every
  process of the mount namespace whose root is the old root, so a launcher sharing the task's
  mount namespace would lose the host paths of its pid and termination files. Errors of that
  unshare arrive as ``{"error": "unshare mount,uts: ..."}`` like every other setup error.
* pivot_root uses the ``pivot_root(".", ".")`` + ``umount2(".", MNT_DETACH)`` form, which needs
  no put_old directory and so also works on a read-only root filesystem.
* Paths inside a root filesystem (bind-mount targets, /proc, /dev) are resolved with the
  rootfs as root: a symlink in the image cannot point a mount at a host path.
* Every failed launch writes the termination file too (exit code 127), so the termination file
  exists whenever a launcher that could read its config has exited on its own.
"""

from __future__ import annotations

import ctypes
import os
import sys
from _json import encode_basestring_ascii as _json_str
from _json import make_scanner as _json_scanner

# `json` (through `re`), `signal` (through `enum`) and `typing` would triple the interpreter's
# start time; their C halves do everything needed here (CPython only, like the project).
TYPE_CHECKING = False
if TYPE_CHECKING:
    import signal
    from typing import Any
else:
    import _signal as signal

CLONE_NEWNS = 0x00020000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWPID = 0x20000000
NAMESPACE_FLAGS = {
    "mount": CLONE_NEWNS,
    "uts": CLONE_NEWUTS,
    "ipc": CLONE_NEWIPC,
    "pid": CLONE_NEWPID,
}

MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_NOEXEC = 8
MS_REMOUNT = 32
MS_BIND = 4096
MS_REC = 16384
MS_PRIVATE = 1 << 18
MNT_DETACH = 2
PR_SET_CHILD_SUBREAPER = 36
CLOSE_RANGE_CLOEXEC = 4
SYS_PIVOT_ROOT = {"x86_64": 155, "aarch64": 41, "ppc64le": 203, "s390x": 217}

DEVICES = ("null", "zero", "full", "random", "urandom", "tty")
DEV_SYMLINKS = (
    ("fd", "/proc/self/fd"),
    ("stdin", "/proc/self/fd/0"),
    ("stdout", "/proc/self/fd/1"),
    ("stderr", "/proc/self/fd/2"),
)
FAILED_EXIT_CODE = 127
MAX_SYMLINKS = 40


class LaunchError(Exception):
    """A launch step failed; the message is what the containerizer gets."""


class Config:
    """The launcher's configuration, checked field by field."""

    def __init__(self, raw: dict[str, Any]) -> None:
        self.container_id = _str(raw, "container_id", "")
        argv = raw.get("argv")
        if not isinstance(argv, list) or not argv or not all(isinstance(a, str) for a in argv):
            raise LaunchError("config: argv must be a non-empty list of strings")
        self.argv: list[str] = argv
        env = raw.get("env") or {}
        if not isinstance(env, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in env.items()
        ):
            raise LaunchError("config: env must map strings to strings")
        self.env: dict[str, str] = env
        self.cwd = _opt_str(raw, "cwd")
        self.stdout = _opt_str(raw, "stdout")
        self.stderr = _opt_str(raw, "stderr")
        user = raw.get("user")
        self.user: tuple[int, int, list[int]] | None = None
        if user is not None:
            try:
                uid, gid = int(user["uid"]), int(user["gid"])
                groups = [int(g) for g in user.get("groups") or []]
            except (TypeError, KeyError, ValueError) as e:
                raise LaunchError(f"config: bad user {user!r}") from e
            self.user = (uid, gid, groups)
        namespaces = raw.get("namespaces") or []
        if not isinstance(namespaces, list) or not all(n in NAMESPACE_FLAGS for n in namespaces):
            raise LaunchError(f"config: namespaces must be a subset of {sorted(NAMESPACE_FLAGS)}")
        self.namespaces: set[str] = set(namespaces)
        self.hostname = _opt_str(raw, "hostname")
        self.rootfs = _opt_str(raw, "rootfs")
        overlay = raw.get("rootfs_overlay")
        self.overlay: dict[str, str] | None = None
        if overlay is not None:
            if not isinstance(overlay, dict):
                raise LaunchError("config: rootfs_overlay must be an object")
            lower = overlay.get("lower")
            if isinstance(lower, list) and lower and all(isinstance(x, str) for x in lower):
                lower = ":".join(_overlay_escape(x) for x in lower)
            elif isinstance(lower, str):
                lower = _overlay_escape(lower)
            else:
                raise LaunchError("config: rootfs_overlay.lower must be a path or a list of paths")
            self.overlay = {"lower": lower}
            for key in ("upper", "work", "merged"):
                value = overlay.get(key)
                if not isinstance(value, str) or not value:
                    raise LaunchError(f"config: rootfs_overlay.{key} must be a path")
                self.overlay[key] = value
            if self.rootfs is not None:
                raise LaunchError("config: rootfs and rootfs_overlay are exclusive")
        self.mounts: list[tuple[str, str, bool]] = []
        for m in raw.get("mounts") or []:
            if not isinstance(m, dict):
                raise LaunchError("config: mounts must be objects")
            source, target = m.get("source"), m.get("target")
            if not isinstance(source, str) or not isinstance(target, str) or not target:
                raise LaunchError(f"config: bad mount {m!r}")
            self.mounts.append((source, target, bool(m.get("readonly", False))))
        cgroups = raw.get("cgroups") or []
        if not isinstance(cgroups, list) or not all(isinstance(c, str) for c in cgroups):
            raise LaunchError("config: cgroups must be a list of directories")
        self.cgroups: list[str] = cgroups
        self.pid_file = _opt_str(raw, "pid_file")
        self.launcher_pid_file = _opt_str(raw, "launcher_pid_file")
        self.termination = _opt_str(raw, "termination")
        if "mount" not in self.namespaces and (
            self.rootfs is not None or self.overlay is not None or self.mounts
        ):
            raise LaunchError("config: rootfs, rootfs_overlay and mounts need the mount namespace")


def _str(raw: dict[str, Any], key: str, default: str) -> str:
    value = raw.get(key, default)
    if not isinstance(value, str):
        raise LaunchError(f"config: {key} must be a string")
    return value


def _opt_str(raw: dict[str, Any], key: str) -> str | None:
    value = raw.get(key)
    if value is not None and not isinstance(value, str):
        raise LaunchError(f"config: {key} must be a string or null")
    return value


def _overlay_escape(path: str) -> str:
    return path.replace("\\", "\\\\").replace(",", "\\,").replace(":", "\\:")


def parse_args(args: list[str]) -> tuple[str, int]:
    """``--config PATH --report-fd N`` (also ``--opt=value``); argparse is too slow to import."""
    values: dict[str, str] = {}
    i = 0
    while i < len(args):
        arg = args[i]
        if arg.startswith("--") and "=" in arg:
            key, value = arg.split("=", 1)
        elif arg in ("--config", "--report-fd") and i + 1 < len(args):
            key, value = arg, args[i + 1]
            i += 1
        else:
            raise SystemExit(f"usage: launcher.py --config CONFIG.json --report-fd N (got {arg!r})")
        values[key] = value
        i += 1
    if "--config" not in values:
        raise SystemExit("usage: launcher.py --config CONFIG.json --report-fd N")
    return values["--config"], int(values.get("--report-fd", "-1"))


# ---------------------------------------------------------------------------------------------
# libc


class Libc:
    def __init__(self) -> None:
        lib = ctypes.CDLL(None, use_errno=True)
        self._lib = lib
        c_char_p, c_int, c_ulong = ctypes.c_char_p, ctypes.c_int, ctypes.c_ulong
        lib.mount.argtypes = [c_char_p, c_char_p, c_char_p, c_ulong, c_char_p]
        lib.umount2.argtypes = [c_char_p, c_int]
        lib.unshare.argtypes = [c_int]
        lib.sethostname.argtypes = [c_char_p, ctypes.c_size_t]
        lib.prctl.argtypes = [c_int, c_ulong, c_ulong, c_ulong, c_ulong]

    def _check(self, rc: int, what: str) -> None:
        if rc == -1:
            err = ctypes.get_errno()
            raise OSError(err, os.strerror(err), what)

    def mount(
        self, source: str | None, target: str, fstype: str | None, flags: int, data: str | None
    ) -> None:
        rc: int = self._lib.mount(_b(source), os.fsencode(target), _b(fstype), flags, _b(data))
        self._check(rc, target)

    def umount2(self, target: str, flags: int) -> None:
        rc: int = self._lib.umount2(os.fsencode(target), flags)
        self._check(rc, target)

    def unshare(self, flags: int) -> None:
        rc: int = self._lib.unshare(flags)
        self._check(rc, "unshare")

    def sethostname(self, name: str) -> None:
        raw = name.encode()
        rc: int = self._lib.sethostname(raw, len(raw))
        self._check(rc, name)

    def prctl(self, option: int, arg: int) -> None:
        rc: int = self._lib.prctl(option, arg, 0, 0, 0)
        self._check(rc, "prctl")

    def pivot_root(self, new_root: str, put_old: str) -> None:
        number = SYS_PIVOT_ROOT.get(os.uname().machine)
        if number is None:
            raise OSError(38, "pivot_root: unknown syscall number for this machine")
        rc: int = self._lib.syscall(
            ctypes.c_long(number), os.fsencode(new_root), os.fsencode(put_old)
        )
        self._check(rc, new_root)

    def cloexec_from(self, first: int) -> None:
        """Mark every fd >= first close-on-exec (close_range, Linux 5.11+; else by /proc)."""
        try:
            rc: int = self._lib.close_range(
                ctypes.c_uint(first), ctypes.c_uint(0xFFFFFFFF), ctypes.c_int(CLOSE_RANGE_CLOEXEC)
            )
        except AttributeError:
            rc = -1
        if rc == 0:
            return
        for name in os.listdir("/proc/self/fd"):
            fd = int(name)
            if fd >= first:
                try:  # noqa: SIM105 (contextlib is one import too many)
                    os.set_inheritable(fd, False)
                except OSError:
                    pass


class _JsonContext:
    """What ``_json.make_scanner`` reads from a ``json.JSONDecoder``."""

    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int
    memo: dict[str, str] = {}

    @staticmethod
    def parse_constant(name: str) -> float:
        return float(name.lower())


def json_loads(text: str) -> Any:
    scan = _json_scanner(_JsonContext())  # type: ignore[arg-type]
    start = len(text) - len(text.lstrip(" \t\n\r"))
    try:
        value, end = scan(text, start)
    except StopIteration as e:
        raise ValueError(f"invalid JSON at character {e.value}") from None
    finally:
        _JsonContext.memo.clear()
    if text[end:].strip(" \t\n\r"):
        raise ValueError(f"extra data after JSON at character {end}")
    return value


def json_dumps(obj: dict[str, int | str | None]) -> str:
    """A flat object of ints, strings and nulls: all the launcher ever writes."""
    items = []
    for key, value in obj.items():
        if value is None:
            rendered = "null"
        elif isinstance(value, int):
            rendered = str(int(value))
        else:
            rendered = _json_str(value)
        items.append(f"{_json_str(key)}: {rendered}")
    return "{" + ", ".join(items) + "}"


def _b(value: str | None) -> bytes | None:
    return None if value is None else os.fsencode(value)


# ---------------------------------------------------------------------------------------------
# small file helpers


def write_atomic(path: str, data: str, sync: bool = False) -> None:
    tmp = f"{path}.tmp.{os.getpid()}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)
    try:
        os.write(fd, data.encode())
        if sync:
            os.fsync(fd)
    finally:
        os.close(fd)
    os.rename(tmp, path)


def report(fd: int, message: dict[str, int | str | None]) -> None:
    """One JSON line on the report fd, then close it; the reader may be gone already."""
    if fd < 0:
        return
    try:  # noqa: SIM105 (contextlib is one import too many)
        os.write(fd, (json_dumps(message) + "\n").encode())
    except OSError:
        pass
    try:  # noqa: SIM105 (contextlib is one import too many)
        os.close(fd)
    except OSError:
        pass


def log(message: str) -> None:
    try:  # noqa: SIM105 (contextlib is one import too many)
        os.write(2, f"launcher[{os.getpid()}]: {message}\n".encode())
    except OSError:
        pass


def resolve_in_root(root: str, path: str) -> str:
    """The host path of ``path`` as seen with ``root`` as "/", following symlinks inside root.

    The last component is followed too, so a target that is a symlink is mounted over what it
    points to inside the root, never outside it.
    """
    parts = [p for p in path.split("/") if p and p != "."]
    resolved: list[str] = []
    followed = 0
    while parts:
        part = parts.pop(0)
        if part == "..":
            if resolved:
                resolved.pop()
            continue
        candidate = os.path.join(root, *resolved, part)
        try:
            link = os.readlink(candidate)
        except OSError:  # not a symlink, or does not exist (yet)
            resolved.append(part)
            continue
        followed += 1
        if followed > MAX_SYMLINKS:
            raise OSError(40, "Too many levels of symbolic links", path)
        if link.startswith("/"):
            resolved = []
        parts[:0] = [p for p in link.split("/") if p and p != "."]
    return os.path.join(root, *resolved) if resolved else root


def ensure_mountpoint(target: str, like_dir: bool) -> None:
    if like_dir:
        os.makedirs(target, exist_ok=True)
        return
    os.makedirs(os.path.dirname(target), exist_ok=True)
    if not os.path.exists(target):
        os.close(os.open(target, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o644))


# ---------------------------------------------------------------------------------------------
# the child: namespaces, mounts, credentials, exec


def bind(libc: Libc, source: str, target: str, readonly: bool) -> None:
    try:
        is_dir = os.path.isdir(source)
        if not is_dir and not os.path.exists(source):
            raise OSError(2, "No such file or directory", source)
        ensure_mountpoint(target, is_dir)
        libc.mount(source, target, None, MS_BIND | MS_REC, None)
        if readonly:
            libc.mount(None, target, None, MS_BIND | MS_REMOUNT | MS_RDONLY, None)
    except OSError as e:
        raise LaunchError(f"mount {source} on {target}: {_oserror(e)}") from e


def setup_rootfs(libc: Libc, cfg: Config, root: str) -> None:
    if cfg.overlay is not None:
        ov = cfg.overlay
        try:
            for key in ("upper", "work", "merged"):
                os.makedirs(ov[key], exist_ok=True)
            data = f"lowerdir={ov['lower']},upperdir={ov['upper']},workdir={ov['work']}"
            libc.mount("overlay", root, "overlay", 0, data)
        except OSError as e:
            raise LaunchError(f"mount overlay on {root}: {_oserror(e)}") from e
    else:
        try:
            libc.mount(root, root, None, MS_BIND | MS_REC, None)
        except OSError as e:
            raise LaunchError(f"mount {root} on itself: {_oserror(e)}") from e
    for source, target, readonly in cfg.mounts:
        bind(libc, source, resolve_in_root(root, target), readonly)
    if "pid" in cfg.namespaces:
        proc = resolve_in_root(root, "/proc")
        try:
            os.makedirs(proc, exist_ok=True)
            libc.mount("proc", proc, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, None)
        except OSError as e:
            raise LaunchError(f"mount /proc: {_oserror(e)}") from e
    dev = resolve_in_root(root, "/dev")
    try:
        os.makedirs(dev, exist_ok=True)
        libc.mount("tmpfs", dev, "tmpfs", MS_NOSUID, "mode=755,size=65536k")
        for name in ("pts", "shm"):
            os.mkdir(os.path.join(dev, name), 0o755 if name == "pts" else 0o1777)
        os.chmod(os.path.join(dev, "shm"), 0o1777)
        for name, link in DEV_SYMLINKS:
            os.symlink(link, os.path.join(dev, name))
    except OSError as e:
        raise LaunchError(f"mount /dev: {_oserror(e)}") from e
    for name in DEVICES:
        host = f"/dev/{name}"
        if os.path.exists(host):
            bind(libc, host, os.path.join(dev, name), False)
    try:
        os.chdir(root)
        libc.pivot_root(".", ".")
        libc.umount2(".", MNT_DETACH)
        os.chdir("/")
    except OSError as e:
        raise LaunchError(f"pivot_root {root}: {_oserror(e)}") from e


def child_setup(libc: Libc, cfg: Config) -> None:
    """Everything between the fork and the exec; raises LaunchError with a one-line message."""
    flags = 0
    for name in ("mount", "uts", "ipc"):
        if name in cfg.namespaces:
            flags |= NAMESPACE_FLAGS[name]
    if flags:
        try:
            libc.unshare(flags)
        except OSError as e:
            names = ",".join(n for n in ("mount", "uts", "ipc") if n in cfg.namespaces)
            raise LaunchError(f"unshare {names}: {_oserror(e)}") from e
    if "mount" in cfg.namespaces:
        try:
            libc.mount(None, "/", None, MS_REC | MS_PRIVATE, None)
        except OSError as e:
            raise LaunchError(f"make / rprivate: {_oserror(e)}") from e
        root = cfg.overlay["merged"] if cfg.overlay is not None else cfg.rootfs
        if root is not None:
            setup_rootfs(libc, cfg, os.path.abspath(root))
        else:
            if "pid" in cfg.namespaces:
                try:
                    libc.mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, None)
                except OSError as e:
                    raise LaunchError(f"mount /proc: {_oserror(e)}") from e
            for source, target, readonly in cfg.mounts:
                bind(libc, source, target, readonly)
    if cfg.hostname is not None and "uts" in cfg.namespaces:
        try:
            libc.sethostname(cfg.hostname)
        except OSError as e:
            raise LaunchError(f"sethostname {cfg.hostname}: {_oserror(e)}") from e
    if cfg.cwd is not None:
        try:
            os.chdir(cfg.cwd)
        except OSError as e:
            raise LaunchError(f"chdir {cfg.cwd}: {_oserror(e)}") from e
    if cfg.user is not None:
        uid, gid, groups = cfg.user
        try:
            os.setgroups(groups)
            os.setgid(gid)
            os.setuid(uid)
        except OSError as e:
            raise LaunchError(f"switch to uid {uid} gid {gid}: {_oserror(e)}") from e
    for signum in range(1, signal.NSIG):
        if signum in (signal.SIGKILL, signal.SIGSTOP):
            continue
        try:  # noqa: SIM105 (contextlib is one import too many)
            signal.signal(signum, signal.SIG_DFL)
        except (OSError, ValueError):
            pass
    signal.pthread_sigmask(signal.SIG_SETMASK, [])


def _oserror(e: OSError) -> str:
    return f"[Errno {e.errno}] {e.strerror}" if e.errno is not None else str(e)


def run_child(
    libc: Libc, cfg: Config, sync_r: int, status_w: int, stdio: tuple[int, int, int]
) -> None:
    """The forked task process; never returns."""
    try:
        # Wait for the launcher to put us into our cgroups. EOF without the go byte: it died.
        if os.read(sync_r, 1) != b"1":
            os._exit(FAILED_EXIT_CODE)
        os.close(sync_r)
        stdin, stdout, stderr = stdio
        os.dup2(stdin, 0)
        os.dup2(stdout, 1)
        os.dup2(stderr, 2)
        libc.cloexec_from(3)
        child_setup(libc, cfg)
        try:
            os.execvpe(cfg.argv[0], cfg.argv, cfg.env)
        except OSError as e:
            raise LaunchError(f"exec {cfg.argv[0]}: {e.strerror}") from e
    except LaunchError as e:
        message = str(e)
    except BaseException as e:  # anything else must still end up in the report
        message = f"launcher child: {type(e).__name__}: {e}"
    try:
        os.write(status_w, message.replace("\n", " ").encode(errors="replace"))
    finally:
        os._exit(FAILED_EXIT_CODE)


# ---------------------------------------------------------------------------------------------
# the launcher process


def termination_of(status: int | None) -> dict[str, int | str | None]:
    if status is None:
        return {"exit_code": None, "signal": None}
    if os.WIFSIGNALED(status):
        return {"exit_code": None, "signal": os.WTERMSIG(status)}
    if os.WIFEXITED(status):
        return {"exit_code": os.WEXITSTATUS(status), "signal": None}
    return {"exit_code": None, "signal": None}


def write_termination(cfg: Config, termination: dict[str, int | str | None]) -> None:
    if cfg.termination is None:
        return
    try:
        write_atomic(cfg.termination, json_dumps(termination), sync=True)
    except OSError as e:
        log(f"cannot write termination file {cfg.termination}: {e}")


def fail(cfg: Config | None, report_fd: int, message: str) -> int:
    log(message)
    report(report_fd, {"error": message})
    if cfg is not None:
        write_termination(cfg, {"exit_code": FAILED_EXIT_CODE, "signal": None})
    return 1


def reap(pid: int) -> int | None:
    """Reap children (we are a subreaper) until ``pid`` is reaped; return its wait status."""
    while True:
        try:
            reaped, status = os.waitpid(-1, 0)
        except ChildProcessError:  # cannot happen unless someone else reaped it
            return None
        if reaped == pid:
            return status


def open_stdio(cfg: Config) -> tuple[int, int, int]:
    flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC
    stdin = os.open("/dev/null", os.O_RDONLY | os.O_CLOEXEC)
    stdout = os.open(cfg.stdout, flags, 0o644) if cfg.stdout else os.open("/dev/null", flags)
    stderr = os.open(cfg.stderr, flags, 0o644) if cfg.stderr else os.open("/dev/null", flags)
    return stdin, stdout, stderr


def main(argv: list[str]) -> int:
    config_path, report_fd = parse_args(argv)
    if report_fd >= 0:
        try:
            os.set_inheritable(report_fd, False)  # the task must never hold the report pipe
        except OSError:
            report_fd = -1
    for signum in (signal.SIGHUP, signal.SIGPIPE, signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, signal.SIG_IGN)
    try:
        with open(config_path, encoding="utf-8") as f:
            raw = json_loads(f.read())
        if not isinstance(raw, dict):
            raise LaunchError("config: not a JSON object")
        cfg = Config(raw)
    except (OSError, ValueError) as e:
        return fail(None, report_fd, f"config {config_path}: {e}")
    except LaunchError as e:
        return fail(None, report_fd, str(e))
    try:
        if cfg.launcher_pid_file is not None:
            write_atomic(cfg.launcher_pid_file, str(os.getpid()))
        libc = Libc()
        libc.prctl(PR_SET_CHILD_SUBREAPER, 1)
    except OSError as e:
        return fail(cfg, report_fd, f"launcher setup: {e}")
    try:
        stdio = open_stdio(cfg)
    except OSError as e:
        return fail(cfg, report_fd, f"open {e.filename}: {_oserror(e)}")
    if "pid" in cfg.namespaces:
        try:
            libc.unshare(CLONE_NEWPID)
        except OSError as e:
            return fail(cfg, report_fd, f"unshare pid: {_oserror(e)}")

    sync_r, sync_w = os.pipe2(os.O_CLOEXEC)
    status_r, status_w = os.pipe2(os.O_CLOEXEC)
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:
        os.close(sync_w)
        os.close(status_r)
        if report_fd >= 0:
            os.close(report_fd)
        run_child(libc, cfg, sync_r, status_w, stdio)
    os.close(sync_r)
    os.close(status_w)
    for fd in stdio:
        os.close(fd)

    for directory in cfg.cgroups:
        try:
            with open(os.path.join(directory, "cgroup.procs"), "w") as f:
                f.write(str(pid))
        except OSError as e:
            os.kill(pid, signal.SIGKILL)
            os.close(sync_w)
            reap(pid)
            return fail(cfg, report_fd, f"cgroup {directory}: {_oserror(e)}")
    os.write(sync_w, b"1")
    os.close(sync_w)

    chunks = []
    while chunk := os.read(status_r, 4096):
        chunks.append(chunk)
    os.close(status_r)
    if chunks:
        message = b"".join(chunks).decode(errors="replace")
        reap(pid)
        return fail(cfg, report_fd, message)

    if cfg.pid_file is not None:
        try:
            write_atomic(cfg.pid_file, str(pid))
        except OSError as e:
            log(f"cannot write pid file {cfg.pid_file}: {e}")
    report(report_fd, {"pid": pid})

    write_termination(cfg, termination_of(reap(pid)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
