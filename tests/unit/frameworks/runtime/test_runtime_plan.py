"""A round of offers decided (`LaunchPlan`) and sent (`execute`), kills sent (`send_kills`), and
when to REVIVE (`ReviveTimer`): what the master is asked, seen through a recording driver."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from dcos_core.frameworks.runtime import (
    Kill,
    LaunchPlan,
    RecordingDriver,
    ReviveTimer,
    execute,
    send_kills,
)

Json = dict[str, Any]


def offer(oid: str) -> Json:
    return {"id": {"value": oid}, "agent_id": {"value": "a1"}}


def task(tid: str) -> Json:
    return {"task_id": {"value": tid}, "name": tid}


class RefusingDriver(RecordingDriver):
    """The master refuses every ACCEPT and KILL of the ids in `refuse`."""

    def __init__(self, refuse: set[str]) -> None:
        super().__init__()
        self.refuse = refuse
        self.decline_filters: list[float | None] = []

    async def accept(
        self, offer_ids: Sequence[str], operations: Sequence[Json], refuse_seconds: float | None
    ) -> None:
        if set(offer_ids) & self.refuse:
            raise RuntimeError("refused")
        await super().accept(offer_ids, operations, refuse_seconds)

    async def decline(self, offer_ids: Sequence[str], refuse_seconds: float | None = None) -> None:
        self.decline_filters.append(refuse_seconds)
        await super().decline(offer_ids, refuse_seconds)

    async def kill(
        self, task_id: str, agent_id: str | None = None, grace_period: float | None = None
    ) -> None:
        if task_id in self.refuse:
            raise RuntimeError("refused")
        await super().kill(task_id, agent_id, grace_period)


def test_the_offers_not_used_are_declined_in_their_order() -> None:
    plan = LaunchPlan.of(
        [offer("o1"), offer("o2"), offer("o3")],
        {"o2": [task("t1")], "o3": []},  # o3: nothing placed on it after all
        accept_refuse_seconds=1.0,
        decline_refuse_seconds=60.0,
    )
    assert dict(plan.launches) == {"o2": [task("t1")]}
    assert plan.declined == ("o1", "o3")
    assert plan.task_count == 1


async def test_execute_accepts_each_offer_used_with_its_tasks_then_declines_the_rest() -> None:
    d = RefusingDriver(set())
    plan = LaunchPlan.of(
        [offer("o1"), offer("o2"), offer("o3")],
        {"o1": [task("t1"), task("t2")], "o3": [task("t3")]},
        accept_refuse_seconds=1.0,
        decline_refuse_seconds=60.0,
    )
    await execute(d, plan)
    assert sorted(d.accepted, key=lambda a: a[0]) == [
        (["o1"], [{"type": "LAUNCH", "launch": {"task_infos": [task("t1"), task("t2")]}}]),
        (["o3"], [{"type": "LAUNCH", "launch": {"task_infos": [task("t3")]}}]),
    ]
    assert d.declined == ["o2"] and d.decline_filters == [60.0]


async def test_a_refused_accept_does_not_stop_the_others_nor_the_decline(
    caplog: pytest.LogCaptureFixture,
) -> None:
    d = RefusingDriver({"o1"})
    plan = LaunchPlan.of(
        [offer("o1"), offer("o2"), offer("o3")],
        {"o1": [task("t1")], "o2": [task("t2")]},
        accept_refuse_seconds=1.0,
        decline_refuse_seconds=5.0,
    )
    await execute(d, plan)
    assert d.launched == ["t2"] and d.declined == ["o3"]
    assert "ACCEPT of offer o1 failed" in caplog.text


async def test_nothing_to_launch_declines_every_offer_once() -> None:
    d = RefusingDriver(set())
    await execute(d, LaunchPlan.decline_all([offer("o1"), offer("o2")], 5.0))
    assert d.accepted == [] and d.declined == ["o1", "o2"] and d.decline_filters == [5.0]


async def test_no_offer_left_over_sends_no_decline() -> None:
    d = RefusingDriver(set())
    await execute(
        d,
        LaunchPlan.of(
            [offer("o1")], {"o1": [task("t1")]}, accept_refuse_seconds=1.0, decline_refuse_seconds=5
        ),
    )
    assert d.launched == ["t1"] and d.decline_filters == []


async def test_send_kills_sends_every_kill_even_when_one_is_refused(
    caplog: pytest.LogCaptureFixture,
) -> None:
    d = RefusingDriver({"t2"})
    await send_kills(d, [Kill("t1", "a1", 3.0), Kill("t2"), Kill("t3")])
    assert sorted(d.killed) == ["t1", "t3"]
    assert "kill of t2 failed" in caplog.text


def test_revive_when_work_starts_waiting_then_every_interval_while_it_waits() -> None:
    r = ReviveTimer(2.0)
    assert not r.due(waiting=False, now=0.0)  # nothing waits
    assert r.due(waiting=True, now=10.0)  # starts waiting: at once
    assert not r.due(waiting=True, now=11.9)  # 1.9 s later: not yet
    assert r.due(waiting=True, now=12.0)  # 2 s after the last REVIVE
    assert not r.due(waiting=False, now=12.5)
    assert r.due(waiting=True, now=13.0)  # waits again: at once, though 1 s after the last
