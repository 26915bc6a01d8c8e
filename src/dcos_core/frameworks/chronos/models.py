"""Chronos and Metronome job definitions, their validation and their JSON forms (pure: no I/O).

Chronos jobs (``/v1/scheduler/iso8601``, ``/v1/scheduler/dependency``, ``GET .../jobs``)
-----------------------------------------------------------------------------------------

Compatible with Chronos 2.x/3.x job JSON (``JobDeserializer``/``JobSerializer``) and with the
Python client ``chronos-python`` 1.2, which sends a job back whole on update: the server-kept
counters (``successCount``, ``errorCount``, ``lastSuccess``, ``lastError``,
``errorsSinceLastSuccess``) and 2.x's ``async`` are accepted and ignored; unknown keys are
ignored; JSON ``null`` means "absent". A job has exactly one of ``schedule`` (an ISO 8601
repeating interval, see `schedule`) and ``parents`` (non-empty; a dependency job). ``cpus``,
``mem`` and ``disk`` default to 0.1 / 128 / 256 when absent or 0, as Chronos' ``--mesos_task_*``
flags. Invalid input raises `JobValidationError`, whose `body()` is Chronos' 400 ``ApiResult``:
``{"status": "Bad Request", "message": "..."}`` (Chronos sends the status *text* there, from
``Response.Status.BAD_REQUEST.toString``; the HTTP status code is `JobValidationError.status_code`).

`render_job` gives the job JSON of Chronos 3.x (``JobSerializer``'s keys and order, plus
``concurrent``, ``maxCompletionTime`` and our ``missedRuns``): ``schedule`` and
``scheduleTimeZone`` for schedule jobs, ``parents`` only for dependency jobs (chronos-python
refuses a job that has both), ``container`` only when there is one, timestamps as Joda prints
them (``2014-03-08T16:57:17.507Z``) or ``""``.

Missed runs (beyond Chronos: ``missedRuns``, per job)
-----------------------------------------------------

A run is *missed* when its scheduled time is more than the job's ``epsilon`` (default
``PT60S``) in the past when the scheduler gets to it, i.e. Chronos or the master was down.

* ``"catch_up"`` (default, Chronos 3 semantics): Chronos 3 "never skips a job" but its
  ``skipForward`` coalesces all occurrences missed during an outage into **one** run and then
  continues on the original grid. So do we: all missed scheduled times of an outage produce
  exactly **one catch-up run in total** (keyed in the run ledger by the latest missed time,
  launched at once), not one run per missed time. Coalesced runs do not use up ``Rn``
  repetitions (``Rn`` means n runs, as in Chronos).
* ``"skip"``: missed times are recorded as skipped and not run (Chronos 2 / Metronome
  ``startingDeadlineSeconds`` behaviour).

Scheduled times that are late by at most ``epsilon`` are not missed: each runs exactly once.
That holds at creation too: a job created (or given a new schedule) less than ``epsilon`` after
its latest scheduled time runs that time once (an ``R1`` job whose start is the second it was
created in, or an empty start, runs), but no time before that one.
`dcos_core.frameworks.chronos.schedule.plan_due` implements this split.

Metronome jobs (``/v1/jobs``)
-----------------------------

`MetronomeJob` is a Metronome ``JobSpec`` with cron ``schedules`` (``ScheduleSpec``). Invalid
input raises `MetronomeValidationError`, whose `body()` is Metronome's 422 body
``{"message": "Object is not valid", "details": [{"path": "/run/mem", "errors": ["..."]}]}``.
`metronome_to_job` gives the `Job` the Chronos service plans and launches for a Metronome job
(one job namespace, one run ledger): its name is the job's id, it has neither an ISO 8601
schedule nor parents (its cron schedules are planned from the spec), and it is ``concurrent``
(``concurrencyPolicy`` is applied when occurrences are planned).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, TypeVar

import isodate
from pydantic import (
    AliasGenerator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic.alias_generators import to_camel

from dcos_core.errors import InvalidError, ObjectNotValidError, ValidationDetail
from dcos_core.frameworks.chronos.schedule import (
    CronSchedule,
    RepeatingInterval,
    ScheduleError,
    format_iso8601_schedule,
    parse_cron,
    parse_iso8601_schedule,
    resolve_zone,
)
from dcos_core.frameworks.plain_errors import plain_message

__all__ = [
    "Constraint",
    "Container",
    "EnvironmentVariable",
    "Fetch",
    "Job",
    "JobStats",
    "JobValidationError",
    "MetronomeJob",
    "MetronomeRun",
    "MetronomeSchedule",
    "MetronomeValidationError",
    "MissedRuns",
    "format_chronos_time",
    "job_from_storage",
    "job_to_storage",
    "metronome_to_job",
    "parse_job",
    "parse_metronome_job",
    "parse_metronome_schedule",
    "render_job",
    "render_metronome_job",
    "render_metronome_schedule",
]

JOB_NAME_RE = re.compile(r"[\w.-]+", re.ASCII)
"""Chronos' ``JobUtils.jobNamePattern`` (Java's ``\\w`` is ASCII), matched in full."""

METRONOME_ID_RE = re.compile(r"[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*")
METRONOME_SCHEDULE_ID_RE = re.compile(r"[a-z0-9]([a-z0-9-]*[a-z0-9])?")

DEFAULT_CPUS = 0.1
DEFAULT_MEM = 128.0
DEFAULT_DISK = 256.0
DEFAULT_EPSILON = "PT60S"
READ_ONLY_KEYS = frozenset(
    {"successCount", "errorCount", "lastSuccess", "lastError", "errorsSinceLastSuccess", "async"}
)

SCHEDULE_EXPECTED = (
    "expected an ISO 8601 repeating interval R[n]/<start>/<period> such as"
    " R/2026-01-01T00:00:00Z/PT1H"
)
_NAME_EXPECTED = "expected letters, digits, '_', '.' and '-' only, such as nightly-backup"

MissedRuns = Literal["catch_up", "skip"]
ConstraintOperator = Literal["EQUALS", "LIKE", "UNLIKE"]
Constraint = tuple[str, ConstraintOperator, str]
_M = TypeVar("_M", bound=BaseModel)

# ---------------------------------------------------------------------------------------------
# errors


class JobValidationError(InvalidError):
    """A Chronos job is not valid (HTTP 400 with `body()`, Chronos' ApiResult)."""

    def __init__(self, message: str) -> None:
        self.message = message
        super().__init__(message)

    def body(self) -> dict[str, Any]:
        """Chronos' JSON body for this error."""
        return {"status": "Bad Request", "message": self.message}


class MetronomeValidationError(ObjectNotValidError):
    """A Metronome job or schedule is not valid (HTTP 422 with `body()`)."""


def _error_text(err: Any) -> str:
    return plain_message(err)


def _chronos_errors(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors():
        loc = ".".join(str(x) for x in err.get("loc", ()))
        parts.append(f"{loc}: {_error_text(err)}" if loc else _error_text(err))
    return "; ".join(parts)


def _metronome_details(exc: ValidationError, prefix: str = "") -> list[ValidationDetail]:
    by_path: dict[str, list[str]] = {}
    for err in exc.errors():
        path = prefix + "/" + "/".join(str(x) for x in err.get("loc", ()))
        path = path.rstrip("/") or "/"
        msgs = by_path.setdefault(path, [])
        text = _error_text(err)
        if text not in msgs:
            msgs.append(text)
    return [{"path": p, "errors": e} for p, e in by_path.items()]


# ---------------------------------------------------------------------------------------------
# Chronos job


class _Model(BaseModel):
    model_config = ConfigDict(
        alias_generator=AliasGenerator(validation_alias=to_camel, serialization_alias=to_camel),
        populate_by_name=True,
        extra="ignore",
        frozen=True,
    )

    @model_validator(mode="before")
    @classmethod
    def _nulls_are_absent(cls, data: Any) -> Any:
        if isinstance(data, dict):
            return {k: v for k, v in data.items() if v is not None}
        return data


class EnvironmentVariable(_Model):
    name: str
    value: str = ""


class Parameter(_Model):
    key: str
    value: str = ""


class ExternalVolume(_Model):
    name: str
    provider: str
    options: list[Parameter] = []


class Volume(_Model):
    container_path: str
    host_path: str | None = None
    mode: Literal["RO", "RW"] | None = None
    external: ExternalVolume | None = None

    @field_validator("mode", mode="before")
    @classmethod
    def _upper(cls, v: Any) -> Any:
        return v.upper() if isinstance(v, str) else v


class Container(_Model):
    """``container``: Chronos defaults the type to DOCKER and the network to HOST."""

    type: Literal["DOCKER", "MESOS"] = "DOCKER"
    image: str = Field(min_length=1)
    network: Literal["HOST", "BRIDGE", "USER", "NONE"] = "HOST"
    network_name: str | None = None
    volumes: list[Volume] = []
    force_pull_image: bool = False
    parameters: list[Parameter] = []

    @field_validator("type", "network", mode="before")
    @classmethod
    def _upper(cls, v: Any) -> Any:
        return v.upper() if isinstance(v, str) else v


class Fetch(_Model):
    uri: str = Field(min_length=1)
    executable: bool = False
    cache: bool = False
    extract: bool = False


class Job(_Model):
    """A Chronos job. Exactly one of `schedule` and `parents` is set."""

    name: str
    command: str
    shell: bool = True
    arguments: list[str] = []
    schedule: str | None = None
    schedule_time_zone: str = ""
    parents: list[str] | None = None
    epsilon: str = DEFAULT_EPSILON
    executor: str = ""
    executor_flags: str = ""
    task_info_data: str = ""
    owner: str = ""
    owner_name: str = ""
    description: str = ""
    retries: int = Field(default=2, ge=0)
    cpus: float = Field(default=DEFAULT_CPUS, gt=0)
    mem: float = Field(default=DEFAULT_MEM, gt=0)
    disk: float = Field(default=DEFAULT_DISK, gt=0)
    disabled: bool = False
    concurrent: bool = False
    soft_error: bool = False
    high_priority: bool = False
    data_processing_job_type: bool = False
    max_completion_time: int = Field(default=0, ge=0)
    run_as_user: str = ""
    container: Container | None = None
    environment_variables: list[EnvironmentVariable] = []
    uris: list[str] = []
    fetch: list[Fetch] = []
    constraints: list[Constraint] = []
    missed_runs: MissedRuns = "catch_up"

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not JOB_NAME_RE.fullmatch(v):
            raise ValueError(f"invalid job name '{v}': {_NAME_EXPECTED}")
        return v

    @field_validator("cpus", "mem", "disk", mode="before")
    @classmethod
    def _zero_is_default(cls, v: Any, info: ValidationInfo) -> Any:
        try:
            zero = float(v) == 0
        except (TypeError, ValueError):
            return v
        if zero:
            defaults = {"cpus": DEFAULT_CPUS, "mem": DEFAULT_MEM, "disk": DEFAULT_DISK}
            return defaults[str(info.field_name)]
        return v

    @field_validator("epsilon")
    @classmethod
    def _epsilon(cls, v: str) -> str:
        _parse_epsilon(v)
        return v

    @field_validator("schedule_time_zone")
    @classmethod
    def _zone(cls, v: str) -> str:
        v = v.strip()
        if v:
            resolve_zone(v)
        return v

    @field_validator("parents")
    @classmethod
    def _parents(cls, v: list[str] | None) -> list[str] | None:
        if v is None:
            return v
        if not v:
            raise ValueError("a dependency job needs at least one parent: got an empty list")
        seen: list[str] = []
        for p in v:
            if not JOB_NAME_RE.fullmatch(p):
                raise ValueError(f"invalid parent name '{p}': {_NAME_EXPECTED}")
            if p not in seen:
                seen.append(p)
        return seen

    @model_validator(mode="after")
    def _shape(self) -> Job:
        if (self.schedule is None) == (self.parents is None):
            raise ValueError(
                "schedule, parents: a job has exactly one of 'schedule' (a scheduled job) and"
                " 'parents' (a dependency job)"
            )
        if self.parents is not None and self.name in self.parents:
            raise ValueError(f"parents: job '{self.name}' cannot be its own parent")
        if self.uris and self.fetch:
            raise ValueError("uris, fetch: give 'fetch' or the older 'uris', not both")
        return self

    @property
    def is_dependency(self) -> bool:
        return self.parents is not None

    @property
    def grace(self) -> timedelta:
        """`epsilon` as a duration: how late a run may start and still count as on time."""
        return _parse_epsilon(self.epsilon)

    def container_info(self) -> dict[str, Any] | None:
        """The Mesos v1 ``ContainerInfo`` for the job's task (None: a plain command)."""
        c = self.container
        if c is None:
            return None
        volumes = [
            {"container_path": v.container_path, "host_path": v.host_path, "mode": v.mode or "RW"}
            for v in c.volumes
            if v.host_path
        ]
        out: dict[str, Any]
        if c.type == "MESOS":
            out = {
                "type": "MESOS",
                "mesos": {"image": {"type": "DOCKER", "docker": {"name": c.image}}},
            }
        else:
            docker: dict[str, Any] = {
                "image": c.image,
                "network": c.network if c.network in ("HOST", "BRIDGE", "NONE") else "USER",
                "force_pull_image": c.force_pull_image,
            }
            if c.parameters:
                docker["parameters"] = [{"key": p.key, "value": p.value} for p in c.parameters]
            out = {"type": "DOCKER", "docker": docker}
        if c.network_name:
            out["network_infos"] = [{"name": c.network_name}]
        if volumes:
            out["volumes"] = volumes
        return out

    def interval(self) -> RepeatingInterval | None:
        """The parsed schedule (None for a dependency job); `scheduleTimeZone` applied."""
        if self.schedule is None:
            return None
        return parse_iso8601_schedule(self.schedule, self.schedule_time_zone or None)


def _parse_epsilon(text: str) -> timedelta:
    try:
        d = isodate.parse_duration(text.strip())
    except (isodate.ISO8601Error, ValueError, AttributeError):
        raise ValueError(
            f"invalid duration '{text}': expected an ISO 8601 duration such as PT60S"
        ) from None
    td: timedelta = (
        d.totimedelta(start=datetime(2000, 1, 1)) if isinstance(d, isodate.Duration) else d
    )
    if td < timedelta(0):
        raise ValueError(f"invalid duration '{text}': it must not be negative")
    return td


def parse_job(body: Any, *, dependency: bool | None = None, now: datetime | None = None) -> Job:
    """Validate a Chronos job JSON body.

    `dependency` is True for ``/dependency`` (``parents`` required), False for ``/iso8601``
    (``schedule`` required), None to accept either. `now` (aware) is needed only for a schedule
    with an empty start ("now"); the stored schedule then carries the concrete start.
    """
    if not isinstance(body, dict):
        raise JobValidationError("the request body must be a job: a JSON object")
    data = {k: v for k, v in body.items() if k not in READ_ONLY_KEYS and v is not None}
    for key in ("name", "command"):
        if key not in data:
            raise JobValidationError(f"{key}: is required")
    if dependency is True and "parents" not in data:
        raise JobValidationError(
            "parents: is required for a dependency job: expected a list of job names"
        )
    if dependency is False and "schedule" not in data:
        raise JobValidationError(f"schedule: is required: {SCHEDULE_EXPECTED}")
    try:
        job = Job.model_validate(data)
    except ValidationError as exc:
        raise JobValidationError(_chronos_errors(exc)) from None
    if job.schedule is not None:
        try:
            ri = parse_iso8601_schedule(job.schedule, job.schedule_time_zone or None, now=now)
        except ScheduleError as exc:
            raise JobValidationError(f"schedule: {exc}") from None
        if ri.start.year < 1970:
            raise JobValidationError(
                f"schedule: the start time of '{job.schedule}' is before 1970: expected a start"
                " in 1970 or later"
            )
        if job.schedule.split("/")[1].strip() == "":
            job = job.model_copy(update={"schedule": format_iso8601_schedule(ri)})
    return job


# ---------------------------------------------------------------------------------------------
# rendering and storage


@dataclass(frozen=True)
class JobStats:
    """The server-kept counters of a job (never taken from client input)."""

    success_count: int = 0
    error_count: int = 0
    last_success: datetime | None = None
    last_error: datetime | None = None
    errors_since_last_success: int = 0


def format_chronos_time(dt: datetime | None) -> str:
    """A timestamp as Chronos prints it (Joda: ``2014-03-08T16:57:17.507Z``); None gives ``""``."""
    if dt is None:
        return ""
    u = dt.astimezone(UTC)
    return u.strftime("%Y-%m-%dT%H:%M:%S.") + f"{u.microsecond // 1000:03d}Z"


def _render_container(c: Container) -> dict[str, Any]:
    volumes = []
    for v in c.volumes:
        vol: dict[str, Any] = {}
        if v.host_path is not None:
            vol["hostPath"] = v.host_path
        vol["containerPath"] = v.container_path
        if v.mode is not None:
            vol["mode"] = v.mode
        if v.external is not None:
            vol["external"] = {
                "name": v.external.name,
                "provider": v.external.provider,
                "options": [{"key": o.key, "value": o.value} for o in v.external.options],
            }
        volumes.append(vol)
    out: dict[str, Any] = {"type": c.type, "image": c.image, "network": c.network}
    if c.network_name is not None:
        out["networkName"] = c.network_name
    out["volumes"] = volumes
    out["forcePullImage"] = c.force_pull_image
    out["parameters"] = [{"key": p.key, "value": p.value} for p in c.parameters]
    return out


def _stat_time(value: Any) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value, UTC)
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


def _as_stats(stats: JobStats | Mapping[str, Any] | None) -> JobStats:
    if stats is None:
        return JobStats()
    if isinstance(stats, JobStats):
        return stats
    return JobStats(
        success_count=int(stats.get("successCount", 0)),
        error_count=int(stats.get("errorCount", 0)),
        last_success=_stat_time(stats.get("lastSuccess")),
        last_error=_stat_time(stats.get("lastError")),
        errors_since_last_success=int(stats.get("errorsSinceLastSuccess", 0)),
    )


def render_job(job: Job, stats: JobStats | Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The Chronos 3.x job JSON (what ``GET /v1/scheduler/jobs`` lists).

    `stats` is a `JobStats`, or a mapping with Chronos' camelCase counter keys (times as
    datetimes, epoch seconds, ISO strings or ``""``).
    """
    s = _as_stats(stats)
    out: dict[str, Any] = {
        "name": job.name,
        "command": job.command,
        "shell": job.shell,
        "epsilon": job.epsilon,
        "executor": job.executor,
        "executorFlags": job.executor_flags,
        "taskInfoData": job.task_info_data,
        "retries": job.retries,
        "owner": job.owner,
        "ownerName": job.owner_name,
        "description": job.description,
        "async": False,
        "successCount": s.success_count,
        "errorCount": s.error_count,
        "lastSuccess": format_chronos_time(s.last_success),
        "lastError": format_chronos_time(s.last_error),
        "cpus": job.cpus,
        "disk": job.disk,
        "mem": job.mem,
        "disabled": job.disabled,
        "softError": job.soft_error,
        "dataProcessingJobType": job.data_processing_job_type,
        "errorsSinceLastSuccess": s.errors_since_last_success,
        "fetch": [
            {"uri": f.uri, "executable": f.executable, "cache": f.cache, "extract": f.extract}
            for f in job.fetch
        ],
        "uris": list(job.uris),
        "environmentVariables": [
            {"name": e.name, "value": e.value} for e in job.environment_variables
        ],
        "arguments": list(job.arguments),
        "highPriority": job.high_priority,
        "runAsUser": job.run_as_user,
    }
    if job.container is not None:
        out["container"] = _render_container(job.container)
    out["constraints"] = [list(c) for c in job.constraints]
    out["concurrent"] = job.concurrent
    out["maxCompletionTime"] = job.max_completion_time
    out["missedRuns"] = job.missed_runs
    if job.parents is not None:
        out["parents"] = list(job.parents)
    else:
        out["schedule"] = job.schedule
        out["scheduleTimeZone"] = job.schedule_time_zone
    return out


STORAGE_VERSION = 1


def job_to_storage(job: Job) -> dict[str, Any]:
    """A JSON-able record of `job` for the store (snake_case keys, versioned)."""
    return {"v": STORAGE_VERSION, "job": job.model_dump(mode="json", by_alias=False)}


def job_from_storage(record: dict[str, Any]) -> Job:
    """The job saved by `job_to_storage`."""
    if record.get("v") != STORAGE_VERSION:
        raise InvalidError(
            f"a stored Chronos job has version {record.get('v')!r}; this dcos-core reads version"
            f" {STORAGE_VERSION}: run the dcos-core version that wrote it"
        )
    return Job.model_validate(record["job"])


# ---------------------------------------------------------------------------------------------
# Metronome


class _MModel(_Model):
    """Metronome models keep the JobSpec keys we do not model (artifacts, placement, ...)."""

    model_config = ConfigDict(extra="allow")


class MetronomeDocker(_MModel):
    image: str = Field(min_length=1)
    force_pull_image: bool = False


class MetronomeRestart(_MModel):
    policy: Literal["NEVER", "ON_FAILURE"] = "NEVER"
    active_deadline_seconds: int | None = Field(default=None, ge=1)


class MetronomeRun(_MModel):
    """``run`` of a JobSpec. ``cpus``, ``mem`` and ``disk`` are required, as in Metronome."""

    cmd: str | None = None
    args: list[str] | None = None
    cpus: float = Field(ge=0.01)
    mem: float = Field(ge=32)
    disk: float = Field(ge=0)
    env: dict[str, str | dict[str, str]] = {}
    docker: MetronomeDocker | None = None
    max_launch_delay: int = Field(default=3600, ge=1)
    restart: MetronomeRestart = MetronomeRestart()
    user: str | None = None

    @model_validator(mode="after")
    def _something_to_run(self) -> MetronomeRun:
        if not self.cmd and not self.args and self.docker is None:
            raise ValueError("nothing to run: give one of cmd, args or docker")
        return self


class MetronomeSchedule(_MModel):
    """A ScheduleSpec: a cron expression in an IANA time zone."""

    model_config = ConfigDict(extra="ignore")

    id: str
    cron: str
    timezone: str = "UTC"
    starting_deadline_seconds: int = Field(default=900, ge=1)
    concurrency_policy: Literal["ALLOW", "FORBID"] = "ALLOW"
    enabled: bool = True

    @field_validator("id")
    @classmethod
    def _id(cls, v: str) -> str:
        if not METRONOME_SCHEDULE_ID_RE.fullmatch(v):
            raise ValueError(
                f"invalid schedule id '{v}': expected lowercase letters, digits and '-', such as"
                " nightly-1"
            )
        return v

    @field_validator("cron")
    @classmethod
    def _cron(cls, v: str) -> str:
        return parse_cron(v).expression

    @field_validator("timezone")
    @classmethod
    def _zone(cls, v: str) -> str:
        resolve_zone(v)
        return v.strip() or "UTC"

    def cron_schedule(self) -> CronSchedule:
        return CronSchedule(self.cron, self.timezone)

    @property
    def deadline(self) -> timedelta:
        return timedelta(seconds=self.starting_deadline_seconds)


class MetronomeJob(_MModel):
    id: str
    description: str = ""
    labels: dict[str, str] = {}
    run: MetronomeRun
    schedules: list[MetronomeSchedule] = []

    @field_validator("id")
    @classmethod
    def _id(cls, v: str) -> str:
        if not METRONOME_ID_RE.fullmatch(v):
            raise ValueError(
                f"invalid job id '{v}': expected names of lowercase letters, digits and '-',"
                " joined by '.', such as prod.backup"
            )
        return v

    @field_validator("schedules")
    @classmethod
    def _unique(cls, v: list[MetronomeSchedule]) -> list[MetronomeSchedule]:
        ids = [s.id for s in v]
        twice = sorted({i for i in ids if ids.count(i) > 1})
        if twice:
            raise ValueError(f"schedule ids must be unique: {', '.join(twice)} used twice")
        return v


def _parse_metronome(model: type[_M], body: Any, what: str) -> _M:
    if not isinstance(body, dict):
        raise MetronomeValidationError(
            [{"path": "/", "errors": [f"the request body must be a {what}: a JSON object"]}]
        )
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        raise MetronomeValidationError(_metronome_details(exc)) from None


def parse_metronome_job(body: Any) -> MetronomeJob:
    """Validate a Metronome JobSpec (``POST /v1/jobs``, ``PUT /v1/jobs/{id}``)."""
    return _parse_metronome(MetronomeJob, body, "job")


def parse_metronome_schedule(body: Any) -> MetronomeSchedule:
    """Validate a Metronome ScheduleSpec (``/v1/jobs/{id}/schedules``)."""
    return _parse_metronome(MetronomeSchedule, body, "schedule")


def render_metronome_schedule(s: MetronomeSchedule) -> dict[str, Any]:
    return {
        "id": s.id,
        "cron": s.cron,
        "timezone": s.timezone,
        "startingDeadlineSeconds": s.starting_deadline_seconds,
        "concurrencyPolicy": s.concurrency_policy,
        "enabled": s.enabled,
    }


def render_metronome_job(job: MetronomeJob, *, embed_schedules: bool = True) -> dict[str, Any]:
    """The JobSpec JSON (``schedules`` only with `embed_schedules`, like ``embed=schedules``)."""
    run = job.run.model_dump(mode="json", by_alias=True, exclude_none=True)
    out: dict[str, Any] = {
        "id": job.id,
        "description": job.description,
        "labels": dict(job.labels),
        "run": run,
    }
    out.update(job.model_extra or {})
    if embed_schedules:
        out["schedules"] = [render_metronome_schedule(s) for s in job.schedules]
    return out


def metronome_to_job(spec: MetronomeJob) -> Job:
    """The Chronos `Job` the service keeps for the Metronome job `spec` (validated already).

    It is neither a schedule job nor a dependency job, so it is built without `Job`'s shape
    check: name = id, resources and user from ``run``, ``env`` (plain string values only; secret
    references are not supported), ``docker.image`` as a DOCKER container, ``concurrent``.
    Retries are decided from ``run.restart`` by the service, not from `Job.retries`.
    """
    r = spec.run
    if r.cmd:
        command, shell, arguments = r.cmd, True, []
    elif r.args:
        command, shell, arguments = r.args[0], False, list(r.args[1:])
    else:
        command, shell, arguments = "", False, []
    container = (
        Container(image=r.docker.image, force_pull_image=r.docker.force_pull_image)
        if r.docker is not None
        else None
    )
    env = [EnvironmentVariable(name=k, value=v) for k, v in r.env.items() if isinstance(v, str)]
    return Job.model_construct(
        name=spec.id,
        command=command,
        shell=shell,
        arguments=arguments,
        schedule=None,
        parents=None,
        description=spec.description,
        retries=0,
        cpus=r.cpus,
        mem=r.mem,
        disk=r.disk,
        concurrent=True,
        run_as_user=r.user or "",
        container=container,
        environment_variables=env,
    )
