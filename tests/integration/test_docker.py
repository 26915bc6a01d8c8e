"""DockerContainerizer against a real Docker engine: a private `dockerd` (tests/docker_engine)."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import time
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import docker
import pytest

from dcos_core.containerizer.docker import DockerContainerizer
from dcos_core.containerizer.docker_run import LABEL_AGENT, LABEL_CONTAINER_ID
from dcos_core.containerizer.spec import (
    REASON_CONTAINER_LIMITATION_MEMORY,
    ContainerInfo,
    ContainerizerConfig,
    DockerInfo,
    LaunchSpec,
    Volume,
)
from dcos_core.errors import ConflictError, InvalidError, IsolationError, NotFoundError
from dcos_core.resources import Resources
from tests.docker_engine import DockerEngine

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]


def config(engine: DockerEngine, runtime_dir: Path) -> ContainerizerConfig:
    return ContainerizerConfig(runtime_dir, docker_host=engine.host)


@pytest.fixture
async def dz(docker_engine: DockerEngine, tmp_path: Path) -> AsyncIterator[DockerContainerizer]:
    c = DockerContainerizer(config(docker_engine, tmp_path / "runtime"))
    await c.check()
    yield c
    for cid in c.containers():
        await c.destroy(cid, 0)


def dspec(
    engine: DockerEngine,
    sandbox_root: Path,
    command: str,
    cid: str = "c1",
    *,
    mem: float = 64,
    limits: dict[str, float] | None = None,
    network: str = "NONE",
    env: dict[str, str] | None = None,
) -> LaunchSpec:
    return LaunchSpec(
        cid,
        sandbox_root / cid,
        command=command,
        env=env or {"PATH": "/bin"},
        resources=Resources.scalars(cpus=0.5, mem=mem),
        limits=limits or {},
        container=ContainerInfo("DOCKER", docker=DockerInfo(engine.image, network=network)),
    )


async def test_a_task_runs_and_its_output_lands_in_the_sandbox(
    dz: DockerContainerizer, docker_engine: DockerEngine, tmp_path: Path
) -> None:
    cmd = 'sleep 0.2; echo out; echo err >&2; echo "sb=$MESOS_SANDBOX"; pwd'
    pid = await dz.launch(dspec(docker_engine, tmp_path, cmd))
    assert pid is not None and pid > 1  # None only if it has already ended
    assert dz.containers() == ["c1"]
    t = await dz.wait("c1")
    assert t.succeeded, t
    assert (tmp_path / "c1" / "stdout").read_text() == (
        "out\nsb=/mnt/mesos/sandbox\n/mnt/mesos/sandbox\n"
    )
    assert (tmp_path / "c1" / "stderr").read_text() == "err\n"
    await dz.destroy("c1", 1)
    assert dz.containers() == []
    assert (await dz.wait("c1")).succeeded  # still known after destroy
    client = docker_engine.client()
    assert client.containers.list(all=True, filters={"name": "mesos-c1"}) == []


async def test_user_volumes_and_parameters(
    dz: DockerContainerizer, docker_engine: DockerEngine, tmp_path: Path
) -> None:
    (tmp_path / "ro").mkdir()
    (tmp_path / "ro" / "f").write_text("data\n")
    (tmp_path / "rw").mkdir(mode=0o777)
    (tmp_path / "rw").chmod(0o777)  # the task runs as nobody
    base = dspec(
        docker_engine, tmp_path, "id -un; cat /ro/f; touch /ro/x || echo ro; touch /rw/y; echo $A"
    )
    assert base.container.docker is not None
    volumes = (Volume("/ro", str(tmp_path / "ro"), "RO"), Volume("/rw", str(tmp_path / "rw")))
    info = replace(base.container.docker, parameters=(("env", "A=from-param"),))
    s = replace(
        base, user="nobody", container=replace(base.container, docker=info, volumes=volumes)
    )
    await dz.launch(s)
    assert (await dz.wait("c1")).succeeded
    assert (tmp_path / "c1" / "stdout").read_text() == "nobody\ndata\nro\nfrom-param\n"
    assert (tmp_path / "rw" / "y").exists() and not (tmp_path / "ro" / "x").exists()


async def test_a_non_zero_exit_code(
    dz: DockerContainerizer, docker_engine: DockerEngine, tmp_path: Path
) -> None:
    await dz.launch(dspec(docker_engine, tmp_path, "exit 3"))
    t = await dz.wait("c1")
    assert (t.exit_code, t.signal, t.reason) == (3, None, None)
    # A task that reports 137 itself was not killed by us: its exit code is reported as is.
    await dz.launch(dspec(docker_engine, tmp_path, "exit 137", cid="c2"))
    t = await dz.wait("c2")
    assert (t.exit_code, t.signal) == (137, None)


async def test_launch_errors(
    dz: DockerContainerizer, docker_engine: DockerEngine, tmp_path: Path
) -> None:
    await dz.launch(dspec(docker_engine, tmp_path, "sleep 30"))
    with pytest.raises(ConflictError):
        await dz.launch(dspec(docker_engine, tmp_path, "true"))
    with pytest.raises(InvalidError):
        await dz.launch(LaunchSpec("c3", tmp_path / "c3", command="true"))
    missing = LaunchSpec(
        "c4",
        tmp_path / "c4",
        command="true",
        # A registry on loopback that refuses connections: the pull fails without leaving.
        container=ContainerInfo("DOCKER", docker=DockerInfo("127.0.0.1:1/absent:1")),
    )
    with pytest.raises(
        IsolationError, match=r"cannot pull image 127\.0\.0\.1:1/absent:1: .*refused"
    ):
        await dz.launch(missing)
    assert "c4" not in dz.containers()
    with pytest.raises(NotFoundError):
        await dz.wait("nope")
    with pytest.raises(NotFoundError):
        await dz.usage("nope")
    await dz.destroy("nope", 0)  # unknown: a no-op


async def test_out_of_memory_is_a_memory_limitation(
    dz: DockerContainerizer, docker_engine: DockerEngine, tmp_path: Path
) -> None:
    # tail keeps the whole "line" of zeros in memory: far more than the 64 MiB limit.
    s = dspec(docker_engine, tmp_path, "head -c 300m /dev/zero | tail -n 1 >/dev/null")
    await dz.launch(s)
    t = await asyncio.wait_for(dz.wait("c1"), 60)
    assert t.reason == REASON_CONTAINER_LIMITATION_MEMORY, t
    assert (t.exit_code, t.signal) == (None, signal.SIGKILL)
    assert t.message.startswith("Memory limit exceeded: Requested: 64MB")
    inspect = docker_engine.client().api.inspect_container("mesos-c1")
    assert inspect["State"]["OOMKilled"] is True
    assert inspect["HostConfig"]["Memory"] == 64 * 1024 * 1024
    # The shell survives a killed child, but the task is still failed by the limitation.
    s = dspec(docker_engine, tmp_path, "dd if=/dev/zero of=/dev/null bs=300M count=1; exit 0", "c2")
    await dz.launch(s)
    t = await asyncio.wait_for(dz.wait("c2"), 60)
    assert t.reason == REASON_CONTAINER_LIMITATION_MEMORY and not t.succeeded, t


async def test_destroy_kills_within_the_grace_period(
    dz: DockerContainerizer, docker_engine: DockerEngine, tmp_path: Path
) -> None:
    # sleep is the container's pid 1, which ignores SIGTERM: SIGKILL after the grace period.
    await dz.launch(dspec(docker_engine, tmp_path, "exec sleep 1000"))
    started = time.monotonic()
    await asyncio.gather(dz.destroy("c1", 1.0), dz.destroy("c1", 1.0))
    assert time.monotonic() - started < 1.0 + 5
    t = await dz.wait("c1")
    assert (t.exit_code, t.signal) == (None, signal.SIGKILL), t
    # A task that handles SIGTERM ends with it, quickly.
    await dz.launch(dspec(docker_engine, tmp_path, "trap 'exit 143' TERM; sleep 1000 & wait", "c2"))
    await asyncio.sleep(0.5)  # let the shell set its trap
    started = time.monotonic()
    await dz.destroy("c2", 10)
    assert time.monotonic() - started < 5
    assert (await dz.wait("c2")).signal == signal.SIGTERM
    assert docker_engine.client().containers.list(all=True) == []


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_a_port_with_host_networking(
    dz: DockerContainerizer, docker_engine: DockerEngine, tmp_path: Path
) -> None:
    port = free_port()
    env = {"PATH": "/bin", "PORT0": str(port)}
    cmd = 'echo "hello from $HOSTNAME" > index.html; exec httpd -f -p 127.0.0.1:$PORT0 -h .'
    await dz.launch(dspec(docker_engine, tmp_path, cmd, network="HOST", env=env))
    body = b""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            body = await asyncio.to_thread(http_get, port)
            break
        except OSError:
            await asyncio.sleep(0.1)
    assert b"200 OK" in body and b"hello from" in body, body
    usage = await dz.usage("c1")
    assert usage["mem_total_bytes"] > 0 and usage["mem_limit_bytes"] == 64 * 1024 * 1024
    assert usage["processes"] == 1 and "cpus_user_time_secs" in usage
    await dz.destroy("c1", 0)


def http_get(port: int) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(b"GET /index.html HTTP/1.0\r\nHost: localhost\r\n\r\n")
        chunks = []
        while chunk := s.recv(4096):
            chunks.append(chunk)
    return b"".join(chunks)


async def test_recovery_reattaches_and_removes_orphans(
    docker_engine: DockerEngine, tmp_path: Path
) -> None:
    cfg = config(docker_engine, tmp_path / "runtime")
    first = DockerContainerizer(cfg)
    cmd = "i=0; while true; do i=$((i+1)); echo line$i; sleep 0.1; done"
    pid = await first.launch(dspec(docker_engine, tmp_path, cmd, "kept"))
    await first.launch(dspec(docker_engine, tmp_path, "exit 7", "ended"))
    await first.wait("ended")
    await first.launch(dspec(docker_engine, tmp_path, "sleep 1000", "orphan"))
    # Another agent's container (another runtime dir) is none of ours.
    other = DockerContainerizer(config(docker_engine, tmp_path / "other-runtime"))
    await other.launch(dspec(docker_engine, tmp_path, "sleep 1000", "theirs"))
    await asyncio.sleep(0.5)
    await first.close()  # the agent stops; its containers keep running
    await asyncio.sleep(0.5)
    # A fresh containerizer with the same runtime directory takes over.
    second = DockerContainerizer(cfg)
    recovered = await second.recover({"kept", "ended", "gone"})
    assert recovered == {"kept", "ended"}
    assert sorted(second.containers()) == ["ended", "kept"]
    client = docker_engine.client()
    mine = client.containers.list(all=True, filters={"label": f"{LABEL_AGENT}={tmp_path}/runtime"})
    assert sorted(c.labels[LABEL_CONTAINER_ID] for c in mine) == ["ended", "kept"]
    assert [c.name for c in client.containers.list(all=True, filters={"name": "theirs"})] == [
        "mesos-theirs"
    ]
    ended = await second.wait("ended")
    assert ended.exit_code == 7
    inspect = client.api.inspect_container("mesos-kept")
    assert inspect["State"]["Running"] and inspect["State"]["Pid"] == pid
    assert (await second.usage("kept"))["processes"] >= 1
    await asyncio.sleep(0.5)  # the resumed log pump appends without repeating lines
    await second.destroy("kept", 0)
    t = await second.wait("kept")
    assert t.signal == signal.SIGKILL
    lines = (tmp_path / "kept" / "stdout").read_text().split()
    assert lines == [f"line{i}" for i in range(1, len(lines) + 1)]
    assert len(lines) > 5
    await second.destroy("ended", 0)
    await other.destroy("theirs", 0)
    assert client.containers.list(all=True) == []
    assert not (tmp_path / "runtime" / "orphan").exists()


async def test_an_unreachable_engine(tmp_path: Path) -> None:
    sock = tmp_path / "no.sock"
    c = DockerContainerizer(ContainerizerConfig(tmp_path, docker_host=f"unix://{sock}"))
    with pytest.raises(IsolationError, match="cannot reach the Docker engine at unix://"):
        await c.check()
    assert not os.path.exists(sock)


def test_engine_answers(docker_engine: DockerEngine) -> None:
    client = docker.DockerClient(base_url=docker_engine.host)
    assert client.ping()
    assert client.images.get(docker_engine.image)
