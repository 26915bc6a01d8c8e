"""Smoke test of the launch benchmark: every task runs isolated and finishes; sane figures."""

from __future__ import annotations

import os

import pytest

from bench.launch import run

pytestmark = pytest.mark.integration


async def test_launch_bench_smoke() -> None:
    result = await run(tasks=24, window=4, launches=3)
    tp = result["throughput"]
    assert (tp["tasks"], tp["failed"], tp["not_finished"]) == (24, 0, [])
    assert tp["per_s"] > 0 and result["floor"]["per_s"] > tp["per_s"]
    assert set(tp["cpu_ms_per_task"]) == {"master", "agent", "launchers_and_tasks"}
    assert result["latency_ms"]["samples"] == 3
    if os.geteuid() == 0:
        assert "namespaces/pid" in result["isolation"]
        assert not os.path.exists("/sys/fs/cgroup/memory/dcos-bench")  # cleaned up
