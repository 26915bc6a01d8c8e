"""Marathon placement and failure handling on several real agents.

Three agents with attributes (rack, and a distinct advertised hostname each) run under one
master; Marathon places instances by constraints, shows why an instance waits in the queue,
replaces instances of a dead agent, and keeps the healthy count during a rolling update.
"""

from __future__ import annotations

import collections
import collections.abc
import contextlib
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.cluster import Cluster, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.slow]

if not hasattr(collections, "Iterable"):  # marathon-python 0.13 on Python >= 3.10
    collections.Iterable = collections.abc.Iterable  # type: ignore[attr-defined]

RACKS = ("r1", "r1", "r2")


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    c = Cluster(
        tmp_path,
        agent_resources="cpus:2;mem:2048;disk:1024;ports:[31000-31999]",
        agent_ping_timeout=0.5,
        max_agent_ping_timeouts=4,
    )
    try:
        c.start_master()
        for i, rack in enumerate(RACKS):
            c.agent_ports.append(0)
            from tests.cluster import free_port

            c.agent_ports[i] = free_port()
            c.start_agent(i, ["--hostname", f"host-{i}", "--attributes", f"rack:{rack}"])
        c.wait_agents(3)
        c.start_marathon()
        yield c
    finally:
        c.stop()


def api(c: Cluster, method: str, path: str, **kw: Any) -> httpx.Response:
    return c.http.request(method, f"{c.marathon_url}{path}", **kw)


def tasks_of(c: Cluster, app: str) -> list[dict[str, Any]]:
    return list(api(c, "GET", f"/v2/apps{app}/tasks").json()["tasks"])


def running(c: Cluster, app: str) -> list[dict[str, Any]]:
    return [t for t in tasks_of(c, app) if t["state"] == "TASK_RUNNING"]


def post_app(c: Cluster, body: dict[str, Any]) -> None:
    r = api(c, "POST", "/v2/apps", json={"cpus": 0.1, "mem": 32, "cmd": "sleep 3600", **body})
    assert r.status_code == 201, r.text


def test_unique_hostname_and_the_queue_says_why(cluster: Cluster) -> None:
    post_app(cluster, {"id": "/uniq", "instances": 4, "constraints": [["hostname", "UNIQUE"]]})
    wait_for(lambda: len(running(cluster, "/uniq")) == 3, 30, "3 instances")
    assert sorted(t["host"] for t in running(cluster, "/uniq")) == ["host-0", "host-1", "host-2"]

    def waiting() -> Any:
        queue = api(cluster, "GET", "/v2/queue").json()["queue"]
        if not queue:
            return None
        summary = queue[0]["processedOffersSummary"]["rejectSummaryLastOffers"]
        reasons = {s["reason"]: s["declined"] for s in summary}
        return queue[0] if reasons.get("UnfulfilledConstraint") else None

    item = wait_for(waiting, 30, "the 4th instance in the queue with its reason")
    assert item["count"] == 1 and item["app"]["id"] == "/uniq"


def test_group_by_rack_spreads_and_max_per_holds(cluster: Cluster) -> None:
    post_app(cluster, {"id": "/spread", "instances": 4, "constraints": [["rack", "GROUP_BY"]]})
    wait_for(lambda: len(running(cluster, "/spread")) == 4, 30, "4 instances")
    racks = collections.Counter(
        RACKS[int(t["host"].split("-")[1])] for t in running(cluster, "/spread")
    )
    assert racks == {"r1": 2, "r2": 2}
    post_app(cluster, {"id": "/capped", "instances": 5, "constraints": [["rack", "MAX_PER", "2"]]})
    wait_for(lambda: len(running(cluster, "/capped")) == 4, 30, "4 of 5 instances")
    time.sleep(1.5)
    capped = collections.Counter(
        RACKS[int(t["host"].split("-")[1])] for t in running(cluster, "/capped")
    )
    assert capped == {"r1": 2, "r2": 2}  # the 5th waits: each rack holds 2 already
    assert api(cluster, "GET", "/v2/queue").json()["queue"][0]["count"] == 1


