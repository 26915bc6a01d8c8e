"""Marathon end to end with real processes and the unchanged `marathon` client (marathon-python).

A master, agents and `dcos-core marathon` run as processes on 127.0.0.1; the tests drive Marathon
only through marathon-python (and raw HTTP where the client has no call), and look at what a user
sees: apps, tasks, deployments, events.
"""

from __future__ import annotations

import collections
import collections.abc
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from marathon import MarathonApp, MarathonClient
from marathon.models.app import MarathonHealthCheck
from prometheus_client.parser import text_string_to_metric_families

from tests.cluster import Cluster, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.slow]

# marathon-python 0.13.0 (the newest on PyPI) uses `collections.Iterable`, which Python 3.10
# removed; its JSON encoder needs the alias. This fixes the client's import, not our server.
if not hasattr(collections, "Iterable"):
    collections.Iterable = collections.abc.Iterable  # type: ignore[attr-defined]


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    c = Cluster(tmp_path, agent_resources="cpus:4;mem:4096;disk:4096;ports:[31000-31999]")
    try:
        c.start(agents=2)
        c.start_marathon()
        yield c
    finally:
        c.stop()


def client(cluster: Cluster) -> MarathonClient:
    return MarathonClient([cluster.marathon_url], timeout=10)


def wait_deployed(mc: MarathonClient, app_id: str, running: int, timeout: float = 30) -> Any:
    def ok() -> Any:
        app = mc.get_app(app_id)
        if app.tasks_running == running and not app.deployments:
            return app
        return None

    return wait_for(ok, timeout, f"{app_id} with {running} running and no deployment")


class Events:
    """marathon-python's event stream, read in a thread."""

    def __init__(self, mc: MarathonClient) -> None:
        self.items: list[Any] = []
        self.thread = threading.Thread(target=self._run, args=(mc,), daemon=True)
        self.thread.start()

    def _run(self, mc: MarathonClient) -> None:
        try:
            for ev in mc.event_stream():
                self.items.append(ev)
        except Exception as e:  # the stream ends with the test
            self.items.append(e)

    def types(self) -> list[str]:
        return [getattr(e, "event_type", type(e).__name__) for e in self.items]


def test_marathon_python_end_to_end(cluster: Cluster) -> None:
    mc = client(cluster)
    assert mc.ping().strip() in (b"pong", b'"pong"')
    info = wait_for(lambda: mc.get_info().framework_id and mc.get_info(), 30, "subscribed")
    assert info.name == "marathon" and info.framework_id
    assert mc.get_leader()
    events = Events(mc)

    created = mc.create_app("sleepy", MarathonApp(cmd="sleep 3600", cpus=0.1, mem=32, instances=3))
    assert created and created.id == "/sleepy"
    assert len(mc.list_deployments()) == 1
    app = wait_deployed(mc, "/sleepy", 3)
    tasks = mc.list_tasks("/sleepy")
    assert len(tasks) == 3 and all(t.state == "TASK_RUNNING" for t in tasks)
    assert {t.host for t in tasks} <= {"127.0.0.1"}
    assert [a.id for a in mc.list_apps()] == ["/sleepy"]

    # a killed task is replaced
    victim = tasks[0].id
    mc.kill_task("/sleepy", victim)
    wait_for(
        lambda: (
            {t.id for t in mc.list_tasks("/sleepy") if t.state == "TASK_RUNNING"} - {victim}
            and len([t for t in mc.list_tasks("/sleepy") if t.state == "TASK_RUNNING"]) == 3
            and victim not in {t.id for t in mc.list_tasks("/sleepy")}
        ),
        30,
        "replacement",
    )

    # scale, then kill with scale=True
    mc.scale_app("/sleepy", instances=4)
    wait_deployed(mc, "/sleepy", 4)
    one = mc.list_tasks("/sleepy")[0].id
    mc.kill_task("/sleepy", one, scale=True)
    app = wait_deployed(mc, "/sleepy", 3)
    assert app.instances == 3

    # a rolling update: every task replaced by one of the new version
    old_ids = {t.id for t in mc.list_tasks("/sleepy")}
    app = mc.get_app("/sleepy")
    app.cmd = "sleep 3601"
    mc.update_app("/sleepy", app)
    app = wait_deployed(mc, "/sleepy", 3)
    new_tasks = mc.list_tasks("/sleepy")
    assert not ({t.id for t in new_tasks} & old_ids)
    assert {t.version for t in new_tasks} == {app.version}

    # restart: new tasks again
    before = {t.id for t in new_tasks}
    mc.restart_app("/sleepy")
    wait_for(
        lambda: (
            not ({t.id for t in mc.list_tasks("/sleepy")} & before)
            and mc.get_app("/sleepy").tasks_running == 3
            and not mc.get_app("/sleepy").deployments
        ),
        45,
        "restart",
    )
    versions = mc.list_versions("/sleepy")
    assert len(versions) >= 4

    # queue is empty, a group view exists
    assert mc.list_queue() == []
    assert any(a.id == "/sleepy" for a in mc.get_group("/").apps)

    # delete
    mc.delete_app("/sleepy")
    wait_for(lambda: not mc.list_apps(), 30, "app deleted")
    wait_for(lambda: not mc.list_tasks(), 30, "tasks gone")
    types = events.types()
    for t in ("api_post_event", "deployment_info", "status_update_event", "deployment_success"):
        assert t in types, types


