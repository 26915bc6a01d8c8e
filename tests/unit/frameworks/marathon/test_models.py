"""Marathon app model: ids, defaults, 422 shapes, updates, and rendering that marathon-python reads.

No `__init__.py` in this directory on purpose: a package named `marathon` here would shadow the
marathon-python client (`tests/unit/frameworks` is on sys.path for its conftest).
"""

from __future__ import annotations

import collections
import collections.abc
import json
from typing import Any

import pytest
from marathon.models import MarathonApp, MarathonTask
from marathon.util import to_datetime

from dcos_core.errors import InvalidError
from dcos_core.frameworks.marathon.models import (
    AppDefinition,
    AppUpdate,
    Container,
    DockerSpec,
    HealthCheck,
    HealthResult,
    Instance,
    PortDefinition,
    PortMapping,
    UnreachableStrategy,
    UpgradeStrategy,
    Volume,
    app_from_storage,
    app_to_storage,
)
from dcos_core.frameworks.marathon.render import from_iso, iso, render_app, render_task
from dcos_core.frameworks.marathon.validation import (
    AppValidationError,
    apply_update,
    normalize_id,
    parse_app,
    parse_app_update,
)

# marathon-python 0.13's JSON encoders use `collections.Iterable` (gone since Python 3.10), so
# `MarathonApp.to_json()` fails on nested objects. Real clients on 3.10+ need the same alias.
if not hasattr(collections, "Iterable"):
    collections.Iterable = collections.abc.Iterable  # type: ignore[attr-defined]

T0 = 1443194028.343  # 2015-09-25T15:13:48.343Z


def errors_of(body: Any, base: str = "/") -> dict[str, list[str]]:
    with pytest.raises(AppValidationError) as info:
        parse_app(body, base)
    out = info.value.body()
    assert out["message"] == "Object is not valid"
    assert all(set(d) == {"path", "errors"} for d in out["details"])
    return {d["path"]: d["errors"] for d in out["details"]}


def docker_app() -> dict[str, Any]:
    return {
        "id": "/prod/web",
        "instances": 2,
        "cpus": 0.5,
        "mem": 64,
        "container": {
            "type": "DOCKER",
            "docker": {
                "image": "nginx:1.25",
                "network": "BRIDGE",
                "portMappings": [
                    {"containerPort": 80, "hostPort": 0, "protocol": "tcp", "name": "http"},
                    {"containerPort": 443, "name": "https", "labels": {"vip": "1.2.3.4:443"}},
                ],
                "parameters": [{"key": "hostname", "value": "web"}],
                "forcePullImage": True,
            },
            "volumes": [{"containerPath": "/data", "hostPath": "/srv/data", "mode": "RO"}],
        },
        "healthChecks": [
            {"protocol": "HTTP", "path": "/health", "portIndex": 1},
            {"protocol": "COMMAND", "command": {"value": "true"}},
            {"protocol": "TCP", "port": 8080, "maxConsecutiveFailures": 0},
        ],
        "constraints": [["hostname", "UNIQUE"], ["rack", "GROUP_BY", "3"], ["zone", "LIKE", "a.*"]],
        "unreachableStrategy": {"inactiveAfterSeconds": 60, "expungeAfterSeconds": 120},
        "upgradeStrategy": {"minimumHealthCapacity": 0.5, "maximumOverCapacity": 0.2},
        "labels": {"owner": "zeus"},
        "env": {"A": "1"},
        "dependencies": ["../db"],
    }


def instance(**kw: Any) -> Instance:
    base: dict[str, Any] = {
        "task_id": "prod_web.0b1c",
        "app_id": "/prod/web",
        "version": iso(T0),
        "agent_id": "20150707-153709-201330860-5050-12052-S0",
        "host": "srv4.example.com",
        "ports": [31292, 31293],
        "state": "TASK_RUNNING",
        "staged_at": T0,
        "started_at": T0 + 5.5,
    }
    base.update(kw)
    return Instance(**base)


# --- ids -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "base", "expected"),
    [
        ("myapp", "/", "/myapp"),
        ("/myapp", "/", "/myapp"),
        ("//x", "/", "/x"),
        ("/a//b/", "/", "/a/b"),
        ("x", "/prod", "/prod/x"),
        ("./x", "/prod", "/prod/x"),
        ("../x", "/prod/web", "/prod/x"),
        ("/abs", "/prod", "/abs"),
        ("a.b-c/d0", "/", "/a.b-c/d0"),
        ("/", "/", "/"),
    ],
)
def test_normalize_id(path: str, base: str, expected: str) -> None:
    assert normalize_id(path, base) == expected


