"""Marathon's event bus and event shapes (`/v2/events`, server-sent events).

Every event is a JSON object with `eventType` and `timestamp` (UTC, ending in `Z`), shaped as
Marathon 1.x sends it, so that marathon-python's `EventFactory` and marathon-lb understand it.
Subscribers get a bounded queue each; a subscriber that falls too far behind is dropped (its
stream ends) rather than slowing Marathon down.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Iterable
from typing import Any, Final

log = logging.getLogger("dcos_core.marathon.events")

QUEUE_SIZE: Final = 10_000
EventQueue = asyncio.Queue[dict[str, Any] | None]

# The event types marathon-python knows (any other type breaks its stream).
KNOWN_TYPES: Final = frozenset(
    {
        "api_post_event",
        "status_update_event",
        "framework_message_event",
        "subscribe_event",
        "unsubscribe_event",
        "add_health_check_event",
        "remove_health_check_event",
        "failed_health_check_event",
        "health_status_changed_event",
        "unhealthy_task_kill_event",
        "group_change_success",
        "group_change_failed",
        "deployment_success",
        "deployment_failed",
        "deployment_info",
        "deployment_step_success",
        "deployment_step_failure",
        "event_stream_attached",
        "event_stream_detached",
        "app_terminated_event",
        "instance_changed_event",
        "unknown_instance_terminated_event",
        "unhealthy_instance_kill_event",
        "instance_health_changed_event",
        "pod_created_event",
        "pod_updated_event",
        "pod_deleted_event",
    }
)


def iso_now(now: float | None = None) -> str:
    """`now` (default: the time) as Marathon writes times: ISO 8601 UTC to the millisecond."""
    return iso_ms(int((time.time() if now is None else now) * 1000))


def iso_ms(ms: int) -> str:
    """Epoch milliseconds as Marathon writes times.

    Example:
        >>> iso_ms(1_000_001)
        '1970-01-01T00:16:40.001Z'
    """
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms // 1000)) + f".{ms % 1000:03d}Z"


class EventBus:
    """Fan-out of Marathon events to SSE subscribers (and in-process listeners)."""

    def __init__(self) -> None:
        self._subscribers: dict[
            int, tuple[asyncio.Queue[dict[str, Any] | None], frozenset[str]]
        ] = {}
        self._next = 0
        self.published = 0

    def subscribe(
        self, types: Iterable[str] = ()
    ) -> tuple[int, asyncio.Queue[dict[str, Any] | None]]:
        """A new subscription; `types` empty = every event. Returns (id, queue)."""
        self._next += 1
        q: EventQueue = asyncio.Queue(QUEUE_SIZE)
        self._subscribers[self._next] = (q, frozenset(types))
        return self._next, q

    def unsubscribe(self, sub_id: int) -> None:
        self._subscribers.pop(sub_id, None)

    @property
    def subscribers(self) -> int:
        return len(self._subscribers)

    def publish(self, event_type: str, **fields: Any) -> dict[str, Any]:
        """Build and send an event; returns it."""
        assert event_type in KNOWN_TYPES, event_type
        event = {"eventType": event_type, "timestamp": iso_now(), **fields}
        self.published += 1
        for sub_id, (q, types) in list(self._subscribers.items()):
            if types and event_type not in types:
                continue
            try:
                q.put_nowait(event)
            except asyncio.QueueFull:
                log.warning("event subscriber %d is too slow; dropping it", sub_id)
                self._subscribers.pop(sub_id, None)
                with contextlib.suppress(asyncio.QueueFull):
                    q.get_nowait()
                    q.put_nowait(None)
        return event

    def close(self) -> None:
        for q, _types in self._subscribers.values():
            with contextlib.suppress(asyncio.QueueFull):
                q.put_nowait(None)
        self._subscribers.clear()