def test_deployment_cancel_and_rollback(cluster: Cluster) -> None:
    mc = client(cluster)
    mc.create_app("web", MarathonApp(cmd="sleep 3600", cpus=0.1, mem=32, instances=1))
    wait_deployed(mc, "/web", 1)
    # more instances than fit: the deployment stays open
    app = mc.get_app("/web")
    mc.scale_app("/web", instances=200)
    deps = wait_for(mc.list_deployments, 10, "a deployment")
    assert deps[0].affected_apps == ["/web"]
    # while it runs, changes are refused (409) unless forced
    app.instances = 2
    with pytest.raises(Exception, match="locked"):
        mc.update_app("/web", app)
    # rollback (DELETE without force): back to 1 instance
    mc.delete_deployment(deps[0].id)
    app = wait_deployed(mc, "/web", 1)
    assert app.instances == 1
    # cancel with force: the deployment just stops
    mc.scale_app("/web", instances=200)
    deps = wait_for(mc.list_deployments, 10, "a deployment")
    mc.delete_deployment(deps[0].id, force=True)
    wait_for(lambda: not mc.list_deployments(), 10, "no deployment")


def test_health_check_failure_kills_and_replaces(cluster: Cluster) -> None:
    mc = client(cluster)
    events = Events(mc)
    cmd = "touch ok; (sleep 4; rm ok) & exec python3 -m http.server $PORT0 --bind 127.0.0.1"
    check = MarathonHealthCheck(
        protocol="HTTP",
        path="/ok",
        port_index=0,
        grace_period_seconds=2,
        interval_seconds=1,
        timeout_seconds=1,
        max_consecutive_failures=2,
    )
    mc.create_app(
        "checked",
        MarathonApp(cmd=cmd, cpus=0.1, mem=64, instances=1, health_checks=[check]),
    )
    first = wait_for(
        lambda: [
            t
            for t in mc.list_tasks("/checked")
            if t.health_check_results and t.health_check_results[0].alive
        ],
        30,
        "a healthy task",
    )[0].id
    wait_for(lambda: "unhealthy_task_kill_event" in events.types(), 30, "unhealthy kill event")
    wait_for(
        lambda: any(t.id != first and t.state == "TASK_RUNNING" for t in mc.list_tasks("/checked")),
        30,
        "a replacement",
    )
    assert "health_status_changed_event" in events.types()


def test_restart_of_marathon_keeps_instances_and_resumes_deployments(cluster: Cluster) -> None:
    mc = client(cluster)
    mc.create_app("keep", MarathonApp(cmd="sleep 3600", cpus=0.1, mem=32, instances=2))
    wait_deployed(mc, "/keep", 2)
    ids = {t.id for t in mc.list_tasks("/keep")}
    mc.scale_app("/keep", instances=4)
    assert cluster.marathon is not None
    cluster.marathon.kill9()
    cluster.start_marathon()
    mc = client(cluster)
    app = wait_deployed(mc, "/keep", 4, timeout=45)
    assert ids <= {t.id for t in mc.list_tasks("/keep")}  # nothing killed by the restart
    assert app.instances == 4
    time.sleep(1)
    assert len(mc.list_tasks("/keep")) == 4


# what Prometheus sends when it scrapes a target
SCRAPER_ACCEPT = (
    "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;"
    "q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"
)


def prometheus(cluster: Cluster, url: str, accept: str = SCRAPER_ACCEPT) -> dict[str, float]:
    r = cluster.http.get(url, headers={"Accept": accept})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/plain; version=0.0.4"), url
    return {
        s.name: s.value
        for family in text_string_to_metric_families(r.text)
        for s in family.samples
        if not s.labels
    }


