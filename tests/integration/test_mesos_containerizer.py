"""The Mesos containerizer for real: launcher, cgroups v1, pid namespaces, images, recovery.

Root-only (CI runs as root on a cgroup v1 host); each test uses its own cgroup root and runtime
directory and destroys what it launched.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import time
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import psutil
import pytest

from dcos_core.containerizer.isolators.selection import (
    FULL,
    HostFacts,
    choose_isolation,
    host_facts,
)
from dcos_core.containerizer.mesos import MesosContainerizer
from dcos_core.containerizer.spec import (
    REASON_CONTAINER_LIMITATION,
    REASON_CONTAINER_LIMITATION_DISK,
    REASON_CONTAINER_LIMITATION_MEMORY,
    ContainerInfo,
    ContainerizerConfig,
    LaunchSpec,
    Volume,
)
from dcos_core.errors import InvalidError, IsolationError
from dcos_core.resources import Resources

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(os.geteuid() != 0, reason="containers need root"),
]

Factory = Callable[..., MesosContainerizer]


@pytest.fixture
async def make(tmp_path: Path) -> AsyncIterator[Factory]:
    built: list[MesosContainerizer] = []
    root = f"dcos-test/mc-{uuid.uuid4().hex[:8]}"

    def factory(isolation: tuple[str, ...] = FULL, **kw: object) -> MesosContainerizer:
        config = ContainerizerConfig(
            runtime_dir=tmp_path / "run", cgroups_root=root, pids_limit=64, **kw
        )  # type: ignore[arg-type]
        c = MesosContainerizer.create(config, configured=isolation)
        built.append(c)
        return c

    yield factory
    for c in built:
        for cid in c.containers():
            await c.destroy(cid, 0)
    if built and built[0].cgroups is not None:
        cg = built[0].cgroups
        for cid in cg.containers():
            cg.destroy(cid)
        cg.remove_root()


def spec(tmp_path: Path, command: str, res: str = "cpus:0.5;mem:64", **kw: object) -> LaunchSpec:
    cid = uuid.uuid4().hex
    return LaunchSpec(
        cid,
        tmp_path / "sandboxes" / cid,
        command=command,
        env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"},
        resources=Resources.parse(res),
        **kw,  # type: ignore[arg-type]
    )


def out(s: LaunchSpec) -> str:
    return s.stdout_path.read_text()


async def test_task_runs_and_exit_codes_are_reported(make: Factory, tmp_path: Path) -> None:
    c = make()
    s = spec(tmp_path, "echo hello; exit 3")
    await c.launch(s)
    t = await asyncio.wait_for(c.wait(s.container_id), 10)
    assert (t.exit_code, t.signal, t.reason) == (3, None, None)
    assert out(s) == "hello\n"
    await c.destroy(s.container_id, 0)
    assert c.containers() == []
    assert not (tmp_path / "run" / s.container_id).exists()


async def test_oom_kill_is_a_memory_limitation_within_5s(make: Factory, tmp_path: Path) -> None:
    c = make()
    hog = spec(
        tmp_path, "exec python3 -c 'b = bytearray(400 * 1024 * 1024); import time; time.sleep(60)'"
    )
    ok = spec(tmp_path, "python3 -c 'b = bytearray(16 * 1024 * 1024)'; sleep 1; echo fine")
    started = time.monotonic()
    await c.launch(hog)
    await c.launch(ok)
    t = await asyncio.wait_for(c.wait(hog.container_id), 5)
    elapsed = time.monotonic() - started
    assert t.reason == REASON_CONTAINER_LIMITATION_MEMORY, t
    assert t.signal == signal.SIGKILL
    assert "Memory limit exceeded" in t.message and "Requested: 64MB" in t.message
    assert elapsed < 5
    t2 = await asyncio.wait_for(c.wait(ok.container_id), 10)
    assert t2.succeeded and t2.reason is None
    assert out(ok) == "fine\n"


async def test_cfs_quota_throttles_a_busy_loop(make: Factory, tmp_path: Path) -> None:
    c = make(cgroups_enable_cfs=True)
    s = spec(tmp_path, "while :; do :; done", res="cpus:0.1;mem:32")
    await c.launch(s)
    await asyncio.sleep(2.0)
    u = await c.usage(s.container_id)
    await c.destroy(s.container_id, 0)
    cpu = u["cpus_user_time_secs"] + u["cpus_system_time_secs"]
    assert u["cpus_nr_throttled"] > 0
    assert 0.1 <= cpu <= 0.4, u  # about 0.1 core over 2 s (plus the shell's start)
    assert u["mem_limit_bytes"] == 32 * 1024 * 1024


async def test_pid_namespace_shows_only_the_task(make: Factory, tmp_path: Path) -> None:
    c = make()
    s = spec(tmp_path, "echo pid=$$; ls /proc | grep -c '^[0-9]'")
    await c.launch(s)
    t = await asyncio.wait_for(c.wait(s.container_id), 10)
    assert t.succeeded
    lines = out(s).split()
    assert lines[0] == "pid=1"
    assert int(lines[1]) <= 3  # sh, ls and grep


async def test_kill_reaches_grandchildren(make: Factory, tmp_path: Path) -> None:
    c = make()
    s = spec(tmp_path, "sh -c 'sleep 1000 & sleep 1000 & wait' & wait")
    pid = await c.launch(s)
    assert pid is not None
    await asyncio.sleep(0.5)
    family = psutil.Process(pid).children(recursive=True)
    assert len(family) >= 3
    await c.destroy(s.container_id, 0.5)
    t = await c.wait(s.container_id) if s.container_id in c.containers() else None
    assert t is None
    gone = [p for p in family if not p.is_running() or p.status() == psutil.STATUS_ZOMBIE]
    assert len(gone) == len(family)


async def test_destroy_sends_sigterm_then_sigkill_after_grace(
    make: Factory, tmp_path: Path
) -> None:
    c = make()
    s = spec(tmp_path, "trap 'echo term; exit 0' TERM; while :; do sleep 0.1; done")
    await c.launch(s)
    await asyncio.sleep(0.3)
    waiter = asyncio.create_task(c.wait(s.container_id))
    await c.destroy(s.container_id, 5)
    t = await waiter
    assert t.exit_code == 0 and "term" in out(s)
    stubborn = spec(tmp_path, "exec sleep 1000")  # pid 1 without a handler ignores SIGTERM
    await c.launch(stubborn)
    waiter = asyncio.create_task(c.wait(stubborn.container_id))
    started = time.monotonic()
    await c.destroy(stubborn.container_id, 0.5)
    t = await waiter
    assert t.signal == signal.SIGKILL
    assert 0.4 < time.monotonic() - started < 4


async def test_task_runs_as_its_user(make: Factory, tmp_path: Path) -> None:
    os.chmod(tmp_path, 0o755)
    c = make()
    s = spec(tmp_path, "id -u; touch mine && echo wrote", user="nobody")
    await c.launch(s)
    t = await asyncio.wait_for(c.wait(s.container_id), 10)
    assert t.succeeded, out(s)
    assert out(s).split() == [str(65534), "wrote"]
    with pytest.raises(InvalidError, match="does not exist"):
        await c.launch(spec(tmp_path, "true", user="no-such-user-xyz"))


async def test_missing_executable_fails_the_launch(make: Factory, tmp_path: Path) -> None:
    c = make()
    s = LaunchSpec(
        "c-missing",
        tmp_path / "sb-missing",
        argv=("/nonexistent/binary",),
        resources=Resources.parse("cpus:0.1;mem:32"),
    )
    with pytest.raises(IsolationError, match="/nonexistent/binary"):
        await c.launch(s)
    assert c.containers() == []
    assert not (tmp_path / "run" / "c-missing").exists()


def busybox_image(image_dir: Path) -> None:
    root = image_dir / "busybox"
    (root / "bin").mkdir(parents=True)
    shutil.copy("/bin/busybox", root / "bin" / "busybox")
    for applet in ("sh", "ls", "cat", "echo", "id", "touch"):
        (root / "bin" / applet).symlink_to("busybox")
    for d in ("proc", "dev", "tmp", "etc"):
        (root / d).mkdir()
    (root / "etc" / "marker").write_text("inside the image\n")


async def test_container_image_is_the_root_filesystem(make: Factory, tmp_path: Path) -> None:
    image_dir = tmp_path / "images"
    busybox_image(image_dir)
    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / "data").write_text("from the host\n")
    c = make(image_dir=image_dir)
    s = spec(
        tmp_path,
        "cat /etc/marker; ls /; cat /data/data; echo out > $MESOS_SANDBOX/result; touch /etc/new",
        container=ContainerInfo(
            "MESOS", image="busybox", volumes=(Volume("/data", str(shared), "RO"),)
        ),
    )
    await c.launch(s)
    t = await asyncio.wait_for(c.wait(s.container_id), 10)
    assert t.succeeded, out(s) + s.stderr_path.read_text()
    text = out(s)
    assert text.startswith("inside the image\n")
    assert "usr" not in text.split()  # the host's /usr is not there
    assert "from the host" in text
    assert (s.sandbox / "result").read_text() == "out\n"
    assert not (image_dir / "busybox" / "etc" / "new").exists()  # the image is never written


async def test_disk_quota_is_enforced(make: Factory, tmp_path: Path) -> None:
    c = make(isolation=(*FULL, "disk/du"), disk_watch_interval=0.2, enforce_disk_quota=True)
    s = spec(
        tmp_path,
        "head -c 3000000 /dev/zero > big; sleep 30",
        res="cpus:0.1;mem:32;disk:1",
    )
    await c.launch(s)
    t = await asyncio.wait_for(c.wait(s.container_id), 10)
    assert t.reason == REASON_CONTAINER_LIMITATION_DISK
    assert "exceeds quota (1MB)" in t.message


async def test_ports_isolator_reports_an_unowned_port(make: Factory, tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    c = make(isolation=(*FULL, "network/ports"), ports_watch_interval=0.2, enforce_ports=True)
    c_ports = c.isolators[-1]
    c_ports.agent_ranges = [(port, port)]  # type: ignore[attr-defined]
    listen = (
        "python3 -c 'import socket,time; s=socket.socket(); "
        f's.bind(("127.0.0.1", {port})); s.listen(); time.sleep(60)\''
    )
    s = spec(tmp_path, listen)
    await c.launch(s)
    t = await asyncio.wait_for(c.wait(s.container_id), 10)
    assert t.reason == REASON_CONTAINER_LIMITATION
    assert str(port) in t.message
    owner = spec(tmp_path, listen + "& sleep 1.5; kill %1", ports=(port,))
    await c.launch(owner)
    t = await asyncio.wait_for(c.wait(owner.container_id), 10)
    assert t.reason is None


async def test_recover_reattaches_running_containers_and_destroys_orphans(
    make: Factory, tmp_path: Path
) -> None:
    first = make()
    kept = spec(tmp_path, "exec sleep 1000")
    orphan = spec(tmp_path, "sleep 1000")
    ended = spec(tmp_path, "exit 7")
    pid = await first.launch(kept)
    orphan_pid = await first.launch(orphan)
    await first.launch(ended)
    await asyncio.sleep(0.5)
    # A new containerizer over the same runtime directory: the agent restarted.
    second = make()
    ids = {kept.container_id, ended.container_id}
    recovered = await second.recover(ids)
    assert recovered == ids
    assert psutil.Process(pid).is_running()
    assert second.containers() == sorted(ids) or set(second.containers()) == ids
    t = await asyncio.wait_for(second.wait(ended.container_id), 5)
    assert t.exit_code == 7  # ended while "the agent was down": recorded by the launcher
    await asyncio.sleep(0.3)
    assert orphan_pid is not None and not _alive(orphan_pid)
    waiter = asyncio.create_task(second.wait(kept.container_id))
    await second.destroy(kept.container_id, 0.2)
    assert (await waiter).signal == signal.SIGKILL
    assert not _alive(pid)
    assert second.cgroups is not None and kept.container_id not in second.cgroups.containers()
    # keep the first containerizer's bookkeeping from destroying anything at teardown
    first._containers.clear()


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def test_default_isolation_on_this_host_and_the_fallback() -> None:
    facts = host_facts(Path("/sys/fs/cgroup"))
    assert choose_isolation(None, facts) == FULL  # root, cgroup v1: full isolation
    assert choose_isolation(None, HostFacts(False, facts.cgroups)) == (
        "posix/cpu",
        "posix/mem",
        "filesystem/posix",
    )
    with pytest.raises(IsolationError, match=r"not run as root.*--isolation"):
        choose_isolation(("cgroups/mem",), HostFacts(False, facts.cgroups))
    with pytest.raises(IsolationError, match="cgroups-mount"):
        choose_isolation(("cgroups/mem",), host_facts(Path("/nonexistent")))
