"""`DockerContainerizer`: each container is a Docker container run by a Docker engine.

What Mesos' Docker containerizer does, through the Docker Engine API (the `docker` SDK) instead of
the `docker` CLI:

* the image is pulled only when it is missing locally or `force_pull_image` is set;
* the container is named `mesos-<container_id>` and labelled with its container id and with the
  agent's runtime directory (`dcos_core.agent`), by which a restarted agent finds its own;
* the sandbox is mounted at `/mnt/mesos/sandbox` (`MESOS_SANDBOX`, also the working directory);
* resources map to `--cpu-shares`, `--cpu-quota` and `--memory` as in Mesos (`docker_run_kwargs`);
* the container's stdout/stderr are appended to the sandbox files by one log pump thread per
  stream, which records how far it got so that a restarted agent resumes where it stopped;
* `destroy` is `docker stop -t <grace>` (SIGTERM, SIGKILL after the grace period) and `docker rm`.

`docker.parameters` accept a documented subset of `docker run` long options (`PARAMETERS`).
All blocking SDK calls run in threads (`asyncio.to_thread`); the log pumps are daemon threads.
"""

from __future__ import annotations

import asyncio
import calendar
import contextlib
import json
import logging
import math
import os
import shutil
import signal
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import docker
import docker.errors
import requests
from docker.types import Ulimit

from dcos_core.clock import Clock, SystemClock
from dcos_core.containerizer.spec import (
    REASON_CONTAINER_LIMITATION_MEMORY,
    ContainerizerConfig,
    LaunchSpec,
    Termination,
    signal_name,
)
from dcos_core.errors import ConflictError, InvalidError, IsolationError, NotFoundError

log = logging.getLogger("dcos_core.containerizer.docker")

DEFAULT_DOCKER_HOST: Final = "unix:///var/run/docker.sock"
SANDBOX_PATH: Final = "/mnt/mesos/sandbox"
NAME_PREFIX: Final = "mesos-"
LABEL_CONTAINER_ID: Final = "dcos_core.container_id"
LABEL_AGENT: Final = "dcos_core.agent"

CPU_SHARES_PER_CPU: Final = 1024
MIN_CPU_SHARES: Final = 2
CPU_CFS_PERIOD_US: Final = 100_000
MIN_CPU_CFS_QUOTA_US: Final = 1_000
MIN_MEMORY_MB: Final = 32.0
MB: Final = 1024 * 1024

_WAIT_POLL: Final = 5  # seconds one blocking `wait` call lasts before it is asked again
_DRAIN_TIMEOUT: Final = 5.0  # how long the end of a container waits for its log pumps
_STOP_SLACK: Final = 15.0  # beyond the grace period: how long `docker stop` may take
_SINCE_SAVE_INTERVAL: Final = 0.25  # seconds between checkpoints of a log pump's position
_ENDED_KEPT: Final = 1000  # terminations of destroyed containers that `wait` still returns
_META: Final = "docker.json"
_KILLED: Final = "killed"


# ---- pure mapping: LaunchSpec -> `containers.create` keyword arguments --------------------------


def _split_kv(value: str, sep: str, key: str) -> tuple[str, str]:
    k, found, v = value.partition(sep)
    if not found or not k:
        raise InvalidError(f"{value!r} is not of the form NAME{sep}VALUE", key)
    return k, v


def _ulimit(value: str, key: str) -> Ulimit:
    name, limits = _split_kv(value, "=", key)
    soft, _, hard = limits.partition(":")
    try:
        s = int(soft)
        h = int(hard) if hard else s
    except ValueError:
        raise InvalidError(f"{value!r} is not of the form NAME=SOFT[:HARD]", key) from None
    return Ulimit(name=name, soft=s, hard=h)


def _bytes_value(value: str, key: str) -> str | int:
    v = value.strip().lower()
    if v == "-1":
        return -1
    if not v or not (v[:-1] if v[-1] in "bkmg" else v).isdigit():
        raise InvalidError(f"{value!r} is not a size (e.g. 512m)", key)
    return v


def _set(kw: dict[str, Any], name: str) -> Callable[[str, str], None]:
    def apply(value: str, key: str) -> None:
        kw[name] = value

    return apply


