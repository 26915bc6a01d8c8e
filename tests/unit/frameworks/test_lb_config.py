"""Rendering haproxy.cfg from Marathon apps: labels, ports, vhosts, groups, task filtering."""

from __future__ import annotations

import random
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from dcos_core.frameworks.lb.config import (
    backends_from_apps,
    render_haproxy,
    sanitize,
    served,
    task_is_up,
)
from dcos_core.frameworks.lb.service import parse_sse_data
from dcos_core.frameworks.lb.settings import LbSettings


def task(
    tid: str,
    port: int,
    state: str = "TASK_RUNNING",
    alive: bool | None = None,
    host: str = "10.0.0.1",
) -> dict[str, Any]:
    t: dict[str, Any] = {"id": tid, "host": host, "ports": [port], "state": state}
    if alive is not None:
        t["healthCheckResults"] = [{"alive": alive, "consecutiveFailures": 0}]
    return t


def app(
    app_id: str,
    ports: list[int],
    tasks: list[dict[str, Any]] | None = None,
    labels: dict[str, str] | None = None,
    health_checks: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    return {
        "id": app_id,
        "labels": labels or {},
        "portDefinitions": [{"port": p, "protocol": "tcp"} for p in ports],
        "tasks": tasks or [],
        "healthChecks": health_checks or [],
    }


@pytest.fixture
def settings(tmp_path: Path) -> LbSettings:
    return LbSettings(work_dir=tmp_path, http_port=18080, stats_port=19090)


def test_service_port_servers_and_backend_name() -> None:
    [s] = backends_from_apps(
        [app("/prod/web", [10000], [task("web.a", 31001), task("web.b", 31002, host="10.0.0.2")])]
    )
    assert (s.app_id, s.port, s.backend, s.mode, s.groups) == (
        "/prod/web",
        10000,
        "prod_web_10000",
        "tcp",
        ("external",),
    )
    assert [(x.name, x.host, x.port) for x in s.servers] == [
        ("web.a", "10.0.0.1", 31001),
        ("web.b", "10.0.0.2", 31002),
    ]


def test_render_frontend_backend_and_server_lines(settings: LbSettings) -> None:
    cfg = render_haproxy(
        backends_from_apps([app("/web", [10000], [task("web.1", 31001)])]), settings
    )
    assert "frontend web_10000\n  mode tcp\n  bind 127.0.0.1:10000\n" in cfg
    assert "  default_backend web_10000\n" in cfg
    assert "  server web.1 10.0.0.1:31001 check\n" in cfg
    assert "bind 127.0.0.1:19090" in cfg
    assert "frontend dcos_lb_http" not in cfg  # no vhost, no HTTP frontend


def test_bind_address_from_settings(tmp_path: Path) -> None:
    s = LbSettings(work_dir=tmp_path, bind_address="0.0.0.0", http_port=0, stats_port=0)
    cfg = render_haproxy(backends_from_apps([app("/web", [10000])]), s)
    assert "bind 0.0.0.0:10000" in cfg
    assert ":0\n" not in cfg  # port 0 disables the stats and HTTP listeners


def test_labels_port_mode_balance_bind_addr() -> None:
    labels = {
        "HAPROXY_0_PORT": "12000",
        "HAPROXY_0_MODE": "http",
        "HAPROXY_0_BALANCE": "leastconn",
        "HAPROXY_1_BIND_ADDR": "127.0.0.2",
        "HAPROXY_1_ENABLED": "true",
        "HAPROXY_2_ENABLED": "false",
    }
    tasks = [{"id": "a.1", "host": "h", "ports": [1, 2, 3], "state": "TASK_RUNNING"}]
    services = backends_from_apps([app("/a", [10000, 10001, 10002], tasks, labels)])
    assert [s.index for s in services] == [1, 0]  # sorted by bind port; index 2 is disabled
    s1, s0 = services
    assert (s0.port, s0.mode, s0.balance, s0.backend) == (12000, "http", "leastconn", "a_12000")
    assert (s1.port, s1.mode, s1.bind_address) == (10001, "tcp", "127.0.0.2")
    assert [x.port for x in s1.servers] == [2]


def test_service_ports_from_container_port_mappings_and_legacy_ports() -> None:
    docker = {"id": "/d", "container": {"docker": {"portMappings": [{"servicePort": 10005}]}}}
    mesos = {"id": "/m", "container": {"portMappings": [{"servicePort": 10006}]}}
    legacy = {"id": "/l", "ports": [10007]}
    assert [s.port for s in backends_from_apps([docker, mesos, legacy])] == [10005, 10006, 10007]


def test_http_health_check_implies_http_mode_and_httpchk(settings: LbSettings) -> None:
    hc = [{"protocol": "HTTP", "path": "/health", "portIndex": 0}]
    tasks = [task("w.1", 31001, alive=True)]
    [s] = backends_from_apps([app("/w", [10000], tasks, health_checks=hc)])
    assert (s.mode, s.http_check_path) == ("http", "/health")
    cfg = render_haproxy([s], settings)
    assert "option httpchk GET /health" in cfg
    [t] = backends_from_apps([app("/t", [10000], health_checks=[{"protocol": "TCP"}])])
    assert t.mode == "tcp"


def test_explicit_tcp_mode_wins_and_drops_vhosts() -> None:
    labels = {"HAPROXY_0_MODE": "tcp", "HAPROXY_0_VHOST": "a.example.com"}
    [s] = backends_from_apps([app("/a", [10000], labels=labels)])
    assert (s.mode, s.vhosts) == ("tcp", ())


def test_vhost_http_frontend_with_host_acls(settings: LbSettings) -> None:
    apps = [
        app(
            "/a", [10000], [task("a.1", 31001)], {"HAPROXY_0_VHOST": "a.example.com,A2.example.com"}
        ),
        app(
            "/b",
            [10001],
            [task("b.1", 31002)],
            {"HAPROXY_0_VHOST": "a.example.com", "HAPROXY_0_PATH": "/api"},
        ),
    ]
    services = backends_from_apps(apps)
    assert [s.mode for s in services] == ["http", "http"]
    cfg = render_haproxy(services, settings)
    assert "frontend dcos_lb_http\n  mode http\n  bind 127.0.0.1:18080\n" in cfg
    assert "acl host_a_10000 req.hdr(host),field(1,:),lower -i a.example.com A2.example.com" in cfg
    assert "use_backend a_10000 if host_a_10000\n" in cfg
    assert "use_backend b_10001 if host_b_10001 path_b_10001\n" in cfg
    # the rule with a path is more specific and comes first
    assert cfg.index("use_backend b_10001") < cfg.index("use_backend a_10000")


def test_groups(tmp_path: Path) -> None:
    apps = [
        app("/ext", [10000]),
        app("/int", [10001], labels={"HAPROXY_GROUP": "internal"}),
        app(
            "/both",
            [10002, 10003],
            labels={"HAPROXY_GROUP": "internal,external", "HAPROXY_1_GROUP": "x"},
        ),
    ]
    services = backends_from_apps(apps)

    def ports(groups: str) -> list[int]:
        s = LbSettings(work_dir=tmp_path, groups=groups, http_port=0, stats_port=0)
        return [x.port for x in served(services, s)]

    assert ports("external") == [10000, 10002]
    assert ports("internal") == [10001, 10002]
    assert ports("x, internal") == [10001, 10002, 10003]
    assert ports("*") == [10000, 10001, 10002, 10003]
    with pytest.raises(ValueError):
        LbSettings(groups=" , ")


def test_port_conflicts_first_app_wins(settings: LbSettings) -> None:
    apps = [app("/b", [10000]), app("/a", [10000]), app("/c", [18080]), app("/d", [19090])]
    assert [s.app_id for s in served(backends_from_apps(apps), settings)] == ["/a"]


@pytest.mark.parametrize(
    ("t", "checked", "up"),
    [
        (task("x", 1), False, True),
        (task("x", 1, state="TASK_STAGING"), False, False),
        (task("x", 1, state="TASK_STARTING"), False, False),
        (task("x", 1, state="TASK_KILLING"), False, False),
        (task("x", 1, state="TASK_KILLED"), False, False),
        (task("x", 1, alive=True), True, True),
        (task("x", 1, alive=False), True, False),
        (task("x", 1, alive=False), False, False),
        (task("x", 1), True, False),  # checked app, no result yet: not up
    ],
)
def test_task_is_up(t: dict[str, Any], checked: bool, up: bool) -> None:
    assert task_is_up(t, checked) is up


def test_unhealthy_and_staged_tasks_are_not_servers(settings: LbSettings) -> None:
    hc = [{"protocol": "TCP", "portIndex": 0}]
    tasks = [
        task("ok", 31001, alive=True),
        task("sick", 31002, alive=False),
        task("staged", 31003, state="TASK_STAGING"),
        {
            "id": "mixed",
            "host": "h",
            "ports": [31004],
            "state": "TASK_RUNNING",
            "healthCheckResults": [{"alive": True}, {"alive": False}],
        },
        task("unknown", 31005),
    ]
    [s] = backends_from_apps([app("/w", [10000], tasks, health_checks=hc)])
    assert [x.name for x in s.servers] == ["ok"]
    cfg = render_haproxy([s], settings)
    backend = cfg[cfg.index("backend w_10000") :]
    assert "sick" not in backend and "staged" not in backend and "mixed" not in backend


def test_app_without_tasks_gets_an_empty_backend(settings: LbSettings) -> None:
    cfg = render_haproxy(backends_from_apps([app("/empty", [10000])]), settings)
    backend = cfg[cfg.index("backend empty_10000") :]
    assert "frontend empty_10000" in cfg and " server " not in backend


def test_task_ids_are_sanitized() -> None:
    assert sanitize("my app/x#1 y") == "my_app_x_1_y"
    [s] = backends_from_apps([app("/a", [10000], [task("a b", 1), task("a#b", 2)])])
    assert sorted(x.name for x in s.servers) == ["a_b", "a_b_"]


def test_output_is_deterministic(settings: LbSettings) -> None:
    apps = [
        app(f"/app{i}", [10000 + i], [task(f"app{i}.{j}", 31000 + 10 * i + j) for j in range(3)])
        for i in range(5)
    ]
    first = render_haproxy(backends_from_apps(apps), settings)
    rng = random.Random(7)
    for _ in range(5):
        shuffled = [dict(a, tasks=rng.sample(a["tasks"], len(a["tasks"]))) for a in apps]
        rng.shuffle(shuffled)
        assert render_haproxy(backends_from_apps(shuffled), settings) == first


def test_sse_data_lines() -> None:
    assert parse_sse_data("event: status_update_event") == []
    assert parse_sse_data('data: {"eventType": "a"}') == [{"eventType": "a"}]
    assert parse_sse_data('data:{"eventType": "a"}\r\n{"eventType": "b"}') == [
        {"eventType": "a"},
        {"eventType": "b"},
    ]
    assert parse_sse_data("data: not json") == []


@pytest.mark.skipif(shutil.which("haproxy") is None, reason="needs the haproxy binary")
def test_haproxy_accepts_the_rendered_config(settings: LbSettings, tmp_path: Path) -> None:
    hc = [{"protocol": "MESOS_HTTP", "path": "/ping", "portIndex": 0}]
    apps = [
        app(
            "/web/front",
            [10000, 10001],
            [
                {
                    "id": "f.1",
                    "host": "127.0.0.1",
                    "ports": [31001, 31002],
                    "state": "TASK_RUNNING",
                    "healthCheckResults": [{"alive": True}],
                },
                {
                    "id": "f.2",
                    "host": "agent-1.unresolvable.invalid",
                    "ports": [31003, 31004],
                    "state": "TASK_RUNNING",
                    "healthCheckResults": [{"alive": True}],
                },
            ],
            {
                "HAPROXY_0_VHOST": "web.example.com",
                "HAPROXY_0_PATH": "/app",
                "HAPROXY_1_BIND_ADDR": "::1",
            },
            hc,
        ),
        app("/db", [10002], [task("db.1", 31005)], {"HAPROXY_GROUP": "external"}),
        app("/empty", [10003]),
    ]
    cfg = render_haproxy(backends_from_apps(apps), settings)
    assert "bind [::1]:10001" in cfg
    path = tmp_path / "haproxy.cfg"
    path.write_text(cfg)
    done = subprocess.run(["haproxy", "-c", "-f", str(path)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
