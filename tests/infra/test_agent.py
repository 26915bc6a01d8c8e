"""Agents (private and public): dcos-agent running, enabled, KillMode=process, registered."""

from __future__ import annotations

import pytest

from tests.infra import helpers as h

ROLE = "agent"


@pytest.fixture(scope="module")
def conf(host):
    return h.read_toml(host, "agent")


def test_unit_installed(host):
    assert host.file(f"{h.UNIT_DIR}/dcos-agent.service").is_file


def test_service_active_and_enabled(host):
    svc = host.service("dcos-agent")
    assert svc.is_running, "dcos-agent is not active"
    assert svc.is_enabled, "dcos-agent is not enabled"


def test_kill_mode_process(host):
    """Tasks survive a restart of the agent (upgrades keep them running)."""
    assert host.service("dcos-agent").systemd_properties.get("KillMode") == "process"


def test_port_listening(host, conf):
    ip, port = h.service_address(conf, "agent")
    assert h.listening(host, ip, port), f"nothing listens on {ip}:{port}"


def test_registered_and_active_with_master(host, conf):
    state_url = h.http_base(*h.service_address(conf, "agent")) + "/state"
    slaves_url = h.master_url(str(conf.get("master", "127.0.0.1:5050"))) + "/slaves"

    def agent_id():
        res = h.http_get(host, state_url)
        return res, ((res.json().get("id") or "") if res.status == 200 else "")

    res, aid = h.eventually(agent_id, lambda r: bool(r[1]))
    assert res.status == 200, f"GET {state_url}: {res}"
    assert aid, "the agent has no id: not registered with its master"

    def master_view():
        r = h.http_get(host, slaves_url)
        return r, r.status == 200 and h.agent_active(r.json(), aid)

    res, ok = h.eventually(master_view, lambda r: r[1])
    assert res.status == 200, f"GET {slaves_url}: {res}"
    assert ok, f"the master at {slaves_url} does not list agent {aid} as active"
