"""Reliable, ordered delivery of task status updates (Mesos `TaskStatusUpdateManager`).

Each task has a *stream*: its updates in the order the executor produced them. Only the front
update of a stream is in flight. It is resent at `retry_min` seconds, then doubling up to
`retry_max`, until the framework's acknowledgement (forwarded by the master) names its uuid; then
the next update is sent at once. A stream ends when its terminal update is acknowledged.

Time comes from the injected `Clock` and sending from an injected async callable, so the logic is
tested without HTTP or sleeping: call `update()`/`ack()`, advance a `FakeClock`, `send_due()`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from dcos_core.clock import Clock
from dcos_core.model.task import TaskState
from dcos_core.protocol.v1 import unwrap

log = logging.getLogger("dcos_core.agent.status_updates")

SendStatus = Callable[[str, dict[str, Any]], Awaitable[None]]
"""`await send(framework_id, status)`; raising means "not delivered" (it will be retried)."""

StreamKey = tuple[str, str]  # (framework_id, task_id)


@dataclass
class _Stream:
    framework_id: str
    task_id: str
    pending: deque[dict[str, Any]] = field(default_factory=deque)
    interval: float = 0.0  # backoff used for the next retry of the front update
    deadline: float | None = None  # when the front update is (re)sent; None = not yet sent
    terminal_queued: bool = False


class StatusUpdateManager:
    """Per-task streams of status updates, each delivered at least once and in order.

    Example:
        >>> # mgr = StatusUpdateManager(send, FakeClock()); mgr.update("fw", status)
        >>> # await mgr.send_due(); mgr.ack("fw", "task", status["uuid"])
    """

    def __init__(
        self, send: SendStatus, clock: Clock, retry_min: float = 10.0, retry_max: float = 600.0
    ) -> None:
        if retry_min <= 0 or retry_max < retry_min:
            raise ValueError("need 0 < retry_min <= retry_max")
        self._send = send
        self._clock = clock
        self._retry_min = retry_min
        self._retry_max = retry_max
        self._streams: dict[StreamKey, _Stream] = {}
        self._wakeup = asyncio.Event()

    # ---- input -----------------------------------------------------------------------------

    def update(self, framework_id: str, status: dict[str, Any]) -> bool:
        """Queue `status` (a v1 TaskStatus with `task_id` and `uuid`) on its task's stream.

        Returns False (and drops it) if the stream already holds a terminal update: nothing
        may follow a terminal state. The update is sent by the next `send_due()`.
        """
        task_id = unwrap(status.get("task_id"), "status.task_id")
        if not status.get("uuid"):
            raise ValueError("a reliable status update needs a uuid")
        key = (framework_id, task_id)
        stream = self._streams.get(key)
        if stream is None:
            stream = self._streams[key] = _Stream(framework_id, task_id)
        if stream.terminal_queued:
            log.warning(
                "dropping %s for task %s: after a terminal update", status["state"], task_id
            )
            return False
        stream.pending.append(status)
        stream.terminal_queued = TaskState(status["state"]).terminal
        if len(stream.pending) == 1:
            self._make_due(stream)
        return True

    def ack(self, framework_id: str, task_id: str, uuid: str) -> bool:
        """Acknowledge the front update of a stream; the next one becomes due at once.

        Returns True if the ack matched. An ack whose uuid is not the front's (a duplicate, or
        out of order) is ignored and returns False, as in Mesos. The next update is sent by the
        `run` loop (woken now) or the next `send_due()`, never inside this call, so that an HTTP
        handler delivering the ack does not wait on a POST to the master.
        """
        stream = self._streams.get((framework_id, task_id))
        if stream is None or not stream.pending or stream.pending[0].get("uuid") != uuid:
            log.info(
                "ignoring acknowledgement %s for task %s: not the pending update", uuid, task_id
            )
            return False
        acked = stream.pending.popleft()
        if stream.pending:
            self._make_due(stream)
        elif TaskState(acked["state"]).terminal:
            del self._streams[(framework_id, task_id)]
        else:
            stream.deadline = None
        return True

    def stream_ended(self, framework_id: str, task_id: str) -> bool:
        """True if the task has no stream (never had one, or its terminal update was acked)."""
        return (framework_id, task_id) not in self._streams

    def resend_all(self) -> None:
        """Make every stream's front update due now (after (re-)registering with a master)."""
        for stream in self._streams.values():
            if stream.pending:
                self._make_due(stream)

    # ---- output ----------------------------------------------------------------------------

    async def send_due(self) -> int:
        """Send every front update whose time has come; returns how many were sent."""
        now = self._clock.monotonic()
        due = [
            s
            for s in self._streams.values()
            if s.pending and s.deadline is not None and s.deadline <= now
        ]
        await asyncio.gather(*(self._send_front(s) for s in due))
        return len(due)

    async def _send_front(self, stream: _Stream) -> None:
        status = stream.pending[0]
        # Schedule the retry before sending: an ack may arrive while the POST is in flight.
        stream.deadline = self._clock.monotonic() + stream.interval
        stream.interval = min(stream.interval * 2, self._retry_max)
        try:
            await self._send(stream.framework_id, status)
        except Exception as e:  # any failure means "not delivered": the retry timer covers it
            log.info(
                "status update %s of task %s not delivered (%s); retry in %.0f s",
                status["state"],
                stream.task_id,
                e,
                (stream.deadline or 0) - self._clock.monotonic(),
            )

    def _make_due(self, stream: _Stream) -> None:
        stream.interval = self._retry_min
        stream.deadline = self._clock.monotonic()
        self._wakeup.set()

    def next_deadline(self) -> float | None:
        """The earliest monotonic time at which a front update is due, if any."""
        times = [s.deadline for s in self._streams.values() if s.pending and s.deadline is not None]
        return min(times, default=None)

    async def run(self, max_sleep: float = 1.0) -> None:
        """Send due updates forever (until cancelled), sleeping until the next deadline."""
        while True:
            self._wakeup.clear()
            await self.send_due()
            deadline = self.next_deadline()
            delay = max_sleep if deadline is None else deadline - self._clock.monotonic()
            if delay > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wakeup.wait(), min(delay, max_sleep))

    # ---- queries ---------------------------------------------------------------------------

    def pending(self) -> dict[StreamKey, list[dict[str, Any]]]:
        """Unacknowledged updates per (framework_id, task_id), front first."""
        return {k: list(s.pending) for k, s in self._streams.items() if s.pending}

    def front_uuid(self, framework_id: str, task_id: str) -> str | None:
        s = self._streams.get((framework_id, task_id))
        return str(s.pending[0]["uuid"]) if s and s.pending else None
