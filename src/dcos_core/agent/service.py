"""`Agent`: the agent's use cases (no HTTP server code).

* registration with the master, with backoff; heartbeats; re-registration with the same id and
  every task when the master answers 404 or was unreachable and comes back;
* the master's calls: `run_task`, `kill_task`, `acknowledge`, `shutdown_framework`;
* status updates through the `StatusUpdateManager` (reliable, ordered, retried);
* checkpointing (frameworks with `checkpoint: true`) and recovery after a restart: the same
  agent id, the same running containers, unacknowledged updates resent;
* read models for `/state` and `/monitor/statistics`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter, deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from dcos_core import __version__
from dcos_core.agent.checkpoint import Checkpointer
from dcos_core.agent.executor import CommandExecutor, ExecutorContext
from dcos_core.agent.master_client import AgentRefusedError, MasterClient, UnknownAgentError
from dcos_core.agent.status_updates import StatusUpdateManager
from dcos_core.clock import Clock
from dcos_core.containerizer.base import Containerizer
from dcos_core.containerizer.spec import REASON_TASK_INVALID
from dcos_core.errors import DcosError, NotFoundError, NotReadyError
from dcos_core.ids import validate_id
from dcos_core.model.task import TERMINAL as TERMINAL_STATES
from dcos_core.model.task import TaskState
from dcos_core.protocol.internal import (
    Acknowledge,
    AgentInfo,
    Heartbeat,
    KillTask,
    RegisterAgent,
    RunTask,
    ShutdownFramework,
    StatusUpdate,
    TaskRecord,
)
from dcos_core.protocol.v1 import new_status_uuid, task_status, unwrap
from dcos_core.resources import Resources

log = logging.getLogger("dcos_core.agent.service")

REASON_TASK_UNKNOWN: Final = "REASON_TASK_UNKNOWN"
COMPLETED_TASKS_MAX: Final = 1000
_FIRST_BACKOFF: Final = 0.1  # seconds before the first registration retry; doubles up to max
_STOP_GRACE_MAX: Final = 5.0  # seconds tasks get to exit when the agent stops
_STOP_FLUSH: Final = 1.0  # seconds spent trying to deliver the last updates on stop
_HEARTBEAT_RETRIES: Final = 3  # quick retries (0.1, 0.2, 0.4 s) before re-registering


@dataclass(frozen=True)
class AgentConfig:
    """Fixed facts about this agent."""

    hostname: str
    port: int
    work_dir: Path
    resources: Resources
    master_hostname: str = ""
    attributes: list[dict[str, Any]] = field(default_factory=list)
    executor_shutdown_grace_period: float = 3.0
    status_update_retry_min: float = 10.0
    status_update_retry_max: float = 600.0
    registration_backoff_max: float = 2.0
    completed_tasks_max: int = COMPLETED_TASKS_MAX
    default_user: str | None = None
    ip: str = ""  # the address the master uses to reach this agent
    flags: dict[str, str] = field(default_factory=dict)
    """Extra settings shown in `/state` `flags` (containerizers, isolation, ...)."""


@dataclass
class TaskEntry:
    """A task this agent runs or ran."""

    framework_id: str
    framework_info: dict[str, Any]
    task: dict[str, Any]
    executor: CommandExecutor
    statuses: list[dict[str, Any]] = field(default_factory=list)
    runner: asyncio.Task[None] | None = None
    kill_requested: bool = False

    @property
    def checkpointed(self) -> bool:
        return bool(self.framework_info.get("checkpoint", False))

    @property
    def task_id(self) -> str:
        return self.executor.task_id

    @property
    def state(self) -> TaskState:
        return self.executor.state


class Agent:
    """The agent service. Build it, then `await run()` (until cancelled) and `await stop()`."""

    def __init__(
        self,
        config: AgentConfig,
        *,
        master: MasterClient,
        containerizer: Containerizer,
        clock: Clock,
    ) -> None:
        self.config = config
        self.master = master
        self.containerizer = containerizer
        self.clock = clock
        self.agent_id: str | None = None
        self.master_id: str | None = None
        self.registered = False
        self.start_time = clock.time()
        self.updates = StatusUpdateManager(
            self._send_status,
            clock,
            config.status_update_retry_min,
            config.status_update_retry_max,
        )
        self.checkpoints = Checkpointer(config.work_dir)
        self.tasks: dict[tuple[str, str], TaskEntry] = {}
        self.completed: deque[TaskEntry] = deque(maxlen=config.completed_tasks_max)
        self.terminal_counts: Counter[str] = Counter()  # tasks ended here, by state (metrics)
        self._lost = asyncio.Event()
        self._background: set[asyncio.Task[Any]] = set()
        self._stopping = False

    # ---- master connection -----------------------------------------------------------------

    async def run(self) -> None:
        """Register, heartbeat, re-register when needed, deliver updates; until cancelled."""
        updates = asyncio.create_task(self.updates.run(), name="status-updates")
        try:
            while True:
                interval = await self.register()
                await self._heartbeat_until_lost(interval)
                self.registered = False
        finally:
            updates.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await updates

    async def register(self) -> float:
        """(Re-)register until the master accepts; returns the heartbeat interval.

        Retries after 0.1 s, doubling up to `registration_backoff_max`. Re-registration sends
        the agent id and every task the agent has; pending status updates are resent afterwards.
        """
        delay = min(_FIRST_BACKOFF, self.config.registration_backoff_max)
        while True:
            msg = self.register_message()
            try:
                reg = await self.master.register(msg)
            except AgentRefusedError as e:
                await self._shut_down(str(e))
                raise
            except DcosError as e:
                log.warning("registration with the master failed (%s); retry in %.1f s", e, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.config.registration_backoff_max)
                continue
            if self.agent_id is not None and reg.agent_id != self.agent_id:
                log.warning("master gave a new agent id %s (was %s)", reg.agent_id, self.agent_id)
            verb = "re-registered" if msg.agent_info.id else "registered"
            if reg.agent_id != self.agent_id:
                self.checkpoints.write_agent_id(reg.agent_id)
            self.agent_id, self.master_id = reg.agent_id, reg.master_id
            self.registered = True
            self._lost.clear()
            log.info("%s with master %s as agent %s", verb, reg.master_id, reg.agent_id)
            self.updates.resend_all()
            return reg.heartbeat_interval_seconds

    async def _shut_down(self, why: str) -> None:
        """The master refuses this agent for good (the operator marked it gone): kill every task
        and forget the agent id and the checkpoints, so that a restart joins as a new agent
        (Mesos removes its `latest` agent directory the same way)."""
        log.error("the master refuses this agent (%s): killing every task and shutting down", why)
        self._stopping = True
        self.registered = False
        await self._kill_within_grace(list(self.tasks.values()))
        await asyncio.to_thread(self.checkpoints.clear)
        await asyncio.to_thread(self.checkpoints.forget_agent)

    def register_message(self) -> RegisterAgent:
        """The RegisterAgent body: first time without id, later with the id and every task."""
        c = self.config
        info = AgentInfo(
            hostname=c.hostname,
            ip=c.ip or None,
            port=c.port,
            resources=c.resources.to_v1(),
            attributes=c.attributes,
            id=self.agent_id,
        )
        records = [
            TaskRecord(
                framework_id=e.framework_id,
                framework_info=e.framework_info or None,
                task=e.task,
                state=e.state.value,
                unacknowledged_uuid=self.updates.front_uuid(e.framework_id, e.task_id),
            )
            for e in self.tasks.values()
        ]
        return RegisterAgent(agent_info=info, tasks=records, version=__version__)

    async def _heartbeat_until_lost(self, interval: float) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._lost.wait(), max(interval, 0.01))
                log.warning("the master does not know this agent any more; re-registering")
                return
            if self.agent_id is None:
                return
            try:
                await self.master.heartbeat(Heartbeat(agent_id=self.agent_id))
            except UnknownAgentError:
                log.warning(
                    "heartbeat: master does not know agent %s; re-registering", self.agent_id
                )
                return
            except DcosError as e:
                # One lost heartbeat (a dropped keep-alive connection, a busy master) is not a
                # lost master: re-registering would rescind every outstanding offer of this
                # agent. Try again a few times, quickly, before giving up on the master.
                if not await self._heartbeat_retried(e):
                    return

    async def _heartbeat_retried(self, first: DcosError) -> bool:
        delay = 0.1
        for _attempt in range(_HEARTBEAT_RETRIES):
            await asyncio.sleep(delay)
            delay *= 2
            if self.agent_id is None:
                return False
            try:
                await self.master.heartbeat(Heartbeat(agent_id=self.agent_id))
                return True
            except UnknownAgentError:
                log.warning("heartbeat: master does not know agent %s", self.agent_id)
                return False
            except DcosError:
                continue
        log.warning("heartbeats failed (%s); re-registering", first)
        return False

    async def _send_status(self, framework_id: str, status: dict[str, Any]) -> None:
        if not self.registered or self.agent_id is None:
            raise NotReadyError("not registered with a master")
        try:
            await self.master.status(
                StatusUpdate(agent_id=self.agent_id, framework_id=framework_id, status=status)
            )
        except UnknownAgentError:
            self.registered = False
            self._lost.set()
            raise

    # ---- the master's calls ----------------------------------------------------------------

    def run_task(self, msg: RunTask) -> None:
        """Start `msg.task` with the command executor; its updates report how it goes.

        A task id already running here gets one TASK_ERROR update (not retried, so that the
        running task's own stream is untouched). Raises `InvalidError` without a task id and
        `NotReadyError` before the first registration.
        """
        if self.agent_id is None or self._stopping:
            raise NotReadyError("the agent is not registered with a master")
        task_id = validate_id(unwrap(msg.task.get("task_id"), "task.task_id"), "task.task_id")
        key = (msg.framework_id, task_id)
        if key in self.tasks:
            log.warning("task %s of framework %s is already here", task_id, msg.framework_id)
            status = self._agent_status(
                task_id,
                TaskState.ERROR,
                f"task id {task_id} is already in use on agent {self.agent_id}",
                REASON_TASK_INVALID,
            )
            self._spawn(self._send_once(msg.framework_id, status))
            return
        entry = self._entry(msg.framework_id, msg.framework_info, msg.task, None)
        self.tasks[key] = entry
        if entry.checkpointed:  # before anything runs: a restart must find the container
            self.checkpoints.write_task(
                msg.framework_id,
                msg.framework_info,
                msg.task,
                task_id,
                entry.executor.container_id,
            )
        entry.runner = asyncio.create_task(entry.executor.run(), name=f"task-{task_id}")
        log.info("launching task %s of framework %s", task_id, msg.framework_id)

    def _entry(
        self,
        framework_id: str,
        framework_info: dict[str, Any],
        task: dict[str, Any],
        container_id: str | None,
    ) -> TaskEntry:
        assert self.agent_id is not None
        ctx = ExecutorContext(
            agent_id=self.agent_id,
            hostname=self.config.hostname,
            work_dir=self.config.work_dir,
            default_grace_period=self.config.executor_shutdown_grace_period,
            default_user=self.config.default_user,
        )
        task_id = unwrap(task.get("task_id"), "task.task_id")
        key = (framework_id, task_id)
        executor = CommandExecutor(
            task,
            framework_id=framework_id,
            framework_info=framework_info,
            ctx=ctx,
            containerizer=self.containerizer,
            clock=self.clock,
            emit=lambda status: self._on_status(key, status),
            container_id=container_id,
        )
        return TaskEntry(framework_id, framework_info, task, executor)

    # ---- recovery --------------------------------------------------------------------------

    async def recover(self, cleanup: bool = False) -> int:
        """Before registering: re-attach to the tasks of checkpointing frameworks.

        Reads the checkpoints, asks the containerizer to recover their containers (every other
        container it finds is an orphan and is destroyed), requeues unacknowledged updates in
        their order, and follows each running task again; a task whose container vanished gets
        TASK_FAILED. With `cleanup`, every container is destroyed and the checkpointed tasks are
        forgotten (the master learns they are gone when the agent re-registers).
        Returns how many running tasks were recovered.
        """
        state = await asyncio.to_thread(self.checkpoints.load)
        self.agent_id = state.agent_id
        if cleanup or self.agent_id is None:
            await self.containerizer.recover(())
            await asyncio.to_thread(self.checkpoints.clear)
            log.info("recovery: cleanup; every previous container destroyed")
            return 0
        alive = {t.container_id for t in state.tasks if not t.state.terminal}
        recovered = await self.containerizer.recover(alive)
        running = 0
        for t in state.tasks:
            entry = self._entry(t.framework_id, t.framework_info, t.task, t.container_id)
            entry.statuses = list(t.history)
            entry.executor.state = t.state
            entry.executor.pid = t.pid
            key = (t.framework_id, entry.task_id)
            self.tasks[key] = entry
            for status in t.pending:
                self.updates.update(t.framework_id, status)
            if t.state.terminal and not t.pending:
                # Terminal and acknowledged, but the agent died before forgetting it.
                del self.tasks[key]
                self.checkpoints.remove_task(t.framework_id, entry.task_id)
                continue
            ok = t.container_id in recovered
            running += ok and not t.state.terminal
            # A kill the agent did not finish before it went away is finished now.
            entry.kill_requested = t.kill_requested or t.state == TaskState.KILLING
            entry.runner = asyncio.create_task(
                entry.executor.resume(t.state, t.pid, ok, killing=entry.kill_requested),
                name=f"task-{entry.task_id}",
            )
        log.info(
            "recovery: agent %s, %d task(s) checkpointed, %d running task(s) recovered",
            self.agent_id,
            len(state.tasks),
            running,
        )
        return running

    def kill_task(self, msg: KillTask) -> None:
        """Kill a task (in the background); an unknown task gets a TASK_LOST update."""
        entry = self.tasks.get((msg.framework_id, msg.task_id))
        if entry is not None:
            self._kill(entry, msg.kill_policy)
            return
        if any(
            e.framework_id == msg.framework_id and e.task_id == msg.task_id for e in self.completed
        ):
            log.info("kill of task %s ignored: it has completed", msg.task_id)
            return
        log.info("kill of unknown task %s: answering TASK_LOST", msg.task_id)
        self.updates.update(
            msg.framework_id,
            self._agent_status(
                msg.task_id,
                TaskState.LOST,
                "Cannot find the task on this agent",
                REASON_TASK_UNKNOWN,
            ),
        )

    def acknowledge(self, msg: Acknowledge) -> bool:
        """Apply a framework's acknowledgement; a task whose terminal update is acknowledged
        moves to the completed tasks. Returns False if the uuid was not the pending one."""
        matched = self.updates.ack(msg.framework_id, msg.task_id, msg.uuid)
        key = (msg.framework_id, msg.task_id)
        entry = self.tasks.get(key)
        if matched and entry is not None and entry.checkpointed:
            self.checkpoints.append_ack(msg.framework_id, msg.task_id, msg.uuid)
        if (
            matched
            and entry is not None
            and entry.state.terminal
            and self.updates.stream_ended(*key)
        ):
            del self.tasks[key]
            self.completed.append(entry)
            if entry.checkpointed:
                self.checkpoints.remove_task(msg.framework_id, msg.task_id)
        return matched

    def shutdown_framework(self, msg: ShutdownFramework) -> int:
        """Kill every task of the framework (in the background); returns how many."""
        entries = [e for e in self.tasks.values() if e.framework_id == msg.framework_id]
        for e in entries:
            self._kill(e, None)
        return len(entries)

    def _kill(self, entry: TaskEntry, kill_policy: dict[str, Any] | None) -> None:
        """Kill a task in the background; the kill is checkpointed first, so that an agent that
        dies or stops before the task is gone finishes the kill when it comes back."""
        self._note_kill(entry)
        self._spawn(entry.executor.kill(kill_policy))

    def _note_kill(self, entry: TaskEntry) -> None:
        if entry.kill_requested or entry.state.terminal:
            return
        entry.kill_requested = True
        if entry.checkpointed:
            self.checkpoints.append_kill(entry.framework_id, entry.task_id)

    async def _kill_within_grace(self, entries: list[TaskEntry]) -> None:
        """Kill `entries` with the stop grace period (bounded) and give their runners a second
        to report the end."""
        grace = min(self.config.executor_shutdown_grace_period, _STOP_GRACE_MAX)
        policy = {"grace_period": {"nanoseconds": int(grace * 1e9)}}
        kills = [e.executor.kill(policy) for e in entries]
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.gather(*kills, return_exceptions=True), grace + 2)
        runners = [e.runner for e in entries if e.runner is not None]
        if runners:
            await asyncio.wait(runners, timeout=1.0)

    async def stop(self, kill_all: bool = True) -> None:
        """Stop the agent: kill tasks (bounded grace), send the last updates, close.

        With `kill_all=False` (SIGTERM: an upgrade or restart) the tasks of checkpointing
        frameworks keep running for the next agent to recover (which also finishes a kill that
        was under way); the others are killed (Mesos semantics). With `kill_all=True` (SIGUSR1,
        `dcos-core local`) every task is killed.
        """
        self._stopping = True
        doomed = [e for e in self.tasks.values() if kill_all or not e.checkpointed]
        for e in doomed:  # if the agent dies before they are gone, the next one finishes
            self._note_kill(e)
        kept = {e.executor.container_id for e in self.tasks.values() if e not in doomed}
        await self._kill_within_grace(doomed)
        for cid in self.containerizer.containers():  # anything not tied to a kept task
            if cid not in kept:
                await self.containerizer.destroy(cid, 0.0)
        runners = [e.runner for e in self.tasks.values() if e.runner is not None]
        if kept:
            log.info("leaving %d checkpointed task(s) running for recovery", len(kept))
        for t in [*runners, *self._background]:
            t.cancel()
        await asyncio.gather(*runners, *self._background, return_exceptions=True)
        if self.registered:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.updates.send_due(), _STOP_FLUSH)
        await self.master.close()
        log.info("agent stopped")

    # ---- status plumbing -------------------------------------------------------------------

    def _on_status(self, key: tuple[str, str], status: dict[str, Any]) -> None:
        entry = self.tasks[key]
        if entry.checkpointed:  # written before it can be sent
            self.checkpoints.append_update(entry.framework_id, entry.task_id, status)
        entry.statuses.append({"state": status["state"], "timestamp": status["timestamp"]})
        if status["state"] in TERMINAL_STATES:
            self.terminal_counts[status["state"]] += 1
        log.info("task %s is %s", entry.task_id, status["state"])
        self.updates.update(entry.framework_id, status)

    def _agent_status(
        self, task_id: str, state: TaskState, message: str, reason: str
    ) -> dict[str, Any]:
        return task_status(
            task_id,
            state,
            agent_id=self.agent_id,
            timestamp=self.clock.time(),
            source="SOURCE_AGENT",
            message=message,
            reason=reason,
            uuid=new_status_uuid(),
        )

    async def _send_once(self, framework_id: str, status: dict[str, Any]) -> None:
        try:
            await self._send_status(framework_id, status)
        except DcosError as e:
            log.warning("could not send %s for task %s: %s", status["state"], status["task_id"], e)

    def _spawn(self, coro: Any) -> None:
        t = asyncio.create_task(coro)
        self._background.add(t)
        t.add_done_callback(self._background.discard)

    # ---- read models -----------------------------------------------------------------------

    async def statistics(self) -> list[dict[str, Any]]:
        """`/monitor/statistics`: usage of every running task's container, with its limits."""
        out = []
        for e in list(self.tasks.values()):
            if not e.executor.launched:
                continue
            try:
                stats = await self.containerizer.usage(e.executor.container_id)
            except NotFoundError:
                continue
            res = Resources.from_v1(e.task.get("resources") or [])
            stats = {
                **stats,
                "cpus_limit": res.scalar("cpus"),
                "mem_limit_bytes": int(res.scalar("mem") * 1024 * 1024),
            }
            out.append(
                {
                    "executor_id": e.task_id,
                    "executor_name": f"Command Executor (Task: {e.task_id})",
                    "framework_id": e.framework_id,
                    "source": e.task_id,
                    "statistics": stats,
                }
            )
        return out
