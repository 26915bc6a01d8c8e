"""Hostile input against every server of a real cluster: each request gets a 4xx with the reason,
never a 500, and the cluster keeps working (state renders, tasks run) afterwards."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.cluster import Cluster, RawScheduler, task_info, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.slow]

DEEP = b"[" * 100_000 + b"]" * 100_000  # RecursionError in json.loads before the fix
JSON = {"Content-Type": "application/json"}


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    c = Cluster(
        tmp_path_factory.mktemp("hostile"),
        agent_resources="cpus:4;mem:4096;disk:4096;ports:[31000-31999]",
    )
    try:
        c.start(agents=1)
        c.start_marathon()
        c.start_chronos()
        yield c
    finally:
        c.stop()


@pytest.fixture(scope="module")
def scheduler(cluster: Cluster) -> Iterator[RawScheduler]:
    s = RawScheduler(cluster.master_addr)
    s.subscribe()
    try:
        yield s
    finally:
        s.close()


def _agent_url(cluster: Cluster) -> str:
    return f"http://127.0.0.1:{cluster.agent_ports[0]}"


def _post(url: str, content: bytes, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.post(url, content=content, headers=headers or JSON, timeout=60)


def _json_posts(cluster: Cluster) -> dict[str, str]:
    """Every route that decodes a JSON body by hand (each framework's main write routes)."""
    return {
        "master scheduler": f"{cluster.url}/api/v1/scheduler",
        "master operator": f"{cluster.url}/api/v1",
        "marathon apps": f"{cluster.marathon_url}/v2/apps",
        "marathon groups": f"{cluster.marathon_url}/v2/groups",
        "chronos iso8601": f"{cluster.chronos_url}/scheduler/iso8601",
        "metronome jobs": f"{cluster.chronos_url}/v1/jobs",
    }


def test_json_nested_100k_levels_is_a_4xx_with_the_reason_on_every_api(cluster: Cluster) -> None:
    for name, url in _json_posts(cluster).items():
        r = _post(url, DEEP)
        assert r.status_code in (400, 422), (name, r.status_code, r.text[:300])
        assert "nested deeper than 100 levels" in r.text, (name, r.text[:300])
    # the agent's internal API parses with pydantic: a 4xx as well, not a 500
    r = _post(f"{_agent_url(cluster)}/internal/run_task", DEEP)
    assert 400 <= r.status_code < 500, r.text[:300]


def test_json_nested_just_past_the_limit_is_refused_and_within_it_is_read(cluster: Cluster) -> None:
    app: dict[str, Any] = {"id": "/deep", "cmd": "sleep 100", "instances": 0}
    nested: Any = "x"
    for _ in range(100):
        nested = [nested]
    r = _post(f"{cluster.marathon_url}/v2/apps", json.dumps({**app, "x": nested}).encode())
    assert r.status_code == 422, r.text[:300]
    assert "nested deeper than 100 levels" in r.text
    # 99 levels of nesting are valid JSON for the decoder: Marathon then judges the fields
    r = _post(f"{cluster.marathon_url}/v2/apps", json.dumps({**app, "x": nested[0]}).encode())
    assert "nested deeper" not in r.text


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b'{"type": "GET_HEALTH", "x": NaN}', "NaN is not a number in JSON"),
        (b'{"type": "GET_HEALTH", "x": Infinity}', "Infinity is not a number in JSON"),
        (b'{"type": "GET_HEALTH", "x": 1e400}', "number 1e400 is out of range"),
        (b'{"type": "GET_HEALTH", "x": 1' + b"0" * 30 + b"}", "is out of range (64 bits"),
        (b'{"type": "GET_HEALTH", "x": "\xff"}', "invalid JSON"),
    ],
)
def test_numbers_json_cannot_hold_are_refused(cluster: Cluster, raw: bytes, reason: str) -> None:
    r = _post(f"{cluster.url}/api/v1", raw)
    assert r.status_code == 400, r.text
    assert reason in r.text