def test_prometheus_metrics_of_marathon_the_agents_and_the_master(cluster: Cluster) -> None:
    """Marathon's /metrics stays JSON for its clients and is Prometheus text for scrapers; each
    agent serves /metrics/snapshot (Mesos names) and /metrics; all agree with the master."""
    mc = client(cluster)
    wait_for(lambda: mc.get_info().framework_id, 30, "subscribed")
    mc.create_app("counted", MarathonApp(cmd="sleep 3600", cpus=0.1, mem=32, instances=3))
    wait_deployed(mc, "/counted", 3)

    dropwizard = mc.get_metrics()  # marathon-python reads JSON
    assert dropwizard["gauges"]["marathon.instances.running.gauge"] == {"value": 3}
    url = cluster.marathon_url
    for got in (
        prometheus(cluster, f"{url}/metrics"),
        prometheus(cluster, f"{url}/metrics/prometheus", "*/*"),
    ):
        assert got["marathon_apps_active_gauge"] == 1
        assert got["marathon_instances_running_gauge"] == got["marathon_tasks_running_gauge"] == 3
        assert got["marathon_deployments_active_gauge"] == 0
        assert got["marathon_tasks_launched_counter_total"] == 3
        assert got["marathon_http_responses_2xx_rate_total"] > 0

    agents = [f"http://127.0.0.1:{port}" for port in cluster.agent_ports]
    snapshots = [cluster.http.get(f"{a}/metrics/snapshot").json() for a in agents]
    assert sum(s["slave/tasks_running"] for s in snapshots) == 3
    assert all(s["slave/registered"] == 1 for s in snapshots)
    texts = [prometheus(cluster, f"{a}/metrics") for a in agents]
    assert sum(t["dcos_slave_tasks_running"] for t in texts) == 3
    assert sum(t["dcos_slave_mem_used"] for t in texts) == 3 * 32
    assert all(t["dcos_slave_cpus_total"] == 4 for t in texts)
    assert prometheus(cluster, f"{cluster.url}/metrics")["dcos_master_tasks_running"] == 3


def test_hostile_input_is_422_with_paths(cluster: Cluster) -> None:
    http = cluster.http
    url = cluster.marathon_url
    r = http.post(f"{url}/v2/apps", json={"id": "/bad", "cmd": "x", "cpus": -1})
    assert r.status_code == 422
    body = r.json()
    assert body["message"] == "Object is not valid"
    assert any("cpus" in d["path"] for d in body["details"])
    r = http.post(
        f"{url}/v2/apps", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert r.status_code in (400, 422)
    r = http.post(f"{url}/v2/apps", json={"id": "/UPPER", "cmd": "x"})
    assert r.status_code == 422
    r = http.get(f"{url}/v2/apps/nope")
    assert r.status_code == 404 and "does not exist" in r.json()["message"]
    assert http.get(f"{url}/v2/apps").json() == {"apps": []}


def test_marathon_runs_a_second_marathon_as_an_app(cluster: Cluster) -> None:
    """Marathon-on-Marathon: a team's own Marathon is an app of the root Marathon."""
    import sys

    cmd = (
        f"exec {sys.executable} -m dcos_core marathon --master {cluster.master_addr} "
        "--port $PORT0 --framework-name marathon-team --work-dir $MESOS_SANDBOX/state "
        "--log-level warning"
    )
    mc = client(cluster)
    mc.create_app(
        "marathon-team",
        MarathonApp(
            cmd=cmd,
            cpus=0.5,
            mem=256,
            instances=1,
            health_checks=[
                MarathonHealthCheck(
                    protocol="HTTP",
                    path="/ping",
                    port_index=0,
                    grace_period_seconds=30,
                    interval_seconds=1,
                )
            ],
        ),
    )
    task = wait_for(
        lambda: [
            t
            for t in mc.list_tasks("/marathon-team")
            if t.health_check_results and t.health_check_results[0].alive
        ],
        60,
        "the inner Marathon healthy",
    )[0]
    inner = MarathonClient([f"http://127.0.0.1:{task.ports[0]}"], timeout=10)
    assert inner.get_info().name == "marathon"
    frameworks = cluster.http.get(f"{cluster.url}/master/frameworks").json()["frameworks"]
    assert {"marathon", "marathon-team"} <= {f["name"] for f in frameworks}
    inner.create_app("inner", MarathonApp(cmd="sleep 3600", cpus=0.1, mem=32, instances=1))
    wait_deployed(inner, "/inner", 1, timeout=45)
    inner.delete_app("/inner")
    wait_for(lambda: not inner.list_tasks(), 30, "inner app gone")
