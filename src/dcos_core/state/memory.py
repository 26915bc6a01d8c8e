"""InMemoryStore: the `StateStore` for tests and `--store memory` (state dies with the process)."""

from __future__ import annotations

import threading
from collections.abc import Sequence

from dcos_core.errors import InvalidError, StoreError
from dcos_core.state.store import (
    Delete,
    Entry,
    JsonValue,
    Op,
    Put,
    StoreConflict,
    check_expected,
    check_key,
    decode_value,
    encode_value,
    list_bounds,
)


class InMemoryStore:
    """A dict of key -> (JSON text, version) behind a lock.

    Values are kept as JSON text so that callers can neither mutate stored state through a
    reference nor store something that the SQLite store would reject.

    Example:
        >>> s = InMemoryStore()
        >>> s.put("weights", {"eng": 2.0})
        1
        >>> s.list("")
        {'weights': Entry(value={'eng': 2.0}, version=1)}
    """

    def __init__(self) -> None:
        self._data: dict[str, tuple[str, int]] = {}
        self._lock = threading.Lock()
        self._closed = False

    def _check_open(self) -> None:
        if self._closed:
            raise StoreError("in-memory state store is closed")

    def get(self, key: str) -> Entry | None:
        check_key(key)
        with self._lock:
            self._check_open()
            item = self._data.get(key)
        return None if item is None else Entry(decode_value(item[0]), item[1])

    def put(self, key: str, value: JsonValue, expected_version: int | None = None) -> int:
        with self._lock:
            self._check_open()
            return self._apply_locked([Put(key, value, expected_version)])[key]

    def delete(self, key: str, expected_version: int | None = None) -> bool:
        check_key(key)
        with self._lock:
            self._check_open()
            existed = key in self._data
            self._apply_locked([Delete(key, expected_version)])
            return existed

    def list(self, prefix: str) -> dict[str, Entry]:
        low, high = list_bounds(prefix)
        with self._lock:
            self._check_open()
            items = sorted((k, v) for k, v in self._data.items() if low <= k < high)
        return {k: Entry(decode_value(text), version) for k, (text, version) in items}

    def transaction(self, ops: Sequence[Op]) -> None:
        with self._lock:
            self._check_open()
            self._apply_locked(ops)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self._data.clear()

    def _apply_locked(self, ops: Sequence[Op]) -> dict[str, int]:
        """Apply ops atomically; return the final version of each touched key (0 = deleted)."""
        # Work on a copy of the touched keys; swap in only when every op passed.
        staged: dict[str, tuple[str, int] | None] = {}
        for op in ops:
            key = check_key(op.key)
            expected = check_expected(op.expected_version, key)
            cur = staged[key] if key in staged else self._data.get(key)
            version = 0 if cur is None else cur[1]
            if expected is not None and expected != version:
                raise StoreConflict(key, expected, version)
            if isinstance(op, Put):
                staged[key] = (encode_value(key, op.value), version + 1)
            elif isinstance(op, Delete):
                staged[key] = None
            else:
                raise InvalidError(f"unknown transaction op {op!r}", "ops")
        for key, item in staged.items():
            if item is None:
                self._data.pop(key, None)
            else:
                self._data[key] = item
        return {key: 0 if item is None else item[1] for key, item in staged.items()}