def _append(
    kw: dict[str, Any], name: str, conv: Callable[[str, str], Any] | None = None
) -> Callable[[str, str], None]:
    def apply(value: str, key: str) -> None:
        kw.setdefault(name, []).append(conv(value, key) if conv else value)

    return apply


PARAMETERS: Final = (
    "env (e)",
    "label (l)",
    "hostname (h)",
    "user (u)",
    "workdir (w)",
    "entrypoint",
    "memory-swap",
    "shm-size",
    "ulimit",
    "cap-add",
    "cap-drop",
    "add-host",
    "dns",
    "dns-search",
    "pids-limit",
    "read-only",
    "init",
    "security-opt",
    "sysctl",
    "tmpfs",
    "stop-signal",
    "oom-score-adj",
    "device",
)
"""The `docker run` long options (short aliases in parentheses) accepted in `parameters`."""

_ALIASES: Final = {"e": "env", "l": "label", "h": "hostname", "u": "user", "w": "workdir"}


def _bool_value(value: str, key: str) -> bool:
    v = value.strip().lower()
    if v in ("", "true", "1", "yes"):
        return True
    if v in ("false", "0", "no"):
        return False
    raise InvalidError(f"{value!r} is not a boolean", key)


def _int_value(value: str, key: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise InvalidError(f"{value!r} is not an integer", key) from None


def _apply_parameters(
    params: Iterable[tuple[str, str]],
    kw: dict[str, Any],
    env: dict[str, str],
    labels: dict[str, str],
    field_name: str,
) -> None:
    """Apply `docker run` options given as (key, value) to the `containers.create` kwargs."""

    def env_(value: str, key: str) -> None:
        k, v = _split_kv(value, "=", key)
        env[k] = v

    def label(value: str, key: str) -> None:
        k, _, v = value.partition("=")
        if not k:
            raise InvalidError(f"{value!r} is not of the form NAME[=VALUE]", key)
        if k in (LABEL_CONTAINER_ID, LABEL_AGENT):
            raise InvalidError(f"label {k} is reserved for dcos-core", key)
        labels[k] = v

    def add_host(value: str, key: str) -> None:
        host, ip = _split_kv(value, ":", key)
        kw.setdefault("extra_hosts", {})[host] = ip

    def sysctl(value: str, key: str) -> None:
        k, v = _split_kv(value, "=", key)
        kw.setdefault("sysctls", {})[k] = v

    def tmpfs(value: str, key: str) -> None:
        path, _, opts = value.partition(":")
        kw.setdefault("tmpfs", {})[path] = opts

    def conv(name: str, f: Callable[[str, str], Any]) -> Callable[[str, str], None]:
        def apply(value: str, key: str) -> None:
            kw[name] = f(value, key)

        return apply

    handlers: dict[str, Callable[[str, str], None]] = {
        "env": env_,
        "label": label,
        "hostname": _set(kw, "hostname"),
        "user": _set(kw, "user"),
        "workdir": _set(kw, "working_dir"),
        "entrypoint": conv("entrypoint", lambda v, _k: [v]),
        "memory-swap": conv("memswap_limit", _bytes_value),
        "shm-size": conv("shm_size", _bytes_value),
        "ulimit": _append(kw, "ulimits", _ulimit),
        "cap-add": _append(kw, "cap_add"),
        "cap-drop": _append(kw, "cap_drop"),
        "add-host": add_host,
        "dns": _append(kw, "dns"),
        "dns-search": _append(kw, "dns_search"),
        "pids-limit": conv("pids_limit", _int_value),
        "read-only": conv("read_only", _bool_value),
        "init": conv("init", _bool_value),
        "security-opt": _append(kw, "security_opt"),
        "sysctl": sysctl,
        "tmpfs": tmpfs,
        "stop-signal": _set(kw, "stop_signal"),
        "oom-score-adj": conv("oom_score_adj", _int_value),
        "device": _append(kw, "devices"),
    }
    for i, (raw_key, value) in enumerate(params):
        key = _ALIASES.get(raw_key.lstrip("-"), raw_key.lstrip("-"))
        handler = handlers.get(key)
        f = f"{field_name}[{i}]"
        if handler is None:
            known = ", ".join(PARAMETERS)
            raise InvalidError(f"docker parameter {raw_key!r} is not supported ({known})", f)
        handler(value, f)


def docker_run_kwargs(spec: LaunchSpec, config: ContainerizerConfig) -> dict[str, Any]:
    """The `DockerClient.containers.create(**kwargs)` arguments that run `spec`, as Mesos would.

    Pure. Raises `InvalidError` naming the field for a spec the Docker containerizer cannot run.

    Example:
        >>> from dcos_core.containerizer.spec import ContainerInfo, DockerInfo
        >>> from dcos_core.resources import Resources
        >>> s = LaunchSpec("c1", Path("/sb"), command="echo hi",
        ...     resources=Resources.scalars(cpus=0.5, mem=16),
        ...     container=ContainerInfo("DOCKER", docker=DockerInfo("busybox")))
        >>> kw = docker_run_kwargs(s, ContainerizerConfig(Path("/run/a")))
        >>> kw["command"], kw["cpu_shares"], kw["mem_limit"] // MB, kw["network_mode"]
        (['/bin/sh', '-c', 'echo hi'], 512, 32, 'host')
    """
    container = spec.container
    if container.type != "DOCKER":
        raise InvalidError(
            f"the docker containerizer runs DOCKER containers, not {container.type}",
            "task.container.type",
        )
    info = container.docker
    if info is None:
        raise InvalidError("a DOCKER container needs 'docker'", "task.container.docker")
    labels = {LABEL_CONTAINER_ID: spec.container_id, LABEL_AGENT: agent_label(config)}
    env = dict(spec.env)
    kw: dict[str, Any] = {
        "image": info.image,
        "name": container_name(spec.container_id),
        "detach": True,
        "stdin_open": False,
        "tty": False,
    }
    if spec.command is not None:
        kw["command"] = ["/bin/sh", "-c", spec.command]
        kw["entrypoint"] = [""]  # no image entrypoint in front of the shell (as Mesos)
    else:
        assert spec.argv is not None
        kw["command"] = list(spec.argv)

    # Network.
    if info.network == "HOST":
        kw["network_mode"] = "host"  # port mappings do not apply: the task binds $PORT0...
    elif info.network == "BRIDGE":
        kw["network_mode"] = "bridge"
        ports: dict[str, int | None] = {}
        for m in info.port_mappings:
            ports[f"{m.container_port}/{m.protocol}"] = m.host_port or None
        if ports:
            kw["ports"] = ports
    elif info.network == "NONE":
        kw["network_mode"] = "none"
    else:
        raise InvalidError(
            f"network {info.network!r} is not supported (HOST, BRIDGE or NONE)",
            "task.container.docker.network",
        )
    if info.privileged:
        kw["privileged"] = True
    if container.hostname and info.network != "HOST":
        kw["hostname"] = container.hostname

    # Volumes: the sandbox, then the task's (a relative host path is inside the sandbox).
    sandbox = os.path.abspath(spec.sandbox)
    volumes: dict[str, dict[str, str]] = {sandbox: {"bind": SANDBOX_PATH, "mode": "rw"}}
    for i, v in enumerate(container.volumes):
        if not v.container_path.startswith("/"):
            raise InvalidError(
                "container_path must be an absolute path",
                f"task.container.volumes[{i}].container_path",
            )
        host = v.host_path if v.host_path.startswith("/") else os.path.join(sandbox, v.host_path)
        volumes[host] = {"bind": v.container_path, "mode": "ro" if v.mode == "RO" else "rw"}
    kw["volumes"] = volumes
    kw["working_dir"] = SANDBOX_PATH

    # Resources, as Mesos' docker.cpp: shares, CFS quota, memory limit and reservation.
    cpus = spec.resources.scalar("cpus")
    cpus_limit = spec.limits.get("cpus")
    if cpus > 0 or cpus_limit is not None:
        kw["cpu_shares"] = max(int(CPU_SHARES_PER_CPU * cpus), MIN_CPU_SHARES)
    quota_cpus: float | None = None
    if cpus_limit is not None:
        quota_cpus = cpus_limit if math.isfinite(cpus_limit) else None
    elif config.cgroups_enable_cfs and cpus > 0:
        quota_cpus = cpus
    if quota_cpus is not None:
        kw["cpu_period"] = CPU_CFS_PERIOD_US
        kw["cpu_quota"] = max(int(CPU_CFS_PERIOD_US * quota_cpus), MIN_CPU_CFS_QUOTA_US)
    mem = spec.resources.scalar("mem")
    mem_limit = spec.limits.get("mem")
    if mem_limit is not None and math.isfinite(mem_limit):
        kw["mem_limit"] = int(max(mem_limit, MIN_MEMORY_MB) * MB)
        if mem > 0 and mem_limit > mem:
            kw["mem_reservation"] = int(max(mem, MIN_MEMORY_MB) * MB)
    elif mem_limit is not None:  # an infinite limit: no hard limit, the request is reserved
        if mem > 0:
            kw["mem_reservation"] = int(max(mem, MIN_MEMORY_MB) * MB)
    elif mem > 0:
        kw["mem_limit"] = int(max(mem, MIN_MEMORY_MB) * MB)

    user = spec.user or config.default_user
    if user:
        kw["user"] = user

    _apply_parameters(info.parameters, kw, env, labels, "task.container.docker.parameters")
    env["MESOS_SANDBOX"] = SANDBOX_PATH
    kw["environment"] = env
    kw["labels"] = labels
    return kw


def container_name(container_id: str) -> str:
    return f"{NAME_PREFIX}{container_id}"


def agent_label(config: ContainerizerConfig) -> str:
    """The value of the `dcos_core.agent` label: the agent's runtime directory."""
    return str(config.runtime_dir.absolute())


# ---- log timestamps ---------------------------------------------------------------------------

Stamp = tuple[int, int]  # (seconds since the epoch, nanoseconds)


def parse_log_timestamp(text: str) -> Stamp:
    """Parse a Docker log timestamp (RFC 3339, UTC, up to nanoseconds).

    Example:
        >>> parse_log_timestamp("2024-01-02T03:04:05.5Z")
        (1704164645, 500000000)
    """
    t = text.strip()
    if not t.endswith("Z"):
        raise ValueError(f"not a UTC timestamp: {text!r}")
    whole, _, frac = t[:-1].partition(".")
    secs = calendar.timegm(time.strptime(whole, "%Y-%m-%dT%H:%M:%S"))
    return secs, int((frac or "0")[:9].ljust(9, "0"))


def _read_stamp(path: Path) -> Stamp | None:
    try:
        s, _, n = path.read_text().strip().partition(".")
        return int(s), int(n or 0)
    except (OSError, ValueError):
        return None


def _write_stamp(path: Path, stamp: Stamp) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(f"{stamp[0]}.{stamp[1]:09d}\n")
    os.replace(tmp, path)


# ---- the containerizer --------------------------------------------------------------------------


@dataclass
class _LogPump:
    """Copies one stream of a container's log to a file, from `since` on, until it ends."""

    api: Any
    docker_id: str
    stream: str  # "stdout" or "stderr"
    path: Path
    stamp_file: Path
    since: Stamp | None
    thread: threading.Thread | None = None
    _chunks: Any = None
    _stopped: bool = False

    def start(self, name: str) -> None:
        self.thread = threading.Thread(target=self._run, name=name, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        last = self.since
        saved = last
        saved_at = 0.0
        try:
            self._chunks = chunks = self.api.logs(
                self.docker_id,
                stdout=self.stream == "stdout",
                stderr=self.stream == "stderr",
                stream=True,
                follow=True,
                timestamps=True,
                since=last[0] if last else None,
            )
            with open(self.path, "ab") as out:
                for chunk in chunks:
                    if self._stopped:
                        break
                    head, _, payload = chunk.partition(b" ")
                    try:
                        stamp = parse_log_timestamp(head.decode())
                    except (ValueError, UnicodeDecodeError):
                        stamp, payload = None, chunk
                    if stamp is not None and last is not None and stamp <= last:
                        continue  # already copied before a restart (`since` has 1 s resolution)
                    out.write(payload)
                    out.flush()
                    if stamp is not None:
                        last = stamp
                        now = time.monotonic()
                        if now - saved_at >= _SINCE_SAVE_INTERVAL:
                            _write_stamp(self.stamp_file, stamp)
                            saved, saved_at = stamp, now
        except (docker.errors.DockerException, requests.RequestException, OSError) as e:
            log.info("log pump %s of %s ended: %s", self.stream, self.docker_id[:12], e)
        finally:
            if last is not None and last != saved:
                with contextlib.suppress(OSError):
                    _write_stamp(self.stamp_file, last)

    def stop(self) -> None:
        """Stop copying (the container keeps running); `join` waits for the thread."""
        self._stopped = True
        chunks = self._chunks
        if chunks is not None:
            with contextlib.suppress(Exception):
                chunks.close()

    def join(self, timeout: float) -> None:
        if self.thread is not None:
            self.thread.join(timeout)


@dataclass
class _Container:
    container_id: str
    docker_id: str
    pid: int | None
    done: asyncio.Future[Termination]
    mem_mb: float = 0.0
    killed: bool = False
    pumps: list[_LogPump] = field(default_factory=list)
    watcher: asyncio.Task[None] | None = None
    destroying: asyncio.Task[None] | None = None


class DockerContainerizer:
    """Runs each container as a Docker container of a Docker engine (`config.docker_host`).

    The engine is reached lazily, at the first call that needs it; `check()` reaches it at once
    (the agent calls it at start) and raises `IsolationError` when it cannot.

    Example:
        >>> c = DockerContainerizer(ContainerizerConfig(Path("/tmp/rt")))
        >>> c.containers(), c.url
        ([], 'unix:///var/run/docker.sock')
    """

    def __init__(self, config: ContainerizerConfig, clock: Clock | None = None) -> None:
        self._config = config
        self._clock = clock or SystemClock()
        self.url = config.docker_host or DEFAULT_DOCKER_HOST
        self._client: Any = None
        self._client_lock = asyncio.Lock()
        self._containers: dict[str, _Container] = {}
        self._ended: OrderedDict[str, Termination] = OrderedDict()

    # -- the engine --

    async def check(self) -> None:
        """Reach the engine now; `IsolationError` saying how to fix it when it cannot."""
        client = await self._engine()
        try:
            await asyncio.to_thread(client.ping)
        except (docker.errors.DockerException, requests.RequestException) as e:
            raise self._unreachable(e) from None

    def _unreachable(self, e: BaseException) -> IsolationError:
        return IsolationError(
            f"cannot reach the Docker engine at {self.url}: {e}; "
            "start dockerd or pass --docker-host"
        )

    async def _engine(self) -> Any:
        async with self._client_lock:
            if self._client is None:
                try:
                    self._client = await asyncio.to_thread(docker.DockerClient, base_url=self.url)
                except (docker.errors.DockerException, requests.RequestException) as e:
                    raise self._unreachable(e) from None
            return self._client

    async def _call(self, what: str, f: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Run a blocking SDK call in a thread; engine errors become `IsolationError`."""
        try:
            return await asyncio.to_thread(f, *args, **kwargs)
        except docker.errors.NotFound:
            raise
        except docker.errors.APIError as e:
            raise IsolationError(f"cannot {what}: {e.explanation or e}") from None
        except (docker.errors.DockerException, requests.RequestException) as e:
            raise self._unreachable(e) from None

    def _runtime(self, container_id: str) -> Path:
        return self._config.runtime_dir / container_id

    # -- launch --

    async def launch(self, spec: LaunchSpec) -> int | None:
        kwargs = docker_run_kwargs(spec, self._config)
        cid = spec.container_id
        if cid in self._containers:
            raise ConflictError(f"container {cid} already exists")
        assert spec.container.docker is not None  # docker_run_kwargs checked it
        client = await self._engine()
        await self._ensure_image(client, spec.container.docker.image, spec)
        runtime = self._runtime(cid)
        try:
            spec.sandbox.mkdir(parents=True, exist_ok=True)
            for p in (spec.stdout_path, spec.stderr_path):
                p.parent.mkdir(parents=True, exist_ok=True)
                p.touch()
            runtime.mkdir(parents=True, exist_ok=True)
            meta = {
                "stdout": str(spec.stdout_path),
                "stderr": str(spec.stderr_path),
                "mem_mb": spec.resources.scalar("mem"),
                "mem_limit_bytes": kwargs.get("mem_limit"),
            }
            (runtime / _META).write_text(json.dumps(meta))
            for stale in ("stdout.since", "stderr.since", _KILLED):
                (runtime / stale).unlink(missing_ok=True)
        except OSError as e:
            raise IsolationError(f"cannot prepare container {cid}: {e}") from None
        docker_id: str | None = None
        try:
            created = await self._call(
                f"create container {cid}", client.containers.create, **kwargs
            )
            docker_id = str(created.id)
            await self._call(f"start container {cid}", client.api.start, docker_id)
            state = (await self._call("inspect", client.api.inspect_container, docker_id))["State"]
        except (IsolationError, docker.errors.NotFound) as e:
            if docker_id is not None:
                with contextlib.suppress(Exception):
                    await asyncio.to_thread(client.api.remove_container, docker_id, force=True)
            shutil.rmtree(runtime, ignore_errors=True)
            if isinstance(e, IsolationError):
                raise
            raise IsolationError(f"cannot launch container {cid}: {e}") from None
        pid = int(state.get("Pid") or 0) or None
        c = _Container(cid, docker_id, pid, asyncio.get_running_loop().create_future())
        c.mem_mb = spec.resources.scalar("mem")
        self._attach(c, client, spec.stdout_path, spec.stderr_path, resume=False)
        log.info("launched container %s (docker %s, pid %s)", cid, docker_id[:12], pid)
        return pid

    async def _ensure_image(self, client: Any, image: str, spec: LaunchSpec) -> None:
        assert spec.container.docker is not None
        if not spec.container.docker.force_pull_image:
            try:
                await asyncio.to_thread(client.images.get, image)
                return
            except docker.errors.ImageNotFound:
                pass
            except docker.errors.APIError as e:
                raise IsolationError(f"cannot inspect image {image}: {e.explanation}") from None
            except (docker.errors.DockerException, requests.RequestException) as e:
                raise self._unreachable(e) from None
        repo, tag = docker.utils.parse_repository_tag(image)
        try:
            await asyncio.to_thread(client.images.pull, repo, tag=tag or "latest")
        except docker.errors.APIError as e:
            raise IsolationError(f"cannot pull image {image}: {e.explanation or e}") from None
        except (docker.errors.DockerException, requests.RequestException) as e:
            raise self._unreachable(e) from None

    def _attach(self, c: _Container, client: Any, stdout: Path, stderr: Path, resume: bool) -> None:
        runtime = self._runtime(c.container_id)
        for stream, path in (("stdout", stdout), ("stderr", stderr)):
            stamp_file = runtime / f"{stream}.since"
            since = _read_stamp(stamp_file) if resume else None
            pump = _LogPump(client.api, c.docker_id, stream, path, stamp_file, since)
            pump.start(f"docker-logs-{stream}-{c.container_id}")
            c.pumps.append(pump)
        c.watcher = asyncio.create_task(self._watch(c, client), name=f"watch-{c.container_id}")
        self._containers[c.container_id] = c

    async def _watch(self, c: _Container, client: Any) -> None:
        status: int | None = None
        loop = asyncio.get_running_loop()
        while True:
            asked = loop.time()
            try:
                res = await asyncio.to_thread(client.api.wait, c.docker_id, timeout=_WAIT_POLL)
                status = int(res.get("StatusCode", 0))
                break
            except docker.errors.NotFound:
                break
            except (docker.errors.DockerException, requests.RequestException) as e:
                # The wait timed out (ask again), or the engine is away (ask again, slower).
                if loop.time() - asked < _WAIT_POLL / 2:
                    log.warning("waiting for container %s: %s", c.container_id, e)
                    await asyncio.sleep(1.0)
        try:
            info = await asyncio.to_thread(client.api.inspect_container, c.docker_id)
            state: dict[str, Any] = info["State"]
        except (docker.errors.DockerException, requests.RequestException):
            state = {"ExitCode": status}
        for pump in c.pumps:
            await asyncio.to_thread(pump.join, _DRAIN_TIMEOUT)
        if not c.done.done():
            c.done.set_result(self._termination(c, state))

    def _termination(self, c: _Container, state: dict[str, Any]) -> Termination:
        code = state.get("ExitCode")
        if code is None:
            return Termination(None, signal.SIGKILL, "Container was removed")
        code = int(code)
        if state.get("OOMKilled"):
            used = f"Requested: {c.mem_mb:g}MB" if c.mem_mb else "no memory requested"
            # A killed main process ends by its signal; a shell that survived its OOM-killed
            # child still failed (Mesos kills the whole container on a memory limitation).
            sig = code - 128 if code > 128 else (signal.SIGKILL if code == 0 else None)
            return Termination(
                None if sig else code,
                sig,
                f"Memory limit exceeded: {used}; the kernel's OOM killer killed a process"
                f" of the container (exit status {code})",
                REASON_CONTAINER_LIMITATION_MEMORY,
            )
        if c.killed and 128 < code < 128 + 65:
            sig = code - 128
            return Termination(None, sig, f"Command terminated with signal {signal_name(sig)}")
        return Termination.from_returncode(code)

    # -- wait, destroy --

    async def wait(self, container_id: str) -> Termination:
        c = self._containers.get(container_id)
        if c is None:
            ended = self._ended.get(container_id)
            if ended is not None:
                return ended
            raise NotFoundError(f"unknown container {container_id}")
        return await asyncio.shield(c.done)

    async def destroy(self, container_id: str, grace_period: float) -> None:
        c = self._containers.get(container_id)
        if c is None:
            return
        if c.destroying is None:
            c.destroying = asyncio.create_task(self._destroy(c, grace_period))
        task = c.destroying
        try:
            await asyncio.shield(task)
        except IsolationError:
            if c.destroying is task:
                c.destroying = None  # a later destroy tries again
            raise

    async def _destroy(self, c: _Container, grace_period: float) -> None:
        client = await self._engine()
        cid = c.container_id
        if not c.done.done():
            c.killed = True
            with contextlib.suppress(OSError):
                (self._runtime(cid) / _KILLED).touch()
            grace = max(0, math.ceil(grace_period))
            with contextlib.suppress(docker.errors.NotFound):
                await self._call(f"stop container {cid}", client.api.stop, c.docker_id, grace)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(c.done), _STOP_SLACK)
        with contextlib.suppress(docker.errors.NotFound):
            await self._call(
                f"remove container {cid}", client.api.remove_container, c.docker_id, force=True
            )
        if not c.done.done():
            c.done.set_result(Termination(None, signal.SIGKILL, "Container was removed"))
        if c.watcher is not None and not c.watcher.done():
            c.watcher.cancel()
        for pump in c.pumps:  # they end with the container; they must not outlive its files
            pump.stop()
            await asyncio.to_thread(pump.join, _DRAIN_TIMEOUT)
        self._ended[cid] = c.done.result()
        while len(self._ended) > _ENDED_KEPT:
            self._ended.popitem(last=False)
        self._containers.pop(cid, None)
        shutil.rmtree(self._runtime(cid), ignore_errors=True)
        log.info("destroyed container %s", cid)

    async def close(self) -> None:
        """Let go of the containers without stopping them, as an agent that stops does.

        The log pumps stop (after saving how far they got) and `wait` no longer returns; a new
        containerizer with the same `runtime_dir` recovers the containers.
        """
        for c in list(self._containers.values()):
            if c.watcher is not None:
                c.watcher.cancel()
            for pump in c.pumps:
                pump.stop()
            for pump in c.pumps:
                await asyncio.to_thread(pump.join, _DRAIN_TIMEOUT)
        self._containers.clear()
        if self._client is not None:
            await asyncio.to_thread(self._client.close)
            self._client = None

    # -- usage, containers, recover --

    async def usage(self, container_id: str) -> dict[str, Any]:
        c = self._containers.get(container_id)
        if c is None:
            raise NotFoundError(f"unknown container {container_id}")
        client = await self._engine()
        try:
            stats = await self._call(
                f"read statistics of {container_id}",
                client.api.stats,
                c.docker_id,
                stream=False,
                one_shot=True,
            )
        except docker.errors.NotFound:
            raise NotFoundError(f"container {container_id} is gone") from None
        return usage_from_stats(stats, self._clock.time())

    def containers(self) -> list[str]:
        return [cid for cid, c in self._containers.items() if c.destroying is None]

    async def recover(self, keep: Collection[str]) -> set[str]:
        client = await self._engine()
        found = await self._call(
            "list containers",
            client.api.containers,
            all=True,
            filters={"label": f"{LABEL_AGENT}={agent_label(self._config)}"},
        )
        recovered: set[str] = set()
        for entry in found:
            cid = (entry.get("Labels") or {}).get(LABEL_CONTAINER_ID, "")
            docker_id = str(entry["Id"])
            if cid and cid in keep and cid not in self._containers:
                try:
                    info = await self._call("inspect", client.api.inspect_container, docker_id)
                except docker.errors.NotFound:
                    continue
                self._reattach(cid, info, client)
                recovered.add(cid)
                continue
            log.info("removing orphan container %s (%s)", cid or "?", docker_id[:12])
            with contextlib.suppress(docker.errors.NotFound):
                await self._call(
                    f"remove orphan {docker_id[:12]}",
                    client.api.remove_container,
                    docker_id,
                    force=True,
                )
            if cid and cid not in keep:
                shutil.rmtree(self._runtime(cid), ignore_errors=True)
        return recovered

    def _reattach(self, cid: str, info: dict[str, Any], client: Any) -> None:
        runtime = self._runtime(cid)
        try:
            meta = json.loads((runtime / _META).read_text())
        except (OSError, ValueError):
            meta = {}
        sandbox = next(
            (
                Path(m["Source"])
                for m in info.get("Mounts") or []
                if m.get("Destination") == SANDBOX_PATH and m.get("Source")
            ),
            None,
        )
        stdout = meta.get("stdout") or (str(sandbox / "stdout") if sandbox else None)
        stderr = meta.get("stderr") or (str(sandbox / "stderr") if sandbox else None)
        state = info.get("State") or {}
        pid = int(state.get("Pid") or 0) or None
        c = _Container(cid, str(info["Id"]), pid, asyncio.get_running_loop().create_future())
        c.mem_mb = float(meta.get("mem_mb") or 0.0)
        c.killed = (runtime / _KILLED).exists()
        runtime.mkdir(parents=True, exist_ok=True)
        if stdout is None or stderr is None:  # no sandbox known: the logs stay in the engine
            stdout = stderr = os.devnull
        self._attach(c, client, Path(stdout), Path(stderr), resume=True)
        log.info("recovered container %s (docker %s, pid %s)", cid, c.docker_id[:12], pid)


def usage_from_stats(stats: dict[str, Any], timestamp: float) -> dict[str, Any]:
    """Map a Docker stats sample (cgroup v1 or v2) to Mesos `ResourceStatistics` names.

    Example:
        >>> s = {"cpu_stats": {"cpu_usage": {"usage_in_usermode": 2_500_000_000}},
        ...      "memory_stats": {"usage": 4096, "limit": 8192, "stats": {"total_rss": 1024}}}
        >>> u = usage_from_stats(s, 1.0)
        >>> u["cpus_user_time_secs"], u["mem_rss_bytes"], u["mem_limit_bytes"]
        (2.5, 1024, 8192)
    """
    cpu = stats.get("cpu_stats") or {}
    cpu_usage = cpu.get("cpu_usage") or {}
    mem = stats.get("memory_stats") or {}
    mstats = mem.get("stats") or {}
    out: dict[str, Any] = {
        "timestamp": timestamp,
        "cpus_user_time_secs": round(cpu_usage.get("usage_in_usermode", 0) / 1e9, 3),
        "cpus_system_time_secs": round(cpu_usage.get("usage_in_kernelmode", 0) / 1e9, 3),
        "mem_total_bytes": int(mem.get("usage", 0)),
        "mem_rss_bytes": int(mstats.get("total_rss", mstats.get("rss", mstats.get("anon", 0)))),
    }
    if "limit" in mem:
        out["mem_limit_bytes"] = int(mem["limit"])
    cache = mstats.get("total_cache", mstats.get("cache", mstats.get("file")))
    if cache is not None:
        out["mem_cache_bytes"] = int(cache)
    throttling = cpu.get("throttling_data")
    if throttling:
        out["cpus_nr_periods"] = int(throttling.get("periods", 0))
        out["cpus_nr_throttled"] = int(throttling.get("throttled_periods", 0))
        out["cpus_throttled_time_secs"] = round(throttling.get("throttled_time", 0) / 1e9, 3)
    pids = (stats.get("pids_stats") or {}).get("current")
    if pids is not None:
        out["processes"] = int(pids)
    return out
