"""Metrics in the Prometheus text format, shared by the master, the agents, Marathon and Chronos.

Each service keeps its metrics under the names of the system it imitates (Mesos
``master/slaves_active`` and ``slave/tasks_running``, Marathon's Dropwizard
``marathon.apps.active.gauge``) and serves them as JSON for the clients of that system. For
Prometheus the same values are rendered by `prometheus_text`: every character of a name other than
an ASCII letter or digit becomes ``_`` after an optional prefix (`prometheus_name`), gauges stay
gauges, and counters get the ``_total`` suffix Prometheus requires.

`wants_prometheus` is the content negotiation of the endpoints that serve both forms (Marathon's
and Chronos' ``/metrics``): JSON unless the client prefers ``text/plain`` or
``application/openmetrics-text`` to JSON, as Prometheus does in its scrape requests.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Final

from prometheus_client import CONTENT_TYPE_PLAIN_0_0_4, CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    InfoMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

__all__ = [
    "PROMETHEUS_CONTENT_TYPE",
    "Info",
    "mesos_prometheus_text",
    "prometheus_name",
    "prometheus_text",
    "wants_prometheus",
]

PROMETHEUS_CONTENT_TYPE: Final = CONTENT_TYPE_PLAIN_0_0_4
"""``text/plain; version=0.0.4; charset=utf-8``: what `prometheus_text` produces."""

_TEXT_TYPES: Final = frozenset({"text/plain", "application/openmetrics-text", "text/*"})
_JSON_TYPES: Final = frozenset({"application/json", "application/*", "*/*"})


def prometheus_name(name: str, prefix: str = "") -> str:
    """`name` as Prometheus spells it: `prefix`, then every character that is not an ASCII
    letter or digit as ``_``.

    Example:
        >>> prometheus_name("master/slaves_active", "dcos_")
        'dcos_master_slaves_active'
        >>> prometheus_name("marathon.instances.launch-overdue.gauge")
        'marathon_instances_launch_overdue_gauge'
    """
    return prefix + "".join(c if c.isascii() and c.isalnum() else "_" for c in name)


@dataclass(frozen=True)
class Info:
    """An info metric (``<name>_info{labels} 1``): which process serves the metrics."""

    name: str
    documentation: str
    labels: dict[str, str] = field(default_factory=dict)


class _Snapshot(Collector):
    def __init__(
        self,
        gauges: Mapping[str, float],
        counters: Mapping[str, float],
        prefix: str,
        help_text: str,
        info: Info | None,
    ) -> None:
        self.gauges, self.counters = gauges, counters
        self.prefix, self.help_text, self.info = prefix, help_text, info

    def collect(self) -> Iterator[Metric]:
        for name, value in sorted(self.gauges.items()):
            doc = self.help_text.format(name=name)
            yield GaugeMetricFamily(prometheus_name(name, self.prefix), doc, value=float(value))
        for name, value in sorted(self.counters.items()):
            doc = self.help_text.format(name=name)
            yield CounterMetricFamily(prometheus_name(name, self.prefix), doc, value=float(value))
        if self.info is not None:
            yield InfoMetricFamily(self.info.name, self.info.documentation, value=self.info.labels)


def prometheus_text(
    gauges: Mapping[str, float],
    *,
    counters: Mapping[str, float] | None = None,
    prefix: str = "",
    help_text: str = "{name}",
    info: Info | None = None,
) -> str:
    """`gauges` and `counters` (by their native names) in the Prometheus text format 0.0.4.

    `help_text` is each metric's HELP line, with ``{name}`` standing for its native name.
    """
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Snapshot(gauges, counters or {}, prefix, help_text, info))
    return generate_latest(registry).decode()


def mesos_prometheus_text(snapshot: Mapping[str, float], daemon: str, daemon_id: str) -> str:
    """A Mesos daemon's `/metrics/snapshot` (`master/...`, `slave/...`) in Prometheus text:
    `dcos_` names and a `dcos_<daemon>_info{id, hostname}` line saying who serves them."""
    return prometheus_text(
        snapshot,
        prefix="dcos_",
        help_text="Mesos metric {name}",
        info=Info(
            f"dcos_{daemon}",
            f"The {daemon} serving these metrics",
            {"id": daemon_id, "hostname": socket.gethostname()},
        ),
    )


def wants_prometheus(accept: str | None) -> bool:
    """True if the ``Accept`` header prefers Prometheus text to JSON (JSON is the default).

    Example:
        >>> wants_prometheus("application/openmetrics-text;version=1.0.0,text/plain;"
        ...                  "version=0.0.4;q=0.5,*/*;q=0.1")
        True
        >>> wants_prometheus("application/json"), wants_prometheus("*/*"), wants_prometheus(None)
        (False, False, False)
    """
    text_q = json_q = 0.0
    for item in (accept or "").split(","):
        media, *params = (p.strip() for p in item.split(";"))
        q = 1.0
        for p in params:
            key, _, value = p.partition("=")
            if key.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
                if not 0.0 <= q <= 1.0:  # also NaN
                    q = 0.0
        media = media.lower()
        if media in _TEXT_TYPES:
            text_q = max(text_q, q)
        elif media in _JSON_TYPES:
            json_q = max(json_q, q)
    return text_q > json_q
