"""Marathon health checks: the per-check state machine, the probes, and the scheduler.

Semantics follow mesosphere/marathon `core/health/impl/HealthCheckActor.scala`,
`HealthCheckWorkerActor.scala`, `core/health/Health.scala` and `HealthCheck.scala`:

* A result updates the health: success sets `alive`, resets `consecutiveFailures` to 0 and sets
  `firstSuccess` (once) and `lastSuccess`; a failure clears `alive`, adds one to
  `consecutiveFailures` and sets `lastFailure` and `lastFailureCause`.
* Grace period (`ignoreFailures`): while the task has never succeeded and less than
  `gracePeriodSeconds` have passed since it started, a failure is ignored entirely (the health is
  not updated at all). After the first success, failures always count.
* Kill (`checkConsecutiveFailures`): Marathon compares the count *before* the failing result with
  `maxConsecutiveFailures`, so the task is killed on the failure that makes the count exceed it
  ("more than maxConsecutiveFailures in a row", docs/health-checks.md): with 3, on the 4th
  failure. `maxConsecutiveFailures = 0` means never kill.
* Scheduling: Marathon runs the first check after `min(intervalSeconds, 5 s)`
  (`DefaultFirstHealthCheckAfter`), then every `intervalSeconds`; `delaySeconds` is a Mesos-side
  option, so we honour it only for COMMAND (and MESOS_*) checks, as the first delay.
* HTTP/HTTPS pass on a status in 200..399 received within `timeoutSeconds`; with `ignoreHttp1xx`
  a 1xx status gives no result at all (the worker answers `None`). HTTPS does not verify
  certificates (Marathon's worker trusts all). TCP passes when a connection opens in time.
* Alive-change callbacks fire only when `alive` flips (HealthStatusChanged /
  InstanceHealthChanged are published only then).

Deviations:

* COMMAND (and MESOS_HTTP/MESOS_HTTPS/MESOS_TCP) checks are run by Mesos on the agent, inside the
  task's container. Ours run on the Marathon host (`/bin/sh -c`), with `HOST`, `PORT`, `PORT0..n`
  and `PORTS` of the task in the environment, so a command can reach the task through them.
* One set of rules for all protocols: Mesos kills on `consecutive_failures` (so 0 there means
  "kill on the first failure"); we use Marathon's rule above for every check.
* Checks of one task run concurrently with those of other tasks, at most `max_concurrent` probes
  at a time (Marathon's `--max_concurrent_marathon_health_checks`, default 256).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

import httpx

from dcos_core.clock import Clock, SystemClock
from dcos_core.frameworks.marathon.models import HealthResult

log = logging.getLogger("dcos_core.marathon.health")

#: Marathon's `HealthCheck.DefaultFirstHealthCheckAfter`.
FIRST_CHECK_AFTER = 5.0

#: A probe's answer: (True, None) passed; (False, cause) failed; (None, cause) no result (ignored).
ProbeResult = tuple[bool | None, str | None]

OnChange = Callable[[str, int, HealthResult], None]
OnKill = Callable[[str, str], None]
Sleep = Callable[[float], Awaitable[None]]


class HealthCheckLike(Protocol):
    """What the checker reads from a health check (models.HealthCheck)."""

    @property
    def protocol(self) -> str: ...
    @property
    def path(self) -> str | None: ...
    @property
    def port_index(self) -> int | None: ...
    @property
    def port(self) -> int | None: ...
    @property
    def command(self) -> Mapping[str, Any] | None: ...
    @property
    def grace_period_seconds(self) -> float: ...
    @property
    def interval_seconds(self) -> float: ...
    @property
    def timeout_seconds(self) -> float: ...
    @property
    def max_consecutive_failures(self) -> int: ...
    @property
    def ignore_http1xx(self) -> bool: ...
    @property
    def delay_seconds(self) -> float: ...


class InstanceLike(Protocol):
    """What the checker reads from an instance (models.Instance)."""

    @property
    def task_id(self) -> str: ...
    @property
    def host(self) -> str: ...
    @property
    def ports(self) -> Sequence[int]: ...


# --- the state machine -----------------------------------------------------------------------


class HealthState:
    """The health of one task for one check (pure; times are wall-clock seconds).

    Example:
        >>> from types import SimpleNamespace as S
        >>> hc = S(grace_period_seconds=10, max_consecutive_failures=2)
        >>> s = HealthState(hc, started_at=0.0, task_id="t")
        >>> s.on_result(False, 5.0, "down")   # in the grace period: ignored
        >>> s.consecutive_failures, s.healthy
        (0, False)
        >>> for t in (11.0, 12.0, 13.0): s.on_result(False, t, "down")
        >>> s.consecutive_failures, s.should_kill(13.0)
        (3, True)
    """

    def __init__(self, check: Any, started_at: float, task_id: str = "") -> None:
        self.task_id = task_id
        self.started_at = started_at
        self.grace_period_seconds = float(check.grace_period_seconds)
        self.max_consecutive_failures = int(check.max_consecutive_failures)
        self.alive = False
        self.consecutive_failures = 0
        self.first_success: float | None = None
        self.last_success: float | None = None
        self.last_failure: float | None = None
        self.last_failure_cause: str | None = None

    @property
    def healthy(self) -> bool:
        """The last counted result passed."""
        return self.alive

    def in_grace_period(self, now: float) -> bool:
        """Failures are ignored: never succeeded, and started less than the grace period ago."""
        return self.first_success is None and now < self.started_at + self.grace_period_seconds

    def on_result(self, ok: bool, now: float, cause: str | None = None) -> None:
        if ok:
            self.alive = True
            self.consecutive_failures = 0
            if self.first_success is None:
                self.first_success = now
            self.last_success = now
            return
        if self.in_grace_period(now):
            return
        self.alive = False
        self.consecutive_failures += 1
        self.last_failure = now
        self.last_failure_cause = cause

    def should_kill(self, now: float) -> bool:
        """More than `max_consecutive_failures` counted failures in a row (0: never)."""
        limit = self.max_consecutive_failures
        return limit > 0 and self.consecutive_failures > limit and not self.in_grace_period(now)

    def result(self) -> HealthResult:
        return HealthResult(
            task_id=self.task_id,
            alive=self.alive,
            consecutive_failures=self.consecutive_failures,
            first_success=self.first_success,
            last_success=self.last_success,
            last_failure=self.last_failure,
            last_failure_cause=self.last_failure_cause,
        )


# --- probes ----------------------------------------------------------------------------------


async def probe_http(
    host: str,
    port: int,
    path: str | None,
    timeout: float,
    https: bool = False,
    ignore_http1xx: bool = False,
    client: httpx.AsyncClient | None = None,
) -> ProbeResult:
    """GET `http(s)://host:port/path`: passes on 200..399; (None, ...) for an ignored 1xx."""
    p = path or "/"
    if not p.startswith("/"):
        p = "/" + p
    url = f"{'https' if https else 'http'}://{_host_for_url(host)}:{port}{p}"
    try:
        if client is None:
            async with httpx.AsyncClient(verify=False, follow_redirects=False) as c:
                response = await c.get(url, timeout=timeout)
        else:
            response = await client.get(url, timeout=timeout)
    except httpx.TimeoutException:
        return False, f"health check timed out after {timeout:g}s"
    except (httpx.HTTPError, OSError) as e:
        return False, f"{type(e).__name__}: {e}" if str(e) else type(e).__name__
    status = response.status_code
    if 200 <= status < 400:
        return True, None
    cause = f"{status} {response.reason_phrase}".strip()
    if 100 <= status < 200 and ignore_http1xx:
        return None, cause
    return False, cause


async def probe_tcp(host: str, port: int, timeout: float) -> ProbeResult:
    """Passes when a TCP connection to `host:port` opens within `timeout` seconds."""
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
    except TimeoutError:
        return False, f"connection timed out after {timeout:g}s"
    except OSError as e:
        return False, e.strerror or str(e) or type(e).__name__
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return True, None


async def probe_command(
    command: str, timeout: float, env: Mapping[str, str] | None = None
) -> ProbeResult:
    """Runs `/bin/sh -c command` on this host: passes on exit status 0 within `timeout`.

    Mesos runs COMMAND checks inside the task's container; ours run where Marathon runs, with the
    process environment plus `env`. On timeout the whole process group is killed.
    """
    full_env = {**os.environ, **(env or {})}
    try:
        proc = await asyncio.create_subprocess_exec(
            "/bin/sh",
            "-c",
            command,
            env=full_env,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
            start_new_session=True,
        )
    except OSError as e:
        return False, f"cannot run the command: {e}"
    try:
        rc = await asyncio.wait_for(proc.wait(), timeout)
    except TimeoutError:
        _kill_group(proc.pid)
        await proc.wait()
        return False, f"command timed out after {timeout:g}s"
    except asyncio.CancelledError:
        _kill_group(proc.pid)
        raise
    if rc == 0:
        return True, None
    if rc < 0:
        return False, f"command killed by signal {-rc}"
    return False, f"command exited with status {rc}"


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


def _host_for_url(host: str) -> str:
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


# --- the scheduler ---------------------------------------------------------------------------

Probe = Callable[[HealthCheckLike, str, int | None, Mapping[str, str]], Awaitable[ProbeResult]]


async def run_probe(
    check: HealthCheckLike, host: str, port: int | None, env: Mapping[str, str]
) -> ProbeResult:
    """The probe `check.protocol` asks for, on `host:port` (MESOS_* run here like the others)."""
    protocol = (check.protocol or "HTTP").upper()
    timeout = float(check.timeout_seconds)
    if protocol == "COMMAND":
        value = (check.command or {}).get("value")
        if not value:
            return False, "COMMAND health check without a command value"
        return await probe_command(str(value), timeout, env)
    if port is None:
        return False, "no port to check"
    if protocol in ("HTTP", "HTTPS", "MESOS_HTTP", "MESOS_HTTPS"):
        return await probe_http(
            host,
            port,
            check.path,
            timeout,
            https=protocol.endswith("HTTPS"),
            ignore_http1xx=bool(check.ignore_http1xx),
        )
    if protocol in ("TCP", "MESOS_TCP"):
        return await probe_tcp(host, port, timeout)
    return False, f"unsupported health check protocol {protocol}"


def check_port(instance: InstanceLike, check: HealthCheckLike) -> int | None:
    """`check.port` if set, else `instance.ports[check.port_index or 0]` (None if missing)."""
    if check.port:
        return int(check.port)
    index = check.port_index or 0
    ports = list(instance.ports or ())
    return int(ports[index]) if 0 <= index < len(ports) else None


def first_delay(check: HealthCheckLike) -> float:
    """Seconds before the first probe: Mesos' `delaySeconds` for Mesos-run checks, else
    Marathon's `min(intervalSeconds, 5)`."""
    protocol = (check.protocol or "HTTP").upper()
    if protocol == "COMMAND" or protocol.startswith("MESOS_"):
        return max(0.0, float(check.delay_seconds))
    return max(0.0, min(float(check.interval_seconds), FIRST_CHECK_AFTER))