def test_update_quota_of_1e308_is_a_400_and_changes_nothing(cluster: Cluster) -> None:
    before = cluster.operator({"type": "GET_QUOTA"}).json()
    r = cluster.operator(
        {
            "type": "UPDATE_QUOTA",
            "update_quota": {
                "quota_configs": [
                    {
                        "role": "big",
                        "guarantees": {"cpus": {"value": 1e308}},
                        "limits": {"cpus": {"value": 1e308}},
                    }
                ]
            },
        }
    )
    assert r.status_code == 400, r.text
    assert "too large" in r.text and "cpus" in r.text
    assert cluster.operator({"type": "GET_QUOTA"}).json() == before


def test_update_weights_of_infinity_is_a_400(cluster: Cluster) -> None:
    r = cluster.operator(
        {
            "type": "UPDATE_WEIGHTS",
            "update_weights": {"weight_infos": [{"role": "eng", "weight": "inf"}]},
        }
    )
    assert r.status_code == 400, r.text
    assert "weight" in r.text and "finite" in r.text


def test_accept_with_1e308_cpus_is_refused_and_the_master_goes_on(
    cluster: Cluster, scheduler: RawScheduler
) -> None:
    offer = scheduler.wait_offers()[0]
    task = task_info("huge", offer, "sleep 1", cpus=1e308)
    status, body = scheduler.call(
        {
            "type": "ACCEPT",
            "framework_id": {"value": scheduler.framework_id},
            "accept": {
                "offer_ids": [offer["id"]],
                "operations": [{"type": "LAUNCH", "launch": {"task_infos": [task]}}],
            },
        }
    )
    assert status != 500, body
    if status == 202:  # Mesos answers ACCEPT at once and reports bad tasks as TASK_ERROR
        update = scheduler.wait_update("huge", "TASK_ERROR")
        assert "too large" in update.get("message", ""), update
    else:
        assert status == 400 and b"too large" in body, (status, body)
    assert httpx.get(f"{cluster.url}/master/state", timeout=10).status_code == 200


def test_files_read_offset_past_the_end_is_empty_and_beyond_int64_a_400(
    cluster: Cluster, scheduler: RawScheduler
) -> None:
    offer = scheduler.wait_offers()[0]
    scheduler.launch(offer, [task_info("echo-sandbox", offer, "echo hello")])
    scheduler.wait_update("echo-sandbox", "TASK_FINISHED", timeout=30)
    st = httpx.get(f"{_agent_url(cluster)}/state", timeout=10).json()
    directory = next(
        ex["directory"]
        for fw in st["frameworks"] + st.get("completed_frameworks", [])
        for ex in fw["executors"] + fw.get("completed_executors", [])
        if ex["id"] == "echo-sandbox"
    )
    url = f"{_agent_url(cluster)}/files/read"
    path = f"{directory}/stdout"
    r = httpx.get(url, params={"path": path, "offset": 2**63 - 1}, timeout=10)
    assert r.status_code == 200, r.text
    assert r.json() == {"data": "", "offset": 2**63 - 1}
    r = httpx.get(url, params={"path": path, "offset": 2**63}, timeout=10)
    assert r.status_code == 400, r.text
    assert "offset" in r.text and str(2**63 - 1) in r.text


