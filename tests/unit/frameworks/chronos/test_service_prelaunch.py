"""Prelaunch: runs of jobs without an image are launched ahead, their commands wait for their time.

Driven with an injected clock and a recording driver; the prologue itself is run by real shells
in test_prelaunch.py.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from chronos_fakes import RecordingDriver

from dcos_core.clock import FakeClock
from dcos_core.frameworks.chronos.ledger import RunState
from dcos_core.frameworks.chronos.models import parse_job
from dcos_core.frameworks.chronos.service import Chronos
from dcos_core.resources import Resources
from dcos_core.state.memory import InMemoryStore

T0 = datetime(2026, 1, 1, tzinfo=UTC).timestamp()


def make(store: InMemoryStore | None = None, prelaunch: float = 15.0, at: float = T0) -> Chronos:
    c = Chronos(store or InMemoryStore(), clock=FakeClock(at), prelaunch=prelaunch)
    c.load()
    c.driver = RecordingDriver()
    return c


def driver(c: Chronos) -> RecordingDriver:
    assert isinstance(c.driver, RecordingDriver)
    return c.driver


def add(c: Chronos, **fields: Any) -> None:
    body = {"owner": "", "command": "echo hi", "cpus": 0.1, "mem": 16, "disk": 1, **fields}
    c.put_job(parse_job(body, now=datetime.fromtimestamp(c.clock.time(), UTC)))


def iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


n_offers = 0


def offers(c: Chronos) -> list[dict[str, Any]]:
    """Plan, then offer plenty of room (as a tick followed by an offer would)."""
    global n_offers
    n_offers += 1
    c._plan(c.clock.time())
    asyncio.run(c.handle_offers([_offer(n_offers)]))
    return driver(c).tasks


def _offer(n: int) -> dict[str, Any]:
    return {
        "id": {"value": f"o{n}"},
        "agent_id": {"value": "a1"},
        "framework_id": {"value": "F"},
        "hostname": "h",
        "url": {"scheme": "http", "address": {"hostname": "h", "ip": "10.0.0.1", "port": 5051}},
        "resources": Resources.parse("cpus:8;mem:8192;disk:8192").to_v1("*"),
        "allocation_info": {"role": "*"},
    }


def status(task: dict[str, Any], state: str) -> dict[str, Any]:
    return {"task_id": task["task_id"], "state": state, "agent_id": {"value": "a1"}}


def advance(c: Chronos, seconds: float) -> None:
    c.clock.advance(seconds)  # type: ignore[attr-defined]


def test_a_run_due_within_the_lead_is_launched_now_and_its_command_waits() -> None:
    c = make()
    add(c, name="j", schedule=f"R1/{iso(T0 + 10)}/PT1H")
    (task,) = offers(c)
    cmd = task["command"]
    assert cmd["shell"] is True
    assert f"{round((T0 + 10) * 1000) * 1_000_000}" in cmd["value"]  # waits for 10 s later
    assert cmd["value"].endswith("\necho hi")
    env = {v["name"]: v["value"] for v in cmd["environment"]["variables"]}
    assert env["CHRONOS_SCHEDULED_MS"] == str(round((T0 + 10) * 1000))
    c.on_status(status(task, "TASK_RUNNING"))
    (run,) = c.runs.values()
    assert run.state == RunState.RUNNING and run.started_at == T0 + 10  # when the command starts


def test_without_prelaunch_nothing_is_launched_before_its_time() -> None:
    c = make(prelaunch=0)
    add(c, name="j", schedule=f"R1/{iso(T0 + 10)}/PT1H")
    assert offers(c) == []
    advance(c, 10)
    (task,) = offers(c)
    assert task["command"]["value"] == "echo hi"


def test_a_run_beyond_the_lead_waits_until_it_is_within_it() -> None:
    c = make(prelaunch=15)
    add(c, name="j", schedule=f"R1/{iso(T0 + 20)}/PT1H")
    assert offers(c) == [] and not c.runs
    advance(c, 5)
    assert len(offers(c)) == 1


def test_one_waiting_task_per_job_even_for_concurrent_jobs() -> None:
    c = make(prelaunch=15)
    add(c, name="j", schedule=f"R/{iso(T0 + 2)}/PT2S", concurrent=True)
    (first,) = offers(c)
    assert len(c.runs) == 7  # planned 15 s ahead: 2, 4, ..., 14
    assert offers(c) == [first]  # the next waits until this one is done
    advance(c, 2)
    c.on_status(status(first, "TASK_RUNNING"))
    c.on_status(status(first, "TASK_FINISHED"))
    second = offers(c)[-1]
    assert second["task_id"] != first["task_id"] and ":" + str(round((T0 + 4) * 1000)) in str(
        second["task_id"]["value"]
    )


def test_jobs_with_a_container_image_are_launched_at_their_time() -> None:
    c = make(prelaunch=15)
    add(
        c,
        name="d",
        schedule=f"R1/{iso(T0 + 10)}/PT1H",
        container={"type": "DOCKER", "image": "busybox"},
    )
    assert offers(c) == []
    advance(c, 10)
    (task,) = offers(c)
    assert "sleep" not in task["command"].get("value", "")


def test_a_changed_job_has_its_waiting_task_replaced_with_the_new_command() -> None:
    c = make()
    add(c, name="j", schedule=f"R1/{iso(T0 + 10)}/PT1H")
    (old,) = offers(c)
    c.on_status(status(old, "TASK_RUNNING"))
    add(c, name="j", schedule=f"R1/{iso(T0 + 10)}/PT1H")  # the same job again: nothing to do
    asyncio.run(c.tick())
    assert driver(c).killed == []
    add(c, name="j", schedule=f"R1/{iso(T0 + 10)}/PT1H", command="echo new")
    asyncio.run(c.tick())
    assert driver(c).killed == [old["task_id"]["value"]]
    c.on_status(status(old, "TASK_KILLED"))  # the old task's end does not end the run
    new = offers(c)[-1]
    assert new["task_id"] != old["task_id"]
    assert new["command"]["value"].endswith("\necho new")
    (run,) = c.runs.values()
    assert run.attempt == 1 and run.state == RunState.LAUNCHING


def test_a_job_disabled_before_its_time_does_not_run() -> None:
    c = make()
    add(c, name="j", schedule=f"R1/{iso(T0 + 10)}/PT1H")
    (old,) = offers(c)
    add(c, name="j", schedule=f"R1/{iso(T0 + 10)}/PT1H", disabled=True)
    asyncio.run(c.tick())
    assert driver(c).killed == [old["task_id"]["value"]]
    assert not c.runs
    assert [r.state for r in c.get("j").history] == [RunState.SKIPPED]
    advance(c, 20)
    assert offers(c) == [old]


def test_a_schedule_changed_away_and_back_never_reuses_a_task_id() -> None:
    c = make()
    add(c, name="j", schedule=f"R1/{iso(T0 + 10)}/PT1H")
    (old,) = offers(c)
    add(c, name="j", schedule=f"R1/{iso(T0 + 12)}/PT1H")
    add(c, name="j", schedule=f"R1/{iso(T0 + 10)}/PT1H")
    ids = [t["task_id"]["value"] for t in offers(c)]
    assert len(ids) == len(set(ids)) == 2 and ids[0] == old["task_id"]["value"]
    assert ids[1].endswith(":2")  # the same scheduled time, the next launch number


def test_a_restart_keeps_runs_planned_ahead_and_launches_them_once() -> None:
    store = InMemoryStore()
    c = make(store)
    add(c, name="j", schedule=f"R1/{iso(T0 + 10)}/PT1H")
    (task,) = offers(c)
    c2 = make(store, at=T0 + 1)  # a crash after the launch: the run is LAUNCHING in the ledger
    assert offers(c2) == []
    (run,) = c2.runs.values()
    assert run.state == RunState.LAUNCHING and run.task_id == task["task_id"]["value"]
