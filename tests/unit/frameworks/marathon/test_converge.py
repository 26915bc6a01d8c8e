"""Marathon's tick in two halves: `converge` decides what an app needs (kills, launches, what
to forget) and writes nothing; the tick then does it. And app versions taken at one instant of
a clock that stands still: each change gets the next millisecond, at once."""

from __future__ import annotations

import threading

from test_service import drv, offer, run_all, status

from dcos_core.clock import FakeClock
from dcos_core.frameworks.marathon.repository import Repository
from dcos_core.frameworks.marathon.service import Marathon
from dcos_core.frameworks.marathon.validation import parse_app
from dcos_core.frameworks.runtime import RecordingDriver
from dcos_core.state.memory import InMemoryStore


def test_three_deploys_at_one_instant_of_a_fake_clock_do_not_hang() -> None:
    m = Marathon(Repository(InMemoryStore()), clock=FakeClock(1000.0))
    versions: list[str] = []

    def deploy_three() -> None:
        for app_id in ("/a", "/b", "/c"):
            versions.append(m.deploy([parse_app({"id": app_id, "cmd": "x"})]).version)

    worker = threading.Thread(target=deploy_three, daemon=True)
    worker.start()
    worker.join(5.0)  # it used to sleep-wait for a clock that never moves, forever
    assert not worker.is_alive(), "the third deploy at one instant hangs"
    # 1000 s after the epoch, then a millisecond later for each version already taken
    assert versions == [
        "1970-01-01T00:16:40.000Z",
        "1970-01-01T00:16:40.001Z",
        "1970-01-01T00:16:40.002Z",
    ]
    assert [m.apps[a].app.version for a in ("/a", "/b", "/c")] == versions


async def test_converge_decides_a_scale_down_and_writes_nothing() -> None:
    m = Marathon(Repository(InMemoryStore()), clock=FakeClock(1000.0))
    await m.attach(RecordingDriver(), "fw-1")
    m.deploy([parse_app({"id": "/web", "cmd": "x", "cpus": 0.1, "instances": 3})])
    await m.tick()
    await m.handle_offers([offer(1)])
    ids = drv(m).launched
    for tid in ids:  # started one second apart: ids[2] is the youngest
        m.clock.advance(1)  # type: ignore[attr-defined]
        m.on_status(status(tid, "TASK_RUNNING"))
    await m.tick()
    m.scale("/web", 1)
    stored = m.repo.instances()

    decided = m.converge(m.apps["/web"], m.clock.time())

    assert [(t.inst.task_id, why) for t, why in decided.kill] == [
        (ids[2], "scaled down"),
        (ids[1], "scaled down"),
    ]
    assert (decided.enqueue, decided.unqueue, decided.forget, decided.finish_delete) == (
        0,
        0,
        [],
        False,
    )
    assert m.repo.instances() == stored  # nothing written: no instance marked killing
    assert not any(t.killing for t in m.instances.values()) and drv(m).killed == []
    await m.tick()  # the tick does what was decided
    assert sorted(drv(m).killed) == sorted(ids[1:])


async def test_converge_of_a_deleted_app_kills_first_and_removes_it_once_all_ended() -> None:
    m = Marathon(Repository(InMemoryStore()), clock=FakeClock(1000.0))
    await m.attach(RecordingDriver(), "fw-1")
    m.deploy([parse_app({"id": "/d", "cmd": "x", "cpus": 0.1, "instances": 2})])
    ids = await run_all(m)
    m.delete("/d")
    rt = m.apps["/d"]
    first = m.converge(rt, m.clock.time())
    assert sorted(t.inst.task_id for t, _why in first.kill) == sorted(ids)
    assert not first.finish_delete  # its instances still run
    await m.tick()
    for tid in ids:
        m.on_status(status(tid, "TASK_KILLED"))
    assert "/d" in m.apps  # decided by the next tick, not by the status update
    await m.tick()
    assert "/d" not in m.apps and m.repo.apps() == {}
