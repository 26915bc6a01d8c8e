"""The HAProxy process: validated, atomic config changes and seamless reloads.

HAProxy runs in master-worker mode (`haproxy -W -S <master socket> -f <cfg> -p <pidfile>`). A
change is written to a temporary file, checked with `haproxy -c`, then renamed over the live
config, and the master gets SIGUSR2: it re-executes itself (same PID), starts a new worker that
takes over the listening sockets from the old one through the master's socket pair (what `-x`
does by hand), and the old worker finishes its connections and exits. No listener is ever
closed, so no connection is refused during a reload. An invalid config is logged and never
applied; the running one stays.

Only the master this object started is ever signalled, by its PID.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import signal
import socket
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from dcos_core.errors import DcosError

__all__ = ["HAProxy", "HAProxyError", "ProcInfo", "master_command", "proc_info"]

log = logging.getLogger(__name__)

_MASTER_LINE = re.compile(r"^(\d+)\s+master\s+(\d+)\s+\[failed:\s*(\d+)\]")
_WORKER_LINE = re.compile(r"^(\d+)\s+worker\s+")


class HAProxyError(DcosError):
    """HAProxy could not be started, or a config could not be applied."""


@dataclass(frozen=True)
class ProcInfo:
    """`show proc` on the master CLI."""

    master_pid: int
    reloads: int
    failed_reloads: int
    workers: tuple[int, ...]
    old_workers: tuple[int, ...]


def master_command(sock: Path, command: str, timeout: float = 5.0) -> str:
    """Send one command to a master (or stats) CLI unix socket and return the whole answer."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(timeout)
        s.connect(str(sock))
        s.sendall(command.encode() + b"\n")
        s.shutdown(socket.SHUT_WR)  # the CLI answers and closes only after end of input
        chunks = []
        while chunk := s.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks).decode(errors="replace")


def proc_info(master_socket: Path, timeout: float = 5.0) -> ProcInfo:
    """Parse `show proc`: master PID, reload counters, current and old worker PIDs."""
    text = master_command(master_socket, "show proc", timeout)
    master: tuple[int, int, int] | None = None
    workers: list[int] = []
    old: list[int] = []
    section = "master"
    for line in text.splitlines():
        if line.startswith("# workers"):
            section = "workers"
        elif line.startswith("# old workers"):
            section = "old"
        elif line.startswith("#"):
            section = "other"
        elif m := _MASTER_LINE.match(line):
            master = (int(m.group(1)), int(m.group(2)), int(m.group(3)))
        elif (w := _WORKER_LINE.match(line)) and section in ("workers", "old"):
            (workers if section == "workers" else old).append(int(w.group(1)))
    if master is None:
        raise HAProxyError(f"unexpected `show proc` answer: {text[:200]!r}")
    return ProcInfo(master[0], master[1], master[2], tuple(workers), tuple(old))


