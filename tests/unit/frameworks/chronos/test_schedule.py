"""ISO 8601 repeating intervals, cron expressions, DST and missed-run planning (pure, fast)."""

from __future__ import annotations

import itertools
import time
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from dcos_core.frameworks.chronos.schedule import (
    CronSchedule,
    Period,
    RepeatingInterval,
    ScheduleError,
    advance,
    cron_next_after,
    cron_occurrences,
    due_at_creation,
    format_iso8601_schedule,
    next_after,
    occurrences,
    parse_cron,
    parse_iso8601_schedule,
    plan_due,
    remaining_repetitions,
    resolve_zone,
)

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


# ---------------------------------------------------------------------------------------------
# parsing and formatting


def test_parse_forever_and_counted() -> None:
    ri = parse_iso8601_schedule("R/2024-01-01T00:00:00Z/PT1H")
    assert ri.repetitions is None
    assert ri.start == utc(2024, 1, 1)
    assert ri.period == Period(time=timedelta(hours=1))
    assert parse_iso8601_schedule("R5/2024-01-01T00:00:00Z/PT1H").repetitions == 5
    assert parse_iso8601_schedule("R0/2014-01-01T00:00:00Z/PT60M").repetitions == 0
    assert parse_iso8601_schedule(" r10/2012-10-01T05:52:00.000Z/PT2S ").repetitions == 10


def test_parse_start_forms() -> None:
    with_offset = parse_iso8601_schedule("R/2024-06-01T12:00:00+02:00/P1D")
    assert with_offset.start.astimezone(UTC) == utc(2024, 6, 1, 10)
    no_zone = parse_iso8601_schedule("R1/2016-06-01T11:00/P1M")
    assert no_zone.start == utc(2016, 6, 1, 11)
    no_zone_tz = parse_iso8601_schedule("R1/2016-06-01T11:00/P1M", "Europe/Berlin")
    assert no_zone_tz.start.astimezone(UTC) == utc(2016, 6, 1, 9)
    assert no_zone_tz.start.tzinfo == BERLIN


def test_schedule_time_zone_retains_wall_clock_like_joda() -> None:
    # Chronos docs: "2014-10-10T18:32:00Z" with scheduleTimeZone PST means 18:32 Pacific.
    ri = parse_iso8601_schedule("R/2014-10-10T18:32:00Z/PT60M", "America/Los_Angeles")
    assert ri.start.astimezone(UTC) == utc(2014, 10, 11, 1, 32)  # 18:32 PDT (UTC-7)
    assert parse_iso8601_schedule("R/2014-10-10T18:32:00Z/PT60M", "PST").start == ri.start
    # an explicit offset is overridden too: the fields 09:00 are kept
    ny = parse_iso8601_schedule("R/2026-01-05T09:00:00+05:00/P1D", "America/New_York")
    assert ny.start.astimezone(UTC) == utc(2026, 1, 5, 14)


def test_empty_start_means_now_minus_one_second() -> None:
    now = utc(2026, 5, 1, 12)
    ri = parse_iso8601_schedule("R1//PT24H", now=now)
    assert ri.start == now - timedelta(seconds=1)
    with pytest.raises(ScheduleError, match="empty start"):
        parse_iso8601_schedule("R1//PT24H")


@pytest.mark.parametrize(
    "text",
    [
        "R/2024-01-01T00:00:00Z/PT1H",
        "R5/2024-01-01T00:00:00Z/P1D",
        "R0/2014-01-01T00:00:00Z/PT1H",
        "R1/2024-02-29T23:59:59.500Z/P1Y2M3DT4H5M6.5S",
        "R3/2024-06-01T12:00:00+02:00/P1W",
        "R/2026-03-29T02:30:00-04:00/P1M",
    ],
)
def test_format_round_trip(text: str) -> None:
    ri = parse_iso8601_schedule(text)
    assert parse_iso8601_schedule(format_iso8601_schedule(ri)) == ri


def test_format_is_canonical() -> None:
    ri = parse_iso8601_schedule("R/2024-01-01T00:00:00Z/PT1H")
    assert format_iso8601_schedule(ri) == "R/2024-01-01T00:00:00Z/PT1H"
    ri = parse_iso8601_schedule("R5/2024-01-01T00:00:00.250Z/PT90M")
    assert format_iso8601_schedule(ri) == "R5/2024-01-01T00:00:00.250Z/PT1H30M"
    zoned = parse_iso8601_schedule("R2/2026-01-10T02:30:00/P1D", "Europe/Berlin")
    assert format_iso8601_schedule(zoned) == "R2/2026-01-10T02:30:00+01:00/P1D"
    assert parse_iso8601_schedule(format_iso8601_schedule(zoned), "Europe/Berlin") == zoned


