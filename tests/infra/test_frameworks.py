"""Marathon and Chronos on the masters: running, enabled, answering, registered with the master."""

from __future__ import annotations

import pytest

from tests.infra import helpers as h

ROLE = "master"

FRAMEWORKS = ("marathon", "chronos")
PROBES = {"marathon": ("/ping", "/v2/info"), "chronos": ("/ping", "/v1/scheduler/jobs")}


@pytest.fixture(scope="module")
def confs(host):
    return {fw: h.read_toml(host, fw) for fw in FRAMEWORKS}


@pytest.mark.parametrize("fw", FRAMEWORKS)
def test_unit_installed(host, fw):
    assert host.file(f"{h.UNIT_DIR}/dcos-{fw}.service").is_file


@pytest.mark.parametrize("fw", FRAMEWORKS)
def test_service_active_and_enabled(host, fw):
    svc = host.service(f"dcos-{fw}")
    assert svc.is_running, f"dcos-{fw} is not active"
    assert svc.is_enabled, f"dcos-{fw} is not enabled"


@pytest.mark.parametrize("fw", FRAMEWORKS)
def test_port_listening(host, confs, fw):
    ip, port = h.service_address(confs[fw], fw)
    assert h.listening(host, ip, port), f"{fw}: nothing listens on {ip}:{port}"


@pytest.mark.parametrize("fw", FRAMEWORKS)
def test_http_endpoints(host, confs, fw):
    base = h.http_base(*h.service_address(confs[fw], fw))
    for path in PROBES[fw]:
        res = h.eventually(lambda p=path: h.http_get(host, base + p), lambda r: r.status == 200)
        assert res.status == 200, f"GET {base}{path}: {res}"
        if path != "/ping":
            res.json()  # a JSON document, not an error page


@pytest.mark.parametrize("fw", FRAMEWORKS)
def test_registered_with_master(host, confs, fw):
    conf = confs[fw]
    name = str(conf.get("framework_name", fw))
    url = h.master_url(str(conf.get("master", "127.0.0.1:5050"))) + "/frameworks"

    def active():
        res = h.http_get(host, url)
        return res, (h.active_frameworks(res.json(), name) if res.status == 200 else [])

    res, found = h.eventually(active, lambda r: len(r[1]) == 1)
    assert res.status == 200, f"GET {url}: {res}"
    assert len(found) == 1, f"{len(found)} active frameworks named {name!r} at {url}"
    if fw == "marathon":
        info = h.http_get(host, h.http_base(*h.service_address(conf, fw)) + "/v2/info").json()
        assert info.get("frameworkId") == found[0]["id"], "Marathon's frameworkId is not active"
