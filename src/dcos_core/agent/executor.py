"""The built-in command executor, run inside the agent's event loop (Mesos `executor.cpp`).

One `CommandExecutor` per task (executor id = task id): it builds the sandbox and environment,
launches the task's command through the `Containerizer`, and reports TASK_STARTING,
TASK_RUNNING, then TASK_FINISHED / TASK_FAILED / TASK_KILLED through the injected `emit`.
The builders (`sandbox_dir`, `build_environment`, `command_of`, `build_launch_spec`) are pure.
"""

from __future__ import annotations

import asyncio
import logging
import pwd
import re
import uuid as _uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from dcos_core.clock import Clock
from dcos_core.containerizer.base import Containerizer
from dcos_core.containerizer.spec import (
    REASON_COMMAND_EXECUTOR_FAILED,
    REASON_CONTAINER_LAUNCH_FAILED,
    REASON_EXECUTOR_TERMINATED,
    REASON_TASK_INVALID,
    LaunchSpec,
    Termination,
    container_info_from_v1,
)
from dcos_core.errors import DcosError, InvalidError
from dcos_core.model.task import TaskState
from dcos_core.protocol.v1 import new_status_uuid, task_status, unwrap, wrap
from dcos_core.resources import Resources

log = logging.getLogger("dcos_core.agent.executor")

DEFAULT_PATH: Final = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
TASK_KILLING_STATE: Final = "TASK_KILLING_STATE"
REASON_TASK_KILLED_DURING_LAUNCH: Final = "REASON_TASK_KILLED_DURING_LAUNCH"
SOURCE_EXECUTOR: Final = "SOURCE_EXECUTOR"
SOURCE_AGENT: Final = "SOURCE_AGENT"

Emit = Callable[[dict[str, Any]], None]
"""Receives every v1 TaskStatus the executor produces (with a fresh uuid each)."""


@dataclass(frozen=True)
class ExecutorContext:
    """What every executor of this agent shares."""

    agent_id: str
    hostname: str
    work_dir: Path
    default_grace_period: float
    path: str = DEFAULT_PATH
    default_user: str | None = None


# ---- pure builders ---------------------------------------------------------------------------


def sandbox_dir(
    work_dir: Path, agent_id: str, framework_id: str, executor_id: str, container_id: str
) -> Path:
    """`work_dir/slaves/<agent>/frameworks/<fw>/executors/<executor>/runs/<container>` (Mesos)."""
    return (
        work_dir
        / "slaves"
        / agent_id
        / "frameworks"
        / framework_id
        / "executors"
        / executor_id
        / "runs"
        / container_id
    )


def task_ports(task: dict[str, Any]) -> list[int]:
    """The task's ports, in the order its `ports` resources list them."""
    out: list[int] = []
    for r in task.get("resources") or []:
        if isinstance(r, dict) and r.get("name") == "ports":
            for rng in (r.get("ranges") or {}).get("range") or []:
                out.extend(range(int(rng["begin"]), int(rng["end"]) + 1))
    return out


def named_ports(task: dict[str, Any]) -> dict[str, int]:
    """`discovery.ports` entries that have a name: `{"HTTP": 31001}` (names upper-cased, non
    alphanumerics replaced by `_`, as environment variable names)."""
    out: dict[str, int] = {}
    ports = ((task.get("discovery") or {}).get("ports") or {}).get("ports") or []
    for p in ports:
        if isinstance(p, dict) and p.get("name") and "number" in p:
            out[re.sub(r"[^A-Za-z0-9_]", "_", str(p["name"])).upper()] = int(p["number"])
    return out