def test_instances_of_a_dead_agent_are_replaced_elsewhere(cluster: Cluster) -> None:
    post_app(
        cluster,
        {
            "id": "/moving",
            "instances": 3,
            "constraints": [["hostname", "MAX_PER", "2"], ["hostname", "GROUP_BY"]],
            "unreachableStrategy": {"inactiveAfterSeconds": 1, "expungeAfterSeconds": 2},
        },
    )
    wait_for(lambda: len(running(cluster, "/moving")) == 3, 30, "3 instances")
    hosts = {t["host"] for t in running(cluster, "/moving")}
    assert hosts == {"host-0", "host-1", "host-2"}  # GROUP_BY spreads them
    cluster.agents[2].kill9()
    # host-2 becomes unreachable (2 s here), then after inactiveAfterSeconds its instance is
    # replaced on the live agents (MAX_PER 2 leaves room), and expunged after expungeAfterSeconds.
    wait_for(
        lambda: (
            sorted(t["host"] for t in running(cluster, "/moving") if t["host"] != "host-2")
            == ["host-0", "host-0", "host-1"]
            or sorted(t["host"] for t in running(cluster, "/moving") if t["host"] != "host-2")
            == ["host-0", "host-1", "host-1"]
        ),
        60,
        "3 instances on the live agents",
    )
    wait_for(
        lambda: all(t["host"] != "host-2" for t in tasks_of(cluster, "/moving")),
        30,
        "the lost instance expunged",
    )


def test_rolling_update_keeps_all_instances_healthy(cluster: Cluster) -> None:
    """Never fewer than n healthy instances during a rolling update, and never more healthy
    than running ones (issue 13: 8 healthy with 5 running). The instances ignore SIGTERM, so
    the replaced ones stay TASK_KILLING for taskKillGracePeriodSeconds with their last
    (passing) health results: they are neither running nor healthy any more."""
    n = 3
    cmd = "trap '' TERM; exec python3 -m http.server $PORT0 --bind 127.0.0.1"
    check = {
        "protocol": "HTTP",
        "path": "/",
        "portIndex": 0,
        "gracePeriodSeconds": 5,
        "intervalSeconds": 1,
        "timeoutSeconds": 1,
        "maxConsecutiveFailures": 3,
    }
    post_app(
        cluster,
        {
            "id": "/rolling",
            "cmd": cmd,
            "mem": 64,
            "instances": n,
            "healthChecks": [check],
            "upgradeStrategy": {"minimumHealthCapacity": 1.0, "maximumOverCapacity": 0.5},
            "taskKillGracePeriodSeconds": 2,
        },
    )

    def counts() -> tuple[int, int, int]:
        app = api(cluster, "GET", "/v2/apps/rolling").json()["app"]
        killing = sum(1 for t in app["tasks"] if t["state"] == "TASK_KILLING")
        return int(app["tasksHealthy"]), int(app["tasksRunning"]), killing

    def healthy() -> int:
        return counts()[0]

    wait_for(lambda: healthy() == n and not api(cluster, "GET", "/v2/deployments").json(), 45)
    samples: list[int] = []
    over: list[tuple[int, int, int]] = []  # (healthy, running, killing) with healthy > running
    killing_seen = 0
    stop = threading.Event()

    def sample() -> None:
        nonlocal killing_seen
        while not stop.is_set():
            with contextlib.suppress(httpx.HTTPError):
                h, running, killing = counts()
                samples.append(h)
                killing_seen += killing
                if h > running:
                    over.append((h, running, killing))
            time.sleep(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    old = {t["id"] for t in tasks_of(cluster, "/rolling")}
    r = api(cluster, "PUT", "/v2/apps/rolling", json={"env": {"V": "2"}})
    assert r.status_code == 200, r.text
    wait_for(
        lambda: (
            not api(cluster, "GET", "/v2/deployments").json()
            and not ({t["id"] for t in tasks_of(cluster, "/rolling")} & old)
        ),
        90,
        "rolling update done",
    )
    stop.set()
    sampler.join(5)
    assert len(samples) > 20
    assert min(samples) >= n, f"healthy dropped to {min(samples)}"
    assert killing_seen, "no replaced instance was seen in TASK_KILLING"
    assert not over, f"more healthy than running (healthy, running, killing): {over[:5]}"
    assert healthy() == n
