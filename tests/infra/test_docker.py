"""Agents with the Docker engine (`docker_enabled`): the engine runs and the agent uses it."""

from __future__ import annotations

import json

import pytest

from tests.infra import helpers as h

ROLE = "docker"
DAEMON_JSON = "/etc/docker/daemon.json"


@pytest.fixture(scope="module")
def conf(host):
    return h.read_toml(host, "agent")


def test_engine_installed_active_and_enabled(host):
    assert host.package("docker.io").is_installed
    svc = host.service("docker")
    assert svc.is_running, "docker.service is not active"
    assert svc.is_enabled, "docker.service is not enabled"


def test_daemon_json_is_json(host):
    f = host.file(DAEMON_JSON)
    assert f.is_file, f"{DAEMON_JSON} is missing (the deploy writes it from docker_options)"
    assert f.user == "root" and f.mode == 0o644
    assert isinstance(json.loads(f.content_string), dict)


def test_engine_answers(host):
    res = host.run("docker version --format '{{.Server.Version}}'")
    assert res.rc == 0 and res.stdout.strip(), f"docker version: {res.stderr.strip()}"


def test_agent_uses_the_docker_containerizer(host, conf):
    names = [c.strip() for c in str(conf.get("containerizers", "")).split(",")]
    assert "docker" in names, f"agent.toml containerizers = {conf.get('containerizers')!r}"