class HAProxy:
    """One HAProxy master-worker process and its config in `work_dir`.

    `apply(text)` starts HAProxy on first use and reloads it when the text changed; it returns
    True if the new config is now live. Blocking: call it from a thread in async code.
    """

    def __init__(
        self, work_dir: Path, binary: str = "haproxy", *, ready_timeout: float = 10.0
    ) -> None:
        self.work_dir = Path(work_dir)
        self.binary = binary
        self.ready_timeout = ready_timeout
        self.config_path = self.work_dir / "haproxy.cfg"
        self.pid_path = self.work_dir / "haproxy.pid"
        self.master_socket = self.work_dir / "haproxy-master.sock"
        self.log_path = self.work_dir / "haproxy.log"
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self._current: str | None = None
        self.reloads = 0
        self.rejected = 0
        self._lock = threading.Lock()  # apply() and stop() may run in different threads

    @property
    def pid(self) -> int | None:
        """The master's PID while it runs."""
        if self._proc is None or self._proc.poll() is not None:
            return None
        return self._proc.pid

    @property
    def running(self) -> bool:
        return self.pid is not None

    @property
    def current_config(self) -> str | None:
        """The config text HAProxy runs with (None before the first successful apply)."""
        return self._current

    def validate(self, text: str) -> str | None:
        """None if `haproxy -c` accepts `text`, else its error output."""
        self.work_dir.mkdir(parents=True, exist_ok=True)
        candidate = self.work_dir / "haproxy.cfg.check"
        candidate.write_text(text)
        try:
            return self._check(candidate)
        finally:
            candidate.unlink(missing_ok=True)

    def _check(self, path: Path) -> str | None:
        try:
            done = subprocess.run(
                [self.binary, "-c", "-q", "-f", str(path)],
                stdin=subprocess.DEVNULL,
                capture_output=True,
                timeout=30,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as e:
            return f"{self.binary} -c: {e}"
        if done.returncode == 0:
            return None
        return (done.stdout + done.stderr).decode(errors="replace").strip() or "invalid config"

    def apply(self, text: str) -> bool:
        """Make `text` the live config: start, or reload if it changed. False if rejected."""
        with self._lock:
            return self._apply(text)

    def _apply(self, text: str) -> bool:
        if text == self._current and self.running:
            return False
        self.work_dir.mkdir(parents=True, exist_ok=True)
        tmp = self.work_dir / f"haproxy.cfg.{os.getpid()}.tmp"
        tmp.write_text(text)
        error = self._check(tmp)
        if error is not None:
            tmp.unlink(missing_ok=True)
            self.rejected += 1
            log.error("haproxy rejected the new config, keeping the running one:\n%s", error)
            return False
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, self.config_path)  # atomic: the master only ever reads a whole file
        if self.running:
            ok = self._reload()
        else:
            self._start()
            ok = True
        if ok:
            self._current = text
        return ok

    def _start(self) -> None:
        for stale in (self.master_socket, self.pid_path):
            stale.unlink(missing_ok=True)
        if self._log is None:
            self._log = open(self.log_path, "ab")  # noqa: SIM115 (lives as long as haproxy)
        cmd = [
            self.binary,
            "-W",
            "-S",
            f"{self.master_socket},mode,600",
            "-f",
            str(self.config_path),
            "-p",
            str(self.pid_path),
        ]
        self._proc = subprocess.Popen(
            cmd, stdin=subprocess.DEVNULL, stdout=self._log, stderr=self._log, close_fds=True
        )
        deadline = time.monotonic() + self.ready_timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                code = self._proc.returncode
                self._proc = None
                raise HAProxyError(f"haproxy exited ({code}) at start: {self.log_tail()}")
            with contextlib.suppress(OSError, HAProxyError):
                if proc_info(self.master_socket, 1.0).workers:
                    log.info("haproxy master %d started", self.pid)
                    return
            time.sleep(0.05)
        self._stop(2.0)
        raise HAProxyError(f"haproxy not ready in {self.ready_timeout}s: {self.log_tail()}")

    def _reload(self) -> bool:
        """SIGUSR2 to the master; True once a new worker runs the new config."""
        pid = self.pid
        assert pid is not None
        try:
            before = proc_info(self.master_socket)
        except (OSError, HAProxyError) as e:
            log.error("haproxy master CLI unreachable before reload: %s", e)
            return False
        os.kill(pid, signal.SIGUSR2)
        deadline = time.monotonic() + self.ready_timeout
        while time.monotonic() < deadline:
            time.sleep(0.02)
            try:
                after = proc_info(self.master_socket, 1.0)
            except (OSError, HAProxyError):
                continue  # the master is re-executing itself
            if after.reloads <= before.reloads:
                continue
            if after.failed_reloads > before.failed_reloads:
                log.error(
                    "haproxy reload failed, the old worker keeps running: %s", self.log_tail()
                )
                return False
            if after.workers and not set(after.workers) & set(before.workers):
                self.reloads += 1
                log.info("haproxy reloaded (master %d, worker %s)", pid, after.workers)
                return True
        log.error("haproxy reload not confirmed in %ss: %s", self.ready_timeout, self.log_tail())
        return False

    def info(self) -> ProcInfo:
        """The master's `show proc`."""
        return proc_info(self.master_socket)

    def log_tail(self, lines: int = 15) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self, timeout: float = 5.0) -> None:
        """Soft-stop the master we started (SIGUSR1), then SIGTERM, then SIGKILL, by PID."""
        with self._lock:
            self._stop(timeout)

    def _stop(self, timeout: float) -> None:
        proc, self._proc = self._proc, None
        self._current = None
        if proc is not None and proc.poll() is None:
            for sig, wait in ((signal.SIGUSR1, timeout), (signal.SIGTERM, 2.0)):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(proc.pid, sig)
                try:
                    proc.wait(wait)
                    break
                except subprocess.TimeoutExpired:
                    continue
            else:
                proc.kill()
                proc.wait()
        if self._log is not None:
            self._log.close()
            self._log = None
