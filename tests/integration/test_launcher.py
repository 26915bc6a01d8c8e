"""The per-container launcher (`dcos_core/containerizer/launcher.py`) as a real process.

Each test writes a config, starts `python -I -S launcher.py --config ... --report-fd N` exactly
as the Mesos containerizer does, and checks the report line, the pid and termination files and
what the task saw. Needs root (namespaces, mounts, cgroups, setuid).
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import shutil
import signal
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(os.geteuid() != 0, reason="the launcher needs root"),
]

LAUNCHER = Path(__file__).resolve().parents[2] / "src/dcos_core/containerizer/launcher.py"
ALL_NS = ["pid", "mount", "uts", "ipc"]
HOST_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
BUSYBOX = Path("/bin/busybox")
APPLETS = ("sh", "ls", "cat", "echo", "id", "mkdir", "hostname", "sleep", "touch", "grep")


def wait_for(predicate: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"


class Launch:
    """One launcher process and the files of its container."""

    def __init__(self, directory: Path, config: dict[str, Any]) -> None:
        self.dir = directory
        self.config = config
        self.config_path = directory / "config.json"
        self.config_path.write_text(json.dumps(config))
        read_fd, write_fd = os.pipe()
        self.started = time.monotonic()
        with open(directory / "launcher.log", "ab") as log:
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    "-I",
                    "-S",
                    str(LAUNCHER),
                    "--config",
                    str(self.config_path),
                    "--report-fd",
                    str(write_fd),
                ],
                pass_fds=(write_fd,),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
            )
        os.close(write_fd)
        self.report_fd = read_fd
        self.reported_at: float | None = None

    def report(self, timeout: float = 10.0) -> dict[str, Any]:
        """The report line; reads to EOF, so a task holding the pipe would hang this."""
        data = b""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            assert left > 0, f"no report EOF within {timeout}s (got {data!r})"
            ready, _, _ = select.select([self.report_fd], [], [], left)
            if not ready:
                continue
            chunk = os.read(self.report_fd, 4096)
            if self.reported_at is None:
                self.reported_at = time.monotonic()
            if not chunk:
                break
            data += chunk
        os.close(self.report_fd)
        assert data.endswith(b"\n") and data.count(b"\n") == 1, data
        result: dict[str, Any] = json.loads(data)
        return result

    def wait(self, timeout: float = 10.0) -> int:
        return self.proc.wait(timeout)

    def termination(self, timeout: float = 10.0) -> dict[str, Any]:
        assert self.wait(timeout) is not None
        result: dict[str, Any] = json.loads((self.dir / "termination").read_text())
        return result

    def stdout(self) -> str:
        return (self.dir / "stdout").read_text()

    def stderr(self) -> str:
        return (self.dir / "stderr").read_text()

    def log(self) -> str:
        return (self.dir / "launcher.log").read_text()


class Launcher:
    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self.launches: list[Launch] = []

    def __call__(self, argv: list[str], **overrides: Any) -> Launch:
        directory = self.tmp_path / f"c{len(self.launches)}"
        directory.mkdir()
        sandbox = directory / "sandbox"
        sandbox.mkdir()
        config: dict[str, Any] = {
            "container_id": directory.name,
            "argv": argv,
            "env": {"PATH": HOST_PATH, "MESOS_SANDBOX": str(sandbox)},
            "cwd": str(sandbox),
            "stdout": str(directory / "stdout"),
            "stderr": str(directory / "stderr"),
            "user": None,
            "namespaces": [],
            "hostname": None,
            "rootfs": None,
            "rootfs_overlay": None,
            "mounts": [],
            "cgroups": [],
            "pid_file": str(directory / "pid"),
            "launcher_pid_file": str(directory / "launcher.pid"),
            "termination": str(directory / "termination"),
        }
        config.update(overrides)
        launch = Launch(directory, config)
        self.launches.append(launch)
        return launch

    def cleanup(self) -> None:
        for launch in self.launches:
            pid_file = launch.dir / "pid"
            if pid_file.exists() and launch.proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(int(pid_file.read_text()), signal.SIGKILL)
            try:
                launch.proc.wait(5)
            except subprocess.TimeoutExpired:
                launch.proc.kill()
                launch.proc.wait()


@pytest.fixture
def launcher(tmp_path: Path) -> Iterator[Launcher]:
    runner = Launcher(tmp_path)
    yield runner
    runner.cleanup()


def busybox_rootfs(root: Path) -> Path:
    if not BUSYBOX.exists():
        pytest.skip("needs /bin/busybox (Debian busybox-static)")
    (root / "bin").mkdir(parents=True)
    shutil.copy2(BUSYBOX, root / "bin/busybox")
    for applet in APPLETS:
        (root / "bin" / applet).symlink_to("busybox")
    return root


def sh(script: str) -> list[str]:
    return ["/bin/sh", "-c", script]


# --- exit status --------------------------------------------------------------------------------


@pytest.mark.parametrize("namespaces", [[], ALL_NS], ids=["plain", "namespaces"])
def test_exit_code_pid_files_and_output(launcher: Launcher, namespaces: list[str]) -> None:
    launch = launcher(
        sh('echo "out $FOO $(pwd)"; echo err >&2; exit 3'),
        env={"PATH": HOST_PATH, "FOO": "bar"},
        namespaces=namespaces,
    )
    report = launch.report()
    assert set(report) == {"pid"}
    assert launch.termination() == {"exit_code": 3, "signal": None}
    assert launch.wait() == 0
    assert int((launch.dir / "pid").read_text()) == report["pid"]
    assert int((launch.dir / "launcher.pid").read_text()) == launch.proc.pid
    assert launch.stdout() == f"out bar {launch.dir / 'sandbox'}\n"
    assert launch.stderr() == "err\n"
    assert not list(launch.dir.glob("*.tmp*"))


def test_output_files_are_appended(launcher: Launcher, tmp_path: Path) -> None:
    out = tmp_path / "shared-stdout"
    out.write_text("before\n")
    launch = launcher(["echo", "after"], stdout=str(out))
    launch.report()
    assert launch.termination() == {"exit_code": 0, "signal": None}
    assert out.read_text() == "before\nafter\n"


@pytest.mark.parametrize("namespaces", [[], ALL_NS], ids=["plain", "namespaces"])
def test_sigkill_is_reported_as_signal_9(launcher: Launcher, namespaces: list[str]) -> None:
    launch = launcher(["sleep", "1000"], namespaces=namespaces)
    pid = launch.report()["pid"]
    assert alive(pid)
    os.kill(pid, signal.SIGKILL)
    assert launch.termination() == {"exit_code": None, "signal": 9}
    assert launch.wait() == 0


def test_sigterm_in_a_task_without_pid_namespace(launcher: Launcher) -> None:
    launch = launcher(["sleep", "1000"])
    os.kill(launch.report()["pid"], signal.SIGTERM)
    assert launch.termination() == {"exit_code": None, "signal": signal.SIGTERM}


def test_task_gets_default_signals_and_no_inherited_fds(launcher: Launcher) -> None:
    # The launcher ignores SIGHUP/SIGPIPE/SIGTERM/SIGINT and holds the report pipe: none of
    # that may reach the task.
    launch = launcher(sh("grep -E '^Sig(Ign|Blk)' /proc/self/status; ls /proc/self/fd"))
    launch.report()
    assert launch.termination() == {"exit_code": 0, "signal": None}
    lines = launch.stdout().split("\n")
    assert lines[0].split() == ["SigBlk:", "0000000000000000"]
    assert lines[1].split() == ["SigIgn:", "0000000000000000"]
    # 0-2 plus the fd ls opens for the directory listing
    assert set(lines[2:]) - {""} <= {"0", "1", "2", "3"}


def test_launcher_ignores_sigterm_and_sighup(launcher: Launcher) -> None:
    launch = launcher(["sleep", "1000"])
    pid = launch.report()["pid"]
    for signum in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
        launch.proc.send_signal(signum)
    time.sleep(0.2)
    assert launch.proc.poll() is None
    os.kill(pid, signal.SIGKILL)
    assert launch.termination() == {"exit_code": None, "signal": 9}


# --- pid namespace ------------------------------------------------------------------------------


def test_pid_namespace_shows_only_the_task(launcher: Launcher) -> None:
    launch = launcher(sh("echo $$; ls /proc; hostname"), namespaces=ALL_NS, hostname="task-host")
    launch.report()
    assert launch.termination() == {"exit_code": 0, "signal": None}
    lines = launch.stdout().split()
    assert lines[0] == "1"
    assert lines[-1] == "task-host"
    pids = {entry for entry in lines[1:-1] if entry.isdigit()}
    assert "1" in pids
    assert pids <= {"1", "2", "3"}, pids
    assert os.uname().nodename != "task-host"


def test_killing_pid_1_kills_the_whole_namespace(launcher: Launcher) -> None:
    launch = launcher(sh("sleep 1000 & sleep 1000 & wait"), namespaces=ALL_NS)
    pid = launch.report()["pid"]
    children_file = Path(f"/proc/{pid}/task/{pid}/children")
    wait_for(lambda: len(children_file.read_text().split()) == 2, 5, "two grandchildren")
    grandchildren = [int(p) for p in children_file.read_text().split()]
    os.kill(pid, signal.SIGKILL)
    wait_for(lambda: not any(alive(p) for p in grandchildren), 2, "grandchildren to die")
    assert launch.termination() == {"exit_code": None, "signal": 9}


def test_pid_1_ignores_sigterm_without_a_handler(launcher: Launcher) -> None:
    launch = launcher(["sleep", "1000"], namespaces=ALL_NS)
    pid = launch.report()["pid"]
    os.kill(pid, signal.SIGTERM)
    time.sleep(0.2)
    assert alive(pid)
    os.kill(pid, signal.SIGKILL)
    assert launch.termination() == {"exit_code": None, "signal": 9}


def test_orphans_of_a_plain_task_are_reaped(launcher: Launcher) -> None:
    # Without a pid namespace the launcher is the subreaper of the task's orphans.
    launch = launcher(sh("(sleep 0.3; echo orphan-done) & echo $!"))
    launch.report()
    orphan = int(launch.stdout().split()[0]) if launch.stdout() else 0
    assert launch.termination() == {"exit_code": 0, "signal": None}
    # the launcher exited right after the main task: the orphan now belongs to someone else
    if orphan:
        wait_for(lambda: not alive(orphan), 3, "the orphan to end")


# --- failures -----------------------------------------------------------------------------------


@pytest.mark.parametrize("namespaces", [[], ALL_NS], ids=["plain", "namespaces"])
def test_missing_binary_is_reported(launcher: Launcher, namespaces: list[str]) -> None:
    launch = launcher(["/nonexistent/binary", "x"], namespaces=namespaces)
    report = launch.report()
    assert set(report) == {"error"}
    assert report["error"] == "exec /nonexistent/binary: No such file or directory"
    assert launch.wait() != 0
    assert launch.termination() == {"exit_code": 127, "signal": None}
    assert not (launch.dir / "pid").exists()


def test_missing_binary_on_path(launcher: Launcher) -> None:
    launch = launcher(["no-such-command-xyz"])
    assert launch.report()["error"] == "exec no-such-command-xyz: No such file or directory"
    assert launch.wait() == 1


def test_bad_cwd_is_reported(launcher: Launcher) -> None:
    launch = launcher(["true"], cwd="/nonexistent-dir")
    error = launch.report()["error"]
    assert error.startswith("chdir /nonexistent-dir: [Errno 2]"), error
    assert launch.wait() == 1


def test_unreadable_config_is_reported(launcher: Launcher, tmp_path: Path) -> None:
    launch = launcher(["true"])
    launch.report()
    launch.wait()
    read_fd, write_fd = os.pipe()
    proc = subprocess.run(
        [
            *(sys.executable, "-I", "-S", str(LAUNCHER)),
            *("--config", str(tmp_path / "missing.json"), "--report-fd", str(write_fd)),
        ],
        pass_fds=(write_fd,),
        capture_output=True,
        timeout=10,
        check=False,
    )
    os.close(write_fd)
    with os.fdopen(read_fd, "rb") as f:
        assert "missing.json" in json.loads(f.read())["error"]
    assert proc.returncode == 1


def test_mounts_without_mount_namespace_are_refused(launcher: Launcher, tmp_path: Path) -> None:
    launch = launcher(["true"], mounts=[{"source": str(tmp_path), "target": "/mnt/x"}])
    assert "mount namespace" in launch.report()["error"]
    assert launch.wait() == 1


def test_dead_report_reader_does_not_stop_the_launcher(launcher: Launcher) -> None:
    launch = launcher(sh("sleep 0.3; exit 4"))
    os.close(launch.report_fd)  # like an agent SIGKILLed before reading the report
    assert launch.termination() == {"exit_code": 4, "signal": None}
    assert launch.wait() == 0


# --- user ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("namespaces", [[], ALL_NS], ids=["plain", "namespaces"])
def test_user_switch(launcher: Launcher, namespaces: list[str]) -> None:
    launch = launcher(
        sh("id -u; id -g; id -G"),
        user={"uid": 65534, "gid": 65534, "groups": [65534]},
        namespaces=namespaces,
        cwd="/",
    )
    launch.report()
    assert launch.termination() == {"exit_code": 0, "signal": None}
    assert launch.stdout().split() == ["65534", "65534", "65534"]


# --- cgroups ------------------------------------------------------------------------------------


def v1_cgroup(controller: str) -> Iterator[Path]:
    base = Path("/sys/fs/cgroup") / controller
    if not (base / "cgroup.procs").exists():
        pytest.skip(f"no cgroup v1 {controller} hierarchy")
    cgroup = base / f"dcos-launcher-test-{uuid.uuid4().hex[:8]}"
    cgroup.mkdir()
    yield cgroup
    deadline = time.monotonic() + 5
    while True:
        try:
            cgroup.rmdir()
            break
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


@pytest.fixture
def pids_cgroup() -> Iterator[Path]:
    yield from v1_cgroup("pids")


@pytest.fixture
def memory_cgroup() -> Iterator[Path]:
    yield from v1_cgroup("memory")


@pytest.mark.parametrize("namespaces", [[], ALL_NS], ids=["plain", "namespaces"])
def test_cgroup_join(launcher: Launcher, pids_cgroup: Path, namespaces: list[str]) -> None:
    launch = launcher(
        sh("cat /proc/self/cgroup; exec sleep 1000"),
        cgroups=[str(pids_cgroup)],
        namespaces=namespaces,
    )
    pid = launch.report()["pid"]
    assert str(pid) in (pids_cgroup / "cgroup.procs").read_text().split()
    wait_for(lambda: "pids:" in launch.stdout(), 5, "the task's /proc/self/cgroup")
    # the task was in the cgroup before it exec'd: even its first process ever ran there
    assert f"pids:/{pids_cgroup.name}" in launch.stdout()
    launcher_cgroup = Path(f"/proc/{launch.proc.pid}/cgroup").read_text()
    assert pids_cgroup.name not in launcher_cgroup
    os.kill(pid, signal.SIGKILL)
    assert launch.termination() == {"exit_code": None, "signal": 9}


@pytest.mark.parametrize("namespaces", [[], ALL_NS], ids=["plain", "namespaces"])
def test_oom_kill_is_signal_9(
    launcher: Launcher, memory_cgroup: Path, namespaces: list[str]
) -> None:
    limit = str(64 << 20)
    (memory_cgroup / "memory.limit_in_bytes").write_text(limit)
    memsw = memory_cgroup / "memory.memsw.limit_in_bytes"
    if memsw.exists():
        memsw.write_text(limit)
    launch = launcher(
        [sys.executable, "-I", "-S", "-c", "b = b'x' * (400 << 20)"],
        cgroups=[str(memory_cgroup)],
        namespaces=namespaces,
    )
    launch.report()
    assert launch.termination() == {"exit_code": None, "signal": 9}
    assert "oom_kill 1" in (memory_cgroup / "memory.oom_control").read_text()


def test_cgroup_failure_kills_the_child(launcher: Launcher, tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    launch = launcher(
        ["touch", str(marker)], cgroups=["/sys/fs/cgroup/pids/dcos-launcher-test-missing"]
    )
    error = launch.report()["error"]
    assert error.startswith("cgroup /sys/fs/cgroup/pids/dcos-launcher-test-missing:"), error
    assert launch.wait() == 1
    assert not marker.exists()


# --- root filesystems ---------------------------------------------------------------------------


def test_rootfs_with_sandbox_bind_mount(launcher: Launcher, tmp_path: Path) -> None:
    root = busybox_rootfs(tmp_path / "rootfs")
    host_ro = tmp_path / "ro"
    host_ro.mkdir()
    (host_ro / "data").write_text("read-only data\n")
    host_file = tmp_path / "single-file"
    host_file.write_text("one file\n")
    sandbox = tmp_path / "host-sandbox"
    sandbox.mkdir()
    script = (
        "ls /; echo written-inside > /mnt/mesos/sandbox/from-task; pwd; hostname; "
        "cat /ro/data; cat /etc/config; echo x > /ro/new || echo ro-refused; "
        "echo zero > /dev/null && echo devnull-ok; ls /proc/1/ > /dev/null && echo proc-ok"
    )
    launch = launcher(
        sh(script),
        env={"PATH": "/bin"},
        namespaces=ALL_NS,
        hostname="boxed",
        rootfs=str(root),
        cwd="/mnt/mesos/sandbox",
        mounts=[
            {"source": str(sandbox), "target": "/mnt/mesos/sandbox"},
            {"source": str(host_ro), "target": "/ro", "readonly": True},
            {"source": str(host_file), "target": "/etc/config", "readonly": True},
        ],
    )
    launch.report()
    assert launch.termination() == {"exit_code": 0, "signal": None}, launch.stderr()
    out = launch.stdout().split("\n")
    assert out[:4] == ["bin", "dev", "etc", "mnt"], out
    assert out[4:6] == ["proc", "ro"], out
    assert out[6:] == [
        "/mnt/mesos/sandbox",
        "boxed",
        "read-only data",
        "one file",
        "ro-refused",
        "devnull-ok",
        "proc-ok",
        "",
    ]
    assert (sandbox / "from-task").read_text() == "written-inside\n"
    assert not (host_ro / "new").exists()
    # nothing of the container's mounts leaked into the host's mount table
    assert str(root) not in Path("/proc/self/mountinfo").read_text()


def test_rootfs_symlinks_cannot_escape(launcher: Launcher, tmp_path: Path) -> None:
    root = busybox_rootfs(tmp_path / "rootfs")
    outside = tmp_path / "outside"
    outside.mkdir()
    (root / "mnt").symlink_to(str(outside))  # absolute: must resolve inside the rootfs
    (root / "escape").symlink_to("../../../../../..")
    source = tmp_path / "src"
    source.mkdir()
    (source / "f").write_text("f\n")
    launch = launcher(
        sh("cat /mnt/data/f /escape/up/f"),
        env={"PATH": "/bin"},
        namespaces=["mount", "pid"],
        rootfs=str(root),
        cwd="/",
        mounts=[
            {"source": str(source), "target": "/mnt/data"},
            {"source": str(source), "target": "/escape/up"},
        ],
    )
    launch.report()
    assert launch.termination() == {"exit_code": 0, "signal": None}, launch.stderr()
    assert launch.stdout() == "f\nf\n"
    assert list(outside.iterdir()) == []
    assert (root / str(outside).lstrip("/") / "data").is_dir()
    assert (root / "up").is_dir()


def test_rootfs_overlay(launcher: Launcher, tmp_path: Path) -> None:
    lower = busybox_rootfs(tmp_path / "image")
    (lower / "etc").mkdir()
    (lower / "etc/motd").write_text("from image\n")
    runtime = tmp_path / "rt"
    overlay = {
        "lower": str(lower),
        "upper": str(runtime / "upper"),
        "work": str(runtime / "work"),
        "merged": str(runtime / "merged"),
    }
    launch = launcher(
        sh("cat /etc/motd; echo changed >> /etc/motd; echo new > /new-file; ls /"),
        env={"PATH": "/bin"},
        namespaces=ALL_NS,
        rootfs_overlay=overlay,
        cwd="/",
    )
    launch.report()
    assert launch.termination() == {"exit_code": 0, "signal": None}, launch.stderr()
    assert launch.stdout().split() == ["from", "image", "bin", "dev", "etc", "new-file", "proc"]
    assert (lower / "etc/motd").read_text() == "from image\n"
    assert not (lower / "new-file").exists()
    assert not (lower / "dev").exists()
    assert (runtime / "upper/etc/motd").read_text() == "from image\nchanged\n"
    assert (runtime / "upper/new-file").read_text() == "new\n"
    # the overlay lived only in the task's mount namespace
    assert not list((runtime / "merged").iterdir())


def test_rootfs_and_overlay_are_exclusive(launcher: Launcher, tmp_path: Path) -> None:
    overlay = {k: str(tmp_path / k) for k in ("lower", "upper", "work", "merged")}
    launch = launcher(
        ["true"], namespaces=ALL_NS, rootfs=str(tmp_path), rootfs_overlay=overlay, cwd="/"
    )
    assert "exclusive" in launch.report()["error"]


def test_mount_namespace_without_rootfs(launcher: Launcher, tmp_path: Path) -> None:
    source = tmp_path / "data"
    source.mkdir()
    (source / "f").write_text("bound\n")
    target = tmp_path / "target"
    launch = launcher(
        sh(f"cat {target}/f; ls /proc | grep -c '^[0-9]'"),
        namespaces=["mount", "pid"],
        mounts=[{"source": str(source), "target": str(target), "readonly": True}],
    )
    launch.report()
    assert launch.termination() == {"exit_code": 0, "signal": None}, launch.stderr()
    out = launch.stdout().split("\n")
    assert out[0] == "bound"
    assert int(out[1]) <= 3
    assert target.is_dir() and not list(target.iterdir())  # the mount stayed in the task's ns


def test_bad_bind_source_is_reported(launcher: Launcher, tmp_path: Path) -> None:
    launch = launcher(
        ["true"],
        namespaces=["mount"],
        mounts=[{"source": str(tmp_path / "nope"), "target": str(tmp_path / "t")}],
    )
    error = launch.report()["error"]
    assert error.startswith(f"mount {tmp_path / 'nope'} on {tmp_path / 't'}: [Errno 2]"), error
    assert launch.termination() == {"exit_code": 127, "signal": None}


# --- the launcher outlives the agent ------------------------------------------------------------


def test_launcher_survives_its_parents_death(launcher: Launcher, tmp_path: Path) -> None:
    directory = tmp_path / "orphaned"
    directory.mkdir()
    config = {
        "container_id": "orphaned",
        "argv": ["/bin/sh", "-c", "sleep 0.5; exit 5"],
        "env": {"PATH": HOST_PATH},
        "cwd": str(directory),
        "stdout": str(directory / "stdout"),
        "stderr": str(directory / "stderr"),
        "namespaces": ALL_NS,
        "pid_file": str(directory / "pid"),
        "launcher_pid_file": str(directory / "launcher.pid"),
        "termination": str(directory / "termination"),
    }
    (directory / "config.json").write_text(json.dumps(config))
    # The intermediate process plays the agent: it starts the launcher, reads the report,
    # then sleeps until it is SIGKILLed.
    agent = (
        "import os, subprocess, sys, time\n"
        "r, w = os.pipe()\n"
        f"subprocess.Popen([sys.executable, '-I', '-S', {str(LAUNCHER)!r}, '--config', "
        f"{str(directory / 'config.json')!r}, '--report-fd', str(w)], pass_fds=(w,), "
        "start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)\n"
        "os.close(w)\n"
        "print(os.read(r, 4096).decode(), flush=True)\n"
        "time.sleep(1000)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", agent], stdout=subprocess.PIPE)
    assert proc.stdout is not None
    task_pid = json.loads(proc.stdout.readline())["pid"]
    launcher_pid = int((directory / "launcher.pid").read_text())
    proc.kill()
    proc.wait()
    assert alive(launcher_pid)
    assert alive(task_pid)
    wait_for(lambda: (directory / "termination").exists(), 5, "the termination file")
    assert json.loads((directory / "termination").read_text()) == {"exit_code": 5, "signal": None}
    wait_for(lambda: not alive(launcher_pid), 5, "the launcher to exit")


# --- speed --------------------------------------------------------------------------------------


@pytest.mark.parametrize("namespaces", [[], ALL_NS], ids=["plain", "namespaces"])
def test_start_to_report_latency(launcher: Launcher, namespaces: list[str]) -> None:
    latencies = []
    for _ in range(20):
        launch = launcher(["/bin/true"], namespaces=namespaces)
        assert "pid" in launch.report()
        assert launch.reported_at is not None
        latencies.append(launch.reported_at - launch.started)
        assert launch.termination() == {"exit_code": 0, "signal": None}
    p50 = statistics.median(latencies)
    print(f"launcher start-to-report p50 ({namespaces or 'no namespaces'}): {p50 * 1000:.1f} ms")
    # the task-launch benchmark target is 25 tasks/s on 2 cores; the launcher is a part of that
    assert p50 < 0.2
