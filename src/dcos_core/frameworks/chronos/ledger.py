"""The run ledger: every run of every job, keyed by (job, scheduled time), written before launch.

A run is the unit of exactly-once. Its key is the job and the time it was scheduled for (a
schedule occurrence, the moment its parents completed, or the moment of a manual start), so that
planning the same occurrence twice finds the existing run instead of making a second one. A run
moves PENDING -> LAUNCHING (task id chosen and *stored* before the ACCEPT is sent) -> RUNNING ->
SUCCEEDED | FAILED (after its retries) | SKIPPED (a missed run of a `skip` job). Each launch has
its own task id `ct:<job>:<scheduled ms>:<launch>`, so a status update always names the run and
launch it belongs to. `launch` counts every launch of the run and is never reused, not even when a
launch the master never saw is launched again without consuming an attempt: a late answer about
the earlier launch (a second reconciliation's TASK_UNKNOWN) can then never be taken for one about
the new launch, which is running.

After a crash, LAUNCHING and RUNNING runs are reconciled with the master by task id (and agent
id): the master answers with the task's state, or TASK_UNKNOWN for a task it never saw (the crash
came before the ACCEPT: launching again is safe), or nothing while the task's agent has not
re-registered (wait).

Each attempt that ended is kept in `Run.attempts` (task id, state, start and end, exit code,
reason, message, agent host and sandbox URL); `Run.host` and `Run.sandbox` describe the latest
launch. The Metronome API names a run by `run_id`: its scheduled time in UTC as
``YYYYmmddHHMMSS`` + milliseconds (``20260329010000000``), which `parse_run_id` maps back to the
ledger key (a job has at most one run per scheduled millisecond).
"""

from __future__ import annotations

import enum
import re
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any, Final
from urllib.parse import quote

from dcos_core.state.store import Delete, Op, Put, StateStore

PREFIX: Final = "chronos/runs"


class RunState(enum.StrEnum):
    PENDING = "PENDING"
    LAUNCHING = "LAUNCHING"
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    SKIPPED = "SKIPPED"

    @property
    def finished(self) -> bool:
        return self in (RunState.SUCCEEDED, RunState.FAILED, RunState.SKIPPED)


@dataclass
class Run:
    job: str
    scheduled: float  # epoch seconds: the occurrence (or trigger time) this run is for
    kind: str = "schedule"  # schedule | dependency | manual
    schedule_id: str = ""  # Metronome jobs: the schedule this occurrence comes from
    state: RunState = RunState.PENDING
    attempt: int = 0  # launch attempts so far (CHRONOS_RUN_ATTEMPT; counts against retries)
    launches: int = 0  # launches so far, including relaunches of launches never seen: task ids
    task_id: str | None = None
    agent_id: str | None = None
    not_before: float = 0.0  # retry delay
    planned_at: float = 0.0
    started_at: float | None = None  # first TASK_RUNNING of the current attempt
    finished_at: float | None = None
    message: str = ""
    reason: str = ""
    host: str = ""  # "<ip>:<port>" of the agent of the latest launch
    sandbox: str = ""  # the latest launch's sandbox: the agent's /files/browse URL
    attempts: list[dict[str, Any]] = field(default_factory=list)  # history of attempts

    @property
    def key(self) -> str:
        return run_key(self.job, self.scheduled)

    def task_id_for(self, attempt: int) -> str:
        return f"ct:{self.job}:{round(self.scheduled * 1000)}:{attempt}"

    def to_doc(self) -> dict[str, Any]:
        d = asdict(self)
        d["state"] = self.state.value
        return d

    @classmethod
    def from_doc(cls, d: dict[str, Any]) -> Run:
        d = dict(d)
        d["state"] = RunState(d["state"])
        return cls(**d)


def run_key(job: str, scheduled: float) -> str:
    return f"{quote(job, safe='')}/{round(scheduled * 1000):015d}"


_RUN_ID_RE = re.compile(r"(\d{14})(\d{3})")


def run_id(scheduled: float) -> str:
    """The Metronome-style id of the run scheduled at `scheduled` (epoch seconds).

    Example:
        >>> run_id(1774746000.0)
        '20260329010000000'
    """
    ms = round(scheduled * 1000)
    seconds, millis = divmod(ms, 1000)
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y%m%d%H%M%S") + f"{millis:03d}"


def parse_run_id(text: str) -> float | None:
    """The scheduled time (epoch seconds) of the run called `text`, or None if not a run id.

    Example:
        >>> parse_run_id("20260329010000000"), parse_run_id("nope")
        (1774746000.0, None)
    """
    m = _RUN_ID_RE.fullmatch(text)
    if m is None:
        return None
    try:
        t = datetime.strptime(m[1], "%Y%m%d%H%M%S").replace(tzinfo=UTC)
    except ValueError:
        return None
    return (round(t.timestamp()) * 1000 + int(m[2])) / 1000


def parse_task_id(task_id: str) -> tuple[str, float, int] | None:
    """`ct:<job>:<ms>:<attempt>` -> (job, scheduled seconds, attempt), or None.

    Example:
        >>> parse_task_id("ct:backup:1700000000000:1")
        ('backup', 1700000000.0, 1)
    """
    parts = task_id.split(":")
    if len(parts) < 4 or parts[0] != "ct":
        return None
    try:
        return ":".join(parts[1:-2]), int(parts[-2]) / 1000, int(parts[-1])
    except ValueError:
        return None


class Ledger:
    """Runs in the store; a run is written before anything is launched for it."""

    def __init__(self, store: StateStore) -> None:
        self.store = store

    def all(self) -> list[Run]:
        return [Run.from_doc(e.value) for e in self.store.list(PREFIX).values()]

    def save(self, run: Run) -> None:
        self.store.put(f"{PREFIX}/{run.key}", run.to_doc())

    def save_many(self, runs: list[Run]) -> None:
        if runs:
            self.store.transaction([Put(f"{PREFIX}/{r.key}", r.to_doc()) for r in runs])

    def delete_job(self, job: str) -> None:
        ops: list[Op] = [Delete(k) for k in self.store.list(f"{PREFIX}/{quote(job, safe='')}")]
        if ops:
            self.store.transaction(ops)

    def prune(self, runs: list[Run]) -> None:
        """Forget finished runs (history kept elsewhere is bounded)."""
        ops: list[Op] = [Delete(f"{PREFIX}/{r.key}") for r in runs]
        if ops:
            self.store.transaction(ops)
