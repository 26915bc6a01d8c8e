"""Pure parts of the SDK: addresses, redirects, backoff, ack rule, builders, dispatch."""

from __future__ import annotations

import random
from typing import Any

import pytest

from dcos_core.errors import InvalidError
from dcos_core.frameworks.sdk import Scheduler, SchedulerDriver
from dcos_core.frameworks.sdk_protocol import (
    Backoff,
    default_executor,
    filters,
    launch,
    launch_group,
    master_url,
    needs_ack,
    offer_agent_id,
    offer_id,
    offer_resources,
    offer_role,
    reserve,
    resolve_redirect,
    task_info,
    unreserve,
)
from dcos_core.resources import Resources

CPUS = [{"name": "cpus", "type": "SCALAR", "scalar": {"value": 1}}]


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("127.0.0.1:5050", "http://127.0.0.1:5050"),
        ("http://m:5050/", "http://m:5050"),
        ("https://m:5050", "https://m:5050"),
        ("http://m:5050/api/v1/scheduler", "http://m:5050"),
        ("http://proxy/mesos", "http://proxy/mesos"),
    ],
)
def test_master_url(given: str, expected: str) -> None:
    """Masters are normalised to a base URL."""
    assert master_url(given) == expected


@pytest.mark.parametrize("bad", ["", "ftp://m:1", "http://"])
def test_master_url_rejects_garbage(bad: str) -> None:
    """Unusable master addresses raise InvalidError naming 'master'."""
    with pytest.raises(InvalidError, match="master"):
        master_url(bad)


@pytest.mark.parametrize(
    ("current", "location", "expected"),
    [
        ("http://m1:5050", "//m2:5050/api/v1/scheduler", "http://m2:5050"),
        ("https://m1:5050", "//m2:5050/api/v1/scheduler", "https://m2:5050"),
        ("http://m1:5050", "http://m3:5051/api/v1/scheduler", "http://m3:5051"),
        ("http://m1:5050", "m4:5050", "http://m4:5050"),
        ("http://m1:5050", "/api/v1/scheduler", "http://m1:5050"),
    ],
)
def test_resolve_redirect(current: str, location: str, expected: str) -> None:
    """Location forms Mesos uses (scheme-relative), absolute URLs, bare host:port, paths."""
    assert resolve_redirect(current, location) == expected


def test_resolve_redirect_without_location() -> None:
    """A 307 without Location is an error naming the header."""
    with pytest.raises(InvalidError, match="Location"):
        resolve_redirect("http://m1:5050", None)


def test_backoff_doubles_caps_and_resets() -> None:
    """0.5, 1, 2, 4, 8, 15 (cap), 15; reset starts over."""
    b = Backoff(0.5, 15.0)
    assert [b.next() for _ in range(7)] == [0.5, 1.0, 2.0, 4.0, 8.0, 15.0, 15.0]
    b.reset()
    assert b.next() == 0.5


def test_backoff_jitter_stays_in_half_to_full() -> None:
    """With an rng each delay d is drawn from [d/2, d]."""
    b = Backoff(1.0, 4.0, rng=random.Random(7))
    for d in [1.0, 2.0, 4.0, 4.0]:
        assert d / 2 <= b.next() <= d


def test_backoff_rejects_bad_bounds() -> None:
    """initial must be positive and not above maximum."""
    with pytest.raises(InvalidError):
        Backoff(0, 1)
    with pytest.raises(InvalidError):
        Backoff(2, 1)


def test_needs_ack_only_with_uuid() -> None:
    """Only updates carrying a non-empty uuid are acknowledged."""
    assert needs_ack({"uuid": "AAEC"})
    assert not needs_ack({"uuid": ""})
    assert not needs_ack({"state": "TASK_RUNNING"})
    assert not needs_ack({"uuid": None})


def test_task_info_command_task_shape() -> None:
    """A command task: required ids wrapped, shell command, env, labels, kill policy, data."""
    t = task_info(
        "web",
        "web-1",
        "S1",
        Resources.parse("cpus:0.5;mem:64"),
        "python -m http.server",
        environment={"PORT": "8000"},
        labels={"app": "web"},
        kill_grace_period=1.5,
        uris=["http://x/y.tgz"],
        data=b"\x01",
        allocation_role="eng",
    )
    assert t["name"] == "web"
    assert t["task_id"] == {"value": "web-1"}
    assert t["agent_id"] == {"value": "S1"}
    assert t["command"] == {
        "shell": True,
        "value": "python -m http.server",
        "environment": {"variables": [{"name": "PORT", "value": "8000"}]},
        "uris": [{"value": "http://x/y.tgz"}],
    }
    assert t["labels"] == {"labels": [{"key": "app", "value": "web"}]}
    assert t["kill_policy"] == {"grace_period": {"nanoseconds": 1_500_000_000}}
    assert t["data"] == "AQ=="
    assert {r["name"] for r in t["resources"]} == {"cpus", "mem"}
    assert all(r["allocation_info"] == {"role": "eng"} for r in t["resources"])
    assert Resources.from_v1(t["resources"]) == Resources.parse("cpus:0.5;mem:64")


