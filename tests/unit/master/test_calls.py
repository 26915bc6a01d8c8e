"""Parsing v1 scheduler and operator calls into typed values (`dcos_core.master.calls`)."""

from __future__ import annotations

from typing import Any

import pytest

from dcos_core.errors import InvalidError
from dcos_core.master.calls import (
    Accept,
    Acknowledge,
    Decline,
    DrainAgent,
    Ignored,
    Kill,
    Reconcile,
    ReconcileTask,
    Revive,
    TeardownFramework,
    UpdateQuota,
    UpdateWeights,
    parse_operator_call,
    parse_scheduler_call,
    parse_subscribe,
)

INFO = {"user": "root", "name": "f"}


def _invalid(fn: Any, *args: Any) -> InvalidError:
    with pytest.raises(InvalidError) as e:
        fn(*args)
    return e.value


def test_subscribe_reads_the_id_roles_and_suppressed_roles() -> None:
    info = dict(INFO, roles=["a", "b"], capabilities=[{"type": "MULTI_ROLE"}])
    call = parse_subscribe(
        {
            "framework_id": {"value": "fw-1"},
            "subscribe": {"framework_info": info, "suppressed_roles": ["b"]},
        }
    )
    assert call.framework_id == "fw-1"
    assert call.roles.roles == ("a", "b")
    assert call.roles.suppressed == {"b"}


@pytest.mark.parametrize(
    ("subscribe", "field", "message"),
    [
        (None, "subscribe", "Expecting 'subscribe.framework_info' to be present"),
        ({"framework_info": {"user": "root"}}, "framework_info.name", "Missing required field"),
        (
            {"framework_info": INFO, "suppressed_roles": ["other"]},
            "subscribe.suppressed_roles",
            "subset",
        ),
        ({"framework_info": dict(INFO, role="bad role")}, "framework_info.roles", ""),
    ],
)
def test_subscribe_problems(subscribe: Any, field: str, message: str) -> None:
    e = _invalid(parse_subscribe, {"type": "SUBSCRIBE", "subscribe": subscribe})
    assert e.field == field
    assert message in str(e)


def test_accept_and_decline_read_offer_ids_and_refuse_seconds() -> None:
    ids = [{"value": "o1"}, {"value": "o2"}]
    accept = parse_scheduler_call(
        "ACCEPT",
        {"accept": {"offer_ids": ids, "operations": [], "filters": {"refuse_seconds": 1e12}}},
    )
    assert accept == Accept(("o1", "o2"), (), 365 * 24 * 3600.0)  # capped at a year
    decline = parse_scheduler_call(
        "DECLINE", {"decline": {"offer_ids": ids, "filters": {"refuse_seconds": -1}}}
    )
    assert decline == Decline(("o1", "o2"), None)  # negative: the master's default


@pytest.mark.parametrize(
    ("call_type", "body", "field"),
    [
        ("ACCEPT", {}, "accept"),
        ("ACCEPT", {"accept": {"offer_ids": "o1"}}, "accept.offer_ids"),
        ("ACCEPT", {"accept": {"offer_ids": [{"value": ""}]}}, "accept.offer_ids[0]"),
        ("DECLINE", {"decline": {"offer_ids": [], "filters": {"refuse_seconds": "x"}}}, None),
        ("KILL", {"kill": {}}, "kill.task_id"),
        ("SHUTDOWN", {"shutdown": {"executor_id": {"value": "e"}}}, "shutdown.agent_id"),
        ("REVIVE", {"revive": {"roles": "a"}}, "roles"),
        ("RECONCILE", {"reconcile": {"tasks": {}}}, "reconcile.tasks"),
        ("RECONCILE", {"reconcile": {"tasks": [1]}}, "reconcile.tasks[0]"),
    ],
)
def test_scheduler_call_problems(call_type: str, body: dict[str, Any], field: str | None) -> None:
    e = _invalid(parse_scheduler_call, call_type, body)
    if field is not None:
        assert e.field == field
    else:
        assert e.field == "filters.refuse_seconds"