@pytest.mark.parametrize("bad", ["My-App", "-x", "x-", "a_b", "/a/b c", "../x", "a..b"])
def test_normalize_id_rejects(bad: str) -> None:
    with pytest.raises(AppValidationError) as info:
        normalize_id(bad)
    assert info.value.details[0]["path"] == "/id"
    assert isinstance(info.value, InvalidError)


def test_relative_id_and_dependencies_resolve_against_groups() -> None:
    app = parse_app({"id": "web", "cmd": "x", "dependencies": ["../db", "cache"]}, "/prod")
    assert app.id == "/prod/web"
    assert app.dependencies == ["/db", "/prod/cache"]


# --- defaults --------------------------------------------------------------------------------


def test_defaults_match_marathon() -> None:
    app = parse_app({"id": "x", "cmd": "sleep 1"})
    assert (app.instances, app.cpus, app.mem, app.disk, app.gpus) == (1, 1.0, 128.0, 0.0, 0)
    assert (app.backoff_seconds, app.backoff_factor, app.max_launch_delay_seconds) == (
        1.0,
        1.15,
        300.0,
    )
    assert app.upgrade_strategy == UpgradeStrategy(
        minimum_health_capacity=1.0, maximum_over_capacity=1.0
    )
    assert app.unreachable_strategy == UnreachableStrategy(
        inactive_after_seconds=0, expunge_after_seconds=0
    )
    assert app.port_definitions == [PortDefinition(port=0, name="default")]
    assert app.ports == [0]
    assert app.kill_selection == "YOUNGEST_FIRST"
    assert app.require_ports is False
    assert app.executor == ""
    assert app.version is None
    assert app.container is None


def test_health_check_defaults() -> None:
    http, cmd, tcp = parse_app(
        {
            "id": "x",
            "cmd": "c",
            "healthChecks": [{}, {"protocol": "COMMAND", "command": "true"}, {"protocol": "TCP"}],
        }
    ).health_checks
    assert (http.protocol, http.path, http.port_index) == ("HTTP", "/", 0)
    assert (http.grace_period_seconds, http.interval_seconds, http.timeout_seconds) == (300, 60, 20)
    assert (http.max_consecutive_failures, http.delay_seconds, http.ignore_http1xx) == (
        3,
        15,
        False,
    )
    assert cmd.command == {"value": "true"} and cmd.port_index is None and cmd.path is None
    assert tcp.path is None and tcp.port_index == 0


def test_explicit_empty_ports_and_legacy_ports() -> None:
    assert parse_app({"id": "x", "cmd": "c", "portDefinitions": []}).port_definitions == []
    assert parse_app({"id": "x", "cmd": "c", "ports": []}).port_definitions == []
    app = parse_app({"id": "x", "cmd": "c", "ports": [0, 10005]})
    assert [p.port for p in app.port_definitions] == [0, 10005]
    same = parse_app(
        {"id": "x", "cmd": "c", "ports": [10001], "portDefinitions": [{"port": 10001, "name": "a"}]}
    )
    assert same.port_definitions == [PortDefinition(port=10001, name="a")]


def test_docker_app_normalization() -> None:
    app = parse_app(docker_app())
    assert app.id == "/prod/web"
    assert app.dependencies == ["/db"]
    assert app.port_definitions == []
    c = app.container
    assert c is not None and c.docker is not None
    assert [m.container_port for m in c.port_mappings] == [80, 443]
    assert c.docker.port_mappings == []  # hoisted to container.portMappings
    assert c.port_mappings[1] == PortMapping(
        container_port=443, name="https", labels={"vip": "1.2.3.4:443"}
    )
    assert app.service_port_requests() == [0, 0]
    assert app.port_names() == ["http", "https"]
    assert app.docker_image == "nginx:1.25"
    assert c.volumes == [Volume(container_path="/data", host_path="/srv/data", mode="RO")]


def test_args_only_and_image_only_and_mesos_container() -> None:
    assert parse_app({"id": "x", "args": ["sleep", "1"]}).args == ["sleep", "1"]
    img = parse_app({"id": "x", "container": {"docker": {"image": "busybox"}}})
    assert img.cmd is None and img.docker_image == "busybox"
    ucr = parse_app(
        {"id": "x", "cmd": "c", "container": {"type": "MESOS", "docker": {"image": "alpine"}}}
    )
    assert ucr.container is not None and ucr.container.type == "MESOS"
    assert ucr.port_definitions == [PortDefinition(port=0, name="default")]


