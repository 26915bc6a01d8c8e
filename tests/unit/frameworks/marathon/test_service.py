"""The Marathon service without HTTP: a fake driver records calls, offers are built by hand,
status updates are fed in, a FakeClock drives backoff. What a user would see through the API
(instances, queue, deployments, events) is asserted."""

from __future__ import annotations

from typing import Any

import pytest

from dcos_core.clock import FakeClock
from dcos_core.errors import StoreError
from dcos_core.frameworks.marathon.models import HealthResult
from dcos_core.frameworks.marathon.repository import Repository
from dcos_core.frameworks.marathon.service import AppLockedError, Marathon
from dcos_core.frameworks.marathon.validation import parse_app
from dcos_core.frameworks.runtime import RecordingDriver
from dcos_core.state.memory import InMemoryStore


def offer(n: int, agent: str = "S1", cpus: float = 4, host: str = "h1") -> dict[str, Any]:
    return {
        "id": {"value": f"O{n}"},
        "agent_id": {"value": agent},
        "hostname": host,
        "url": {"address": {"ip": "127.0.0.1", "hostname": host, "port": 5051}},
        "allocation_info": {"role": "*"},
        "resources": [
            {
                "name": "cpus",
                "type": "SCALAR",
                "scalar": {"value": cpus},
                "allocation_info": {"role": "*"},
            },
            {
                "name": "mem",
                "type": "SCALAR",
                "scalar": {"value": 4096},
                "allocation_info": {"role": "*"},
            },
            {
                "name": "ports",
                "type": "RANGES",
                "ranges": {"range": [{"begin": 31000, "end": 31100}]},
                "allocation_info": {"role": "*"},
            },
        ],
        "attributes": [],
    }


def status(task_id: str, state: str, agent: str = "S1", message: str = "") -> dict[str, Any]:
    return {
        "task_id": {"value": task_id},
        "state": state,
        "agent_id": {"value": agent},
        "message": message,
    }


@pytest.fixture
async def svc() -> Marathon:
    m = Marathon(Repository(InMemoryStore()), clock=FakeClock(1000.0))
    d = RecordingDriver()
    await m.attach(d, "fw-1")
    return m


def drv(m: Marathon) -> RecordingDriver:
    assert isinstance(m.driver, RecordingDriver)
    return m.driver


async def run_all(m: Marathon, n_offers: int = 1) -> list[str]:
    """Tick, offer, report every launched task RUNNING; returns the task ids launched."""
    await m.tick()
    before = len(drv(m).tasks)
    await m.handle_offers([offer(i) for i in range(n_offers)])
    new = [t["task_id"]["value"] for t in drv(m).tasks[before:]]
    for tid in new:
        m.on_status(status(tid, "TASK_RUNNING"))
    await m.tick()
    return new


async def test_create_launch_and_deployment_success(svc: Marathon) -> None:
    dep = svc.deploy([parse_app({"id": "/web", "cmd": "sleep 1", "cpus": 0.5, "instances": 3})])
    assert svc.deployments and dep.json()["affectedApps"] == ["/web"]
    launched = await run_all(svc)
    assert len(launched) == 3
    info = drv(svc).tasks[0]
    env = {v["name"]: v["value"] for v in info["command"]["environment"]["variables"]}
    assert env["MARATHON_APP_ID"] == "/web" and env["PORT0"].isdigit()
    assert not svc.deployments  # goal reached: running and no health checks
    assert [e for e in ("deployment_info", "deployment_success")]


async def test_scale_down_kills_the_youngest_and_locks(svc: Marathon) -> None:
    svc.deploy([parse_app({"id": "/web", "cmd": "x", "cpus": 0.1, "instances": 3})])
    await svc.tick()
    await svc.handle_offers([offer(1)])
    ids = [t["task_id"]["value"] for t in drv(svc).tasks]
    for tid in ids:  # started one second apart: ids[2] is the youngest
        svc.clock.advance(1)  # type: ignore[attr-defined]
        svc.on_status(status(tid, "TASK_RUNNING"))
    await svc.tick()
    assert not svc.deployments
    svc.scale("/web", 1)
    with pytest.raises(AppLockedError):
        svc.scale("/web", 2)
    await svc.tick()
    assert sorted(drv(svc).killed) == sorted(ids[1:])  # YOUNGEST_FIRST
    for tid in drv(svc).killed:
        svc.on_status(status(tid, "TASK_KILLED"))
    await svc.tick()
    assert not svc.deployments
    assert [i.task_id for i in svc.instances_of("/web")] == [ids[0]]


async def test_failed_tasks_back_off_and_the_queue_shows_the_delay(svc: Marathon) -> None:
    svc.deploy([parse_app({"id": "/bad", "cmd": "false", "cpus": 0.1, "backoffSeconds": 10})])
    (tid,) = await run_all(svc)
    svc.on_status(status(tid, "TASK_FAILED", message="exit 1"))
    await svc.tick()
    q = svc.queue()
    assert q[0]["count"] == 1 and q[0]["delay"]["timeLeftSeconds"] == 10
    before = len(drv(svc).tasks)
    await svc.handle_offers([offer(9)])
    assert len(drv(svc).tasks) == before  # delayed
    svc.clock.advance(11)  # type: ignore[attr-defined]
    await svc.handle_offers([offer(10)])
    assert len(drv(svc).tasks) == before + 1
    app = svc.render(svc.get("/bad"))
    assert app["lastTaskFailure"]["taskId"] == tid


