"""Public agents: dcos-lb running and enabled, HAProxy installed but not its own service."""

from __future__ import annotations

import pytest

from tests.infra import helpers as h

ROLE = "public_agent"


@pytest.fixture(scope="module")
def conf(host):
    return h.read_toml(host, "lb")


def test_unit_installed(host):
    assert host.file(f"{h.UNIT_DIR}/dcos-lb.service").is_file


def test_lb_active_and_enabled(host):
    svc = host.service("dcos-lb")
    assert svc.is_running, "dcos-lb is not active"
    assert svc.is_enabled, "dcos-lb is not enabled"


def test_haproxy_installed_not_enabled(host):
    assert host.package("haproxy").is_installed
    assert not host.service("haproxy").is_enabled, "haproxy.service is enabled (dcos-lb runs it)"


def test_stats_port(host, conf):
    ip, port = h.lb_stats_address(conf)
    if not port:
        pytest.skip("stats_port = 0 in lb.toml")
    # HAProxy starts once dcos-lb has read Marathon's apps.
    up = h.eventually(lambda: h.listening(host, ip, port), bool)
    assert up, f"nothing listens on {ip}:{port}"
    url = h.http_base(ip, port) + "/_haproxy_health_check"
    res = h.http_get(host, url)
    assert res.status == 200, f"GET {url}: {res}"