def test_nulls_mean_absent_and_unknown_keys_are_ignored() -> None:
    app = parse_app(
        {"id": "x", "cmd": "c", "labels": None, "container": None, "tty": True, "whatever": 1}
    )
    assert app.labels == {} and app.container is None
    assert "whatever" not in json.dumps(render_app(app))


def test_models_construct_directly() -> None:
    app = AppDefinition(
        id="/x",
        container=Container(
            docker=DockerSpec(
                image="i", network="BRIDGE", port_mappings=[PortMapping(container_port=80)]
            )
        ),
        health_checks=[HealthCheck(protocol="MESOS_HTTP")],
    )
    assert app.port_definitions == []  # no default port under BRIDGE networking
    assert app.container is not None and len(app.container.port_mappings) == 1
    assert AppDefinition(id="/y", cmd="c").port_definitions == [
        PortDefinition(port=0, name="default")
    ]


# --- 422 -------------------------------------------------------------------------------------


NO_COMMAND = (
    "nothing to run: give 'cmd' (a shell command) or 'args' (a command line), not both,"
    " or a 'container' with an image"
)


def test_error_body_shape() -> None:
    with pytest.raises(AppValidationError) as info:
        parse_app({"id": "x", "container": {"docker": {"image": ""}}})
    assert info.value.body() == {
        "message": "Object is not valid",
        "details": [
            {
                "path": "/",
                "errors": [NO_COMMAND],
            },
            {"path": "/container/docker/image", "errors": ["must not be empty"]},
        ],
    }