def test_period_units() -> None:
    p = Period.parse("P1Y2M3W4DT5H6M7.5S")
    assert (p.years, p.months, p.days) == (1, 2, 25)
    assert p.time == timedelta(hours=5, minutes=6, seconds=7.5)
    assert Period.parse("P1D") != Period.parse("PT24H")  # a calendar day is not 24 hours
    assert Period.parse("P1D").is_calendar and not Period.parse("PT24H").is_calendar
    assert str(Period.parse("PT0.25S")) == "PT0.25S"


@pytest.mark.parametrize(
    "text",
    [
        "R-1/2024-01-01T00:00:00Z/PT1H",
        "R/2024-01-01T00:00:00Z/PT0S",
        "R/2024-01-01T00:00:00Z/P0D",
        "R/2024-01-01T00:00:00Z/PT",
        "R/2024-01-01T00:00:00Z/P",
        "R/2024-01-01T00:00:00Z/-P1D",
        "R/2024-01-01T00:00:00Z/P0.5D",
        "R/2024-01-01T00:00:00Z/P1.5M",
        "R/2024-01-01T00:00:00Z/PT1X",
        "R/2024-13-01T00:00:00Z/PT1H",
        "R/yesterday/PT1H",
        "Rx/2024-01-01T00:00:00Z/PT1H",
        "R5/2024-01-01T00:00:00Z",
        "2024-01-01T00:00:00Z/PT1H",
        "garbage",
        "",
    ],
)
def test_bad_schedules(text: str) -> None:
    # what is wrong, the text that was sent, then why or what is expected
    with pytest.raises(ScheduleError, match=r"^invalid (schedule|start time|period) '.*': \w"):
        parse_iso8601_schedule(text)


def test_unknown_zone() -> None:
    with pytest.raises(ScheduleError, match="unknown time zone 'Mars/Olympus_Mons': expected"):
        parse_iso8601_schedule("R/2024-01-01T00:00:00Z/PT1H", "Mars/Olympus_Mons")
    with pytest.raises(ScheduleError):
        resolve_zone("../../etc/passwd")
    assert resolve_zone("") is UTC and resolve_zone("UTC") is UTC


def test_interval_invariants() -> None:
    with pytest.raises(ScheduleError):
        RepeatingInterval(-1, utc(2024, 1, 1), Period(days=1))
    with pytest.raises(ScheduleError):
        RepeatingInterval(1, datetime(2024, 1, 1), Period(days=1))
    with pytest.raises(ScheduleError):
        RepeatingInterval(1, utc(2024, 1, 1), Period())


# ---------------------------------------------------------------------------------------------
# occurrences


def test_repetition_counts() -> None:
    start = "2024-01-01T00:00:00Z/PT1H"
    window = (utc(2023, 1, 1), utc(2025, 1, 1))
    assert occurrences(parse_iso8601_schedule("R0/" + start), *window) == []
    assert occurrences(parse_iso8601_schedule("R1/" + start), *window) == [utc(2024, 1, 1)]
    r3 = occurrences(parse_iso8601_schedule("R3/" + start), *window)
    assert r3 == [utc(2024, 1, 1, 0), utc(2024, 1, 1, 1), utc(2024, 1, 1, 2)]
    forever = parse_iso8601_schedule("R/" + start)
    assert len(occurrences(forever, utc(2024, 1, 1), utc(2024, 1, 2))) == 24


def test_window_is_after_exclusive_until_inclusive() -> None:
    ri = parse_iso8601_schedule("R/2024-01-01T00:00:00Z/PT10M")
    got = occurrences(ri, utc(2024, 1, 1, 0, 10), utc(2024, 1, 1, 0, 30))
    assert got == [utc(2024, 1, 1, 0, 20), utc(2024, 1, 1, 0, 30)]
    assert occurrences(ri, utc(2023, 12, 31, 23), utc(2024, 1, 1)) == [utc(2024, 1, 1)]
    assert occurrences(ri, utc(2024, 1, 1, 1), utc(2024, 1, 1, 1)) == []
    assert len(occurrences(ri, utc(2024, 1, 1), utc(2024, 2, 1), limit=3)) == 3