def test_bodies_over_the_limit_get_413_on_every_server(cluster: Cluster) -> None:
    big_master = b" " * (4 * 1024 * 1024 + 1)  # master and agent: 4 MiB by default
    big_framework = b" " * (1024 * 1024 + 1)  # Marathon and Chronos: 1 MiB
    cases = [
        (f"{cluster.url}/api/v1/scheduler", big_master),
        (f"{cluster.url}/api/v1", big_master),
        (f"{_agent_url(cluster)}/internal/run_task", big_master),
        (f"{cluster.marathon_url}/v2/apps", big_framework),
        (f"{cluster.chronos_url}/scheduler/iso8601", big_framework),
        (f"{cluster.chronos_url}/v1/jobs", big_framework),
    ]
    for url, body in cases:
        r = _post(url, body)
        assert r.status_code == 413, (url, r.status_code, r.text[:200])
        assert "request body too large" in r.text and "max_body_size" in r.text, r.text

        def chunks(body: bytes = body) -> Iterator[bytes]:  # no Content-Length: chunked
            for i in range(0, len(body), 65536):
                yield body[i : i + 65536]

        r = httpx.post(url, content=chunks(), headers=JSON, timeout=60)
        assert r.status_code == 413, (url, "chunked", r.status_code, r.text[:200])
    # the Mesos API answers in plain text, as Mesos does
    r = _post(f"{cluster.url}/api/v1", big_master)
    assert r.headers["content-type"].startswith("text/plain")


def test_a_large_accept_does_not_stop_the_master_answering_others(
    cluster: Cluster, scheduler: RawScheduler
) -> None:
    """One ACCEPT near the body limit (3.5 MB, 12,000 tasks): the master keeps answering.

    The tasks ask for more memory than the agent has, so each is validated and refused
    (TASK_ERROR) and none runs.
    """
    offer = scheduler.wait_offers()[0]
    tasks = [task_info(f"many-{i}", offer, "true", mem=10**6) for i in range(12_000)]
    raw = json.dumps(
        {
            "type": "ACCEPT",
            "framework_id": {"value": scheduler.framework_id},
            "accept": {
                "offer_ids": [offer["id"]],
                "operations": [{"type": "LAUNCH", "launch": {"task_infos": tasks}}],
                "filters": {"refuse_seconds": 3600},
            },
        }
    ).encode()
    answered: list[float] = []
    window: dict[str, float] = {}
    done = threading.Event()

    def poll() -> None:
        with httpx.Client(timeout=30) as h:
            while not done.is_set():
                h.get(f"{cluster.url}/health").raise_for_status()
                answered.append(time.monotonic())

    poller = threading.Thread(target=poll, daemon=True)
    poller.start()
    wait_for(lambda: answered, 10, "health answered")
    window["sent"] = time.monotonic()
    status, body = scheduler.call({}, raw=raw)
    window["answered"] = time.monotonic()
    done.set()
    poller.join(30)
    assert status == 202, body
    during = [t for t in answered if window["sent"] < t < window["answered"]]
    assert during, "no /health answer while the large ACCEPT was being read and processed"
    assert httpx.get(f"{cluster.url}/master/state", timeout=30).status_code == 200


def test_the_cluster_still_works_after_all_of_it(cluster: Cluster, scheduler: RawScheduler) -> None:
    scheduler.send("TEARDOWN")  # it holds offers; Marathon needs them
    assert httpx.get(f"{cluster.url}/master/state", timeout=30).status_code == 200
    r = httpx.post(
        f"{cluster.marathon_url}/v2/apps",
        json={"id": "/after", "cmd": "sleep 100", "cpus": 0.1, "mem": 32, "instances": 1},
        timeout=10,
    )
    assert r.status_code == 201, r.text

    def running() -> bool:
        app = httpx.get(f"{cluster.marathon_url}/v2/apps/after", timeout=10).json()["app"]
        return bool(app["tasksRunning"] == 1)

    wait_for(running, 60, "the app running")
    assert httpx.get(f"{cluster.chronos_url}/scheduler/jobs", timeout=10).status_code == 200


def test_no_page_of_any_server_loads_assets_from_the_internet(cluster: Cluster) -> None:
    """The master's /docs page loaded Swagger UI from a CDN and was blank offline: gone."""
    for base in (cluster.url, _agent_url(cluster), cluster.marathon_url, cluster.chronos_url):
        for path in ("/docs", "/redoc", "/"):
            r = httpx.get(f"{base}{path}", timeout=10)
            assert "cdn.jsdelivr.net" not in r.text and '<script src="http' not in r.text
        assert httpx.get(f"{base}/docs", timeout=10).status_code == 404