@pytest.mark.parametrize(
    ("patch", "path"),
    [
        ({"id": "Bad_Id"}, "/id"),
        ({"id": "/"}, "/id"),
        ({"id": None}, "/id"),
        ({"args": ["a"]}, "/"),
        ({"cmd": None}, "/"),
        ({"cmd": " "}, "/cmd"),
        ({"instances": -1}, "/instances"),
        ({"instances": "many"}, "/instances"),
        ({"cpus": -0.5}, "/cpus"),
        ({"cpus": 0, "mem": 0}, "/cpus"),
        ({"mem": -1}, "/mem"),
        ({"disk": -1}, "/disk"),
        ({"backoffFactor": 0.5}, "/backoffFactor"),
        ({"backoffSeconds": -1}, "/backoffSeconds"),
        (
            {"upgradeStrategy": {"minimumHealthCapacity": 1.5}},
            "/upgradeStrategy/minimumHealthCapacity",
        ),
        (
            {"upgradeStrategy": {"maximumOverCapacity": -0.1}},
            "/upgradeStrategy/maximumOverCapacity",
        ),
        (
            {"unreachableStrategy": {"inactiveAfterSeconds": 10, "expungeAfterSeconds": 5}},
            "/unreachableStrategy/expungeAfterSeconds",
        ),
        ({"unreachableStrategy": "sometimes"}, "/unreachableStrategy"),
        ({"constraints": [["hostname", "SOMETIMES"]]}, "/constraints(0)"),
        ({"constraints": [["hostname"]]}, "/constraints(0)"),
        ({"constraints": [["a", "UNIQUE"], ["hostname", "LIKE"]]}, "/constraints(1)"),
        ({"constraints": [["hostname", "LIKE", "a["]]}, "/constraints(0)"),
        ({"constraints": [["hostname", "UNLIKE", "(x"]]}, "/constraints(0)"),
        ({"constraints": [["hostname", "MAX_PER", "two"]]}, "/constraints(0)"),
        ({"constraints": [["hostname", "GROUP_BY", "x"]]}, "/constraints(0)"),
        ({"constraints": [["hostname", "IS"]]}, "/constraints(0)"),
        ({"env": {"PASSWORD": {"secret": "/db/pw"}}}, "/env/PASSWORD"),
        ({"env": {"N": 3}}, "/env/N"),
        ({"secrets": {"s": {"source": "/x"}}}, "/secrets"),
        ({"residency": {"taskLostBehavior": "WAIT_FOREVER"}}, "/residency"),
        ({"ipAddress": {"groups": ["dev"]}}, "/ipAddress"),
        ({"healthChecks": [{"portIndex": 1}]}, "/healthChecks(0)"),
        ({"healthChecks": [{}, {"protocol": "COMMAND"}]}, "/healthChecks(1)/command"),
        ({"healthChecks": [{"protocol": "GOPHER"}]}, "/healthChecks(0)/protocol"),
        ({"healthChecks": [{"intervalSeconds": 0}]}, "/healthChecks(0)/intervalSeconds"),
        ({"portDefinitions": [{"port": 70000}]}, "/portDefinitions(0)/port"),
        ({"portDefinitions": [{"name": "a"}, {"name": "a"}]}, "/portDefinitions"),
        ({"portDefinitions": [{"port": 10001}, {"port": 10001}]}, "/portDefinitions"),
        ({"portDefinitions": [{"protocol": "sctp"}]}, "/portDefinitions(0)/protocol"),
        ({"ports": [1], "portDefinitions": [{"port": 2}]}, "/ports"),
        ({"killSelection": "RANDOM"}, "/killSelection"),
        ({"container": {"type": "DOCKER"}}, "/container/docker"),
        ({"container": {"type": "RKT", "docker": {"image": "i"}}}, "/container/type"),
        (
            {"container": {"docker": {"image": "i", "network": "OVERLAY"}}},
            "/container/docker/network",
        ),
        (
            {"container": {"portMappings": [{"containerPort": 80}], "docker": {"image": "i"}}},
            "/container/portMappings",
        ),
        (
            {
                "container": {
                    "docker": {"image": "i", "network": "BRIDGE"},
                    "portMappings": [{"containerPort": 99999}],
                }
            },
            "/container/portMappings(0)/containerPort",
        ),
        (
            {
                "container": {"docker": {"image": "i", "network": "BRIDGE"}},
                "portDefinitions": [{"port": 0}],
            },
            "/portDefinitions",
        ),
        ({"readinessChecks": [{"portName": "nope"}]}, "/readinessChecks(0)/portName"),
        ({"uris": ["http://a"], "fetch": [{"uri": "http://b"}]}, "/uris"),
        ({"dependencies": ["Bad"]}, "/dependencies(0)"),
        ({"labels": {"a": 1}}, "/labels/a"),
        # hostile input: not finite, beyond Int, invalid Unicode, malformed nested values
        ({"cpus": float("nan")}, "/cpus"),
        ({"mem": float("inf")}, "/mem"),
        ({"disk": -float("inf")}, "/disk"),
        ({"instances": 10**30}, "/instances"),
        ({"instances": 1e300}, "/instances"),
        ({"cpus": 1e300}, "/cpus"),
        ({"healthChecks": [{"gracePeriodSeconds": 2**40}]}, "/healthChecks(0)/gracePeriodSeconds"),
        (
            {"upgradeStrategy": {"maximumOverCapacity": float("nan")}},
            "/upgradeStrategy/maximumOverCapacity",
        ),
        ({"portDefinitions": [{"port": -(2**63)}]}, "/portDefinitions(0)/port"),
        ({"cmd": "sleep \ud800"}, "/cmd"),
        ({"labels": {"k": "\udfff"}}, "/labels/k"),
        ({"labels": {"\ud800": "v"}}, "/labels/\\ud800"),
        ({"env": {"A": "\ud800"}}, "/env/A"),
        (
            {"container": {"docker": {"image": "i", "parameters": [{"a": "b"}]}}},
            "/container/docker/parameters",
        ),
        (
            {"healthChecks": [{"protocol": "TCP", "portIndex": [[{"x": 1}]]}]},
            "/healthChecks(0)/portIndex",
        ),
    ],
)
def test_422_paths(patch: dict[str, Any], path: str) -> None:
    body: dict[str, Any] = {"id": "/app", "cmd": "sleep 1"}
    body.update(patch)
    if "args" in patch:
        body["cmd"] = "also"
    errors = errors_of(body)
    assert path in errors, errors
    assert all(isinstance(m, str) and m for m in errors[path])