def test_next_after_and_remaining() -> None:
    ri = parse_iso8601_schedule("R3/2024-01-01T00:00:00Z/P1D")
    assert next_after(ri, utc(2023, 1, 1)) == utc(2024, 1, 1)
    assert next_after(ri, utc(2024, 1, 1)) == utc(2024, 1, 2)
    assert next_after(ri, utc(2024, 1, 3)) is None
    assert remaining_repetitions(ri, utc(2023, 12, 31)) == 3
    assert remaining_repetitions(ri, utc(2024, 1, 1)) == 2
    assert remaining_repetitions(ri, utc(2024, 1, 2, 12)) == 1
    assert remaining_repetitions(ri, utc(2030, 1, 1)) == 0
    assert (
        remaining_repetitions(parse_iso8601_schedule("R/2024-01-01T00:00:00Z/P1D"), utc(2030, 1, 1))
        is None
    )
    assert (
        next_after(parse_iso8601_schedule("R0/2024-01-01T00:00:00Z/P1D"), utc(2000, 1, 1)) is None
    )


def test_advance_like_chronos_skip_forward() -> None:
    ri = parse_iso8601_schedule("R5/2024-01-01T00:00:00Z/PT1H")
    after_first = advance(ri, utc(2024, 1, 1))
    assert format_iso8601_schedule(after_first) == "R4/2024-01-01T01:00:00Z/PT1H"
    # a catch-up run for the occurrence at 03:00 (01:00 and 02:00 coalesced): one repetition used
    caught_up = advance(after_first, utc(2024, 1, 1, 3))
    assert format_iso8601_schedule(caught_up) == "R3/2024-01-01T04:00:00Z/PT1H"
    forever = advance(parse_iso8601_schedule("R/2024-01-01T00:00:00Z/P1D"), utc(2024, 1, 1))
    assert format_iso8601_schedule(forever) == "R/2024-01-02T00:00:00Z/P1D"
    last = advance(parse_iso8601_schedule("R1/2024-01-01T00:00:00Z/P1D"), utc(2024, 1, 1))
    assert last.repetitions == 0 and occurrences(last, utc(2000, 1, 1), utc(2100, 1, 1)) == []
    zoned = advance(
        parse_iso8601_schedule("R/2026-01-10T02:30:00/P1D", "Europe/Berlin"),
        utc(2026, 1, 10, 1, 30),
    )
    assert format_iso8601_schedule(zoned) == "R/2026-01-11T02:30:00+01:00/P1D"


def test_far_past_start_does_not_iterate() -> None:
    # 2012 -> 2026 at 2 s is ~220 million steps: iterating would take minutes.
    ri = parse_iso8601_schedule("R/2012-10-01T05:52:00Z/PT2S")
    t0 = time.perf_counter()
    got = occurrences(ri, utc(2026, 1, 1), utc(2026, 1, 1, 0, 0, 6))
    nxt = next_after(ri, utc(2026, 6, 1, 0, 0, 1))
    left = remaining_repetitions(
        parse_iso8601_schedule("R1000/2012-10-01T05:52:00Z/PT2S"), utc(2026, 1, 1)
    )
    daily = occurrences(
        parse_iso8601_schedule("R/1970-01-01T00:00:00Z/P1D"), utc(2026, 1, 1), utc(2026, 1, 3)
    )
    monthly = next_after(parse_iso8601_schedule("R/1970-01-31T00:00:00Z/P1M"), utc(2026, 2, 1))
    assert time.perf_counter() - t0 < 0.5
    assert got == [utc(2026, 1, 1, 0, 0, 2), utc(2026, 1, 1, 0, 0, 4), utc(2026, 1, 1, 0, 0, 6)]
    assert nxt == utc(2026, 6, 1, 0, 0, 2)
    assert left == 0
    assert daily == [utc(2026, 1, 2), utc(2026, 1, 3)]
    assert monthly == utc(2026, 2, 28)


def test_fractional_seconds_period_is_exact() -> None:
    ri = parse_iso8601_schedule("R/2024-01-01T00:00:00Z/PT0.1S")
    got = occurrences(ri, utc(2024, 1, 1, 1), utc(2024, 1, 1, 1, 0, 1))
    assert len(got) == 10 and got[-1] == utc(2024, 1, 1, 1, 0, 1)