def test_acknowledge_needs_a_base64_uuid() -> None:
    part = {"agent_id": {"value": "a"}, "task_id": {"value": "t"}, "uuid": "AAAA"}
    assert parse_scheduler_call("ACKNOWLEDGE", {"acknowledge": part}) == Acknowledge(
        "a", "t", "AAAA"
    )
    e = _invalid(parse_scheduler_call, "ACKNOWLEDGE", {"acknowledge": dict(part, uuid="!!")})
    assert e.field == "acknowledge.uuid"
    assert "is not valid base64" in str(e)


def test_reconcile_kill_revive_and_ignored_calls() -> None:
    rec = parse_scheduler_call(
        "RECONCILE",
        {"reconcile": {"tasks": [{"task_id": {"value": "t"}, "agent_id": {"value": "a"}}]}},
    )
    assert rec == Reconcile((ReconcileTask("t", "a"),))
    assert parse_scheduler_call("RECONCILE", {}) == Reconcile(())
    kill = parse_scheduler_call(
        "KILL", {"kill": {"task_id": {"value": "t"}, "kill_policy": {"grace_period": {}}}}
    )
    assert kill == Kill("t", {"grace_period": {}})
    assert parse_scheduler_call("REVIVE", {}) == Revive(None)
    assert parse_scheduler_call("REVIVE", {"revive": {"roles": ["a"]}}) == Revive(("a",))
    assert parse_scheduler_call("REQUEST", {}) == Ignored("REQUEST")
    e = _invalid(parse_scheduler_call, "BOGUS", {})
    assert "unknown call type 'BOGUS'" in str(e)


def test_operator_calls() -> None:
    weights = {"weight_infos": [{"role": "a", "weight": 2}]}
    assert parse_operator_call("UPDATE_WEIGHTS", {"update_weights": weights}) == UpdateWeights(
        {"a": 2.0}
    )
    drain = {"agent_id": {"value": "S1"}, "mark_gone": True}
    assert parse_operator_call("DRAIN_AGENT", {"drain_agent": drain}) == DrainAgent(
        "S1", None, True
    )
    teardown = {"framework_id": {"value": "fw"}}
    assert parse_operator_call("TEARDOWN", {"teardown": teardown}) == TeardownFramework("fw")
    quota = parse_operator_call(
        "UPDATE_QUOTA",
        {"update_quota": {"quota_configs": [{"role": "a", "limits": {"cpus": {"value": 2}}}]}},
    )
    assert isinstance(quota, UpdateQuota)
    [cfg] = quota.configs
    assert cfg.config == {"role": "a", "guarantees": {}, "limits": {"cpus": {"value": 2.0}}}
    removal = parse_operator_call(
        "UPDATE_QUOTA", {"update_quota": {"quota_configs": [{"role": "a"}]}}
    )
    assert isinstance(removal, UpdateQuota)
    assert removal.configs[0].config is None


@pytest.mark.parametrize(
    ("call_type", "body", "field"),
    [
        (
            "UPDATE_WEIGHTS",
            {"update_weights": {"weight_infos": [{"role": "a", "weight": 0}]}},
            "update_weights.weight_infos[0].weight",
        ),
        (
            "UPDATE_QUOTA",
            {"update_quota": {"quota_configs": [{"role": "*"}]}},
            "update_quota.quota_configs[0].role",
        ),
        (
            "UPDATE_QUOTA",
            {
                "update_quota": {
                    "quota_configs": [
                        {"role": "a", "guarantees": {"cpus": 4}, "limits": {"cpus": 2}}
                    ]
                }
            },
            "quota",  # the guarantee exceeds the limit
        ),
        ("MARK_AGENT_GONE", {}, "mark_agent_gone"),
        ("DEACTIVATE_AGENT", {"deactivate_agent": {}}, "deactivate_agent.agent_id"),
        ("TEARDOWN", {}, "teardown.framework_id"),
    ],
)
def test_operator_call_problems(call_type: str, body: dict[str, Any], field: str) -> None:
    assert _invalid(parse_operator_call, call_type, body).field == field
