"""Marathon + `dcos-core lb` + real HAProxy: requests through the service port reach the app's
instances, the backends follow scaling and a rolling update, and a rolling update of a
3-instance app under bounded load (fresh connections, loopback only) fails no request."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.cluster import Cluster, Proc, free_port, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.slow]  # needs Debian haproxy (setup.sh test)


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    c = Cluster(tmp_path, agent_resources="cpus:4;mem:4096;disk:1024;ports:[31000-31999]")
    lb: Proc | None = None
    try:
        c.start(agents=2)
        c.start_marathon()
        lb = Proc(
            [
                "lb",
                "--marathon",
                c.marathon_url,
                "--work-dir",
                str(tmp_path / "lb"),
                "--http-port",
                str(free_port()),
                "--stats-port",
                str(free_port()),
                "--log-level",
                "info",
            ],
            tmp_path / "lb.log",
        )
        c.lb = lb  # type: ignore[attr-defined]
        yield c
    finally:
        if lb is not None:
            lb.stop()
        c.stop()


def app_body(service_port: int, instances: int, version: str) -> dict[str, Any]:
    serve = (
        'mkdir -p www && echo "$MESOS_TASK_ID" > www/index.html && '
        "exec python3 -m http.server $PORT0 --bind 127.0.0.1 --directory www"
    )
    return {
        "id": "/web",
        "cmd": serve,
        "cpus": 0.1,
        "mem": 64,
        "instances": instances,
        "env": {"V": version},
        "portDefinitions": [{"port": service_port, "protocol": "tcp"}],
        "labels": {"HAPROXY_GROUP": "external", "HAPROXY_0_MODE": "http"},
        "healthChecks": [
            {
                "protocol": "HTTP",
                "path": "/",
                "portIndex": 0,
                "gracePeriodSeconds": 10,
                "intervalSeconds": 1,
                "timeoutSeconds": 1,
                "maxConsecutiveFailures": 3,
            }
        ],
        "upgradeStrategy": {"minimumHealthCapacity": 1.0, "maximumOverCapacity": 0.34},
    }


def served_by(port: int, tries: int = 30) -> set[str]:
    seen = set()
    for _ in range(tries):
        r = httpx.get(f"http://127.0.0.1:{port}/", timeout=2, headers={"Connection": "close"})
        if r.status_code == 200:
            seen.add(r.text.strip())
    return seen


def task_ids(c: Cluster) -> set[str]:
    tasks = c.http.get(f"{c.marathon_url}/v2/apps/web/tasks").json()["tasks"]
    return {t["id"] for t in tasks if t["state"] == "TASK_RUNNING"}


def healthy(c: Cluster) -> int:
    return int(c.http.get(f"{c.marathon_url}/v2/apps/web").json()["app"]["tasksHealthy"])


def test_lb_follows_marathon_through_scaling_and_a_rolling_update(cluster: Cluster) -> None:
    sp = free_port()
    r = cluster.http.post(f"{cluster.marathon_url}/v2/apps", json=app_body(sp, 3, "1"))
    assert r.status_code == 201, r.text
    wait_for(lambda: healthy(cluster) == 3, 45, "3 healthy instances")
    wait_for(lambda: served_by(sp) == task_ids(cluster), 30, "all 3 instances behind HAProxy")

    # scale down: the lb drops the killed instance
    cluster.http.put(f"{cluster.marathon_url}/v2/apps/web", json={"instances": 2})
    wait_for(lambda: len(task_ids(cluster)) == 2, 30, "2 instances")
    wait_for(lambda: served_by(sp) == task_ids(cluster), 30, "lb follows the scale down")
    cluster.http.put(f"{cluster.marathon_url}/v2/apps/web", json={"instances": 3})
    wait_for(lambda: healthy(cluster) == 3 and served_by(sp) == task_ids(cluster), 45, "back to 3")

    # a rolling update under load: no request fails
    results: list[int | str] = []
    stop = threading.Event()

    def load() -> None:
        while not stop.is_set():
            try:
                resp = httpx.get(
                    f"http://127.0.0.1:{sp}/", timeout=3, headers={"Connection": "close"}
                )
                results.append(resp.status_code)
            except httpx.HTTPError as e:
                results.append(type(e).__name__)
            time.sleep(0.05)  # about 20 requests/s, bounded by the update's length

    old = task_ids(cluster)
    loader = threading.Thread(target=load, daemon=True)
    loader.start()
    r = cluster.http.put(f"{cluster.marathon_url}/v2/apps/web", json={"env": {"V": "2"}})
    assert r.status_code == 200, r.text
    wait_for(
        lambda: (
            not cluster.http.get(f"{cluster.marathon_url}/v2/deployments").json()
            and not (task_ids(cluster) & old)
        ),
        90,
        "rolling update done",
    )
    wait_for(lambda: served_by(sp, 12) == task_ids(cluster), 30, "lb serves the new instances")
    time.sleep(1)
    stop.set()
    loader.join(10)
    failed = [x for x in results if x != 200]
    assert len(results) > 40
    assert failed == [], f"{len(failed)} of {len(results)} requests failed: {failed[:5]}"