def test_month_and_year_periods_are_calendar_correct_without_drift() -> None:
    ri = parse_iso8601_schedule("R/2026-01-31T08:00:00Z/P1M")
    got = occurrences(ri, utc(2026, 1, 1), utc(2026, 6, 1))
    assert [d.date().isoformat() for d in got] == [
        "2026-01-31",
        "2026-02-28",
        "2026-03-31",  # computed from the start: no drift to the 28th
        "2026-04-30",
        "2026-05-31",
    ]
    leap = parse_iso8601_schedule("R/2024-02-29T00:00:00Z/P1Y")
    got = occurrences(leap, utc(2024, 3, 1), utc(2028, 3, 1))
    assert [d.date().isoformat() for d in got] == [
        "2025-02-28",
        "2026-02-28",
        "2027-02-28",
        "2028-02-29",
    ]


def test_start_in_new_york_daily_follows_local_clock() -> None:
    ri = parse_iso8601_schedule("R/2026-01-05T09:00:00/P1D", "America/New_York")
    got = occurrences(ri, utc(2026, 3, 6), utc(2026, 3, 10))
    # 09:00 EST = 14:00Z until the switch on 2026-03-08, then 09:00 EDT = 13:00Z
    assert got == [
        utc(2026, 3, 6, 14),
        utc(2026, 3, 7, 14),
        utc(2026, 3, 8, 13),
        utc(2026, 3, 9, 13),
    ]


def test_hours_are_absolute_across_dst() -> None:
    ri = parse_iso8601_schedule("R/2026-03-29T00:00:00/PT1H", "Europe/Berlin")
    got = occurrences(ri, utc(2026, 3, 28, 22), utc(2026, 3, 29, 3))
    assert all(b - a == timedelta(hours=1) for a, b in itertools.pairwise(got))
    assert [d.astimezone(BERLIN).hour for d in got] == [0, 1, 3, 4, 5]


@pytest.mark.parametrize(
    ("zone", "start", "window", "expected"),
    [
        # Berlin spring 2026-03-29 (02:00 -> 03:00): 02:30 does not exist, shifted by the gap
        (
            "Europe/Berlin",
            "2026-03-20T02:30:00",
            (utc(2026, 3, 27, 12), utc(2026, 3, 31)),
            [utc(2026, 3, 28, 1, 30), utc(2026, 3, 29, 1, 30), utc(2026, 3, 30, 0, 30)],
        ),
        # Berlin fall 2026-10-25 (03:00 -> 02:00): 02:30 happens twice, runs once (the first)
        (
            "Europe/Berlin",
            "2026-10-20T02:30:00",
            (utc(2026, 10, 23, 12), utc(2026, 10, 27)),
            [utc(2026, 10, 24, 0, 30), utc(2026, 10, 25, 0, 30), utc(2026, 10, 26, 1, 30)],
        ),
        # New York spring 2026-03-08 (02:00 -> 03:00)
        (
            "America/New_York",
            "2026-03-01T02:30:00",
            (utc(2026, 3, 7), utc(2026, 3, 10)),
            [utc(2026, 3, 7, 7, 30), utc(2026, 3, 8, 7, 30), utc(2026, 3, 9, 6, 30)],
        ),
        # New York fall 2026-11-01 (02:00 -> 01:00): 01:30 runs once
        (
            "America/New_York",
            "2026-10-25T01:30:00",
            (utc(2026, 10, 31), utc(2026, 11, 3)),
            [utc(2026, 10, 31, 5, 30), utc(2026, 11, 1, 5, 30), utc(2026, 11, 2, 6, 30)],
        ),
    ],
)
def test_daily_iso_schedule_across_dst(
    zone: str, start: str, window: tuple[datetime, datetime], expected: list[datetime]
) -> None:
    ri = parse_iso8601_schedule(f"R/{start}/P1D", zone)
    assert occurrences(ri, *window) == expected
    # the day after the change is back on the same local wall clock: no drift
    local = [d.astimezone(ZoneInfo(zone)).strftime("%H:%M") for d in expected]
    assert local[0] == local[-1] == start[-8:-3]


def test_tz_argument_steps_in_that_zone() -> None:
    ri = parse_iso8601_schedule("R/2026-03-27T01:30:00Z/P1D")  # fixed UTC start
    assert occurrences(ri, utc(2026, 3, 28), utc(2026, 3, 31)) == [
        utc(2026, 3, 28, 1, 30),
        utc(2026, 3, 29, 1, 30),
        utc(2026, 3, 30, 1, 30),
    ]
    in_berlin = occurrences(ri, utc(2026, 3, 28), utc(2026, 3, 31), tz="Europe/Berlin")
    assert in_berlin[-1] == utc(2026, 3, 30, 0, 30)  # 02:30 local kept after the switch