def build_environment(
    task: dict[str, Any],
    *,
    ctx: ExecutorContext,
    framework_id: str,
    container_id: str,
    sandbox: Path,
) -> dict[str, str]:
    """The command's whole environment: agent-provided variables, then the task's own.

    Example:
        >>> ctx = ExecutorContext("S1", "h", Path("/w"), 3.0)
        >>> ports = {"range": [{"begin": 80, "end": 81}]}
        >>> t = {"task_id": {"value": "t"}, "resources": [{"name": "ports", "ranges": ports}]}
        >>> env = build_environment(
        ...     t, ctx=ctx, framework_id="f", container_id="c", sandbox=Path("/s"))
        >>> env["PORT1"], env["PORTS"]
        ('81', '80,81')
    """
    task_id = unwrap(task.get("task_id"), "task.task_id")
    env = {
        "PATH": ctx.path,
        "HOST": ctx.hostname,
        "MESOS_TASK_ID": task_id,
        "MESOS_EXECUTOR_ID": task_id,
        "MESOS_FRAMEWORK_ID": framework_id,
        "MESOS_AGENT_ID": ctx.agent_id,
        "MESOS_SLAVE_ID": ctx.agent_id,
        "MESOS_CONTAINER_ID": container_id,
        "MESOS_SANDBOX": str(sandbox),
        "MESOS_DIRECTORY": str(sandbox),
    }
    try:
        ports = task_ports(task)
    except (KeyError, TypeError, ValueError):
        raise InvalidError("ports ranges need integer begin and end", "task.resources") from None
    for i, port in enumerate(ports):
        env[f"PORT{i}"] = str(port)
    if ports:
        env["PORT"] = str(ports[0])
        env["PORTS"] = ",".join(str(p) for p in ports)
    for name, number in named_ports(task).items():
        env[f"PORT_{name}"] = str(number)
    variables = (((task.get("command") or {}).get("environment") or {}).get("variables")) or []
    for i, var in enumerate(variables):
        field = f"task.command.environment.variables[{i}]"
        if not isinstance(var, dict) or not isinstance(var.get("name"), str) or not var["name"]:
            raise InvalidError("needs a non-empty 'name'", field)
        if var.get("type", "VALUE") != "VALUE":
            raise InvalidError(f"variables of type {var.get('type')} are not supported", field)
        env[var["name"]] = str(var.get("value", ""))
    return env


def command_of(task: dict[str, Any]) -> tuple[str | None, tuple[str, ...] | None]:
    """`(shell_command, None)` or `(None, argv)` from a v1 TaskInfo's `command` (CommandInfo).

    `shell` defaults to true: `value` runs with `/bin/sh -c`. With `shell: false`, `value` is
    the executable and `arguments` the whole argv (argv[0] included), as in Mesos.
    """
    if task.get("executor"):
        raise InvalidError("custom executors are not supported by this agent", "task.executor")
    cmd = task.get("command")
    if not isinstance(cmd, dict):
        raise InvalidError("a task needs a command", "task.command")
    value = cmd.get("value")
    if cmd.get("shell", True):
        if not isinstance(value, str) or not value.strip():
            raise InvalidError("a shell command needs a non-empty 'value'", "task.command.value")
        return value, None
    args = cmd.get("arguments") or []
    if (task.get("container") or {}).get("type") == "DOCKER" and not value:
        return None, tuple(args) if args else None  # the image's entrypoint/cmd
    if not isinstance(value, str) or not value:
        raise InvalidError("'value' must name the executable when shell is false", "task.command")
    if not all(isinstance(a, str) for a in args):
        raise InvalidError("arguments must be strings", "task.command.arguments")
    argv = tuple(args) if args else (value,)
    return None, (value, *argv[1:])


def grace_period_of(kill_policy: Any, default: float) -> float:
    """Seconds from a v1 `KillPolicy` (`grace_period.nanoseconds`), else `default`."""
    if isinstance(kill_policy, dict):
        ns = (kill_policy.get("grace_period") or {}).get("nanoseconds")
        if isinstance(ns, int | float) and ns >= 0:
            return float(ns) / 1e9
    return default


def has_capability(framework_info: dict[str, Any], name: str) -> bool:
    caps = framework_info.get("capabilities") or []
    return any(isinstance(c, dict) and c.get("type") == name for c in caps)


def limits_of(task: dict[str, Any]) -> dict[str, float]:
    """`TaskInfo.limits` (`{"cpus": {"value": 2}}`, value may be "Infinity") as floats.

    Example:
        >>> limits_of({"limits": {"cpus": {"value": 0.5}, "mem": {"value": "Infinity"}}})
        {'cpus': 0.5, 'mem': inf}
    """
    out: dict[str, float] = {}
    limits = task.get("limits") or {}
    if not isinstance(limits, dict):
        raise InvalidError("must be an object", "task.limits")
    for name, v in limits.items():
        value = v.get("value") if isinstance(v, dict) else v
        try:
            f = float(value)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            raise InvalidError('needs a number or "Infinity"', f"task.limits.{name}") from None
        if f <= 0 or f != f:
            raise InvalidError("must be positive", f"task.limits.{name}")
        out[str(name)] = f
    return out


def user_of(
    task: dict[str, Any], framework_info: dict[str, Any], default: str | None
) -> str | None:
    """The user a task runs as: `command.user`, else the framework's `user`, else `default`."""
    for candidate in ((task.get("command") or {}).get("user"), framework_info.get("user")):
        if isinstance(candidate, str) and candidate:
            return candidate
    return default