@pytest.mark.parametrize(
    ("patch", "path", "message"),
    [
        ({"instances": "many"}, "/instances", "got 'many', expected a whole number"),
        ({"cpus": "lots"}, "/cpus", "got 'lots', expected a number"),
        ({"labels": {"a": 1}}, "/labels/a", "got 1, expected a string"),
        (
            {"killSelection": "RANDOM"},
            "/killSelection",
            "got 'RANDOM', expected 'YOUNGEST_FIRST' or 'OLDEST_FIRST'",
        ),
        (
            {"upgradeStrategy": {"minimumHealthCapacity": 1.5}},
            "/upgradeStrategy/minimumHealthCapacity",
            "got 1.5, expected a number between 0 and 1",
        ),
        (
            {"unreachableStrategy": {"inactiveAfterSeconds": 10, "expungeAfterSeconds": 5}},
            "/unreachableStrategy/expungeAfterSeconds",
            "got 5, expected inactiveAfterSeconds (10) or more",
        ),
        (
            {"constraints": [["hostname", "SOMETIMES"]]},
            "/constraints(0)",
            "unknown constraint operator 'SOMETIMES': expected one of UNIQUE, CLUSTER,"
            " GROUP_BY, LIKE, UNLIKE, MAX_PER, IS",
        ),
        (
            {"constraints": [["rack", "MAX_PER", "two"]]},
            "/constraints(0)",
            "a MAX_PER constraint needs a whole number, got 'two'",
        ),
        (
            {"constraints": [["hostname"]]},
            "/constraints(0)",
            "got 1 elements, expected [field, operator] or [field, operator, value] such as"
            ' ["hostname", "UNIQUE"]',
        ),
        (
            {"healthChecks": [{"portIndex": 1}]},
            "/healthChecks(0)",
            "portIndex 1 does not exist: the app has 1 port(s), counted from 0",
        ),
        (
            {"portDefinitions": [{"port": 10001}, {"port": 10001}]},
            "/portDefinitions",
            "service ports must be unique (0 assigns one): 10001 used twice",
        ),
        (
            {"id": "Bad_Id"},
            "/id",
            "'Bad_Id' is not a valid id: expected names of lowercase letters, digits, '-' and"
            " '.' (starting and ending with a letter or digit) separated by '/', such as"
            " /prod/web",
        ),
    ],
)
def test_422_messages_say_what_was_sent_and_what_is_expected(
    patch: dict[str, Any], path: str, message: str
) -> None:
    errors = errors_of({"id": "/app", "cmd": "sleep 1", **patch})
    assert errors[path] == [message]


def test_hostile_error_bodies_are_strict_json() -> None:
    """The 422 body of hostile input serialises as strict UTF-8 JSON (else the API would 500)."""
    for patch in (
        {"cpus": float("nan")},
        {"cmd": "\ud800"},
        {"labels": {"\ud800": "\udc00"}},
        {"id": "/a\ud800"},
    ):
        with pytest.raises(AppValidationError) as exc:
            parse_app({"id": "/app", "cmd": "sleep 1", **patch})
        json.dumps(exc.value.body(), allow_nan=False, ensure_ascii=False).encode("utf-8")
    with pytest.raises(AppValidationError) as exc:
        parse_app_update({"instances": float("inf")})
    assert exc.value.body()["details"][0]["path"] == "/instances"


def test_secret_message() -> None:
    errors = errors_of({"id": "x", "cmd": "c", "env": {"P": {"secret": "s"}}})
    assert errors == {"/env/P": ["secrets are not supported yet"]}


def test_not_an_object() -> None:
    assert errors_of([1, 2]) == {"/": ["expected a JSON object"]}


def test_valid_constraints_accepted() -> None:
    app = parse_app(
        {
            "id": "x",
            "cmd": "c",
            "constraints": [
                ["hostname", "UNIQUE"],
                ["hostname", "UNIQUE", ""],
                ["rack", "CLUSTER"],
                ["rack", "CLUSTER", "r1"],
                ["rack", "GROUP_BY"],
                ["rack", "MAX_PER", 2],
                ["@zone", "IS", "a"],
                ["hostname", "UNLIKE", "srv[0-9]+"],
            ],
        }
    )
    assert app.constraints[5] == ["rack", "MAX_PER", "2"]


# --- updates ---------------------------------------------------------------------------------


def test_update_merges_only_given_fields() -> None:
    app = parse_app(docker_app())
    new = apply_update(parse_app_update({"instances": 5, "labels": {"team": "b"}}), app)
    assert new.instances == 5 and new.labels == {"team": "b"}
    assert new.container == app.container
    assert new.health_checks == app.health_checks
    assert new.cpus == 0.5 and new.dependencies == ["/db"]