async def test_rolling_restart_replaces_every_instance(svc: Marathon) -> None:
    svc.deploy([parse_app({"id": "/r", "cmd": "x", "cpus": 0.1, "instances": 2})])
    old = set(await run_all(svc))
    svc.restart("/r")
    for _ in range(6):
        await svc.tick()
        await svc.handle_offers([offer(50)])
        for t in list(svc.instances.values()):
            if t.inst.state == "TASK_STAGING":
                svc.on_status(status(t.inst.task_id, "TASK_RUNNING"))
        for tid in drv(svc).killed:
            if tid in svc.instances:
                svc.on_status(status(tid, "TASK_KILLED"))
        await svc.tick()
    ids = {i.task_id for i in svc.instances_of("/r")}
    assert len(ids) == 2 and not (ids & old)
    assert not svc.deployments


async def test_restart_of_the_service_keeps_state(svc: Marathon) -> None:
    svc.deploy([parse_app({"id": "/k", "cmd": "x", "cpus": 0.1, "instances": 2})])
    ids = set(await run_all(svc))
    again = Marathon(svc.repo, clock=svc.clock)
    again.load()
    assert {i.task_id for i in again.instances_of("/k")} == ids
    d = RecordingDriver()
    await again.attach(d, "fw-1")
    assert {t for t, _a in d.reconciled[0]} == ids  # explicit reconciliation of every task
    await again.tick()
    assert d.killed == []  # a restart kills nothing


async def test_unknown_task_of_ours_is_killed(svc: Marathon) -> None:
    svc.on_status(status("ghost.123", "TASK_RUNNING"))
    await svc.tick()
    assert drv(svc).killed == ["ghost.123"]


async def test_delete_kills_then_forgets(svc: Marathon) -> None:
    svc.deploy([parse_app({"id": "/d", "cmd": "x", "cpus": 0.1, "instances": 2})])
    ids = await run_all(svc)
    svc.delete("/d")
    await svc.tick()
    assert sorted(drv(svc).killed) == sorted(ids)
    for tid in ids:
        svc.on_status(status(tid, "TASK_KILLED"))
    await svc.tick()
    assert "/d" not in svc.apps and not svc.deployments
    assert svc.repo.apps() == {}


async def test_a_failed_write_leaves_memory_as_it_was(svc: Marathon) -> None:
    svc.deploy([parse_app({"id": "/a", "cmd": "x", "cpus": 0.1, "instances": 1})])
    await run_all(svc)
    before = svc.render(svc.get("/a"), embed_tasks=False)

    def broken(ops: Any) -> None:
        raise StoreError("disk full")

    svc.repo.store.transaction = broken  # type: ignore[method-assign]
    with pytest.raises(StoreError):
        svc.deploy([parse_app({"id": "/a", "cmd": "y", "cpus": 0.2, "instances": 4})])
    with pytest.raises(StoreError):
        svc.deploy([parse_app({"id": "/b", "cmd": "y"})])
    assert svc.render(svc.get("/a"), embed_tasks=False) == before
    assert "/b" not in svc.apps and not svc.deployments


class AllHealthy:
    """A health monitor whose checks pass for every instance it was started for."""

    def __init__(self) -> None:
        self.started: set[str] = set()

    def start(self, inst: Any, app: Any) -> None:
        self.started.add(inst.task_id)

    def stop(self, task_id: str) -> None:
        self.started.discard(task_id)

    def results(self, task_id: str) -> list[HealthResult]:
        if task_id not in self.started:
            return []
        return [HealthResult(task_id=task_id, alive=True)]


async def test_health_counts_only_running_instances_during_a_rolling_update() -> None:
    """Old instances being killed (TASK_KILLING) keep their last health results, but are not
    running: `tasksHealthy` never exceeds `tasksRunning` (issue 13: 8 healthy, 5 running)."""
    m = Marathon(Repository(InMemoryStore()), clock=FakeClock(1000.0), health=AllHealthy())
    await m.attach(RecordingDriver(), "fw-1")
    body = {
        "id": "/web",
        "cmd": "x",
        "cpus": 0.1,
        "instances": 4,
        "healthChecks": [{"protocol": "TCP", "portIndex": 0}],
        "upgradeStrategy": {"minimumHealthCapacity": 0.5, "maximumOverCapacity": 0.5},
    }
    m.deploy([parse_app(body)])
    old = await run_all(m)
    app = m.render(m.get("/web"))
    assert (app["tasksRunning"], app["tasksHealthy"], app["tasksUnhealthy"]) == (4, 4, 0)

    m.deploy([parse_app({**body, "cmd": "y"})])
    await m.tick()
    killed = [t for t in drv(m).killed if t in old]
    assert killed  # the rolling update kills some old instances ...
    for tid in killed:  # ... which report TASK_KILLING while they stop
        m.on_status(status(tid, "TASK_KILLING"))
    await m.handle_offers([offer(7)])
    app = m.render(m.get("/web"))
    running = sum(1 for t in app["tasks"] if t["state"] == "TASK_RUNNING")
    assert app["tasksRunning"] == running == 4 - len(killed)
    assert app["tasksHealthy"] == running
    assert app["tasksStaged"] == sum(1 for t in app["tasks"] if t["state"] == "TASK_STAGING")
    assert app["tasksHealthy"] + app["tasksUnhealthy"] <= app["tasksRunning"]