def _started_at(instance: InstanceLike, clock: Clock) -> float:
    value = getattr(instance, "started_at", None)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str) and value:
        with contextlib.suppress(ValueError):
            return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    return clock.time()


def task_env(instance: InstanceLike) -> dict[str, str]:
    """The environment of a COMMAND check run here: `HOST`, `PORT`, `PORT0..n`, `PORTS`."""
    ports = [str(p) for p in (instance.ports or ())]
    env = {"HOST": instance.host, "PORTS": ",".join(ports)}
    for i, p in enumerate(ports):
        env[f"PORT{i}"] = p
    if ports:
        env["PORT"] = ports[0]
    return env


@dataclass
class _Watched:
    states: list[HealthState]
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    killed: bool = False


class HealthChecker:
    """Runs an app's health checks against its tasks, one asyncio task per (task, check).

    `start(instance, checks, on_change, on_kill)` begins checking a task (call it when the task is
    RUNNING); `stop(task_id)` ends it (call it when the task is terminal). `on_change(task_id,
    index, result)` runs when a check's `alive` flips; `on_kill(task_id, reason)` runs once per
    task, when a check failed more than `maxConsecutiveFailures` times in a row; that check then
    stops probing (the caller kills the task and calls `stop`).
    """

    def __init__(
        self,
        clock: Clock | None = None,
        sleep: Sleep = asyncio.sleep,
        *,
        probe: Probe = run_probe,
        max_concurrent: int = 256,
    ) -> None:
        self._clock: Clock = clock or SystemClock()
        self._sleep = sleep
        self._probe = probe
        self._limit = asyncio.Semaphore(max_concurrent)
        self._watched: dict[str, _Watched] = {}

    def start(
        self,
        instance: InstanceLike,
        checks: Sequence[HealthCheckLike],
        on_change: OnChange,
        on_kill: OnKill,
    ) -> None:
        task_id = instance.task_id
        self.stop(task_id)
        started_at = _started_at(instance, self._clock)
        watched = _Watched(states=[HealthState(c, started_at, task_id) for c in checks])
        self._watched[task_id] = watched
        env = task_env(instance)
        for index, check in enumerate(checks):
            loop = self._loop(
                watched,
                index,
                check,
                instance.host,
                check_port(instance, check),
                env,
                on_change,
                on_kill,
            )
            watched.tasks.append(asyncio.create_task(loop, name=f"health {task_id} #{index}"))

    def stop(self, task_id: str) -> None:
        watched = self._watched.pop(task_id, None)
        if watched is not None:
            for t in watched.tasks:
                t.cancel()

    def results(self, task_id: str) -> list[HealthResult]:
        watched = self._watched.get(task_id)
        return [] if watched is None else [s.result() for s in watched.states]

    def watching(self) -> list[str]:
        return list(self._watched)

    async def close(self) -> None:
        tasks = [t for w in self._watched.values() for t in w.tasks]
        self._watched.clear()
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _loop(
        self,
        watched: _Watched,
        index: int,
        check: HealthCheckLike,
        host: str,
        port: int | None,
        env: Mapping[str, str],
        on_change: OnChange,
        on_kill: OnKill,
    ) -> None:
        state = watched.states[index]
        task_id = state.task_id
        await self._sleep(first_delay(check))
        while True:
            try:
                async with self._limit:
                    ok, cause = await self._probe(check, host, port, env)
            except asyncio.CancelledError:
                raise
            except Exception as e:  # a broken probe is a failed check, never a dead loop
                log.exception("health check %s #%d of %s raised", check.protocol, index, task_id)
                ok, cause = False, f"{type(e).__name__}: {e}"
            if ok is not None:
                now = self._clock.time()
                was_alive = state.alive
                state.on_result(ok, now, cause)
                if state.alive != was_alive:
                    _call(on_change, task_id, index, state.result())
                if state.should_kill(now):
                    if not watched.killed:
                        watched.killed = True
                        _call(on_kill, task_id, state.last_failure_cause or "unknown")
                    return
            await self._sleep(max(0.0, float(check.interval_seconds)))


def _call(fn: Callable[..., None], *args: Any) -> None:
    try:
        fn(*args)
    except Exception:
        log.exception("health check callback %r failed", fn)