def test_update_validates_the_merge() -> None:
    app = parse_app({"id": "x", "cmd": "c"})
    with pytest.raises(AppValidationError) as info:
        apply_update(parse_app_update({"mem": -5}), app)
    assert info.value.details == [{"path": "/mem", "errors": ["got -5.0, expected 0.0 or more"]}]
    with pytest.raises(AppValidationError) as info:
        parse_app_update({"instances": "x"})
    assert info.value.details[0]["path"] == "/instances"


def test_update_switches_cmd_and_args_and_ports() -> None:
    app = parse_app({"id": "x", "cmd": "c", "portDefinitions": [{"port": 0, "name": "http"}]})
    switched = apply_update(parse_app_update({"args": ["a", "b"]}), app)
    assert switched.cmd is None and switched.args == ["a", "b"]
    assert apply_update(parse_app_update({"ports": [0, 0]}), app).ports == [0, 0]
    to_bridge = apply_update(
        parse_app_update(
            {
                "container": {
                    "docker": {"image": "i", "network": "BRIDGE"},
                    "portMappings": [{"containerPort": 80}],
                }
            }
        ),
        app,
    )
    assert to_bridge.port_definitions == [] and to_bridge.service_port_requests() == [0]


def test_update_rollback_and_scale() -> None:
    rb = parse_app_update({"version": "2015-09-25T15:13:48.343Z", "instances": 9})
    assert rb.rollback_version == "2015-09-25T15:13:48.343Z"
    assert rb.instances is None  # the rest is ignored on rollback
    scale = parse_app_update({"instances": 3})
    assert scale.rollback_version is None and scale.given() == {"instances": 3}
    assert apply_update(AppUpdate(instances=4), parse_app({"id": "x", "cmd": "c"})).instances == 4


def test_marathon_python_update_flow_is_accepted() -> None:
    """get_app -> change mem -> update_app: the body carries read-only keys and both port forms."""
    app = parse_app(docker_app())
    app = app.model_copy(update={"version": iso(T0)})
    rendered = render_app(
        app,
        instances=[instance(health=[HealthResult(task_id="t", alive=True, last_success=T0)])],
        deployments=["d-1"],
        version_info={"lastScalingAt": T0, "lastConfigChangeAt": T0},
        last_task_failure={"appId": "/prod/web", "taskId": "t", "timestamp": T0, "state": "x"},
        embed_tasks=True,
        embed_task_stats=True,
        service_ports=[10001, 10002],
    )
    client_app = MarathonApp.from_json(rendered)
    client_app.mem = 256
    client_app.version = None  # what update_app does
    body = json.loads(client_app.to_json(minimal=True))
    assert {"tasks", "tasksRunning", "versionInfo", "deployments", "ports"} <= set(body)
    new = apply_update(parse_app_update(body), app)
    assert new.mem == 256
    assert new.service_port_requests() == [10001, 10002]  # the assigned service ports stick
    assert new.health_checks == app.health_checks
    assert new.constraints == [
        ["hostname", "UNIQUE"],
        ["rack", "GROUP_BY", "3"],
        ["zone", "LIKE", "a.*"],
    ]
    assert new.unreachable_strategy == app.unreachable_strategy

    host_app = parse_app({"id": "h", "cmd": "c", "portDefinitions": [{"port": 0, "name": "web"}]})
    client_host = MarathonApp.from_json(render_app(host_app, service_ports=[10007]))
    client_host.instances = 3
    host_body = json.loads(client_host.to_json(minimal=True))
    assert host_body["ports"] == [10007] and host_body["portDefinitions"][0]["port"] == 10007
    updated = apply_update(parse_app_update(host_body), host_app)
    assert updated.instances == 3
    assert updated.port_definitions == [PortDefinition(port=10007, name="web")]

    # PUT with partialUpdate=false / POST of the same body parses as a full app too
    assert parse_app(host_body).instances == 3


# --- storage ---------------------------------------------------------------------------------


def test_storage_round_trip() -> None:
    app = parse_app(docker_app()).model_copy(update={"version": iso(T0)})
    stored = app_to_storage(app)
    assert json.loads(json.dumps(stored)) == stored
    assert app_from_storage(json.loads(json.dumps(stored))) == app
    plain = parse_app(
        {"id": "x", "cmd": "c", "portDefinitions": [], "unreachableStrategy": "disabled"}
    )
    again = app_from_storage(app_to_storage(plain))
    assert again == plain and again.port_definitions == []
    assert again.unreachable_strategy == "disabled"