def build_launch_spec(
    task: dict[str, Any],
    *,
    ctx: ExecutorContext,
    framework_id: str,
    container_id: str,
    framework_info: dict[str, Any] | None = None,
) -> LaunchSpec:
    """Everything the containerizer needs for `task`; `InvalidError` for a task it cannot run."""
    task_id = unwrap(task.get("task_id"), "task.task_id")
    shell, argv = command_of(task)
    container = container_info_from_v1(task.get("container"))
    if shell is None and argv is None:
        argv = ()  # DOCKER without a command: the image's own entrypoint and cmd
    sandbox = sandbox_dir(ctx.work_dir, ctx.agent_id, framework_id, task_id, container_id)
    env = build_environment(
        task, ctx=ctx, framework_id=framework_id, container_id=container_id, sandbox=sandbox
    )
    resources = Resources.from_v1(task.get("resources") or [], "task.resources")
    return LaunchSpec(
        container_id,
        sandbox,
        command=shell,
        argv=argv,
        env=env,
        resources=resources,
        user=user_of(task, framework_info or {}, ctx.default_user),
        container=container,
        limits=limits_of(task),
        ports=tuple(task_ports(task)),
    )


def _check_user(name: str) -> None:
    try:
        pwd.getpwnam(name)
    except KeyError:
        raise InvalidError(f"user '{name}' does not exist on this agent", "user") from None


# ---- the executor ----------------------------------------------------------------------------


