"""Example framework on the dcos-core SDK: run N copies of a command, packing offers.

Usage:
    python examples/sleep_framework.py --master 127.0.0.1:5050 --tasks 30 --cpus 0.1 --mem 32 \\
        --command "sleep 2"

Launches the tasks on whatever offers arrive (several per offer while they fit), declines what is
left over, relaunches tasks that end LOST/FAILED/... up to --max-retries times, suppresses offers
once everything is launched, prints progress lines and finally a JSON summary
`{"finished": n, "failed": n, "agents": {agent_id: count}, "seconds": t}`. Exit status 0 when every
task finished, 1 otherwise. SIGINT (Ctrl-C) tears the framework down (the master kills its tasks).

Importable for tests: `SleepScheduler` holds all the logic; `main(argv)` runs it.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import signal
import sys
import time
from collections import Counter, deque
from collections.abc import Callable, Sequence
from typing import Any

from dcos_core.frameworks.sdk import (
    Scheduler,
    SchedulerDriver,
    SdkError,
    launch,
    offer_agent_id,
    offer_id,
    offer_resources,
    offer_role,
    task_info,
)
from dcos_core.model.task import TERMINAL, TaskState
from dcos_core.resources import Resources

Json = dict[str, Any]
RETRYABLE = TERMINAL - {TaskState.FINISHED}  # every other end is launched again


class SleepScheduler(Scheduler):
    """Launches `tasks` copies of `command`, each with `cpus` and `mem`, and tracks them."""

    def __init__(
        self,
        tasks: int,
        cpus: float,
        mem: float,
        command: str,
        *,
        max_retries: int = 3,
        refuse_seconds: float = 5.0,
        out: Callable[[str], None] = print,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.total = tasks
        self.need = Resources.scalars(cpus=cpus, mem=mem)
        self.command = command
        self.max_retries = max_retries
        self.refuse_seconds = refuse_seconds
        self.out = out
        self.clock = clock
        self.started_at = clock()
        self.pending: deque[int] = deque(range(tasks))  # logical task numbers to launch
        self.attempts: Counter[int] = Counter()
        self.live: dict[str, tuple[int, str]] = {}  # task id -> (number, agent id)
        self.running: Counter[str] = Counter()
        self.is_running: set[str] = set()
        self.launched: Counter[str] = Counter()
        self.finished_on: Counter[str] = Counter()
        self.finished = 0
        self.failed = 0
        self.suppressed = False

    @property
    def done(self) -> bool:
        """Every task finished or ran out of retries."""
        return self.finished + self.failed >= self.total

    def plan(self, offer: Json) -> list[Json]:
        """TaskInfos to launch on `offer`: as many pending tasks as fit."""
        left = offer_resources(offer)
        agent = offer_agent_id(offer)
        infos: list[Json] = []
        while self.pending and left.contains(self.need):
            n = self.pending.popleft()
            self.attempts[n] += 1
            tid = f"sleep-{n}-{self.attempts[n]}"
            infos.append(
                task_info(
                    f"sleep-{n}",
                    tid,
                    agent,
                    self.need,
                    self.command,
                    allocation_role=offer_role(offer),
                )
            )
            self.live[tid] = (n, agent)
            self.launched[agent] += 1
            left -= self.need
        return infos

    async def on_subscribed(
        self, driver: SchedulerDriver, framework_id: str, master_info: Json | None
    ) -> None:
        self.out(f"subscribed as {framework_id}")
        if self.live:  # after a re-subscription: ask for the state of what we launched
            await driver.reconcile([(t, a) for t, (_n, a) in self.live.items()])

    async def on_offers(self, driver: SchedulerDriver, offers: list[Json]) -> None:
        for offer in offers:
            infos = self.plan(offer)
            if infos:
                await driver.accept([offer_id(offer)], [launch(infos)], self.refuse_seconds)
            else:
                await driver.decline([offer_id(offer)], self.refuse_seconds)
        if not self.pending and not self.suppressed:
            self.suppressed = True  # everything launched: stop offers until a retry needs one
            await driver.suppress()
        self.progress()

    async def on_update(self, driver: SchedulerDriver, status: Json) -> None:
        tid = status["task_id"]["value"]
        state = TaskState(status["state"])
        if tid not in self.live:
            return  # a late duplicate of a task we already settled
        n, agent = self.live[tid]
        if state == TaskState.RUNNING and tid not in self.is_running:
            self.is_running.add(tid)
            self.running[agent] += 1
        if not state.terminal:
            return
        del self.live[tid]
        if tid in self.is_running:
            self.is_running.discard(tid)
            self.running[agent] -= 1
        if state == TaskState.FINISHED:
            self.finished += 1
            self.finished_on[agent] += 1
        elif state in RETRYABLE and self.attempts[n] <= self.max_retries:
            self.out(f"task {tid} {state.value} ({status.get('message', '')}): retrying")
            self.pending.append(n)
            if self.suppressed:
                self.suppressed = False
                await driver.revive()
        else:
            self.failed += 1
            self.out(f"task {tid} {state.value}: giving up after {self.attempts[n]} attempts")
        self.progress()
        if self.done:
            driver.stop()

    async def on_error(self, driver: SchedulerDriver, message: str) -> None:
        self.out(f"error from master: {message}")

    async def on_disconnected(self, driver: SchedulerDriver) -> None:
        self.out("disconnected from master; re-subscribing")

    def progress(self) -> None:
        """One line: totals, then launched/running/finished per agent."""
        agents = sorted(set(self.launched) | set(self.finished_on))
        per_agent = " ".join(
            f"{a}={self.launched[a]}/{self.running[a]}/{self.finished_on[a]}" for a in agents
        )
        self.out(
            f"[{self.clock() - self.started_at:6.1f}s] finished {self.finished}/{self.total} "
            f"failed {self.failed} pending {len(self.pending)} "
            f"(launched/running/finished per agent: {per_agent})"
        )

    def summary(self) -> Json:
        """The final JSON summary."""
        return {
            "finished": self.finished,
            "failed": self.total - self.finished,
            "agents": dict(sorted(self.finished_on.items())),
            "seconds": round(self.clock() - self.started_at, 3),
        }


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--master", default="127.0.0.1:5050")
    p.add_argument("--tasks", type=int, default=10)
    p.add_argument("--cpus", type=float, default=0.1)
    p.add_argument("--mem", type=float, default=32)
    p.add_argument("--command", default="sleep 2")
    p.add_argument("--role", default="*")
    p.add_argument("--max-retries", type=int, default=3)
    p.add_argument("--timeout", type=float, default=0, help="give up after this many seconds")
    return p.parse_args(argv)


async def run(args: argparse.Namespace, out: Callable[[str], None] = print) -> Json:
    """Run the framework to completion (or SIGINT / --timeout); return the summary."""
    sched = SleepScheduler(
        args.tasks, args.cpus, args.mem, args.command, max_retries=args.max_retries, out=out
    )
    info = {
        "user": getpass.getuser(),
        "name": "sleep-framework",
        "roles": [args.role],
        "capabilities": [{"type": "MULTI_ROLE"}],
    }
    driver = SchedulerDriver(args.master, info, sched)
    loop = asyncio.get_running_loop()
    teardowns: list[asyncio.Task[None]] = []

    async def teardown() -> None:
        out("tearing down")
        try:
            await driver.teardown()
        except SdkError as e:
            out(f"teardown failed: {e}")
            driver.stop()

    def on_sigint() -> None:
        teardowns.append(asyncio.ensure_future(teardown()))

    loop.add_signal_handler(signal.SIGINT, on_sigint)
    try:
        if args.timeout > 0:
            try:
                await asyncio.wait_for(driver.run(), args.timeout)
            except TimeoutError:
                out(f"timed out after {args.timeout}s")
        else:
            await driver.run()
        await asyncio.gather(*teardowns, return_exceptions=True)
    finally:
        loop.remove_signal_handler(signal.SIGINT)
    return sched.summary()


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    summary = asyncio.run(run(args))
    print(json.dumps(summary))
    return 0 if summary["finished"] == args.tasks else 1


if __name__ == "__main__":
    sys.exit(main())