# --- rendering -------------------------------------------------------------------------------


def test_iso() -> None:
    assert iso(T0) == "2015-09-25T15:13:48.343Z"
    assert iso(0) == "1970-01-01T00:00:00.000Z"
    assert iso(1.9996) == "1970-01-01T00:00:02.000Z"
    assert from_iso(iso(T0)) == pytest.approx(T0)
    assert to_datetime(iso(T0)).timestamp() == pytest.approx(T0)


def test_render_app_counts_and_ports() -> None:
    app = parse_app({"id": "x", "cmd": "c", "instances": 3, "ports": [0, 0]})
    insts = [
        instance(task_id="a", state="TASK_STAGING", started_at=None),
        instance(task_id="b", health=[HealthResult(task_id="b", alive=True)]),
        instance(task_id="c", health=[HealthResult(task_id="c", alive=False)]),
    ]
    out = render_app(app, instances=insts, deployments=["d"], service_ports=[10000, 10001])
    assert (out["tasksStaged"], out["tasksRunning"]) == (1, 2)
    assert (out["tasksHealthy"], out["tasksUnhealthy"]) == (1, 1)
    assert out["ports"] == [10000, 10001]
    assert [p["port"] for p in out["portDefinitions"]] == [10000, 10001]
    assert out["deployments"] == [{"id": "d"}]
    assert "tasks" not in out and "version" not in out and "versionInfo" not in out
    no_counts = render_app(app, embed_counts=False)
    assert "tasksRunning" not in no_counts
    assert no_counts["ports"] == [0, 0]  # not assigned yet


def test_render_app_counts_health_of_running_instances_only() -> None:
    """An instance that is staging, being killed or unreachable is neither healthy nor
    unhealthy, even with health results left from when it ran; taskStats count the same."""
    app = parse_app({"id": "x", "cmd": "c", "instances": 4}).model_copy(update={"version": iso(T0)})

    def alive(task_id: str, ok: bool = True) -> list[HealthResult]:
        return [HealthResult(task_id=task_id, alive=ok)]

    insts = [
        instance(task_id="run-ok", health=alive("run-ok")),
        instance(task_id="run-bad", health=alive("run-bad", ok=False)),
        instance(task_id="killing", state="TASK_KILLING", health=alive("killing")),
        instance(task_id="killing-bad", state="TASK_KILLING", health=alive("kb", ok=False)),
        instance(task_id="lost", state="TASK_UNREACHABLE", health=alive("lost")),
        instance(task_id="staging", state="TASK_STAGING", health=alive("staging")),
    ]
    out = render_app(app, instances=insts, embed_task_stats=True)
    assert (out["tasksStaged"], out["tasksRunning"]) == (1, 2)
    assert (out["tasksHealthy"], out["tasksUnhealthy"]) == (1, 1)
    counts = out["taskStats"]["totalSummary"]["stats"]["counts"]
    assert counts == {"staged": 1, "running": 2, "healthy": 1, "unhealthy": 1}