def test_end_of_time_is_exhaustion_not_a_crash() -> None:
    ri = parse_iso8601_schedule("R/9999-12-30T00:00:00Z/P1D")
    assert next_after(ri, utc(9999, 12, 31)) is None
    assert occurrences(ri, utc(9999, 12, 30), utc(9999, 12, 31, 23)) == [utc(9999, 12, 31)]


def test_naive_datetimes_are_rejected() -> None:
    ri = parse_iso8601_schedule("R/2024-01-01T00:00:00Z/PT1H")
    with pytest.raises(ValueError, match="timezone-aware"):
        occurrences(ri, datetime(2024, 1, 1), utc(2024, 1, 2))


# ---------------------------------------------------------------------------------------------
# cron


def test_parse_cron() -> None:
    cs = parse_cron("  */5   *  * * 1-5 ", "America/Chicago")
    assert cs == CronSchedule("*/5 * * * 1-5", "America/Chicago")
    assert parse_cron("0 0 * * *").timezone == "UTC"
    assert parse_cron("0 0 * * *", "").timezone == "UTC"


@pytest.mark.parametrize(
    ("expr", "zone", "match"),
    [
        ("* * * * * *", "UTC", "5 fields"),
        ("@daily", "UTC", "5 fields"),
        ("* * * *", "UTC", "5 fields"),
        ("61 * * * *", "UTC", "invalid cron expression '61 .*': a field is out of range"),
        ("a b c d e", "UTC", "invalid cron"),
        ("0 0 30 2 *", "UTC", "never matches"),
        ("0 0 * * *", "Mars/Olympus_Mons", "unknown time zone"),
    ],
)
def test_bad_cron(expr: str, zone: str, match: str) -> None:
    with pytest.raises(ScheduleError, match=match):
        parse_cron(expr, zone)


def test_cron_occurrences_window() -> None:
    cs = parse_cron("0 * * * *")
    got = cron_occurrences(cs, utc(2026, 1, 1, 0), utc(2026, 1, 1, 3))
    assert got == [utc(2026, 1, 1, 1), utc(2026, 1, 1, 2), utc(2026, 1, 1, 3)]
    chicago = parse_cron("0 9 * * *", "America/Chicago")
    assert cron_occurrences(chicago, utc(2026, 1, 1), utc(2026, 1, 2)) == [utc(2026, 1, 1, 15)]
    assert (
        len(cron_occurrences(parse_cron("* * * * *"), utc(2026, 1, 1), utc(2026, 1, 2), limit=5))
        == 5
    )
    assert cron_next_after(parse_cron("0 0 29 2 *"), utc(2026, 1, 1)) == utc(2028, 2, 29)


@pytest.mark.parametrize(
    ("expr", "zone", "window", "expected"),
    [
        # spring gap, fixed time: runs once at the first instant after the gap (03:00 local)
        (
            "30 2 * * *",
            "Europe/Berlin",
            (utc(2026, 3, 27, 12), utc(2026, 3, 31)),
            [utc(2026, 3, 28, 1, 30), utc(2026, 3, 29, 1, 0), utc(2026, 3, 30, 0, 30)],
        ),
        (
            "30 2 * * *",
            "America/New_York",
            (utc(2026, 3, 7), utc(2026, 3, 10)),
            [utc(2026, 3, 7, 7, 30), utc(2026, 3, 8, 7, 0), utc(2026, 3, 9, 6, 30)],
        ),
        # fall, repeated hour, fixed time: once, at the first instant
        (
            "30 2 * * *",
            "Europe/Berlin",
            (utc(2026, 10, 23, 12), utc(2026, 10, 27)),
            [utc(2026, 10, 24, 0, 30), utc(2026, 10, 25, 0, 30), utc(2026, 10, 26, 1, 30)],
        ),
        (
            "30 1 * * *",
            "America/New_York",
            (utc(2026, 10, 31), utc(2026, 11, 3)),
            [utc(2026, 10, 31, 5, 30), utc(2026, 11, 1, 5, 30), utc(2026, 11, 2, 6, 30)],
        ),
    ],
)
def test_cron_fixed_time_across_dst(
    expr: str, zone: str, window: tuple[datetime, datetime], expected: list[datetime]
) -> None:
    assert cron_occurrences(parse_cron(expr, zone), *window) == expected


