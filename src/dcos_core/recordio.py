"""RecordIO framing used by Mesos streaming endpoints: `<length>\\n<bytes>` repeated.

Example:
    >>> encode(b'{"type":"HEARTBEAT"}')
    b'20\\n{"type":"HEARTBEAT"}'
    >>> d = Decoder(); d.feed(b'20\\n{"type":"HEART') + d.feed(b'BEAT"}')
    [b'{"type":"HEARTBEAT"}']
"""

from __future__ import annotations

from dcos_core.errors import InvalidError

_MAX_RECORD = 1 << 30


def encode(record: bytes) -> bytes:
    """Frame one record."""
    return str(len(record)).encode() + b"\n" + record


class Decoder:
    """Incremental decoder: feed it chunks as they arrive, get whole records back."""

    def __init__(self) -> None:
        self._buf = bytearray()
        self._need: int | None = None

    def feed(self, chunk: bytes) -> list[bytes]:
        self._buf += chunk
        out: list[bytes] = []
        while True:
            if self._need is None:
                nl = self._buf.find(b"\n")
                if nl < 0:
                    if len(self._buf) > 20:
                        raise InvalidError("record length is not a number", "recordio")
                    return out
                head = bytes(self._buf[:nl]).strip()
                if not head.isdigit():
                    raise InvalidError(f"record length {head!r} is not a number", "recordio")
                n = int(head)
                if n > _MAX_RECORD:
                    raise InvalidError(f"record of {n} bytes is too large", "recordio")
                self._need = n
                del self._buf[: nl + 1]
            if len(self._buf) < self._need:
                return out
            out.append(bytes(self._buf[: self._need]))
            del self._buf[: self._need]
            self._need = None