def test_render_app_parses_with_marathon_python() -> None:
    app = parse_app(docker_app()).model_copy(update={"version": iso(T0)})
    health = [
        HealthResult(
            task_id="prod_web.0b1c",
            alive=False,
            consecutive_failures=2,
            first_success=T0,
            last_failure=T0 + 60,
            last_success=T0 + 30,
            last_failure_cause="ConnectionRefused",
        )
    ]
    out = render_app(
        app,
        instances=[instance(health=health, ip_addresses=["172.17.0.2", "fe80::1"])],
        deployments=["97c136bf-5a28-4821-9d94-480d9fbb01c8"],
        version_info={"lastScalingAt": T0, "lastConfigChangeAt": T0 - 10},
        last_task_failure={
            "app_id": "/prod/web",
            "host": "srv",
            "message": "boom",
            "state": "TASK_FAILED",
            "task_id": "prod_web.1",
            "timestamp": T0,
            "version": iso(T0),
            "slave_id": "S0",
            "not_a_key": 1,
        },
        embed_tasks=True,
        embed_task_stats=True,
        service_ports=[10001, 10002],
    )
    json.dumps(out)
    m = MarathonApp.from_json(out)
    assert m.id == "/prod/web"
    assert m.version == "2015-09-25T15:13:48.343Z"
    assert m.version_info.last_scaling_at.timestamp() == pytest.approx(T0)
    assert m.container.docker.image == "nginx:1.25"
    assert m.container.docker.network == "BRIDGE"
    assert [pm.service_port for pm in m.container.port_mappings] == [10001, 10002]
    assert [pm.name for pm in m.container.port_mappings] == ["http", "https"]
    assert m.container.volumes[0].mode == "RO"
    assert [hc.protocol for hc in m.health_checks] == ["HTTP", "COMMAND", "TCP"]
    assert m.health_checks[1].command == {"value": "true"}
    assert [(c.field, c.operator, c.value) for c in m.constraints] == [
        ("hostname", "UNIQUE", None),
        ("rack", "GROUP_BY", "3"),
        ("zone", "LIKE", "a.*"),
    ]
    assert m.unreachable_strategy.inactive_after_seconds == 60
    assert m.upgrade_strategy.minimum_health_capacity == 0.5
    assert m.tasks_running == 1 and m.tasks_unhealthy == 1
    assert m.deployments[0].id == "97c136bf-5a28-4821-9d94-480d9fbb01c8"
    assert m.last_task_failure.timestamp.timestamp() == pytest.approx(T0)
    assert m.task_stats.total_summary.stats.counts.running == 1
    (task,) = m.tasks
    assert task.service_ports == [10001, 10002]
    assert task.health_check_results[0].last_failure.timestamp() == pytest.approx(T0 + 60)
    assert [(a.ip_address, a.protocol) for a in task.ip_addresses] == [
        ("172.17.0.2", "IPv4"),
        ("fe80::1", "IPv6"),
    ]


@pytest.mark.parametrize(
    "body",
    [
        {"id": "x", "cmd": "c"},
        {"id": "x", "cmd": "c", "unreachableStrategy": "disabled", "killSelection": "OLDEST_FIRST"},
        {
            "id": "x",
            "args": ["a"],
            "fetch": [{"uri": "http://a/b.tgz", "destPath": "b"}],
            "readinessChecks": [{"portName": "http-api"}],
            "portDefinitions": [{"port": 0, "name": "http-api", "labels": {"l": "v"}}],
            "taskKillGracePeriodSeconds": 30,
            "role": "web",
            "acceptedResourceRoles": ["*"],
            "user": "nobody",
            "gpus": 1,
            "uris": ["http://a/b.tgz"],
            "storeUrls": ["http://s"],
        },
        {"id": "x", "cmd": "c", "container": {"type": "MESOS", "docker": {"image": "alpine"}}},
        {
            "id": "x",
            "container": {
                "docker": {"image": "i", "network": "USER"},
                "portMappings": [{"containerPort": 80, "protocol": "udp,tcp"}],
            },
            "networks": [{"mode": "container", "name": "dcos"}],
        },
    ],
)
def test_render_app_variants_parse_with_marathon_python(body: dict[str, Any]) -> None:
    app = parse_app(body)
    out = render_app(app, instances=[instance()], embed_tasks=True, embed_task_stats=True)
    m = MarathonApp.from_json(out)
    assert m.id == "/x"
    # and what the client sends back is accepted as a full app again
    again = parse_app(json.loads(m.to_json(minimal=True)))
    assert again.cmd == app.cmd and again.args == app.args


def test_render_task_parses_with_marathon_python() -> None:
    inst = instance(
        health=[HealthResult(task_id="prod_web.0b1c", alive=True, first_success=T0)],
        ip_addresses=["10.0.0.5"],
    )
    out = render_task(inst, [10001, 10002])
    assert set(out) == {
        "appId",
        "healthCheckResults",
        "host",
        "id",
        "ports",
        "servicePorts",
        "slaveId",
        "stagedAt",
        "startedAt",
        "version",
        "ipAddresses",
        "state",
    }
    t = MarathonTask.from_json(out)
    assert t.app_id == "/prod/web" and t.slave_id == inst.agent_id
    assert t.staged_at.timestamp() == pytest.approx(T0)
    assert t.started_at.timestamp() == pytest.approx(T0 + 5.5)
    assert t.health_check_results[0].alive is True
    assert t.health_check_results[0].first_success.timestamp() == pytest.approx(T0)
    assert t.ip_addresses[0].ip_address == "10.0.0.5"
    staging = render_task(instance(state="TASK_STAGING", started_at=None), [])
    assert "startedAt" not in staging
    assert MarathonTask.from_json(staging).started_at is None
