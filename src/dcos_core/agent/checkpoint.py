"""Agent checkpoints (Mesos `slave/paths.hpp` + `state.hpp`), for frameworks with `checkpoint`.

Layout under `<work_dir>/meta/`:

    agent.json                                   {"agent_id": ...}   (the id to re-register with)
    frameworks/<fw>/framework.json               the FrameworkInfo
    frameworks/<fw>/tasks/<task>/task.json       {"task": TaskInfo, "container_id": ...}
    frameworks/<fw>/tasks/<task>/updates         JSON lines: {"update": TaskStatus} | {"ack": uuid}
                                                 | {"kill": true} (a kill was asked for)

JSON documents are replaced atomically (write, fsync, rename); the updates file is appended and
fsynced before an update is sent, so a `kill -9` at any point loses nothing that was sent. A task's
directory is removed once its terminal update is acknowledged. `replay()` is pure: it turns the
update records into the task's last state and its still-unacknowledged updates, in order.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dcos_core.model.task import TaskState

log = logging.getLogger("dcos_core.agent.checkpoint")


@dataclass
class RecoveredTask:
    framework_id: str
    framework_info: dict[str, Any]
    task: dict[str, Any]
    container_id: str
    state: TaskState
    pending: list[dict[str, Any]] = field(default_factory=list)
    """Updates not yet acknowledged, oldest first (to be resent)."""
    history: list[dict[str, Any]] = field(default_factory=list)
    """`{"state", "timestamp"}` of every update, for `/state`."""
    pid: int | None = None
    """The task's pid, as its TASK_RUNNING update reported it."""
    kill_requested: bool = False
    """A kill was asked for: if the task has not ended, the kill is to be finished."""


@dataclass
class RecoveredState:
    agent_id: str | None = None
    tasks: list[RecoveredTask] = field(default_factory=list)


def replay(records: list[dict[str, Any]]) -> tuple[TaskState, list[dict[str, Any]]]:
    """`(last state, unacknowledged updates)` from a task's update records.

    An ack removes the update with that uuid (normally the oldest pending one).

    Example:
        >>> u1 = {"update": {"state": "TASK_STARTING", "uuid": "a"}}
        >>> u2 = {"update": {"state": "TASK_RUNNING", "uuid": "b"}}
        >>> state, pending = replay([u1, u2, {"ack": "a"}])
        >>> state.value, [p["uuid"] for p in pending]
        ('TASK_RUNNING', ['b'])
    """
    state = TaskState.STAGING
    pending: list[dict[str, Any]] = []
    for rec in records:
        if "update" in rec:
            status = rec["update"]
            state = TaskState(status["state"])
            pending.append(status)
        elif "ack" in rec:
            pending = [p for p in pending if p.get("uuid") != rec["ack"]]
    return state, pending


