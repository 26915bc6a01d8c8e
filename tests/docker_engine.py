"""A private Docker engine for tests: `dockerd` in a temporary directory, and a busybox image.

No engine runs on the test hosts and no registry can be reached, so `running_engine()` starts
`dockerd` with vfs storage, no iptables and no default bridge on a unix socket of its own, and
makes the image `dcos-test/busybox:latest` by `docker import` of a root filesystem built here: the
static `/bin/busybox` (Debian `busybox-static`) plus a symlink per applet the tests use.

On exit the engine's containers are removed, `dockerd` is stopped by its pid (SIGTERM, then
SIGKILL) with whatever it left running (containerd, shims), and its directories are deleted.
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import signal
import subprocess
import tarfile
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import docker

IMAGE: Final = "dcos-test/busybox:latest"
BUSYBOX: Final = Path("/bin/busybox")
APPLETS: Final = (
    "sh", "ls", "cat", "echo", "sleep", "id", "httpd", "nc", "wc", "dd", "head", "tail",
    "yes", "seq", "ps", "true", "false", "env", "pwd", "kill", "trap", "mkdir", "rm", "touch",
    "date", "grep", "hostname", "whoami", "test", "printf", "expr", "wget", "ulimit",
)  # fmt: skip
START_TIMEOUT: Final = 60.0
STOP_TIMEOUT: Final = 20.0


@dataclass
class DockerEngine:
    """A running private engine: `host` is its `unix://` url, `image` the busybox image."""

    host: str
    image: str
    root: Path
    pid: int

    def client(self) -> docker.DockerClient:
        return docker.DockerClient(base_url=self.host)


def busybox_rootfs() -> bytes:
    """A tar of a minimal root filesystem: busybox, its applets, /etc/passwd, /tmp."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:

        def add_dir(name: str, mode: int = 0o755) -> None:
            info = tarfile.TarInfo(name)
            info.type, info.mode = tarfile.DIRTYPE, mode
            tar.addfile(info)

        def add_file(name: str, data: bytes, mode: int = 0o644) -> None:
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), mode
            tar.addfile(info, io.BytesIO(data))

        for d in ("bin", "etc", "proc", "sys", "dev", "root", "mnt", "var", "var/www"):
            add_dir(d)
        add_dir("tmp", 0o1777)
        add_file("bin/busybox", BUSYBOX.read_bytes(), 0o755)
        for applet in APPLETS:
            link = tarfile.TarInfo(f"bin/{applet}")
            link.type, link.linkname, link.mode = tarfile.SYMTYPE, "busybox", 0o777
            tar.addfile(link)
        add_file("etc/passwd", b"root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534::/:/bin/sh\n")
        add_file("etc/group", b"root:x:0:\nnogroup:x:65534:\n")
        add_file("var/www/index.html", b"hello from busybox\n")
    return buf.getvalue()


def _dockerd() -> str:
    found = shutil.which("dockerd") or (
        "/usr/sbin/dockerd" if os.path.exists("/usr/sbin/dockerd") else None
    )
    if found is None:
        raise RuntimeError("dockerd is not installed (Debian docker.io; setup.sh test adds it)")
    return found


def start_engine(image: str = IMAGE) -> DockerEngine:
    """Start `dockerd` in a new short temporary directory and import the busybox image."""
    # exec-root holds unix sockets (108-byte path limit): keep the directory short.
    root = Path(tempfile.mkdtemp(prefix="dcosd-", dir="/tmp"))
    sock = root / "sock"
    log = open(root / "dockerd.log", "wb")  # noqa: SIM115 - handed to the child
    try:
        proc = subprocess.Popen(
            [
                _dockerd(),
                "--data-root",
                str(root / "data"),
                "--exec-root",
                str(root / "x"),
                "--pidfile",
                str(root / "pid"),
                "--host",
                f"unix://{sock}",
                "--storage-driver",
                "vfs",
                "--iptables=false",
                "--ip-masq=false",
                "--bridge=none",
            ],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    finally:
        log.close()
    engine = DockerEngine(f"unix://{sock}", image, root, proc.pid)
    try:
        _wait_for_ping(engine, proc)
        client = engine.client()
        try:
            repo, _, tag = image.rpartition(":")
            client.api.import_image_from_data(busybox_rootfs(), repository=repo, tag=tag)
        finally:
            client.close()
    except BaseException:
        stop_engine(engine)
        raise
    return engine


def _wait_for_ping(engine: DockerEngine, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    last: Exception | None = None
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            break
        if Path(engine.host.removeprefix("unix://")).exists():
            try:
                client = docker.DockerClient(base_url=engine.host, timeout=5)
                try:
                    if client.ping():
                        return
                finally:
                    client.close()
            except docker.errors.DockerException as e:
                last = e
        time.sleep(0.05)
    tail = (engine.root / "dockerd.log").read_text(errors="replace")[-3000:]
    raise RuntimeError(f"dockerd did not answer on {engine.host} ({last}); its log:\n{tail}")


def _descendant_pids(root: Path) -> list[int]:
    """Pids of processes whose command line names `root` (containerd and shims it started)."""
    out = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            if str(root).encode() in (entry / "cmdline").read_bytes():
                out.append(int(entry.name))
    return out


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def stop_engine(engine: DockerEngine) -> None:
    """Remove the engine's containers, stop `dockerd` (SIGTERM, SIGKILL) and delete its files."""
    with contextlib.suppress(Exception):
        client = docker.DockerClient(base_url=engine.host, timeout=10)
        try:
            for c in client.containers.list(all=True):
                with contextlib.suppress(docker.errors.DockerException):
                    c.remove(force=True)
        finally:
            client.close()
    with contextlib.suppress(ProcessLookupError):
        os.kill(engine.pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT
    while time.monotonic() < deadline:
        with contextlib.suppress(ChildProcessError):
            if os.waitpid(engine.pid, os.WNOHANG)[0] == engine.pid:
                break
        if not _pid_alive(engine.pid):
            break
        time.sleep(0.05)
    else:
        with contextlib.suppress(ProcessLookupError):
            os.kill(engine.pid, signal.SIGKILL)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(engine.pid, 0)
    # containerd and shims started by this dockerd: their command lines name our directory.
    for pid in _descendant_pids(engine.root):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    _unmount_under(engine.root)
    shutil.rmtree(engine.root, ignore_errors=True)


def _unmount_under(root: Path) -> None:
    """Lazily unmount whatever the engine left mounted below `root` (netns, shm)."""
    try:
        lines = Path("/proc/self/mountinfo").read_text().splitlines()
    except OSError:
        return
    points = [line.split()[4] for line in lines]
    for point in sorted((p for p in points if p.startswith(f"{root}/")), reverse=True):
        subprocess.run(["umount", "-l", point], check=False, capture_output=True)


@contextlib.contextmanager
def running_engine(image: str = IMAGE) -> Iterator[DockerEngine]:
    engine = start_engine(image)
    try:
        yield engine
    finally:
        stop_engine(engine)
