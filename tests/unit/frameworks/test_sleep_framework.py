"""The example framework end to end against the fake master."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

from fake_scheduler_master import FakeMaster

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "examples"))
import sleep_framework

Json = dict[str, Any]


def offer(oid: str, agent: str, cpus: float, mem: float) -> Json:
    return {
        "id": {"value": oid},
        "framework_id": {"value": "fw-1"},
        "agent_id": {"value": agent},
        "hostname": agent,
        "allocation_info": {"role": "*"},
        "resources": [
            {"name": "cpus", "type": "SCALAR", "scalar": {"value": cpus}, "role": "*"},
            {"name": "mem", "type": "SCALAR", "scalar": {"value": mem}, "role": "*"},
        ],
    }


def status(task: Json, state: str, n: int) -> Json:
    return {
        "type": "UPDATE",
        "update": {
            "status": {
                "task_id": task["task_id"],
                "agent_id": task["agent_id"],
                "state": state,
                "uuid": f"dXVpZC0{n}",
            }
        },
    }


def test_plan_packs_tasks_while_they_fit() -> None:
    """0.25 cpus / 64 mem per task; an offer of 1 cpu / 200 mem fits 3 (mem: 3 x 64 = 192)."""
    s = sleep_framework.SleepScheduler(5, 0.25, 64, "true", out=lambda _l: None)
    infos = s.plan(offer("O1", "S1", 1.0, 200))
    assert [i["task_id"]["value"] for i in infos] == ["sleep-0-1", "sleep-1-1", "sleep-2-1"]
    assert all(i["agent_id"] == {"value": "S1"} for i in infos)
    assert list(s.pending) == [3, 4]
    assert s.plan(offer("O2", "S2", 0.1, 1000)) == []


async def test_runs_to_completion_with_a_retry(master: FakeMaster) -> None:
    """3 tasks: one comes back LOST and is relaunched; summary counts per agent; exit data."""
    lines: list[str] = []
    args = sleep_framework.parse_args(
        [
            "--master",
            master.address,
            "--tasks",
            "3",
            "--cpus",
            "0.5",
            "--mem",
            "32",
            "--command",
            "sleep 0",
            "--timeout",
            "20",
        ]
    )
    runner = asyncio.create_task(sleep_framework.run(args, out=lines.append))
    await master.wait_for(lambda: len(master.streams) == 1)
    # S1 fits 2 tasks (1 cpu), S2 fits 1; a tiny offer on S3 is declined.
    await master.push(
        {
            "type": "OFFERS",
            "offers": {
                "offers": [
                    offer("O1", "S1", 1.0, 512),
                    offer("O2", "S2", 0.5, 512),
                    offer("O3", "S3", 0.1, 512),
                ]
            },
        }
    )
    await master.wait_for(
        lambda: (
            len(master.calls_of("ACCEPT")) == 2
            and len(master.calls_of("DECLINE")) == 1
            and len(master.calls_of("SUPPRESS")) == 1
        )
    )
    tasks = [
        t
        for c in master.calls_of("ACCEPT")
        for t in c.body["accept"]["operations"][0]["launch"]["task_infos"]
    ]
    assert len(tasks) == 3
    assert master.calls_of("DECLINE")[0].body["decline"]["offer_ids"] == [{"value": "O3"}]
    n = 0
    for t in tasks[:2]:
        for state in ("TASK_RUNNING", "TASK_FINISHED"):
            n += 1
            await master.push(status(t, state, n))
    await master.push(status(tasks[2], "TASK_LOST", 99))
    await master.wait_for(lambda: len(master.calls_of("REVIVE")) == 1)
    await master.push({"type": "OFFERS", "offers": {"offers": [offer("O4", "S2", 1, 512)]}})
    await master.wait_for(lambda: len(master.calls_of("ACCEPT")) == 3)
    retry = master.calls_of("ACCEPT")[2].body["accept"]["operations"][0]["launch"]["task_infos"]
    assert [t["task_id"]["value"] for t in retry] == ["sleep-2-2"]
    await master.push(status(retry[0], "TASK_FINISHED", 100))
    summary = await asyncio.wait_for(runner, 10)
    assert summary["finished"] == 3 and summary["failed"] == 0
    assert summary["agents"] == {"S1": 2, "S2": 1}
    # every update carried a uuid, so every one was acknowledged: 2 x 2 + LOST + retry = 6
    assert len(master.calls_of("ACKNOWLEDGE")) == 6
    assert any("finished 3/3" in line for line in lines)
