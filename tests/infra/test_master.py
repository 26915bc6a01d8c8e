"""Masters: dcos-master running and enabled, listening on its address, healthy."""

from __future__ import annotations

import pytest

from tests.infra import helpers as h

ROLE = "master"


@pytest.fixture(scope="module")
def conf(host):
    return h.read_toml(host, "master")


def test_unit_installed(host):
    assert host.file(f"{h.UNIT_DIR}/dcos-master.service").is_file


def test_service_active_and_enabled(host):
    svc = host.service("dcos-master")
    assert svc.is_running, "dcos-master is not active"
    assert svc.is_enabled, "dcos-master is not enabled"


def test_port_listening(host, conf):
    ip, port = h.service_address(conf, "master")
    assert h.listening(host, ip, port), f"nothing listens on {ip}:{port}"


def test_work_dir_owned_by_dcos(host, conf):
    d = host.file(str(conf.get("work_dir", h.DEFAULT_MASTER_WORK_DIR)))
    assert d.is_directory, f"no {d.path}"
    assert d.user == h.USER, f"{d.path} is owned by {d.user}"


def test_health(host, conf):
    url = h.http_base(*h.service_address(conf, "master")) + "/health"
    res = h.eventually(lambda: h.http_get(host, url), lambda r: r.status == 200)
    assert res.status == 200, f"GET {url}: {res}"