class CommandExecutor:
    """Runs one task from launch to its terminal status update."""

    def __init__(
        self,
        task: dict[str, Any],
        *,
        framework_id: str,
        framework_info: dict[str, Any],
        ctx: ExecutorContext,
        containerizer: Containerizer,
        clock: Clock,
        emit: Emit,
        container_id: str | None = None,
    ) -> None:
        self.task = task
        self.task_id = unwrap(task.get("task_id"), "task.task_id")
        self.framework_id = framework_id
        self.framework_info = framework_info
        self.container_id = container_id or str(_uuid.uuid4())
        self.sandbox = sandbox_dir(
            ctx.work_dir, ctx.agent_id, framework_id, self.task_id, self.container_id
        )
        self.pid: int | None = None
        self.state = TaskState.STAGING
        self._ctx = ctx
        self._containerizer = containerizer
        self._clock = clock
        self._emit = emit
        self._killed = False
        self._killed_launching = False  # the kill came before the container was up
        self._kill_grace: float | None = None
        self._launched = False

    @property
    def terminal(self) -> bool:
        return self.state.terminal

    @property
    def launched(self) -> bool:
        """True once the container exists (until the task is terminal)."""
        return self._launched and not self.terminal

    async def run(self) -> None:
        """Launch the task, wait for it, and report its end. Never raises (but may be cancelled)."""
        try:
            await self._run()
        except asyncio.CancelledError:
            raise
        except Exception as e:
            self._executor_failed(e, "executor of task %s failed")

    async def resume(
        self, state: TaskState, pid: int | None, recovered: bool, killing: bool = False
    ) -> None:
        """After an agent restart: follow the container launched before (never relaunch it).

        `recovered` False means the container is gone and its end is unknown: the task fails.
        `killing` (or state TASK_KILLING): the agent went away in the middle of a kill, which is
        finished now, and the task ends TASK_KILLED. Never raises (but may be cancelled).
        """
        self.state = state
        self.pid = pid
        if self.terminal:
            return
        self._killed = killing or state == TaskState.KILLING
        try:
            if not recovered and self._killed:
                self._status(
                    TaskState.KILLED,
                    "The task was being killed; its container ended while the agent was down",
                    source=SOURCE_AGENT,
                )
                return
            if not recovered:
                self._status(
                    TaskState.FAILED,
                    "The task's container ended while the agent was down, and how is unknown",
                    REASON_EXECUTOR_TERMINATED,
                    source=SOURCE_AGENT,
                )
                return
            self._launched = True
            killing_now = (
                asyncio.create_task(self._destroy(self._grace())) if self._killed else None
            )
            if self.state in (TaskState.STAGING, TaskState.STARTING) and not self._killed:
                # The container was launched, but the agent died before it recorded
                # TASK_RUNNING: report it now, so the framework sees RUNNING before the end
                # (a Mesos executor would resend it to the recovered agent).
                self._status(
                    TaskState.RUNNING, extra={"container_status": self._container_status()}
                )
            termination = await self._containerizer.wait(self.container_id)
            if killing_now is not None:
                await killing_now
            await self._destroy(0.0)
            self._finish(termination)
        except asyncio.CancelledError:
            raise
        except Exception as e:
            self._executor_failed(e, "executor of recovered task %s failed")

    def _executor_failed(self, e: Exception, what: str) -> None:
        """The executor itself broke: log it, and fail the task unless it has ended."""
        log.exception(what, self.task_id)
        if not self.terminal:
            self._status(
                TaskState.FAILED,
                f"executor failed: {e}",
                REASON_COMMAND_EXECUTOR_FAILED,
                source=SOURCE_AGENT,
            )

    async def _run(self) -> None:
        try:
            spec = build_launch_spec(
                self.task,
                ctx=self._ctx,
                framework_id=self.framework_id,
                container_id=self.container_id,
                framework_info=self.framework_info,
            )
            if spec.user and spec.container.type == "MESOS":
                _check_user(spec.user)
        except InvalidError as e:
            state = TaskState.ERROR if e.field == "user" else TaskState.FAILED
            self._status(state, str(e), REASON_TASK_INVALID, source=SOURCE_AGENT)
            return
        self._status(TaskState.STARTING)
        if self._killed:
            self._status(
                TaskState.KILLED,
                "Task killed before it was launched",
                REASON_TASK_KILLED_DURING_LAUNCH,
            )
            return
        try:
            self.pid = await self._containerizer.launch(spec)
        except DcosError as e:
            self._status(
                TaskState.FAILED, str(e), REASON_CONTAINER_LAUNCH_FAILED, source=SOURCE_AGENT
            )
            return
        self._launched = True
        destroying: asyncio.Task[None] | None = None
        if self._killed:  # killed while launching
            self._killed_launching = True
            destroying = asyncio.create_task(self._destroy(self._grace()))
        else:
            self._status(TaskState.RUNNING, extra={"container_status": self._container_status()})
        termination = await self._containerizer.wait(self.container_id)
        if destroying is not None:
            await destroying
        # Processes the command left behind die with it (Mesos destroys the container too).
        await self._destroy(0.0)
        self._finish(termination)

    def _finish(self, t: Termination) -> None:
        """The terminal update: always a message; a reason wherever Mesos has one (a kill the
        framework asked for has none there either, a clean exit neither)."""
        if self._killed:
            reason = REASON_TASK_KILLED_DURING_LAUNCH if self._killed_launching else None
            self._status(TaskState.KILLED, t.message or "Command killed", reason)
        elif t.succeeded:
            self._status(TaskState.FINISHED, t.message or "Command exited with status 0")
        else:
            self._status(
                TaskState.FAILED,
                t.message or "Command failed",
                t.reason or REASON_COMMAND_EXECUTOR_FAILED,
            )

    async def kill(self, kill_policy: dict[str, Any] | None = None) -> None:
        """Kill the task: TASK_KILLING (if the framework understands it), SIGTERM to every
        process, SIGKILL after the grace period. Returns once the processes are gone; the
        TASK_KILLED update follows from `run`. Idempotent."""
        if self.terminal:
            return
        if kill_policy is not None:
            self._kill_grace = grace_period_of(kill_policy, self._ctx.default_grace_period)
        if not self._killed:
            self._killed = True
            if has_capability(self.framework_info, TASK_KILLING_STATE) and self.state in (
                TaskState.STARTING,
                TaskState.RUNNING,
            ):
                self._status(TaskState.KILLING)
        if self._launched:
            await self._destroy(self._grace())

    def _grace(self) -> float:
        if self._kill_grace is not None:
            return self._kill_grace
        return grace_period_of(self.task.get("kill_policy"), self._ctx.default_grace_period)

    async def _destroy(self, grace: float) -> None:
        try:
            await self._containerizer.destroy(self.container_id, grace)
        except DcosError as e:
            log.error(
                "cannot destroy container %s of task %s: %s", self.container_id, self.task_id, e
            )

    def _container_status(self) -> dict[str, Any]:
        cs: dict[str, Any] = {"container_id": wrap(self.container_id)}
        if self.pid is not None:
            cs["executor_pid"] = self.pid
        return cs

    def _status(
        self,
        state: TaskState,
        message: str | None = None,
        reason: str | None = None,
        extra: dict[str, Any] | None = None,
        source: str = SOURCE_EXECUTOR,
    ) -> None:
        """Emit a status; `source` is SOURCE_AGENT for what the agent decides itself (invalid
        task, launch failure, lost container), as a Mesos agent reports them."""
        self.state = state
        self._emit(
            task_status(
                self.task_id,
                state,
                agent_id=self._ctx.agent_id,
                timestamp=self._clock.time(),
                source=source,
                message=message,
                reason=reason,
                uuid=new_status_uuid(),
                executor_id=self.task_id,
                extra=extra,
            )
        )
