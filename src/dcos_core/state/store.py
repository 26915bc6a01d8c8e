"""The master's registry: a versioned key-value store of JSON documents.

Keys are hierarchical strings (`agents/<id>`, `frameworks/<id>`, `weights`, `quota/<role>`); each
value is a JSON document with a version number that starts at 1 when the key is created and goes up
by one on every write. Writers pass the version they read (`expected_version`) to make
compare-and-set updates, exactly like ZooKeeper's `setData(path, data, version)`; `0` means "the key
must not exist yet" (ZooKeeper's `create`).

The API is synchronous. Every operation is short (one SQLite statement or one dict lookup), so code
running in asyncio may call it directly; code that writes in bulk, or a future remote store
(ZooKeeper), may be called through `asyncio.to_thread` instead. Every implementation is thread-safe.

Example:
    >>> from dcos_core.state.memory import InMemoryStore
    >>> s = InMemoryStore()
    >>> s.put("agents/a1", {"hostname": "h1"}, expected_version=0)
    1
    >>> s.put("agents/a1", {"hostname": "h2"}, expected_version=1)
    2
    >>> s.get("agents/a1")
    Entry(value={'hostname': 'h2'}, version=2)
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeAlias

from dcos_core.errors import ConflictError, InvalidError

JsonValue: TypeAlias = Any
"""A JSON document: dict, list, str, int, float (finite), bool or None, nested."""

MAX_KEY_LENGTH = 1024


class StoreConflict(ConflictError):
    """A conditional write found another version than expected; nothing was written."""

    def __init__(self, key: str, expected: int, actual: int) -> None:
        self.key = key
        self.expected = expected
        self.actual = actual
        have = "does not exist" if actual == 0 else f"is at version {actual}"
        want = "to be absent" if expected == 0 else f"version {expected}"
        super().__init__(f"state key '{key}' {have}, expected {want}")


@dataclass(frozen=True, slots=True)
class Entry:
    """One stored document and its version (>= 1)."""

    value: JsonValue
    version: int


@dataclass(frozen=True, slots=True)
class Put:
    """Transaction op: write `value` at `key` (conditionally if `expected_version` is set)."""

    key: str
    value: JsonValue
    expected_version: int | None = None


@dataclass(frozen=True, slots=True)
class Delete:
    """Transaction op: remove `key` (conditionally if `expected_version` is set)."""

    key: str
    expected_version: int | None = None


Op: TypeAlias = Put | Delete


class StateStore(Protocol):
    """A versioned, hierarchical key-value store of JSON documents.

    Implementations: `InMemoryStore` (tests, `--store memory`), `SQLiteStore` (durable). All must
    pass `tests/contract/test_state_store.py`. Every write is all-or-nothing: when a method raises,
    stored state is unchanged.
    """

    def get(self, key: str) -> Entry | None:
        """The document at `key` and its version, or None if absent.

        Args:
            key: a key such as `agents/a1`.

        Example:
            >>> from dcos_core.state.memory import InMemoryStore
            >>> store = InMemoryStore()
            >>> store.put("weights", {"eng": 2.0})
            1
            >>> store.get("weights")
            Entry(value={'eng': 2.0}, version=1)
        """
        ...

    def put(self, key: str, value: JsonValue, expected_version: int | None = None) -> int:
        """Write `value` at `key` and return its new version.

        Args:
            key: the key.
            value: a JSON-serialisable document (InvalidError otherwise, nothing written).
            expected_version: None writes unconditionally; 0 requires the key to be absent; n > 0
                requires the current version to be n. A mismatch raises StoreConflict.

        Not idempotent when unconditional (the version goes up each time); a conditional put
        retried after success raises StoreConflict, which the caller may treat as done.

        Example:
            >>> from dcos_core.state.memory import InMemoryStore
            >>> store = InMemoryStore()
            >>> store.put("quota/eng", {"cpus": 4}, expected_version=0)
            1
        """
        ...

    def delete(self, key: str, expected_version: int | None = None) -> bool:
        """Remove `key`; True if it existed.

        Args:
            key: the key.
            expected_version: as for `put` (0 = must be absent, which makes the call a no-op
                that returns False).

        Idempotent when unconditional.
        """
        ...

    def list(self, prefix: str) -> dict[str, Entry]:
        """Every key strictly below the path `prefix`, with its entry, sorted by key.

        Args:
            prefix: a key path. `agents` and `agents/` both select `agents/<anything>` (never
                `agentsX` or `agents` itself); `""` selects every key.

        Example:
            >>> from dcos_core.state.memory import InMemoryStore
            >>> store = InMemoryStore()
            >>> for key in ("agents/a1", "agents/a2", "agentsX"):
            ...     _ = store.put(key, {})
            >>> sorted(store.list("agents/"))
            ['agents/a1', 'agents/a2']
        """
        ...

    def transaction(self, ops: Sequence[Op]) -> None:
        """Apply `Put`/`Delete` ops in order, all or nothing.

        Each op's expected version is checked against the state left by the ops before it (as in a
        ZooKeeper `multi`). The first failing op raises (StoreConflict, InvalidError or
        StoreError) and nothing of the transaction is written.
        """
        ...

    def close(self) -> None:
        """Release the backend; later calls raise StoreError. Idempotent."""
        ...


# ------------------------------------------------------------------------------------------------
# helpers shared by implementations (pure)


def check_key(key: object) -> str:
    """Validate a key: a non-empty string of `/`-separated non-empty segments.

    Example:
        >>> check_key("agents/a1")
        'agents/a1'
    """
    if not isinstance(key, str) or not key:
        raise InvalidError("must be a non-empty string", "key")
    if len(key) > MAX_KEY_LENGTH:
        raise InvalidError(f"'{key[:40]}...' is longer than {MAX_KEY_LENGTH} characters", "key")
    if any(seg in ("", ".", "..") for seg in key.split("/")):
        raise InvalidError(f"'{key}' has an empty, '.' or '..' segment", "key")
    if any(ord(c) < 0x20 or c == "\x7f" for c in key):
        raise InvalidError(f"{key!r} contains a control character", "key")
    return key


def check_expected(expected_version: object, key: str) -> int | None:
    """Validate an expected version: None or an int >= 0."""
    if expected_version is None:
        return None
    if (
        isinstance(expected_version, bool)
        or not isinstance(expected_version, int)
        or expected_version < 0
    ):
        raise InvalidError(f"must be None or an integer >= 0 (key '{key}')", "expected_version")
    return expected_version


def encode_value(key: str, value: JsonValue) -> str:
    """Serialise `value` to canonical JSON text, or raise InvalidError naming the key.

    Rejects NaN/Infinity (not JSON), non-string dict keys, and objects json cannot encode.

    Example:
        >>> encode_value("weights", {"b": 1, "a": 2})
        '{"a":2,"b":1}'
    """
    try:
        _check_json(value, key)
        return json.dumps(value, sort_keys=True, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError, RecursionError) as e:
        if isinstance(e, InvalidError):
            raise
        raise InvalidError(f"value of '{key}' is not JSON-serialisable: {e}", "value") from None


def _check_json(value: object, key: str, depth: int = 0) -> None:
    # json.dumps silently converts tuples to lists and int-like dict keys to strings; a store must
    # give back exactly what was put, so only genuine JSON types pass.
    if depth > 100:
        raise InvalidError(f"value of '{key}' is nested too deeply", "value")
    if value is None or isinstance(value, (str, bool, int)):
        return
    if isinstance(value, float):
        if not math.isfinite(value):
            raise InvalidError(f"value of '{key}' contains {value}, which is not JSON", "value")
        return
    if isinstance(value, list):
        for v in value:
            _check_json(v, key, depth + 1)
        return
    if isinstance(value, dict):
        for k, v in value.items():
            if not isinstance(k, str):
                raise InvalidError(f"value of '{key}' has a non-string object key {k!r}", "value")
            _check_json(v, key, depth + 1)
        return
    raise InvalidError(
        f"value of '{key}' contains a {type(value).__name__}, which is not JSON", "value"
    )


def decode_value(text: str) -> JsonValue:
    """Inverse of `encode_value`."""
    return json.loads(text)


def list_bounds(prefix: str) -> tuple[str, str]:
    """The half-open key interval [low, high) holding every key below `prefix`.

    Example:
        >>> list_bounds("agents")
        ('agents/', 'agents0')
        >>> list_bounds("")
        ('', '\\U0010ffff')
    """
    if prefix == "":
        return "", "\U0010ffff"
    base = prefix.rstrip("/")
    check_key(base)
    # '0' is the character right after '/', so [base/, base0) is exactly "starts with base/".
    return base + "/", base + "0"
