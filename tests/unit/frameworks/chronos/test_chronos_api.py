"""The Chronos REST API over ASGI with an injected clock and no cluster: the 400 bodies operators
read, and `/metrics` (Dropwizard JSON for clients, Prometheus text for scrapers)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from dcos_core.clock import FakeClock
from dcos_core.frameworks.chronos.api import create_chronos_app
from dcos_core.frameworks.chronos.service import Chronos
from dcos_core.state.memory import InMemoryStore

T0 = datetime.fromisoformat("2026-01-01T00:00:00+00:00").timestamp()
JOB: dict[str, Any] = {
    "name": "nightly",
    "command": "true",
    "owner": "ops@example.com",
    "schedule": "R/2026-01-02T02:30:00Z/P1D",
}


@pytest.fixture
async def api() -> AsyncIterator[tuple[httpx.AsyncClient, Chronos]]:
    c = Chronos(InMemoryStore(), clock=FakeClock(T0))
    transport = httpx.ASGITransport(app=create_chronos_app(c))
    async with httpx.AsyncClient(transport=transport, base_url="http://chronos") as h:
        yield h, c


@pytest.mark.parametrize("prefix", ["/scheduler", "/v1/scheduler"])
async def test_a_bad_start_time_is_a_plain_400(api: Any, prefix: str) -> None:
    """Issue 13: Chronos answered "invalid start time 'garbage' (wtf bro)"."""
    h, c = api
    r = await h.post(f"{prefix}/iso8601", json={**JOB, "schedule": "R/garbage/PT1H"})
    assert r.status_code == 400
    assert r.json() == {
        "status": "Bad Request",
        "message": "schedule: invalid start time 'garbage': expected an ISO 8601 date-time"
        " such as 2026-01-01T00:00:00Z",
    }
    r = await h.post(f"{prefix}/iso8601", json={**JOB, "schedule": "every night"})
    assert r.status_code == 400
    assert r.json()["message"] == (
        "schedule: invalid schedule 'every night': expected an ISO 8601 repeating interval"
        " R[n]/<start>/<period> such as R/2026-01-01T00:00:00Z/PT1H (R: forever, R5: five"
        " times, R0: never)"
    )
    r = await h.post(f"{prefix}/iso8601", json={**JOB, "scheduleTimeZone": "Europe/Berln"})
    assert r.status_code == 400
    assert r.json()["message"].startswith(
        "scheduleTimeZone: unknown time zone 'Europe/Berln': expected an IANA time zone name"
    )
    r = await h.post(f"{prefix}/dependency", json={**JOB, "parents": ["nope"]})
    assert r.status_code == 400 and r.json()["message"].startswith("schedule, parents: ")
    r = await h.post(f"{prefix}/dependency", json={"name": "d", "command": "x", "parents": ["n"]})
    assert (r.status_code, r.json()["message"]) == (
        400,
        "parents: job 'n' not found: create it first",
    )
    assert c.jobs == {}


async def test_bad_query_parameters_are_400_not_500(api: Any) -> None:
    h, _c = api
    r = await h.get("/v1/scheduler/jobs/search", params={"name": "x", "limit": "ten"})
    assert (r.status_code, r.json()["message"]) == (
        400,
        "limit: got 'ten', expected a whole number",
    )
    r = await h.get("/v1/scheduler/jobs/search", params={"offset": "-1"})
    assert (r.status_code, r.json()["message"]) == (400, "offset: got -1, expected 0 or more")
    r = await h.get("/v1/scheduler/stats/99th")
    assert r.status_code == 400
    assert r.json()["message"].startswith("unknown statistic '99th': expected one of ")


SCRAPER_ACCEPT = (
    "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;"
    "q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"
)


async def test_metrics_json_by_default_and_prometheus_text_for_scrapers(api: Any) -> None:
    h, c = api
    assert (await h.post("/v1/scheduler/iso8601", json=JOB)).status_code == 204
    dependent = {"name": "report", "command": "true", "parents": ["nightly"]}
    assert (await h.post("/v1/scheduler/dependency", json=dependent)).status_code == 204
    assert (await h.put("/v1/scheduler/job/nightly")).status_code == 204  # run now: pending
    c.clock.advance(1)
    assert (await h.put("/v1/scheduler/job/nightly")).status_code == 204  # and once more
    first = min(c.runs.values(), key=lambda r: r.scheduled)
    c.stop_run("nightly", first.scheduled)  # stopped before it was launched: failed

    r = await h.get("/metrics")  # chronos-python: a dict with "version" and "gauges"
    assert r.headers["content-type"] == "application/json"
    body = r.json()
    assert body["version"] and body["gauges"]["jobs.count"] == {"value": 2}
    assert body["gauges"]["runs.unfinished"] == {"value": 1}

    for path, accept in (("/metrics", SCRAPER_ACCEPT), ("/metrics/prometheus", "*/*")):
        r = await h.get(path, headers={"Accept": accept})
        assert r.status_code == 200
        assert r.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
        got = {
            s.name: s.value
            for family in text_string_to_metric_families(r.text)
            for s in family.samples
            if not s.labels
        }
        assert got["chronos_jobs_count"] == 2
        assert (got["chronos_jobs_scheduled"], got["chronos_jobs_dependent"]) == (1, 1)
        assert got["chronos_runs_unfinished"] == got["chronos_runs_pending"] == 1
        assert got["chronos_runs_running"] == 0
        assert got["chronos_tasks_launched_total"] == 0
        assert (got["chronos_runs_succeeded_total"], got["chronos_runs_failed_total"]) == (0, 1)
