"""Chronos and Metronome schedules: ISO 8601 repeating intervals and cron expressions (pure).

No I/O and no clock reads: every function that needs the current time takes it as an argument.
**All times are timezone-aware `datetime`s**; results are returned in UTC (`datetime.UTC`),
ascending. A naive datetime passed where an instant is expected raises `ValueError`.

ISO 8601 repeating intervals (Chronos ``schedule``)
---------------------------------------------------

``R[n]/<start>/<period>``: ``R`` repeats forever, ``Rn`` runs n times counting the start itself,
``R0`` never runs. The start is any ISO 8601 date-time; without a zone it is UTC. An empty start
means "now - 1 s" (Chronos), so `parse_iso8601_schedule` then needs ``now``.

``scheduleTimeZone`` (the ``tz`` argument of `parse_iso8601_schedule`) overrides the zone of the
start the way Chronos does (Joda ``withZoneRetainFields``): the start's wall-clock fields are kept
and re-interpreted in that zone, so ``2014-10-10T18:32:00Z`` with ``America/Los_Angeles`` means
18:32 Pacific. Java's legacy three-letter ids that Chronos users write (``PST``, ``EST``, ...)
are mapped as Joda maps them (``PST`` -> ``America/Los_Angeles``). An unknown zone is rejected
(Java would silently fall back to GMT).

Periods follow Joda's field arithmetic: years, months, weeks and days are *calendar* units, added
to the local wall clock in the job's zone (so ``P1D`` at 02:30 Europe/Berlin stays at 02:30 local
across DST, and ``P1M`` from Jan 31 gives Feb 28, then Mar 31); hours, minutes and seconds are
*absolute* (``PT1H`` is always 3,600 s, ``PT24H`` is not ``P1D``). Occurrence k is computed as
``start + k * period`` from the original start, never by repeated stepping, so a clamped month
end or a DST shift never drifts into later occurrences.

DST for ISO schedules (Joda's rule, as Chronos): a local time that does not exist (spring gap)
is shifted forward by the length of the gap (02:30 -> 03:30 on the day clocks jump 02:00 ->
03:00); an ambiguous local time (fall back) resolves to its *first* instant, so it runs once.

Cron expressions (Metronome ``schedules[].cron``)
-------------------------------------------------

Five fields (minute hour day-of-month month day-of-week, Vixie semantics incl. the OR of the two
day fields), evaluated on the wall clock of the schedule's IANA ``timezone``. DST follows Vixie
cron, the behaviour operators expect from cron:

* a *fixed-time* job (neither the minute nor the hour field starts with ``*``) whose local time
  falls into the spring gap runs **once, at the first valid instant after the gap** (03:00 for a
  02:30 job when clocks jump 02:00 -> 03:00). Skipping it would silently lose a daily run, which
  is exactly the failure Chronos users complained about; running at 03:00 keeps "every day once".
  In the fall, a fixed-time job in the repeated hour runs **once**, at the first instant.
* a *wildcard* job (``*/15 * * * *``, ``30 * * * *``, ``* 2 * * *``) follows real time: its
  matches inside the gap do not exist and are not run, and it runs in both copies of the
  repeated hour (so a job every 15 minutes keeps running every 15 minutes).

Missed runs (`plan_due`)
------------------------

A scheduled time whose launch is late by at most ``grace`` (Chronos 2's ``epsilon``, Metronome's
``startingDeadlineSeconds``) runs normally, exactly once. Older ones were *missed* (Chronos or the
master was down). Chronos 3 never skips: its ``skipForward`` coalesces every missed occurrence
into a single run and then continues on the original grid. We do the same by default
(``"catch_up"``): all missed times of an outage produce **one** run in total, keyed by the latest
missed time, not one run per missed time; ``"skip"`` runs none of them (Metronome/Kubernetes
``startingDeadlineSeconds`` behaviour).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import isodate
from croniter import CroniterError, croniter

__all__ = [
    "CronSchedule",
    "DuePlan",
    "MissedRuns",
    "Period",
    "RepeatingInterval",
    "ScheduleError",
    "advance",
    "cron_next_after",
    "cron_occurrences",
    "due_at_creation",
    "format_iso8601_schedule",
    "next_after",
    "occurrences",
    "parse_cron",
    "parse_iso8601_schedule",
    "plan_due",
    "remaining_repetitions",
    "resolve_zone",
]


class ScheduleError(ValueError):
    """A schedule, period, cron expression or time zone that cannot be used."""


# ---------------------------------------------------------------------------------------------
# time zones

# Java's legacy short ids as Joda's DateTimeZone.forTimeZone converts them (Chronos docs use "PST").
_JAVA_SHORT_IDS = {
    "MIT": "Pacific/Apia",
    "HST": "Pacific/Honolulu",
    "AST": "America/Anchorage",
    "PST": "America/Los_Angeles",
    "MST": "America/Denver",
    "PNT": "America/Phoenix",
    "CST": "America/Chicago",
    "EST": "America/New_York",
    "IET": "America/Indiana/Indianapolis",
    "PRT": "America/Puerto_Rico",
    "CNT": "America/St_Johns",
    "AGT": "America/Argentina/Buenos_Aires",
    "BET": "America/Sao_Paulo",
    "ART": "Africa/Cairo",
    "CAT": "Africa/Harare",
    "EET": "Europe/Bucharest",
    "NET": "Asia/Yerevan",
    "PLT": "Asia/Karachi",
    "IST": "Asia/Kolkata",
    "BST": "Asia/Dhaka",
    "VST": "Asia/Ho_Chi_Minh",
    "CTT": "Asia/Shanghai",
    "JST": "Asia/Tokyo",
    "ACT": "Australia/Darwin",
    "AET": "Australia/Sydney",
    "SST": "Pacific/Guadalcanal",
    "NST": "Pacific/Auckland",
}


def resolve_zone(name: str | None) -> tzinfo:
    """The zone called `name` (IANA id, ``UTC``/``Z``, or a Java short id); empty means UTC."""
    if name is None or not name.strip():
        return UTC
    key = name.strip()
    if key.upper() in ("UTC", "Z", "GMT", "ETC/UTC"):
        return UTC
    try:
        return ZoneInfo(_JAVA_SHORT_IDS.get(key, key))
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ScheduleError(
            f"unknown time zone '{name}': expected an IANA time zone name such as Europe/Berlin"
            " or America/New_York, or UTC"
        ) from None


def _utc(dt: datetime, what: str = "time") -> datetime:
    if dt.tzinfo is None or dt.utcoffset() is None:
        raise ValueError(f"{what} must be a timezone-aware datetime, got naive {dt.isoformat()}")
    return dt.astimezone(UTC)


def _us(td: timedelta) -> int:
    """Exact length of `td` in microseconds."""
    return (td.days * 86_400 + td.seconds) * 1_000_000 + td.microseconds


def _naive_local(dt: datetime, zone: tzinfo) -> datetime:
    return dt.astimezone(zone).replace(tzinfo=None)


# ---------------------------------------------------------------------------------------------
# periods

_PERIOD_EXPECTED = "expected an ISO 8601 duration such as PT30S, PT1H, P1D or P1W"
_CRON_EXPECTED = (
    "expected 5 fields (minute hour day-of-month month day-of-week) such as '30 2 * * *'"
)


@dataclass(frozen=True)
class Period:
    """An ISO 8601 duration: calendar part (years, months, days; weeks are 7 days) + exact time."""

    years: int = 0
    months: int = 0
    days: int = 0
    time: timedelta = timedelta(0)

    def __post_init__(self) -> None:
        if min(self.years, self.months, self.days) < 0 or self.time < timedelta(0):
            raise ScheduleError(f"invalid period '{self}': it must not be negative")

    @classmethod
    def parse(cls, text: str) -> Period:
        """Parse ``P1Y2M3W4DT5H6M7.5S`` (fractions only on seconds; a zero period is invalid)."""
        s = text.strip().upper()
        if not s.startswith("P") or len(s) < 3 or s.endswith("T") or s.startswith("-"):
            raise ScheduleError(f"invalid period '{text}': {_PERIOD_EXPECTED}")
        date_part, sep, time_part = s.partition("T")
        years = months = days = 0
        time = timedelta(0)
        try:
            if date_part != "P":
                d = isodate.parse_duration(date_part)
                if isinstance(d, isodate.Duration):
                    years, months = _whole(d.years, text), _whole(d.months, text)
                    d = d.tdelta
                if _us(d) % (86_400 * 1_000_000):
                    raise ScheduleError(
                        f"invalid period '{text}': days must be whole (write PT12H for half a day)"
                    )
                days = d.days
            if sep:
                t = isodate.parse_duration("PT" + time_part)
                if isinstance(t, isodate.Duration):  # pragma: no cover - PT... has no months
                    raise ScheduleError(f"invalid period '{text}': {_PERIOD_EXPECTED}")
                time = t
        except (isodate.ISO8601Error, ValueError, ArithmeticError) as exc:
            if isinstance(exc, ScheduleError):
                raise
            raise ScheduleError(f"invalid period '{text}': {_PERIOD_EXPECTED}") from None
        period = cls(years, months, days, time)
        if period.is_zero:
            raise ScheduleError(f"invalid period '{text}': it must not be zero")
        return period

    @property
    def is_zero(self) -> bool:
        return not (self.years or self.months or self.days or self.time)

    @property
    def is_calendar(self) -> bool:
        """True if the period has calendar units (its length depends on the date and zone)."""
        return bool(self.years or self.months or self.days)

    def nominal_seconds(self) -> float:
        """Average length in seconds (a month is 1/12 of 365.2425 days): only for estimates."""
        days = self.years * 365.2425 + self.months * 30.436875 + self.days
        return days * 86_400 + self.time.total_seconds()

    def add_calendar(self, local: datetime, k: int = 1) -> datetime:
        """`local` (naive wall clock) plus k times the calendar part (month ends clamp)."""
        if self.years or self.months:
            local = local + isodate.Duration(years=self.years * k, months=self.months * k)
        if self.days:
            local = local + timedelta(days=self.days * k)
        return local

    def __str__(self) -> str:
        out = "P"
        if self.years:
            out += f"{self.years}Y"
        if self.months:
            out += f"{self.months}M"
        if self.days:
            out += f"{self.days}D"
        if self.time:
            us = _us(self.time)
            hours, us = divmod(us, 3_600_000_000)
            minutes, us = divmod(us, 60_000_000)
            out += "T"
            if hours:
                out += f"{hours}H"
            if minutes:
                out += f"{minutes}M"
            if us:
                secs, frac = divmod(us, 1_000_000)
                out += f"{secs}.{frac:06d}".rstrip("0") + "S" if frac else f"{secs}S"
        return out if out != "P" else "PT0S"


def _whole(value: object, text: str) -> int:
    f = float(str(value))
    if not f.is_integer():
        raise ScheduleError(f"invalid period '{text}': years and months must be whole")
    return int(f)


# ---------------------------------------------------------------------------------------------
# ISO 8601 repeating intervals


@dataclass(frozen=True)
class RepeatingInterval:
    """``R[n]/start/period``: `repetitions` None means forever (``R``); `start` is aware.

    The zone of `start` (a `ZoneInfo` after `parse_iso8601_schedule` with a time zone, else the
    parsed offset or UTC) is the zone calendar periods are stepped in, unless a function is given
    an explicit ``tz``.
    """

    repetitions: int | None
    start: datetime
    period: Period

    def __post_init__(self) -> None:
        if self.repetitions is not None and self.repetitions < 0:
            raise ScheduleError(f"repetitions must be 0 or more, got {self.repetitions}")
        if self.start.tzinfo is None or self.start.utcoffset() is None:
            raise ScheduleError("the start of a schedule must be timezone-aware")
        if self.period.is_zero:
            raise ScheduleError("the period must not be zero")


_SCHEDULE_RE = re.compile(r"R(\d*)/([^/]*)/(P[^/]*)", re.IGNORECASE)


def parse_iso8601_schedule(
    text: str, tz: str | None = None, *, now: datetime | None = None
) -> RepeatingInterval:
    """Parse a Chronos schedule; `tz` is ``scheduleTimeZone`` (retains the start's wall clock).

    `now` is needed only for an empty start (Chronos: start = now - 1 s).
    """
    m = _SCHEDULE_RE.fullmatch(text.strip()) if isinstance(text, str) else None
    if m is None:
        raise ScheduleError(
            f"invalid schedule '{text}': expected an ISO 8601 repeating interval"
            " R[n]/<start>/<period> such as R/2026-01-01T00:00:00Z/PT1H (R: forever,"
            " R5: five times, R0: never)"
        )
    repetitions = int(m.group(1)) if m.group(1) else None
    zone = resolve_zone(tz) if tz and tz.strip() else None
    start_text = m.group(2).strip()
    if not start_text:
        if now is None:
            raise ScheduleError(f"schedule '{text}' has an empty start: the current time is needed")
        start = _utc(now, "now") - timedelta(seconds=1)
        if zone is not None:
            start = start.astimezone(zone)
    else:
        try:
            parsed = datetime.fromisoformat(start_text)
        except ValueError:
            raise ScheduleError(
                f"invalid start time '{start_text}': expected an ISO 8601 date-time such as"
                " 2026-01-01T00:00:00Z"
            ) from None
        if zone is not None:
            start = parsed.replace(tzinfo=zone, fold=0)  # withZoneRetainFields
        elif parsed.tzinfo is None:
            start = parsed.replace(tzinfo=UTC)
        else:
            start = parsed
    period = Period.parse(m.group(3))
    return RepeatingInterval(repetitions, start, period)


def _format_start(start: datetime) -> str:
    if start.microsecond == 0:
        spec = "seconds"
    elif start.microsecond % 1000 == 0:
        spec = "milliseconds"
    else:
        spec = "microseconds"
    if start.utcoffset() == timedelta(0):
        return start.astimezone(UTC).replace(tzinfo=None).isoformat(timespec=spec) + "Z"
    return start.isoformat(timespec=spec)


def format_iso8601_schedule(ri: RepeatingInterval) -> str:
    """The Chronos schedule string of `ri` (``R/...`` for forever; the start with its offset)."""
    reps = "" if ri.repetitions is None else str(ri.repetitions)
    return f"R{reps}/{_format_start(ri.start)}/{ri.period}"


_END = datetime.max.replace(tzinfo=UTC)


class _Grid:
    """Occurrence k of an interval: ``start + k * period`` in the stepping zone, in UTC."""

    def __init__(self, ri: RepeatingInterval, tz: str | None) -> None:
        self.ri = ri
        self.zone: tzinfo = resolve_zone(tz) if tz and tz.strip() else (ri.start.tzinfo or UTC)
        self.start_utc = ri.start.astimezone(UTC)
        self.start_local = _naive_local(ri.start, self.zone)

    def at(self, k: int) -> datetime:
        """Occurrence k; `_END` if it lies beyond year 9999."""
        p = self.ri.period
        if k == 0:
            return self.start_utc
        try:
            if not p.is_calendar:
                return self.start_utc + p.time * k
            local = p.add_calendar(self.start_local, k)
            # fold=0: a gap time moves forward by the gap, an ambiguous one is its first instant
            return local.replace(tzinfo=self.zone, fold=0).astimezone(UTC) + p.time * k
        except (OverflowError, ValueError):
            return _END

    def first_index_after(self, after_utc: datetime) -> int:
        """The smallest k with ``at(k) > after`` (ignoring the repetition count)."""
        if after_utc < self.start_utc:
            return 0
        p = self.ri.period
        if not p.is_calendar:
            return _us(after_utc - self.start_utc) // _us(p.time) + 1
        elapsed = (after_utc - self.start_utc).total_seconds()
        k = max(0, math.floor(elapsed / p.nominal_seconds()) - 1)
        while k > 0 and self.at(k) > after_utc:
            k -= 1
        while self.at(k) <= after_utc:
            k += 1
        return k

    def in_range(self, k: int) -> bool:
        return self.ri.repetitions is None or k < self.ri.repetitions


def occurrences(
    ri: RepeatingInterval,
    after: datetime,
    until: datetime,
    tz: str | None = None,
    *,
    limit: int | None = None,
) -> list[datetime]:
    """Every scheduled time t with ``after < t <= until``, in UTC, ascending (at most `limit`).

    Jumps straight to the first occurrence after `after` (integer division for fixed periods,
    an estimate plus a few exact steps for calendar periods), so a start years in the past
    costs nothing.
    """
    after_utc, until_utc = _utc(after, "after"), _utc(until, "until")
    grid = _Grid(ri, tz)
    out: list[datetime] = []
    if ri.repetitions == 0 or until_utc <= after_utc:
        return out
    k = grid.first_index_after(after_utc)
    while grid.in_range(k) and (limit is None or len(out) < limit):
        t = grid.at(k)
        if t > until_utc:
            break
        out.append(t)
        k += 1
    return out


def next_after(ri: RepeatingInterval, after: datetime, tz: str | None = None) -> datetime | None:
    """The first scheduled time strictly after `after` (UTC), or None if the schedule is done."""
    grid = _Grid(ri, tz)
    k = grid.first_index_after(_utc(after, "after"))
    t = grid.at(k) if grid.in_range(k) else _END
    return None if t == _END else t


def remaining_repetitions(
    ri: RepeatingInterval, upto: datetime, tz: str | None = None
) -> int | None:
    """How many scheduled times are still to come after `upto` (None: forever)."""
    if ri.repetitions is None:
        return None
    done = _Grid(ri, tz).first_index_after(_utc(upto, "upto"))
    return max(0, ri.repetitions - done)


def due_at_creation(
    ri: RepeatingInterval, created: datetime, grace: timedelta, tz: str | None = None
) -> datetime | None:
    """The scheduled time before `created` that a job created (or rescheduled) then still runs.

    A run late by at most `grace` (``epsilon``) runs, so the latest scheduled time at or before
    `created` runs once if it is at most `grace` old: an ``R1`` job whose start is a few seconds
    before its creation (a start truncated to the second, or an empty start, which means
    "now - 1 s") runs once. Older times are not run (the job did not exist then), and of a fast
    repeating job only the latest time runs, not one run per period. None if there is no such
    time (``R0``, a start after `created`, or the latest time older than `grace`).

    Example:
        >>> ri = parse_iso8601_schedule("R1/2026-01-01T11:59:57Z/PT1H")
        >>> due_at_creation(ri, datetime(2026, 1, 1, 12, tzinfo=UTC), timedelta(seconds=60))
        datetime.datetime(2026, 1, 1, 11, 59, 57, tzinfo=datetime.timezone.utc)
    """
    created_utc = _utc(created, "created")
    if ri.repetitions == 0:
        return None
    grid = _Grid(ri, tz)
    k = grid.first_index_after(created_utc) - 1  # the latest occurrence at or before `created`
    if ri.repetitions is not None:
        k = min(k, ri.repetitions - 1)
    if k < 0:
        return None
    t = grid.at(k)
    if t == _END or created_utc - t > grace:
        return None
    return t


def advance(ri: RepeatingInterval, to: datetime, tz: str | None = None) -> RepeatingInterval:
    """The interval Chronos stores after running the occurrence `to` (its ``skipForward``).

    The start moves to the first occurrence after `to` (on the original grid, shown in the
    stepping zone), and the count drops by one (``R`` stays ``R``, ``R0`` stays ``R0``). As in
    Chronos 3, occurrences coalesced into one catch-up run do not use up repetitions: ``Rn``
    always means n runs.
    """
    grid = _Grid(ri, tz)
    nxt = grid.at(grid.first_index_after(_utc(to, "to"))).astimezone(grid.zone)
    reps = None if ri.repetitions is None else max(0, ri.repetitions - 1)
    return RepeatingInterval(reps, nxt, ri.period)


# ---------------------------------------------------------------------------------------------
# cron


@dataclass(frozen=True)
class CronSchedule:
    """A five-field cron expression evaluated on the wall clock of `timezone` (IANA id)."""

    expression: str
    timezone: str = "UTC"

    @property
    def wildcard(self) -> bool:
        """Vixie's "wildcard job": the minute or the hour field starts with ``*``."""
        minute, hour = self.expression.split()[:2]
        return minute.startswith("*") or hour.startswith("*")


def parse_cron(expr: str, timezone: str = "UTC") -> CronSchedule:
    """Validate a five-field cron expression and its time zone (`ScheduleError` otherwise)."""
    fields = expr.split() if isinstance(expr, str) else []
    if len(fields) != 5:
        raise ScheduleError(f"invalid cron expression '{expr}': {_CRON_EXPECTED}")
    normal = " ".join(fields)
    if not croniter.is_valid(normal):
        raise ScheduleError(
            f"invalid cron expression '{expr}': a field is out of range or not understood;"
            f" {_CRON_EXPECTED}"
        )
    resolve_zone(timezone)
    try:  # an expression that never matches (e.g. Feb 30) would spin a scheduler
        croniter(normal, datetime(2000, 1, 1)).get_next(datetime)
    except (CroniterError, ValueError):
        raise ScheduleError(
            f"cron expression '{expr}' never matches a date (such as February 30):"
            " expected one that runs at least once"
        ) from None
    return CronSchedule(normal, timezone.strip() if timezone and timezone.strip() else "UTC")


def _gap_end(lo: datetime, hi: datetime, zone: tzinfo, local: datetime) -> datetime:
    """The first instant in [lo, hi] whose wall clock in `zone` is later than `local`."""
    lo_s, hi_s = math.floor(lo.timestamp()), math.ceil(hi.timestamp())
    while lo_s < hi_s:
        mid = (lo_s + hi_s) // 2
        if _naive_local(datetime.fromtimestamp(mid, UTC), zone) > local:
            hi_s = mid
        else:
            lo_s = mid + 1
    return datetime.fromtimestamp(lo_s, UTC)


def _cron_instants(local: datetime, zone: tzinfo, wildcard: bool) -> list[datetime]:
    """The instants a cron match at wall-clock `local` runs at (see the module docstring)."""
    u0 = local.replace(tzinfo=zone, fold=0).astimezone(UTC)
    u1 = local.replace(tzinfo=zone, fold=1).astimezone(UTC)
    if u0 == u1:
        return [u0]
    if _naive_local(u0, zone) == local:  # ambiguous: the repeated hour in the fall
        return sorted({u0, u1}) if wildcard else [min(u0, u1)]
    if wildcard:  # the spring gap: real-time jobs have no match there
        return []
    return [_gap_end(min(u0, u1), max(u0, u1), zone, local)]


def cron_occurrences(
    cs: CronSchedule, after: datetime, until: datetime, *, limit: int | None = None
) -> list[datetime]:
    """Every run time t of `cs` with ``after < t <= until``, in UTC, ascending, DST-correct."""
    after_utc, until_utc = _utc(after, "after"), _utc(until, "until")
    if until_utc <= after_utc:
        return []
    zone = resolve_zone(cs.timezone)
    margin = timedelta(hours=3)  # DST shifts are at most 2 h; look a little beyond the window
    it = croniter(cs.expression, _naive_local(after_utc, zone) - margin)
    stop = _naive_local(until_utc, zone) + margin
    wildcard = cs.wildcard
    found: set[datetime] = set()
    while True:
        local: datetime = it.get_next(datetime)
        if local > stop:
            break
        for t in _cron_instants(local, zone, wildcard):
            if after_utc < t <= until_utc:
                found.add(t)
        if limit is not None and len(found) >= limit + 2:  # +2: gap/fold reordering slack
            break
    out = sorted(found)
    return out if limit is None else out[:limit]


def cron_next_after(cs: CronSchedule, after: datetime) -> datetime:
    """The first run time of `cs` strictly after `after` (UTC)."""
    after_utc = _utc(after, "after")
    window = timedelta(days=1)
    while True:
        found = cron_occurrences(cs, after_utc, after_utc + window, limit=1)
        if found:
            return found[0]
        if window > timedelta(days=366 * 30):
            raise ScheduleError(
                f"cron expression '{cs.expression}' does not run in the next 30 years"
            )
        window *= 4


# ---------------------------------------------------------------------------------------------
# missed runs

MissedRuns = Literal["catch_up", "skip"]


@dataclass(frozen=True)
class DuePlan:
    """What to do with the due scheduled times: launch `run` (ledger keys), record the rest."""

    run: tuple[datetime, ...]
    coalesced: tuple[datetime, ...]
    skipped: tuple[datetime, ...]


def plan_due(
    due: Sequence[datetime],
    now: datetime,
    grace: timedelta,
    policy: MissedRuns = "catch_up",
) -> DuePlan:
    """Split the not-yet-run scheduled times `due` (those after `now` are ignored).

    Times late by at most `grace` run, each once. Older (missed) ones: ``"catch_up"`` runs one
    run for all of them, keyed by the latest, and reports the others as `coalesced`;
    ``"skip"`` reports them all as `skipped`.
    """
    now_utc = _utc(now, "now")
    times = sorted({_utc(t, "due time") for t in due if _utc(t, "due time") <= now_utc})
    on_time = [t for t in times if now_utc - t <= grace]
    missed = [t for t in times if now_utc - t > grace]
    if policy == "skip" or not missed:
        return DuePlan(tuple(on_time), (), tuple(missed))
    return DuePlan((missed[-1], *on_time), tuple(missed[:-1]), ())