def test_task_info_exec_and_container() -> None:
    """shell=False with arguments, and a docker container."""
    t = task_info(
        "n",
        "n1",
        "S1",
        CPUS,
        "/bin/echo",
        shell=False,
        arguments=["echo", "hi"],
        container={"type": "DOCKER", "docker": {"image": "nginx"}},
    )
    assert t["command"] == {"shell": False, "value": "/bin/echo", "arguments": ["echo", "hi"]}
    assert t["container"]["docker"]["image"] == "nginx"


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"command": None}, "task_info.command"),
        ({"executor": {"executor_id": {"value": "e"}}}, "task_info.command"),
        ({"resources": []}, "task_info.resources"),
        ({"task_id": ""}, "task_info.task_id"),
        ({"kill_grace_period": -1.0}, "kill_grace_period"),
    ],
)
def test_task_info_rejects_bad_input(kwargs: dict[str, Any], field: str) -> None:
    """Exactly one of command/executor, some resources, non-empty ids, non-negative grace."""
    args: dict[str, Any] = {
        "name": "n",
        "task_id": "t",
        "agent_id": "S1",
        "resources": CPUS,
        "command": "true",
    }
    args.update(kwargs)
    with pytest.raises(InvalidError, match=field):
        task_info(**args)


def test_operations() -> None:
    """LAUNCH, LAUNCH_GROUP, RESERVE, UNRESERVE and Filters shapes."""
    t = task_info("n", "n1", "S1", CPUS, "true")
    assert launch([t]) == {"type": "LAUNCH", "launch": {"task_infos": [t]}}
    ex = default_executor("e1", CPUS)
    assert ex["type"] == "DEFAULT" and ex["executor_id"] == {"value": "e1"}
    group = launch_group(ex, [t])
    assert group["launch_group"]["task_group"]["tasks"] == [t]
    assert group["launch_group"]["executor"] == ex
    reserved = Resources.parse("cpus:1").reserve("eng")
    r = reserve(reserved, allocation_role="eng")
    assert r["type"] == "RESERVE"
    assert r["reserve"]["resources"][0]["reservations"] == [{"type": "DYNAMIC", "role": "eng"}]
    u = unreserve(reserved)
    assert u["type"] == "UNRESERVE" and Resources.from_v1(u["unreserve"]["resources"]) == reserved
    assert filters(None) is None
    assert filters(5) == {"refuse_seconds": 5.0}
    with pytest.raises(InvalidError, match="refuse_seconds"):
        filters(-1)


def test_offer_helpers() -> None:
    """Ids, role and resources of a v1 Offer."""
    offer = {
        "id": {"value": "O1"},
        "agent_id": {"value": "S1"},
        "allocation_info": {"role": "eng"},
        "resources": [
            {"name": "mem", "type": "SCALAR", "scalar": {"value": 128}},
            {
                "name": "ports",
                "type": "RANGES",
                "ranges": {"range": [{"begin": 31000, "end": 31005}]},
            },
        ],
    }
    assert offer_id(offer) == "O1"
    assert offer_agent_id(offer) == "S1"
    assert offer_role(offer) == "eng"
    res = offer_resources(offer)
    assert res.scalar("mem") == 128.0
    assert res.ranges("ports") == ((31000, 31005),)
    assert offer_role({}) is None


class Log(Scheduler):
    def __init__(self) -> None:
        self.seen: list[str] = []

    async def on_update(self, driver: SchedulerDriver, status: dict[str, Any]) -> None:
        self.seen.append(status["state"])

    async def on_error(self, driver: SchedulerDriver, message: str) -> None:
        self.seen.append("error:" + message)


async def test_dispatch_without_http() -> None:
    """dispatch(): unknown types are ignored; ERROR is fatal; a failed ack is not fatal."""
    sched = Log()
    d = SchedulerDriver("127.0.0.1:1", {"user": "u", "name": "n"}, sched)
    assert await d.dispatch({"type": "NEW_THING"}) is None
    assert await d.dispatch({"no": "type"}) is None
    # uuid present but not subscribed: the ack fails with SdkError, which is logged only.
    await d.dispatch(
        {
            "type": "UPDATE",
            "update": {
                "status": {
                    "task_id": {"value": "t"},
                    "agent_id": {"value": "S"},
                    "state": "TASK_RUNNING",
                    "uuid": "AA==",
                }
            },
        }
    )
    end = await d.dispatch({"type": "ERROR", "error": {"message": "go away"}})
    assert end is not None and end.value == "fatal"
    assert sched.seen == ["TASK_RUNNING", "error:go away"]
    assert d.error == "go away"


async def test_subscribed_sets_framework_id_and_interval() -> None:
    """SUBSCRIBED stores the id (sent as framework_info.id next time) and heartbeat interval."""
    d = SchedulerDriver("m:5050", {"user": "u", "name": "n"}, Scheduler())
    assert "id" not in d.subscribe_body()["subscribe"]["framework_info"]
    await d.dispatch(
        {
            "type": "SUBSCRIBED",
            "subscribed": {"framework_id": {"value": "F-0001"}, "heartbeat_interval_seconds": 3},
        }
    )
    assert d.framework_id == "F-0001"
    assert d.heartbeat_interval == 3.0
    assert d.subscribe_body()["subscribe"]["framework_info"]["id"] == {"value": "F-0001"}


def test_existing_framework_id_is_kept() -> None:
    """A framework_info with id (failover) subscribes with that id from the start."""
    d = SchedulerDriver("m:5050", {"user": "u", "name": "n", "id": {"value": "F-9"}}, Scheduler())
    assert d.framework_id == "F-9"
    assert d.subscribe_body()["subscribe"]["framework_info"]["id"] == {"value": "F-9"}