def test_cron_wildcard_jobs_follow_real_time_across_dst() -> None:
    every_30 = parse_cron("*/30 * * * *", "Europe/Berlin")
    fall = cron_occurrences(every_30, utc(2026, 10, 24, 23, 45), utc(2026, 10, 25, 2, 0))
    assert fall == [utc(2026, 10, 25, 0) + timedelta(minutes=30 * i) for i in range(5)]
    assert [d.astimezone(BERLIN).strftime("%H:%M") for d in fall] == [
        "02:00",
        "02:30",
        "02:00",  # the repeated hour runs again for a job that runs every 30 minutes
        "02:30",
        "03:00",
    ]
    spring = cron_occurrences(every_30, utc(2026, 3, 29, 0, 15), utc(2026, 3, 29, 1, 45))
    assert spring == [utc(2026, 3, 29, 0, 30), utc(2026, 3, 29, 1, 0), utc(2026, 3, 29, 1, 30)]
    assert [d.astimezone(BERLIN).strftime("%H:%M") for d in spring] == ["01:30", "03:00", "03:30"]


# ---------------------------------------------------------------------------------------------
# missed runs


def test_due_at_creation_is_the_latest_time_within_grace() -> None:
    created = utc(2026, 1, 1, 12)
    minute = timedelta(seconds=60)

    def due(text: str, grace: timedelta = minute) -> datetime | None:
        return due_at_creation(parse_iso8601_schedule(text, now=created), created, grace)

    assert due("R1/2026-01-01T11:59:57Z/PT1H") == utc(2026, 1, 1, 11, 59, 57)
    assert due("R1/2026-01-01T12:00:00Z/PT1H") == created  # at creation
    assert due("R1//PT1H") == created - timedelta(seconds=1)  # empty start: now - 1 s
    assert due("R1/2026-01-01T11:59:00Z/PT1H") == utc(2026, 1, 1, 11, 59)  # exactly epsilon
    assert due("R1/2026-01-01T11:58:59Z/PT1H") is None  # older than epsilon
    assert due("R1/2026-01-01T11:58:00Z/PT1H", timedelta(minutes=5)) == utc(2026, 1, 1, 11, 58)
    assert due("R0/2026-01-01T11:59:59Z/PT1H") is None
    assert due("R1/2026-01-01T12:00:01Z/PT1H") is None  # not yet due
    assert due("R/2026-01-01T11:00:00Z/PT1S") == created  # only the latest of many
    assert due("R/2026-01-01T11:00:10Z/PT1M") == utc(2026, 1, 1, 11, 59, 10)
    assert due("R/2026-01-01T11:00:10Z/PT1M", timedelta(seconds=30)) is None
    # the repetitions are used up before `created`: the last one counts, if recent enough
    assert due("R2/2026-01-01T11:59:00Z/PT20S") == utc(2026, 1, 1, 11, 59, 20)
    assert due("R2/2026-01-01T11:57:00Z/PT20S") is None
    zoned = parse_iso8601_schedule("R/2026-01-01T12:59:50/P1D", "Europe/Berlin")
    assert due_at_creation(zoned, created, minute) == utc(2026, 1, 1, 11, 59, 50)
    with pytest.raises(ValueError, match="timezone-aware"):
        due_at_creation(zoned, datetime(2026, 1, 1), minute)


def test_plan_due_catch_up_coalesces_missed_times_into_one_run() -> None:
    now = utc(2026, 1, 1, 12, 0, 30)
    due = [
        utc(2026, 1, 1, 11, 50),
        utc(2026, 1, 1, 11, 55),
        utc(2026, 1, 1, 12),
        utc(2026, 1, 1, 13),
    ]
    plan = plan_due(due, now, timedelta(seconds=60))
    assert plan.run == (utc(2026, 1, 1, 11, 55), utc(2026, 1, 1, 12))
    assert plan.coalesced == (utc(2026, 1, 1, 11, 50),)
    assert plan.skipped == ()


def test_plan_due_skip_and_on_time() -> None:
    now = utc(2026, 1, 1, 12, 0, 30)
    due = [utc(2026, 1, 1, 11, 50), utc(2026, 1, 1, 12)]
    plan = plan_due(due, now, timedelta(seconds=60), "skip")
    assert plan.run == (utc(2026, 1, 1, 12),)
    assert plan.skipped == (utc(2026, 1, 1, 11, 50),)
    on_time = plan_due(
        [utc(2026, 1, 1, 12), utc(2026, 1, 1, 12, 0, 10)], now, timedelta(seconds=60)
    )
    assert on_time.run == (utc(2026, 1, 1, 12), utc(2026, 1, 1, 12, 0, 10))
    assert plan_due([], now, timedelta(0)).run == ()
