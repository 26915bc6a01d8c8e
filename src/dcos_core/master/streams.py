"""Event streams of the master: one per subscribed framework or operator, RecordIO framed.

A stream is a bounded queue of JSON events; the HTTP layer drains it into a chunked response and
sends a HEARTBEAT whenever the queue stays empty for `heartbeat_interval` seconds. Closing a
stream (a new SUBSCRIBE of the same framework, TEARDOWN, master shutdown) ends the response.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any, Final, cast

from dcos_core.recordio import encode

MAX_QUEUED_EVENTS: Final = 100_000
_CLOSE: Final = object()


class EventStream:
    """A subscriber's queue of events."""

    def __init__(self, stream_id: str, heartbeat_interval: float) -> None:
        self.stream_id = stream_id
        self.heartbeat_interval = heartbeat_interval
        self._queue: asyncio.Queue[object] = asyncio.Queue(MAX_QUEUED_EVENTS)
        self.closed = False
        self.overflowed = False

    def send(self, event: dict[str, Any]) -> None:
        """Queue an event; a subscriber too slow to keep up is disconnected, not buffered."""
        if self.closed:
            return
        try:
            self._queue.put_nowait(event)
        except asyncio.QueueFull:
            self.overflowed = True
            self.close()

    def drain(self) -> list[dict[str, Any]]:
        """Take the events queued now, oldest first, without waiting (no HEARTBEATs are made).

        A closed stream keeps its end marker: `records()` still ends after a drain.
        """
        out: list[dict[str, Any]] = []
        while not self._queue.empty():
            item = self._queue.get_nowait()
            if item is _CLOSE:
                self._queue.put_nowait(item)
                break
            out.append(cast(dict[str, Any], item))
        return out

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            try:
                self._queue.put_nowait(_CLOSE)
            except asyncio.QueueFull:
                self._queue.get_nowait()
                self._queue.put_nowait(_CLOSE)

    async def records(self) -> AsyncIterator[bytes]:
        """RecordIO records until the stream is closed; HEARTBEATs fill the silences."""
        heartbeat = encode(b'{"type":"HEARTBEAT"}')
        while True:
            try:
                item = await asyncio.wait_for(self._queue.get(), self.heartbeat_interval)
            except TimeoutError:
                yield heartbeat
                continue
            if item is _CLOSE:
                return
            batch = [encode(json.dumps(item, separators=(",", ":")).encode())]
            # Drain what is already queued into one chunk: fewer writes under load.
            while not self._queue.empty() and len(batch) < 256:
                nxt = self._queue.get_nowait()
                if nxt is _CLOSE:
                    yield b"".join(batch)
                    return
                batch.append(encode(json.dumps(nxt, separators=(",", ":")).encode()))
            yield b"".join(batch)
