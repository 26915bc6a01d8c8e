"""`DockerContainerizer`: each container is a Docker container run by a Docker engine.

What Mesos' Docker containerizer does, through the Docker Engine API (the `docker` SDK) instead of
the `docker` CLI:

* the image is pulled only when it is missing locally or `force_pull_image` is set;
* the container is created from the task's `docker run` arguments (`docker_run`: name, labels,
  sandbox mount, resources, parameters);
* the container's stdout/stderr are appended to the sandbox files by one log pump thread per
  stream (`docker_logs`), which records how far it got so that a restarted agent resumes where
  it stopped;
* a restarted agent finds its own containers by the `dcos_core.agent` label;
* `destroy` is `docker stop -t <grace>` (SIGTERM, SIGKILL after the grace period) and `docker rm`.

All blocking SDK calls run in threads (`asyncio.to_thread`); the log pumps are daemon threads.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import os
import shutil
import signal
from collections import OrderedDict
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import docker
import docker.errors
import requests

from dcos_core.clock import Clock, SystemClock
from dcos_core.containerizer import bookkeeping
from dcos_core.containerizer.docker_logs import LogPump, read_stamp
from dcos_core.containerizer.docker_run import (
    LABEL_AGENT,
    LABEL_CONTAINER_ID,
    SANDBOX_PATH,
    agent_label,
    docker_info,
    docker_run_kwargs,
)
from dcos_core.containerizer.spec import (
    REASON_CONTAINER_LIMITATION_MEMORY,
    ContainerizerConfig,
    LaunchSpec,
    Termination,
    signal_name,
)
from dcos_core.errors import IsolationError, NotFoundError

log = logging.getLogger("dcos_core.containerizer.docker")

DEFAULT_DOCKER_HOST: Final = "unix:///var/run/docker.sock"

_WAIT_POLL: Final = 5  # seconds one blocking `wait` call lasts before it is asked again
_DRAIN_TIMEOUT: Final = 5.0  # how long the end of a container waits for its log pumps
_STOP_SLACK: Final = 15.0  # beyond the grace period: how long `docker stop` may take
_ENDED_KEPT: Final = 1000  # terminations of destroyed containers that `wait` still returns
_META: Final = "docker.json"
_KILLED: Final = "killed"


@dataclass
class _Container:
    container_id: str
    docker_id: str
    pid: int | None
    done: asyncio.Future[Termination]
    mem_mb: float = 0.0
    killed: bool = False
    pumps: list[LogPump] = field(default_factory=list)
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
        bookkeeping.check_new(self._containers, cid)
        info = docker_info(spec)
        client = await self._engine()
        await self._ensure_image(client, info.image, force_pull=info.force_pull_image)
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

    async def _ensure_image(self, client: Any, image: str, *, force_pull: bool) -> None:
        """Pull `image` if it is not there (or always, with `force_pull`)."""
        if not force_pull:
            with contextlib.suppress(docker.errors.NotFound):  # not there: pull it
                await self._call(f"inspect image {image}", client.images.get, image)
                return
        repo, tag = docker.utils.parse_repository_tag(image)
        try:
            await self._call(f"pull image {image}", client.images.pull, repo, tag=tag or "latest")
        except docker.errors.NotFound as e:  # `_call` leaves a 404 to its caller
            raise IsolationError(f"cannot pull image {image}: {e.explanation or e}") from None

    def _attach(self, c: _Container, client: Any, stdout: Path, stderr: Path, resume: bool) -> None:
        runtime = self._runtime(c.container_id)
        for stream, path in (("stdout", stdout), ("stderr", stderr)):
            stamp_file = runtime / f"{stream}.since"
            since = read_stamp(stamp_file) if resume else None
            pump = LogPump(client.api, c.docker_id, stream, path, stamp_file, since)
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
        return await bookkeeping.wait_done(c)

    async def destroy(self, container_id: str, grace_period: float) -> None:
        c = self._containers.get(container_id)
        if c is None:
            return
        try:
            await bookkeeping.destroy_once(c, lambda: self._destroy(c, grace_period))
        except IsolationError:
            if c.destroying is not None and c.destroying.done():
                c.destroying = None  # the engine refused: a later destroy tries again
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
        c = bookkeeping.known(self._containers, container_id)
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
        return bookkeeping.live(self._containers)

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