class Checkpointer:
    """Reads and writes the checkpoint files under `<work_dir>/meta`."""

    def __init__(self, work_dir: Path) -> None:
        self.root = work_dir / "meta"

    # ---- paths -----------------------------------------------------------------------------

    def _framework_dir(self, framework_id: str) -> Path:
        return self.root / "frameworks" / framework_id

    def _task_dir(self, framework_id: str, task_id: str) -> Path:
        return self._framework_dir(framework_id) / "tasks" / task_id

    # ---- writes ----------------------------------------------------------------------------

    def write_agent_id(self, agent_id: str) -> None:
        _write_json(self.root / "agent.json", {"agent_id": agent_id})

    def write_task(
        self,
        framework_id: str,
        framework_info: dict[str, Any],
        task: dict[str, Any],
        task_id: str,
        container_id: str,
    ) -> None:
        """Record a task before its container is launched."""
        fw = self._framework_dir(framework_id) / "framework.json"
        if not fw.exists():
            _write_json(fw, framework_info)
        _write_json(
            self._task_dir(framework_id, task_id) / "task.json",
            {"task": task, "container_id": container_id},
        )

    def append_update(self, framework_id: str, task_id: str, status: dict[str, Any]) -> None:
        _append(self._task_dir(framework_id, task_id) / "updates", {"update": status})

    def append_ack(self, framework_id: str, task_id: str, uuid: str) -> None:
        _append(self._task_dir(framework_id, task_id) / "updates", {"ack": uuid})

    def append_kill(self, framework_id: str, task_id: str) -> None:
        """Record that the task is being killed, so that a restarted agent finishes the kill."""
        _append(self._task_dir(framework_id, task_id) / "updates", {"kill": True})

    def remove_task(self, framework_id: str, task_id: str) -> None:
        shutil.rmtree(self._task_dir(framework_id, task_id), ignore_errors=True)
        tasks = self._framework_dir(framework_id) / "tasks"
        with contextlib.suppress(OSError):
            if not any(tasks.iterdir()):
                shutil.rmtree(self._framework_dir(framework_id), ignore_errors=True)

    def forget_agent(self) -> None:
        """Forget the agent id: the next start registers as a new agent."""
        with contextlib.suppress(FileNotFoundError):
            (self.root / "agent.json").unlink()

    def clear(self) -> None:
        """Forget every task (`--recover=cleanup`); the agent id is kept."""
        shutil.rmtree(self.root / "frameworks", ignore_errors=True)

    # ---- read ------------------------------------------------------------------------------

    def load(self) -> RecoveredState:
        """Everything checkpointed; unreadable task directories are logged and skipped."""
        state = RecoveredState()
        with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
            state.agent_id = str(json.loads((self.root / "agent.json").read_text())["agent_id"])
        frameworks = self.root / "frameworks"
        if not frameworks.is_dir():
            return state
        for fw_dir in sorted(frameworks.iterdir()):
            try:
                info = json.loads((fw_dir / "framework.json").read_text())
            except (OSError, ValueError):
                log.warning("skipping unreadable framework checkpoint %s", fw_dir)
                continue
            tasks_dir = fw_dir / "tasks"
            if not tasks_dir.is_dir():
                continue
            for t_dir in sorted(tasks_dir.iterdir()):
                try:
                    doc = json.loads((t_dir / "task.json").read_text())
                    records = _read_lines(t_dir / "updates")
                    last, pending = replay(records)
                except (OSError, ValueError, KeyError) as e:
                    log.warning("skipping unreadable task checkpoint %s: %s", t_dir, e)
                    continue
                history = [
                    {"state": r["update"]["state"], "timestamp": r["update"].get("timestamp")}
                    for r in records
                    if "update" in r
                ]
                pids = [
                    r["update"]["container_status"]["executor_pid"]
                    for r in records
                    if "update" in r
                    and "executor_pid" in (r["update"].get("container_status") or {})
                ]
                state.tasks.append(
                    RecoveredTask(
                        framework_id=fw_dir.name,
                        framework_info=info,
                        task=doc["task"],
                        container_id=str(doc["container_id"]),
                        state=last,
                        pending=pending,
                        history=history,
                        pid=int(pids[-1]) if pids else None,
                        kill_requested=any(r.get("kill") is True for r in records),
                    )
                )
        return state


def _write_json(path: Path, doc: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w") as f:
        json.dump(doc, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _append(path: Path, record: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as f:
        f.write(json.dumps(record) + "\n")
        f.flush()
        os.fdatasync(f.fileno())


def _read_lines(path: Path) -> list[dict[str, Any]]:
    """Records of an updates file; a torn last line (crash mid-write) is ignored."""
    out: list[dict[str, Any]] = []
    try:
        text = path.read_text()
    except FileNotFoundError:
        return out
    for line in text.splitlines():
        try:
            rec = json.loads(line)
        except ValueError:
            continue
        if isinstance(rec, dict):
            out.append(rec)
    return out
