"""`Chronos`: jobs, their runs, and the loop that plans and launches them exactly once.

Every tick (`tick_interval`, injected clock):

1. **Plan**: for each enabled scheduled job, the schedule's occurrences since the job's
   `planned_until` become runs in the ledger, together with the new `planned_until`, in one store
   transaction: an occurrence is planned exactly once, even across crashes. Occurrences missed
   while Chronos was down are caught up (each once) or recorded as skipped, per job.
2. **Launch**: pending runs are matched against offers; each run is marked LAUNCHING with its
   task id *before* the ACCEPT goes out (see `ledger.py`).
3. **Finish**: status updates move runs to SUCCEEDED (and trigger dependent jobs once all their
   parents succeeded since their last run) or, after `retries` more attempts, FAILED.

Metronome jobs (`/v1/jobs`, `JobState.spec`) share the job namespace, the ledger and this loop.
Their cron schedules are planned like ISO schedules (occurrences after `planned_until`, in one
transaction with the new `planned_until`), per schedule:

* an occurrence late by more than ``startingDeadlineSeconds`` is recorded SKIPPED ("missed:
  starting deadline of N s passed"); a planned run that could not be launched within that
  deadline (no offers) is FAILED (reason ``deadline``) rather than launched late;
* ``concurrencyPolicy: FORBID``: an occurrence due while a run of the job is unfinished is
  recorded SKIPPED ("FORBID: previous run still active") and not queued (Metronome 0.4.0);
  ``ALLOW`` runs it alongside.

Retries follow ``run.restart``: ``NEVER`` none; ``ON_FAILURE`` relaunches a failed run while it
is younger than ``activeDeadlineSeconds`` (from its creation), or, without a deadline, up to
`METRONOME_RETRIES` times.

**Prelaunch** (`prelaunch` seconds, `--prelaunch`): runs of Chronos jobs without a container
image are planned and launched up to that long before their time, with a shell prologue that
holds the command until the scheduled time by the agent's clock (`prelaunch.py`): the cost of a
launch is paid ahead, and 1,000 jobs due in the same second start in that second. At most one
run per job waits that way; a job changed or disabled before its time has its waiting task
killed (and relaunched with the new definition), so a command never starts early or stale.

Every launch records the agent (`Run.host`) and, on TASK_RUNNING, the sandbox URL of the task
on its agent (`/files/browse?path=<agent>/frameworks/<fw>/executors/<task>/runs/<container>`);
each attempt that ends is kept in `Run.attempts` with its exit code (parsed from the agent's
"Command exited with status N").
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import re
from collections import Counter, deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final
from urllib.parse import quote

from dcos_core.clock import Clock, SystemClock
from dcos_core.errors import ConflictError, NotFoundError
from dcos_core.frameworks.chronos.ledger import (
    PREFIX,
    Ledger,
    Run,
    RunState,
    parse_task_id,
    run_key,
)
from dcos_core.frameworks.chronos.models import (
    Job,
    MetronomeJob,
    MetronomeSchedule,
    job_from_storage,
    job_to_storage,
    metronome_to_job,
    parse_metronome_job,
    render_metronome_job,
)
from dcos_core.frameworks.chronos.prelaunch import wrap as prelaunch_wrap
from dcos_core.frameworks.chronos.schedule import (
    CronSchedule,
    cron_occurrences,
    due_at_creation,
    occurrences,
    parse_iso8601_schedule,
    plan_due,
)
from dcos_core.frameworks.placement import OfferMatcher, Request
from dcos_core.frameworks.runtime import (
    Driver,
    Kill,
    LaunchPlan,
    ReviveTimer,
    execute,
    send_kills,
    tick_loop,
)
from dcos_core.frameworks.sdk_protocol import offer_id, task_info
from dcos_core.model.task import TERMINAL, TaskState
from dcos_core.state.store import Delete, Op, Put, StateStore

log = logging.getLogger("dcos_core.chronos")

JOBS: Final = "chronos/jobs"
HISTORY: Final = 50  # finished runs kept per job
MAX_PLAN_PER_TICK: Final = 1000  # occurrences planned per job per tick (a long downtime)
# Parsed once per (schedule, zone), not once per job per tick (immutable RepeatingIntervals).
_parse_schedule: Final = functools.lru_cache(maxsize=4096)(parse_iso8601_schedule)
REVIVE_EVERY: Final = 2.0  # seconds between REVIVE calls while runs wait for offers
RECONCILE_EVERY: Final = 30.0  # seconds between reconciliations of the runs with a task
DECLINE_IDLE: Final = 5.0  # refuse_seconds for offers when no run waits to launch
DECLINE_BUSY: Final = 1.0  # ... and when runs wait (what is left of an offer used, too)
# Updates that say nothing new about a launched run: it is still on its way (or running).
_IN_FLIGHT: Final = frozenset(
    {TaskState.STAGING, TaskState.STARTING, TaskState.KILLING, TaskState.UNREACHABLE}
)
# The master does not know the task (never launched, or lost before the agent had it).
_NOT_LAUNCHED: Final = frozenset({TaskState.UNKNOWN, TaskState.DROPPED})
METRONOME_RETRIES: Final = 10  # ON_FAILURE without activeDeadlineSeconds: relaunches at most
_EXIT_RE: Final = re.compile(r"exit(?:ed with)? status (-?\d+)")


class NameTakenError(ConflictError):
    """A job name used by the other API (Chronos vs Metronome): one namespace, HTTP 409."""


def exit_code_of(state: str, message: str) -> int | None:
    """The exit code a terminal status reports (its message), or None (signal, lost, ...).

    Example:
        >>> exit_code_of("TASK_FAILED", "Command exited with status 3")
        3
    """
    if state == TaskState.FINISHED:
        return 0
    m = _EXIT_RE.search(message or "")
    return int(m[1]) if m else None


@dataclass
class JobState:
    job: Job
    planned_until: float = 0.0
    success_count: int = 0
    error_count: int = 0
    last_success: float | None = None
    last_error: float | None = None
    errors_since_last_success: int = 0
    parents_done: dict[str, float] = field(default_factory=dict)  # parent -> last success
    last_trigger: float = 0.0  # dependency jobs: the trigger time of the last planned run
    history: deque[Run] = field(default_factory=lambda: deque(maxlen=HISTORY))
    missing_parents: list[str] = field(default_factory=list)
    spec: MetronomeJob | None = None  # a Metronome job (`/v1/jobs`); `job` is derived from it

    def to_doc(self) -> dict[str, Any]:
        job: dict[str, Any] = (
            {"metronome": render_metronome_job(self.spec)}
            if self.spec is not None
            else {"job": job_to_storage(self.job)}
        )
        return {
            **job,
            "planned_until": self.planned_until,
            "success_count": self.success_count,
            "error_count": self.error_count,
            "last_success": self.last_success,
            "last_error": self.last_error,
            "errors_since_last_success": self.errors_since_last_success,
            "parents_done": self.parents_done,
            "last_trigger": self.last_trigger,
        }

    @classmethod
    def from_doc(cls, d: dict[str, Any]) -> JobState:
        spec = parse_metronome_job(d["metronome"]) if "metronome" in d else None
        return cls(
            job=metronome_to_job(spec) if spec is not None else job_from_storage(d["job"]),
            spec=spec,
            planned_until=float(d.get("planned_until", 0.0)),
            success_count=int(d.get("success_count", 0)),
            error_count=int(d.get("error_count", 0)),
            last_success=d.get("last_success"),
            last_error=d.get("last_error"),
            errors_since_last_success=int(d.get("errors_since_last_success", 0)),
            parents_done=dict(d.get("parents_done", {})),
            last_trigger=float(d.get("last_trigger", 0.0)),
        )

    def inherit(self, old: JobState) -> None:
        """Keep the counters and the history of the job this one replaces."""
        self.success_count, self.error_count = old.success_count, old.error_count
        self.last_success, self.last_error = old.last_success, old.last_error
        self.errors_since_last_success = old.errors_since_last_success
        self.history = old.history
        self.last_trigger = old.last_trigger


class Chronos:
    def __init__(
        self,
        store: StateStore,
        *,
        clock: Clock | None = None,
        role: str = "*",
        tick_interval: float = 0.2,
        retry_delay: float = 10.0,
        default_user: str | None = None,
        prelaunch: float = 0.0,
    ) -> None:
        self.store = store
        self.prelaunch = prelaunch  # seconds before their time runs may be launched
        self.ledger = Ledger(store)
        self.clock = clock or SystemClock()
        self.role = role
        self.tick_interval = tick_interval
        self.retry_delay = retry_delay
        self.default_user = default_user
        self.jobs: dict[str, JobState] = {}
        self.runs: dict[str, Run] = {}  # unfinished runs by key
        self.driver: Driver | None = None
        self.framework_id: str | None = None
        self._wake = asyncio.Event()
        self._kills: list[Kill] = []
        self._revive = ReviveTimer(REVIVE_EVERY)
        self.launched_total = 0
        self.finished_total: Counter[str] = Counter()  # runs finished since the start, by state
        self.started = self.clock.time()

    # ---- lifecycle -------------------------------------------------------------------------

    def load(self) -> None:
        e = self.store.get("chronos/framework_id")
        self.framework_id = str(e.value["id"]) if e else None
        for entry in self.store.list(JOBS).values():
            js = JobState.from_doc(entry.value)
            self.jobs[js.job.name] = js
        for run in self.ledger.all():
            owner = self.jobs.get(run.job)
            if run.state.finished:
                if owner is not None:
                    owner.history.append(run)
            else:
                self.runs[run.key] = run
        for js in self.jobs.values():
            js.history = deque(sorted(js.history, key=lambda r: r.scheduled), maxlen=HISTORY)
        self._check_parents()
        log.info("loaded %d jobs, %d unfinished runs", len(self.jobs), len(self.runs))

    async def attach(self, driver: Driver, framework_id: str) -> None:
        self.driver = driver
        if framework_id != self.framework_id:
            self.framework_id = framework_id
            self.store.put("chronos/framework_id", {"id": framework_id})
        await self.reconcile()
        with contextlib.suppress(Exception):
            await driver.revive()
        self.wake()

    async def reconcile(self) -> None:
        """Ask the master about every run that may have a task (LAUNCHING or RUNNING)."""
        if self.driver is None:
            return
        tasks = [
            (r.task_id, r.agent_id)
            for r in self.runs.values()
            if r.task_id and r.state in (RunState.LAUNCHING, RunState.RUNNING)
        ]
        with contextlib.suppress(Exception):
            if tasks:
                await self.driver.reconcile(tasks)
            await self.driver.reconcile([])

    def wake(self) -> None:
        self._wake.set()

    async def run(self) -> None:
        """Tick until cancelled (every `tick_interval` and soon after a change), and reconcile
        every `RECONCILE_EVERY` seconds."""
        reconciled = self.clock.monotonic()

        async def tick() -> None:
            nonlocal reconciled
            await self.tick()
            if self.clock.monotonic() - reconciled > RECONCILE_EVERY:
                reconciled = self.clock.monotonic()
                await self.reconcile()

        await tick_loop(tick, self._wake, self.tick_interval, name="chronos")

    # ---- jobs ------------------------------------------------------------------------------

    def get(self, name: str) -> JobState:
        """A job of either kind."""
        js = self.jobs.get(name)
        if js is None:
            raise NotFoundError(f"Job '{name}' not found")
        return js

    def get_chronos(self, name: str) -> JobState:
        """A Chronos job (the Chronos API does not see Metronome jobs)."""
        js = self.jobs.get(name)
        if js is None or js.spec is not None:
            raise NotFoundError(f"Job '{name}' not found")
        return js

    def get_metronome(self, job_id: str) -> JobState:
        """A Metronome job (`/v1/jobs`); `NotFoundError` with Metronome's message otherwise."""
        js = self.jobs.get(job_id)
        if js is None or js.spec is None:
            raise NotFoundError(f"Job '{job_id}' does not exist")
        return js

    def chronos_jobs(self) -> list[JobState]:
        """The Chronos jobs, by name."""
        return sorted((js for js in self.jobs.values() if js.spec is None), key=_by_name)

    def metronome_jobs(self) -> list[JobState]:
        """The Metronome jobs, by id."""
        return sorted((js for js in self.jobs.values() if js.spec is not None), key=_by_name)

    def put_job(self, job: Job) -> None:
        """Create or replace a job (its counters and history are kept on replace)."""
        now = self.clock.time()
        for p in job.parents or []:
            parent = self.jobs.get(p)
            if (parent is None or parent.spec is not None) and p != job.name:
                raise NotFoundError(f"parents: job '{p}' not found: create it first")
        if job.name in (job.parents or []):
            raise ConflictError(f"parents: job '{job.name}' cannot be its own parent")
        old = self.jobs.get(job.name)
        if old is not None and old.spec is not None:
            raise NameTakenError(
                f"Job '{job.name}' already exists as a Metronome job (/v1/jobs/{job.name})"
            )
        js = JobState(job=job)
        if old is not None:
            js.inherit(old)
            js.parents_done = {
                p: t for p, t in old.parents_done.items() if p in (job.parents or [])
            }
            same_schedule = (
                old.job.schedule == job.schedule
                and old.job.schedule_time_zone == job.schedule_time_zone
            )
            js.planned_until = (
                old.planned_until if same_schedule else self._plan_start(job, now, old.history)
            )
            if job_to_storage(old.job) != job_to_storage(job):
                keep = same_schedule and not job.disabled
                self._withdraw_ahead(js, now, keep=keep)
                js.planned_until = min(js.planned_until, now)
        else:
            js.planned_until = self._plan_start(job, now, ())
        if job.schedule:
            parse_iso8601_schedule(job.schedule, job.schedule_time_zone or None)  # validate
        self.store.put(f"{JOBS}/{_key(job.name)}", js.to_doc())
        self.jobs[job.name] = js
        self._check_parents()
        self.wake()

    def _plan_start(self, job: Job, now: float, history: Iterable[Run]) -> float:
        """Where the planning of a new (or rescheduled) job starts: its occurrences after this
        time are planned. Just before `now` (an occurrence at exactly now runs), or just before
        its latest occurrence late by at most `epsilon` (`due_at_creation`: an ``R1`` job whose
        start is a few seconds before its creation runs once), unless that time already has a
        run (a changed schedule never runs a time twice)."""
        start = now - 1e-3
        if not job.schedule or job.disabled:
            return start
        tz = job.schedule_time_zone or None
        late = due_at_creation(
            _parse_schedule(job.schedule, tz), datetime.fromtimestamp(now, UTC), job.grace, tz
        )
        if late is None:
            return start
        key = run_key(job.name, late.timestamp())
        if key in self.runs or any(r.key == key for r in history):
            return start
        return min(start, late.timestamp() - 1e-3)

    def _withdraw_ahead(self, js: JobState, now: float, *, keep: bool) -> None:
        """The job changed: its runs planned ahead (prelaunch) must not start as they were.

        Their waiting tasks are killed. With `keep` (same schedule) the runs stay, to be launched
        again with the new definition under new task ids (`launches` is kept); otherwise they are
        recorded SKIPPED."""
        for run in [r for r in self.runs.values() if r.job == js.job.name and r.scheduled > now]:
            if run.task_id and run.state in (RunState.LAUNCHING, RunState.RUNNING):
                self._kills.append(Kill(run.task_id, run.agent_id))
                run.attempt = max(0, run.attempt - 1)
            run.task_id, run.agent_id, run.host, run.sandbox = None, None, "", ""
            run.started_at = None
            if keep:
                run.state = RunState.PENDING
                self.ledger.save(run)
                continue
            run.state = RunState.SKIPPED
            run.message = "the job was changed or disabled before this run's time"
            run.finished_at = now
            self._finish(run)

    def put_metronome(self, spec: MetronomeJob, *, create: bool) -> JobState:
        """Create (`create`) or replace a Metronome job; a change of its schedules re-plans
        from now (occurrences up to now are planned with the old schedules first)."""
        now = self.clock.time()
        old = self.jobs.get(spec.id)
        if create and old is not None:
            kind = " (a Chronos job, /v1/scheduler/job)" if old.spec is None else ""
            raise NameTakenError(f"Job '{spec.id}' already exists{kind}")
        if not create:
            old = self.get_metronome(spec.id)
        js = JobState(job=metronome_to_job(spec), spec=spec)
        if old is None:
            js.planned_until = now - 1e-3  # an occurrence at exactly now still runs
        else:
            assert old.spec is not None
            if old.spec.schedules != spec.schedules:  # the old schedules up to now, then new
                self._plan_job(old, now, datetime.fromtimestamp(now, UTC))
                old.planned_until = max(now, old.planned_until)
            js.inherit(old)
            js.planned_until = old.planned_until
        self.store.put(f"{JOBS}/{_key(spec.id)}", js.to_doc())
        self.jobs[spec.id] = js
        self._check_parents()
        self.wake()
        return js

    def active_runs(self, name: str) -> list[Run]:
        """The unfinished runs of a job, oldest first."""
        return sorted(
            (r for r in self.runs.values() if r.job == name and not r.state.finished),
            key=lambda r: r.scheduled,
        )

    def find_run(self, name: str, scheduled: float) -> Run | None:
        """The run of `name` scheduled at `scheduled`: unfinished or in the kept history."""
        key = run_key(name, scheduled)
        run = self.runs.get(key)
        if run is not None:
            return run
        js = self.jobs.get(name)
        return next((r for r in js.history if r.key == key), None) if js else None

    def recent_runs(self, name: str, limit: int = HISTORY) -> list[Run]:
        """The job's unfinished and finished (kept) runs, newest scheduled time first."""
        js = self.get(name)
        runs = [*self.active_runs(name), *js.history]
        return sorted(runs, key=lambda r: r.scheduled, reverse=True)[:limit]

    def stop_run(self, name: str, scheduled: float) -> Run:
        """Stop one unfinished run: kill its task (no retry), or fail it if not launched."""
        js = self.get(name)
        run = self.runs.get(run_key(name, scheduled))
        if run is None or run.job != name:
            raise NotFoundError(f"Job '{name}' has no active run scheduled at {_iso(scheduled)}")
        run.reason = "killed"
        if run.state == RunState.PENDING:
            run.message = "stopped before it was launched"
            self._failed(js, run, self.clock.time())
        else:
            self.ledger.save(run)
            if run.task_id:
                self._kills.append(Kill(run.task_id, run.agent_id))
        self.wake()
        return run

    def delete_job(self, name: str) -> None:
        self.get(name)
        for run in [r for r in self.runs.values() if r.job == name]:
            if run.task_id and run.state in (RunState.LAUNCHING, RunState.RUNNING):
                self._kills.append(Kill(run.task_id, run.agent_id))
            self.runs.pop(run.key, None)
        self.jobs.pop(name, None)
        self.store.delete(f"{JOBS}/{_key(name)}")
        self.ledger.delete_job(name)
        self._check_parents()
        self.wake()

    def _check_parents(self) -> None:
        """Report dependent jobs whose parents are gone (kept, never silently orphaned)."""
        for js in self.jobs.values():
            missing = [p for p in js.job.parents or [] if p not in self.jobs]
            if missing and missing != js.missing_parents:
                log.warning("job %s depends on deleted job(s) %s", js.job.name, missing)
            js.missing_parents = missing

    def start_now(self, name: str) -> Run:
        """`PUT /scheduler/job/<name>`, `POST /v1/jobs/<id>/runs`: run the job once now."""
        js = self.get(name)
        now = self.clock.time()
        ms = round(now * 1000)  # the ledger key: a millisecond no other run of the job has
        while run_key(name, ms / 1000) in self.runs or self.store.get(
            f"{PREFIX}/{run_key(name, ms / 1000)}"
        ):
            ms += 1
        run = Run(js.job.name, ms / 1000, kind="manual", planned_at=now)
        self.runs[run.key] = run
        self.ledger.save(run)
        self.wake()
        return run

    def kill_tasks(self, name: str) -> int:
        """Kill the running tasks of a job (no retry for those)."""
        self.get(name)
        n = 0
        for run in self.runs.values():
            if (
                run.job == name
                and run.task_id
                and run.state
                in (
                    RunState.LAUNCHING,
                    RunState.RUNNING,
                )
            ):
                run.reason = "killed"
                self.ledger.save(run)
                self._kills.append(Kill(run.task_id, run.agent_id))
                n += 1
        self.wake()
        return n

    def mark_success(self, name: str) -> None:
        js = self.get(name)
        now = self.clock.time()
        self._succeeded(js, now, [])

    def running(self, name: str) -> list[Run]:
        return [r for r in self.runs.values() if r.job == name and not r.state.finished]

    # ---- the tick --------------------------------------------------------------------------

    async def tick(self) -> None:
        now = self.clock.time()
        self._plan(now)
        if self.driver is not None:
            kills, self._kills = self._kills, []
            await send_kills(self.driver, kills)
            # Ask for offers when runs start waiting, and again every REVIVE_EVERY seconds while
            # they wait (declined offers are filtered for a while) -- not on every tick.
            if self._revive.due(waiting=bool(self._launchable(now)), now=self.clock.monotonic()):
                with contextlib.suppress(Exception):
                    await self.driver.revive()

    def _plan(self, now: float) -> None:
        until = datetime.fromtimestamp(now, UTC)
        metronome = False
        for js in self.jobs.values():
            if js.spec is not None:
                metronome = True
            self._plan_job(js, now, until)
        if metronome:
            self._expire(now)

    def _plan_job(self, js: JobState, now: float, until: datetime) -> None:
        """Plan the job's occurrences in (planned_until, now] (see the module docstring)."""
        if js.spec is not None:
            self._plan_cron(js, js.spec, now, until)
            return
        job = js.job
        horizon = now + self._lead(js)  # prelaunch: runs are planned that far ahead
        if job.disabled or not job.schedule or horizon <= js.planned_until:
            return
        tz = job.schedule_time_zone or None
        ri = _parse_schedule(job.schedule, tz)
        after = datetime.fromtimestamp(js.planned_until, UTC)
        ahead = datetime.fromtimestamp(horizon, UTC)
        times = occurrences(ri, after, ahead, tz)[:MAX_PLAN_PER_TICK]
        if not times:  # nothing due: no write (a restart re-plans the same empty span)
            js.planned_until = horizon
            return
        # On time (late by at most epsilon): each runs once. Missed (Chronos or the master
        # was down longer): one catch-up run for all of them, or none (`missedRuns`).
        plan = plan_due(times, until, job.grace, job.missed_runs)  # ignores times after now
        new_runs = []
        earlier = {r.key: r.launches for r in js.history if r.launches and r.scheduled > now}
        for t, state, why in (
            *((t, RunState.PENDING, "") for t in plan.run),
            *((t, RunState.PENDING, "") for t in times if t > until),  # ahead: prelaunch
            *(
                (t, RunState.SKIPPED, "missed: folded into one catch-up run")
                for t in plan.coalesced
            ),
            *(
                (t, RunState.SKIPPED, "missed while Chronos or the master was down")
                for t in plan.skipped
            ),
        ):
            run = Run(job.name, t.timestamp(), planned_at=now, state=state, message=why)
            # A run withdrawn before its time and planned again: task ids are never reused.
            run.launches = earlier.get(run.key, 0)
            if run.key not in self.runs:
                new_runs.append(run)
        js.planned_until = times[-1].timestamp() if len(times) == MAX_PLAN_PER_TICK else horizon
        self._record(js, new_runs)

    def _plan_cron(self, js: JobState, spec: MetronomeJob, now: float, until: datetime) -> None:
        """Plan a Metronome job: every enabled schedule's cron occurrences in its time zone."""
        if now <= js.planned_until:
            return
        after = datetime.fromtimestamp(js.planned_until, UTC)
        due: dict[datetime, MetronomeSchedule] = {}
        horizon: datetime | None = None  # a long downtime: the rest is planned next tick
        for sched in spec.schedules:
            if not sched.enabled:
                continue
            cs = CronSchedule(sched.cron, sched.timezone)
            times = cron_occurrences(cs, after, until, limit=MAX_PLAN_PER_TICK)
            if len(times) == MAX_PLAN_PER_TICK:
                horizon = times[-1] if horizon is None else min(horizon, times[-1])
            for t in times:
                due.setdefault(t, sched)  # two schedules at one time: one run
        if horizon is not None:
            due = {t: sched for t, sched in due.items() if t <= horizon}
        if not due:
            js.planned_until = now
            return
        active = any(r.job == spec.id for r in self.runs.values())
        new_runs = []
        for t in sorted(due):
            sched = due[t]
            # plan_due with grace = startingDeadlineSeconds and policy "skip", per schedule
            plan = plan_due([t], until, sched.deadline, "skip")
            if plan.skipped:
                state = RunState.SKIPPED
                why = f"missed: starting deadline of {sched.starting_deadline_seconds} s passed"
            elif sched.concurrency_policy == "FORBID" and active:
                state, why = RunState.SKIPPED, "FORBID: previous run still active"
            else:
                state, why = RunState.PENDING, ""
                active = True
            run = Run(
                spec.id,
                t.timestamp(),
                planned_at=now,
                state=state,
                message=why,
                schedule_id=sched.id,
            )
            if run.key not in self.runs:
                new_runs.append(run)
        js.planned_until = horizon.timestamp() if horizon is not None else now
        self._record(js, new_runs)

    def _record(self, js: JobState, new_runs: list[Run]) -> None:
        """Store newly planned runs and the job's new `planned_until` in one transaction (each
        occurrence is planned once); finished ones (skipped) go to the bounded history."""
        finished = [r for r in new_runs if r.state.finished]
        ops: list[Op] = []
        if finished:
            kept = set(map(id, [*js.history, *finished][-HISTORY:]))
            ops += [Delete(f"{PREFIX}/{r.key}") for r in js.history if id(r) not in kept]
            new_runs = [r for r in new_runs if not r.state.finished or id(r) in kept]
        ops += [Put(f"{PREFIX}/{r.key}", r.to_doc()) for r in new_runs]
        ops.append(Put(f"{JOBS}/{_key(js.job.name)}", js.to_doc()))
        self.store.transaction(ops)
        js.history.extend(finished)
        for r in new_runs:
            if not r.state.finished:
                self.runs[r.key] = r

    def _expire(self, now: float) -> None:
        """Fail the planned runs of Metronome jobs not launched within their starting deadline."""
        for run in list(self.runs.values()):
            if run.state != RunState.PENDING or run.attempt or not run.schedule_id:
                continue
            js = self.jobs.get(run.job)
            if js is None or js.spec is None:
                continue
            sched = next((x for x in js.spec.schedules if x.id == run.schedule_id), None)
            if sched is None or now - run.scheduled <= sched.starting_deadline_seconds:
                continue
            run.reason = "deadline"
            run.message = (
                f"not started within its starting deadline of {sched.starting_deadline_seconds} s"
            )
            self._failed(js, run, now)

    def _launchable(self, now: float) -> list[Run]:
        busy = {
            r.job for r in self.runs.values() if r.state in (RunState.LAUNCHING, RunState.RUNNING)
        }
        out = []
        for r in sorted(self.runs.values(), key=lambda r: r.scheduled):
            if r.state != RunState.PENDING or r.not_before > now:
                continue
            js = self.jobs.get(r.job)
            if js is None:
                continue
            if not js.job.concurrent and r.job in busy:
                continue
            # Ahead of its time (prelaunch): within the lead, and one waiting task per job.
            if r.scheduled > now and (r.job in busy or r.scheduled - now > self._lead(js)):
                continue
            busy.add(r.job)
            out.append(r)
        return out

    def _lead(self, js: JobState) -> float:
        """How long before their time the job's runs may be launched: `prelaunch` for Chronos
        jobs that run on the agent's host (the prologue needs its shell, `date` and `sleep`)."""
        if not self.prelaunch or js.spec is not None or js.job.container is not None:
            return 0.0
        return self.prelaunch

    # ---- offers ----------------------------------------------------------------------------

    async def handle_offers(self, offers: list[dict[str, Any]]) -> None:
        """Launch the runs due on `offers` (each recorded LAUNCHING first); decline the rest."""
        if self.driver is None:
            raise RuntimeError("offers before attach(): no driver to answer them")
        now = self.clock.time()
        todo = self._launchable(now)
        if not todo:
            await execute(self.driver, LaunchPlan.decline_all(offers, DECLINE_IDLE))
            return
        by_offer, launching = self._match(offers, todo, now)
        # Recorded before the ACCEPTs: a crash in between is found by reconciliation.
        self.ledger.save_many(launching)
        self.launched_total += len(launching)
        plan = LaunchPlan.of(
            offers,
            by_offer,
            accept_refuse_seconds=DECLINE_BUSY,
            decline_refuse_seconds=DECLINE_BUSY,
        )
        await execute(self.driver, plan)

    def _match(
        self, offers: list[dict[str, Any]], todo: list[Run], now: float
    ) -> tuple[dict[str, list[dict[str, Any]]], list[Run]]:
        """Place the runs `todo` on `offers`, in order: the TaskInfos per offer id and the runs
        launched (moved to LAUNCHING with a fresh task id; not saved yet)."""
        matcher = OfferMatcher(offers)
        hosts = {offer_id(o): _agent_address(o) for o in offers}
        by_offer: dict[str, list[dict[str, Any]]] = {}
        launching: list[Run] = []
        for run in todo:
            js = self.jobs[run.job]
            job = js.job
            m = matcher.match(job.name, Request(cpus=job.cpus, mem=job.mem, disk=job.disk), [])
            if m is None:
                continue
            run.attempt += 1
            run.launches = max(run.launches, run.attempt - 1) + 1  # a fresh task id
            run.task_id = run.task_id_for(run.launches)
            run.agent_id = m.agent_id
            run.host = hosts.get(m.offer_id, "")
            run.sandbox = ""
            run.state = RunState.LAUNCHING
            run.started_at = None
            launching.append(run)
            by_offer.setdefault(m.offer_id, []).append(self._task_info(js, run, m, now))
        return by_offer, launching

    def _task_info(self, js: JobState, run: Run, m: Any, now: float) -> dict[str, Any]:
        assert run.task_id is not None
        job = js.job
        env = {v.name: v.value for v in job.environment_variables}
        env.update(
            {
                "CHRONOS_JOB_NAME": job.name,
                "CHRONOS_JOB_OWNER": job.owner,
                "CHRONOS_RESOURCE_CPU": f"{job.cpus:g}",
                "CHRONOS_RESOURCE_MEM": f"{job.mem:g}",
                "CHRONOS_RESOURCE_DISK": f"{job.disk:g}",
                "CHRONOS_SCHEDULED_TIME": datetime.fromtimestamp(run.scheduled, UTC).isoformat(),
                "CHRONOS_SCHEDULED_MS": str(round(run.scheduled * 1000)),
                "CHRONOS_RUN_ATTEMPT": str(run.attempt),
            }
        )
        args: list[str] | None
        if js.spec is not None and not js.spec.run.cmd:
            # Metronome `args`: the argv; with a docker image, the arguments of its entrypoint
            # (no args: the image's own command).
            margs = list(js.spec.run.args or [])
            if js.spec.run.docker is not None:
                command, shell, args = "", False, margs or None
            else:
                command, shell, args = margs[0], False, margs
        elif job.shell:
            command, shell, args = job.command, True, None
        else:
            command, shell, args = job.command, False, [job.command, *job.arguments]
        if run.scheduled > now and self._lead(js):  # launched ahead: the command waits
            command = prelaunch_wrap(command, shell=shell, arguments=args, start_at=run.scheduled)
            shell, args = True, None
        return task_info(
            f"ChronosTask:{job.name}",
            run.task_id,
            m.agent_id,
            m.resources,
            command,
            shell=shell,
            arguments=args,
            environment=env,
            user=job.run_as_user or self.default_user,
            container=job.container_info(),
            labels={"chronos_job": job.name},
        )

    # ---- status updates --------------------------------------------------------------------

    def on_status(self, status: dict[str, Any]) -> None:
        task_id = str(status["task_id"]["value"])
        state = str(status["state"])
        now = self.clock.time()
        parsed = parse_task_id(task_id)
        run = None
        if parsed is not None:
            run = self.runs.get(run_key(parsed[0], parsed[1]))
        if run is None or run.task_id != task_id:
            if (
                state not in TERMINAL and state != TaskState.UNKNOWN
            ):  # a task of no unfinished run: never run it twice
                agent = (status.get("agent_id") or {}).get("value")
                self._kills.append(Kill(task_id, agent))
                self.wake()
            return
        js = self.jobs.get(run.job)
        if state == TaskState.RUNNING:
            if run.state != RunState.RUNNING:
                run.state = RunState.RUNNING
                run.started_at = max(now, run.scheduled)  # a prelaunched command waits
                run.sandbox = run.sandbox or self._sandbox(run, status)
                self.ledger.save(run)
            return
        if state in _IN_FLIGHT:
            return
        if state in _NOT_LAUNCHED and run.state == RunState.LAUNCHING and run.reason != "killed":
            # The master never saw this launch (a crash before the ACCEPT), or dropped it before
            # the agent got it (an offer of a master that has since restarted): launch it again,
            # without counting an attempt, under a new task id (see `ledger.py`).
            run.state = RunState.PENDING
            run.attempt -= 1
            run.task_id = None
            self.ledger.save(run)
            self.wake()
            return
        message = str(status.get("message", ""))
        run.sandbox = run.sandbox or self._sandbox(run, status)
        run.attempts.append(
            {
                "task_id": task_id,
                "state": state,
                "message": message,
                "reason": status.get("reason", ""),
                "at": now,
                "started_at": run.started_at,
                "exit_code": exit_code_of(state, message),
                "agent_id": run.agent_id,
                "host": run.host,
                "sandbox": run.sandbox,
            }
        )
        if state == TaskState.FINISHED:
            run.state = RunState.SUCCEEDED
            run.finished_at = now
            self._finish(run)
            if js is not None:
                self._succeeded(js, now, [run])
            return
        run.message = message
        run.reason = run.reason or str(status.get("reason", ""))
        if run.reason != "killed" and js is not None and self._retry(js, run, now):
            run.state = RunState.PENDING
            run.not_before = now + self.retry_delay
            run.task_id = None
            self.ledger.save(run)
            self.wake()
            return
        self._failed(js, run, now)

    def _retry(self, js: JobState, run: Run, now: float) -> bool:
        """Whether a failed attempt of `run` is launched again (`retries`, `run.restart`)."""
        if js.spec is None:
            return run.attempt < 1 + js.job.retries
        restart = js.spec.run.restart
        if restart.policy != "ON_FAILURE":
            return False
        if restart.active_deadline_seconds is not None:
            return now + self.retry_delay - run.planned_at < restart.active_deadline_seconds
        return run.attempt < 1 + METRONOME_RETRIES

    def _failed(self, js: JobState | None, run: Run, now: float) -> None:
        """`run` ends FAILED: counted once as the job's error."""
        run.state = RunState.FAILED
        run.finished_at = now
        self._finish(run)
        if js is not None:
            js.error_count += 1
            js.errors_since_last_success += 1
            js.last_error = now
            self.store.put(f"{JOBS}/{_key(js.job.name)}", js.to_doc())
            if js.job.soft_error:
                self._trigger_children(js.job.name, now)

    def _sandbox(self, run: Run, status: dict[str, Any]) -> str:
        """The /files/browse URL of the task's sandbox on its agent ("" if not known yet)."""
        container = ((status.get("container_status") or {}).get("container_id") or {}).get("value")
        agent = run.agent_id or (status.get("agent_id") or {}).get("value")
        if not (container and agent and run.host and self.framework_id and run.task_id):
            return ""
        path = f"{agent}/frameworks/{self.framework_id}/executors/{run.task_id}/runs/{container}"
        return f"http://{run.host}/files/browse?path={quote(path, safe='')}"

    def _finish(self, run: Run) -> None:
        self.finished_total[run.state.value] += 1
        self.runs.pop(run.key, None)
        js = self.jobs.get(run.job)
        self.ledger.save(run)
        if js is not None:
            if len(js.history) == HISTORY:
                self.ledger.prune([js.history[0]])
            js.history.append(run)

    def _succeeded(self, js: JobState, now: float, runs: list[Run]) -> None:
        js.success_count += 1
        js.errors_since_last_success = 0
        js.last_success = now
        self.store.put(f"{JOBS}/{_key(js.job.name)}", js.to_doc())
        self._trigger_children(js.job.name, now)

    def _trigger_children(self, parent: str, when: float) -> None:
        for child in self.jobs.values():
            parents = child.job.parents or []
            if parent not in parents or child.job.disabled:
                continue
            child.parents_done[parent] = when
            ready = all(child.parents_done.get(p, 0.0) > child.last_trigger for p in parents)
            if not ready:
                self.store.put(f"{JOBS}/{_key(child.job.name)}", child.to_doc())
                continue
            trigger = max(child.parents_done[p] for p in parents)
            child.last_trigger = trigger
            run = Run(child.job.name, trigger, kind="dependency", planned_at=when)
            ops = [
                Put(f"chronos/runs/{run.key}", run.to_doc()),
                Put(f"{JOBS}/{_key(child.job.name)}", child.to_doc()),
            ]
            self.store.transaction(ops)
            self.runs[run.key] = run
        self.wake()

    # ---- read models -----------------------------------------------------------------------

    def stats(self, js: JobState) -> dict[str, Any]:
        return {
            "successCount": js.success_count,
            "errorCount": js.error_count,
            "lastSuccess": _iso(js.last_success),
            "lastError": _iso(js.last_error),
            "errorsSinceLastSuccess": js.errors_since_last_success,
        }

    def job_state(self, js: JobState) -> str:
        running = [r for r in self.runs.values() if r.job == js.job.name]
        if any(r.state in (RunState.LAUNCHING, RunState.RUNNING) for r in running):
            n = sum(1 for r in running if r.state in (RunState.LAUNCHING, RunState.RUNNING))
            return f"{n} running"
        if running:
            return "queued"
        return "idle"

    def job_status(self, js: JobState) -> str:
        if js.last_success is None and js.last_error is None:
            return "fresh"
        if js.last_error is not None and (js.last_success or 0) < js.last_error:
            return "failure"
        return "success"


def _by_name(js: JobState) -> str:
    return js.job.name


def _agent_address(offer: dict[str, Any]) -> str:
    """ "<ip>:<port>" of the offer's agent (its `url.address`), or "" if the offer has none."""
    address = (offer.get("url") or {}).get("address") or {}
    host = address.get("ip") or address.get("hostname") or offer.get("hostname") or ""
    port = address.get("port")
    return f"{host}:{port}" if host and port else ""


def _iso(t: float | None) -> str:
    if t is None:
        return ""
    return (
        datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%S.")
        + f"{int(t * 1000) % 1000:03d}Z"
    )


def _key(name: str) -> str:
    return quote(name, safe="")
