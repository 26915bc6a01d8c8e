"""The CLI's resolver: exact ids, names (task, Marathon app, framework, hostname), unique
prefixes and id ends, with a clear error listing the candidates when ambiguous."""

from __future__ import annotations

from typing import Any

import pytest

from dcos_core.cli.client import NotFound
from dcos_core.cli.resolve import (
    Ambiguous,
    resolve_agent,
    resolve_framework,
    resolve_or_keep,
    resolve_task,
)

M = "460aba2e-6706-49e1-a236-71d6c05ea473"


def _task(tid: str, name: str, state: str = "TASK_RUNNING", agent: str = "S0") -> dict[str, Any]:
    return {
        "id": tid,
        "name": name,
        "state": state,
        "framework_id": f"{M}-0000",
        "slave_id": f"{M}-{agent}",
    }


STATE: dict[str, Any] = {
    "slaves": [
        {"id": f"{M}-S0", "hostname": "10.0.0.1", "port": 5051, "pid": "slave(1)@10.0.0.1:5051"},
        {"id": f"{M}-S1", "hostname": "10.0.0.2", "port": 5051, "pid": "slave(1)@10.0.0.2:5051"},
        {"id": f"{M}-S2", "hostname": "10.0.0.2", "port": 5052, "pid": "slave(1)@10.0.0.2:5052"},
    ],
    "frameworks": [
        {
            "id": f"{M}-0000",
            "name": "marathon",
            "active": True,
            "tasks": [
                _task("web.6f1c2a3b-1111", "web"),
                _task("prod_api.0a1b-2222", "prod.api"),
                _task("prod_api.0a1c-3333", "prod.api"),
                _task("db.77aa-4444", "db"),
            ],
            "completed_tasks": [
                _task("web.0000aaaa-5555", "web", "TASK_FAILED"),
                _task("db.77ab-6666", "db", "TASK_KILLED"),
            ],
        },
        {"id": f"{M}-0001", "name": "chronos", "active": True},
    ],
    "completed_frameworks": [{"id": f"{M}-0002", "name": "old-one"}],
}


def test_task_by_id_prefix_name_and_app_id() -> None:
    assert resolve_task(STATE, "web.6f1c2a3b-1111").id == "web.6f1c2a3b-1111"
    assert resolve_task(STATE, "web.6f").id == "web.6f1c2a3b-1111"
    assert resolve_task(STATE, "web.6f1c…").id == "web.6f1c2a3b-1111"  # as tables shorten
    # `web` names a running task and a failed one: the only live one is meant
    assert resolve_task(STATE, "web").id == "web.6f1c2a3b-1111"
    assert resolve_task(STATE, "/web").id == "web.6f1c2a3b-1111"
    # a completed task by its id still resolves (its log is still there)
    assert resolve_task(STATE, "web.0000aaaa-5555").state == "TASK_FAILED"


def test_task_names_of_an_app_with_two_instances_are_ambiguous() -> None:
    with pytest.raises(Ambiguous) as e:
        resolve_task(STATE, "/prod/api")
    text = str(e.value)
    assert text.startswith("task '/prod/api' is ambiguous: it names 2 tasks:")
    assert "prod_api.0a1b-2222  (prod.api, TASK_RUNNING)" in text
    assert "prod_api.0a1c-3333" in text
    assert e.value.candidates and len(e.value.candidates) == 2
    with pytest.raises(Ambiguous, match="is a prefix of the ids of 2 tasks"):
        resolve_task(STATE, "prod_api.0a1")
    assert resolve_task(STATE, "prod_api.0a1c").id == "prod_api.0a1c-3333"


def test_unknown_task() -> None:
    with pytest.raises(NotFound, match="task nope is not known to the master"):
        resolve_task(STATE, "nope")


def test_agent_by_id_hostname_address_prefix_and_end() -> None:
    assert resolve_agent(STATE, f"{M}-S1").id == f"{M}-S1"
    assert resolve_agent(STATE, "10.0.0.1").id == f"{M}-S0"
    assert resolve_agent(STATE, "10.0.0.2:5052").id == f"{M}-S2"
    assert resolve_agent(STATE, "S2").id == f"{M}-S2"
    assert resolve_agent(STATE, "…-S2").id == f"{M}-S2"
    with pytest.raises(Ambiguous) as e:
        resolve_agent(STATE, "10.0.0.2")
    assert "agent '10.0.0.2' is ambiguous: it names 2 agents:" in str(e.value)
    assert f"{M}-S1  (10.0.0.2:5051)" in str(e.value)
    with pytest.raises(Ambiguous, match="is a prefix of the ids of 3 agents"):
        resolve_agent(STATE, M[:8])


def test_framework_by_name_id_end_and_completed() -> None:
    assert resolve_framework(STATE, "marathon").id == f"{M}-0000"
    assert resolve_framework(STATE, "0001").id == f"{M}-0001"
    with pytest.raises(NotFound):
        resolve_framework(STATE, "old-one")  # torn down: only when asked for
    assert resolve_framework(STATE, "old-one", include_completed=True).id == f"{M}-0002"
    with pytest.raises(Ambiguous, match="framework '460aba2e' is ambiguous"):
        resolve_framework(STATE, "460aba2e")


def test_resolve_or_keep_lets_the_server_answer_unknown_names() -> None:
    assert resolve_or_keep(lambda: resolve_framework(STATE, "zzz"), "zzz", lambda f: f.id) == "zzz"
    assert (
        resolve_or_keep(lambda: resolve_framework(STATE, "chronos"), "chronos", lambda f: f.id)
        == f"{M}-0001"
    )


def test_a_prefix_of_a_live_and_a_completed_task_is_ambiguous() -> None:
    """Only a task's name prefers the live task (restarts); a prefix must be unique."""
    assert resolve_task(STATE, "db").id == "db.77aa-4444"
    with pytest.raises(Ambiguous) as e:
        resolve_task(STATE, "db.77a")
    assert "db.77ab-6666  (db, TASK_KILLED)" in str(e.value)
