"""The shared Prometheus helpers: names, text that Prometheus' own parser reads, and the `Accept`
negotiation of the endpoints that serve JSON to clients and text to scrapers."""

from __future__ import annotations

import pytest
from prometheus_client.parser import text_string_to_metric_families

from dcos_core.metrics import Info, prometheus_name, prometheus_text, wants_prometheus


def test_names_are_those_of_the_master() -> None:
    assert prometheus_name("master/slaves_active", "dcos_") == "dcos_master_slaves_active"
    assert prometheus_name("slave/tasks_running", "dcos_") == "dcos_slave_tasks_running"
    assert prometheus_name("marathon.instances.launch-overdue.gauge") == (
        "marathon_instances_launch_overdue_gauge"
    )
    assert prometheus_name("jobs.count", "chronos_") == "chronos_jobs_count"
    assert prometheus_name("a/é.b") == "a___b"  # only ASCII letters and digits stay


def test_text_is_parsed_by_prometheus_client() -> None:
    text = prometheus_text(
        {"slave/tasks_running": 2, "system/load_1min": 0.5},
        counters={"tasks.launched": 7},
        prefix="x_",
        help_text="metric {name}",
        info=Info("x_agent", "who serves", {"id": "S1"}),
    )
    families = {f.name: f for f in text_string_to_metric_families(text)}
    assert families["x_slave_tasks_running"].type == "gauge"
    assert families["x_slave_tasks_running"].documentation == "metric slave/tasks_running"
    assert families["x_slave_tasks_running"].samples[0].value == 2
    assert families["x_system_load_1min"].samples[0].value == 0.5
    assert families["x_tasks_launched"].type == "counter"
    assert families["x_tasks_launched"].samples[0].name == "x_tasks_launched_total"
    assert families["x_tasks_launched"].samples[0].value == 7
    assert families["x_agent_info"].samples[0].labels == {"id": "S1"}


@pytest.mark.parametrize(
    ("accept", "text"),
    [
        (None, False),
        ("", False),
        ("*/*", False),
        ("application/json", False),
        ("application/json, text/plain", False),  # a tie: JSON, the default
        ("text/plain, application/json;q=0.9", True),
        ("text/plain", True),
        ("text/plain;version=0.0.4", True),
        ("text/*", True),
        ("application/openmetrics-text; version=1.0.0", True),
        (  # Prometheus' scrape request
            "application/openmetrics-text;version=1.0.0,application/openmetrics-text;"
            "version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1",
            True,
        ),
        ("text/plain;q=0, */*", False),
        ("text/plain;q=nan", False),
        ("text/plain;q=high", False),
        ("TEXT/PLAIN", True),
    ],
)
def test_wants_prometheus(accept: str | None, text: bool) -> None:
    assert wants_prometheus(accept) is text
