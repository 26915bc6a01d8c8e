"""Marathon's `/metrics` over its HTTP app (ASGI, no cluster): Dropwizard JSON for clients, and
Prometheus text for scrapers (by `Accept`, and at `/metrics/prometheus`), with known values."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from test_service import offer, status

from dcos_core.clock import FakeClock
from dcos_core.frameworks.marathon.api import create_marathon_app
from dcos_core.frameworks.marathon.repository import Repository
from dcos_core.frameworks.marathon.service import Marathon
from dcos_core.frameworks.runtime import RecordingDriver
from dcos_core.state.memory import InMemoryStore

# what Prometheus 2.x/3.x sends when it scrapes a target
SCRAPER_ACCEPT = (
    "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;"
    "q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"
)


@pytest.fixture
async def api() -> AsyncIterator[tuple[httpx.AsyncClient, Marathon]]:
    m = Marathon(Repository(InMemoryStore()), clock=FakeClock(1000.0))
    await m.attach(RecordingDriver(), "fw-1")
    transport = httpx.ASGITransport(app=create_marathon_app(m))
    async with httpx.AsyncClient(transport=transport, base_url="http://marathon") as h:
        yield h, m


def samples(text: str) -> dict[str, float]:
    return {
        s.name: s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if not s.labels
    }


async def two_running_one_staged(h: httpx.AsyncClient, m: Marathon) -> None:
    r = await h.post("/v2/apps", json={"id": "/web", "cmd": "sleep 1", "cpus": 0.1, "instances": 3})
    assert r.status_code == 201
    await m.tick()
    await m.handle_offers([offer(1)])
    ids = list(m.instances)
    assert len(ids) == 3
    for tid in ids[:2]:
        m.on_status(status(tid, "TASK_RUNNING"))


async def test_metrics_json_by_default_and_prometheus_text_for_scrapers(api: Any) -> None:
    h, m = api
    await two_running_one_staged(h, m)
    assert (await h.get("/v2/apps/nope")).status_code == 404

    for accept in ("application/json", "*/*", None):
        headers = {"Accept": accept} if accept else {}
        r = await h.get("/metrics", headers=headers)
        assert r.headers["content-type"] == "application/json", accept
        body = r.json()
        assert body["gauges"]["marathon.apps.active.gauge"] == {"value": 1}
        assert body["gauges"]["marathon.instances.running.gauge"] == {"value": 2}
        assert body["counters"]["marathon.tasks.launched.counter"] == {"count": 3}

    for path, accept in (
        ("/metrics", SCRAPER_ACCEPT),
        ("/metrics", "text/plain"),
        ("/metrics/prometheus", None),
    ):
        headers = {"Accept": accept} if accept else {}
        r = await h.get(path, headers=headers)
        assert r.status_code == 200
        assert r.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
        got = samples(r.text)
        assert got["marathon_apps_active_gauge"] == 1
        assert got["marathon_instances_running_gauge"] == 2
        assert got["marathon_tasks_running_gauge"] == 2
        assert got["marathon_instances_staged_gauge"] == 1
        assert got["marathon_deployments_active_gauge"] == 1  # one instance is not running yet
        assert got["marathon_instances_launch_overdue_gauge"] == 0
        assert got["marathon_tasks_launched_counter_total"] == 3
        assert got["marathon_http_requests_active_gauge"] == 1  # this scrape
        assert got["marathon_http_responses_2xx_rate_total"] >= 2
        assert got["marathon_http_responses_4xx_rate_total"] == 1
        assert "# TYPE marathon_apps_active_gauge gauge" in r.text
