"""The master's registry: a versioned JSON key-value store (`StateStore`) and its backends.

Example:
    >>> store = open_store("memory")
    >>> store.put("weights", {"eng": 2.0})
    1
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from dcos_core.errors import InvalidError
from dcos_core.state.memory import InMemoryStore
from dcos_core.state.sqlite import SQLiteStore
from dcos_core.state.store import (
    Delete,
    Entry,
    JsonValue,
    Op,
    Put,
    StateStore,
    StoreConflict,
)

__all__ = [
    "Delete",
    "Entry",
    "InMemoryStore",
    "JsonValue",
    "Op",
    "Put",
    "SQLiteStore",
    "StateStore",
    "StoreConflict",
    "open_store",
]


def open_store(
    kind: Literal["sqlite", "memory"] | str,
    path: str | Path | None = None,
    *,
    name: str = "state store",
    fresh: str = "from an empty state",
) -> StateStore:
    """Open the store named by `--store`.

    Args:
        kind: "sqlite" (durable, needs `path`) or "memory".
        path: the SQLite file, e.g. `<work_dir>/registry.db`; ignored for "memory".
        name: what the store is, for error messages (e.g. "registry").
        fresh: what deleting the file starts, for error messages (e.g. "a new cluster").

    Raises:
        InvalidError: unknown kind, or sqlite without a path.
        StoreError: the SQLite file cannot be opened, is empty (0 bytes) or has the wrong shape
            (one line: what is wrong and how to recover).

    Example:
        >>> open_store("sqlite", None)
        Traceback (most recent call last):
        ...
        dcos_core.errors.InvalidError: store: the sqlite store needs a path
    """
    if kind == "memory":
        return InMemoryStore()
    if kind == "sqlite":
        if path is None or str(path) == "":
            raise InvalidError("the sqlite store needs a path", "store")
        return SQLiteStore(path, name=name, fresh=fresh)
    raise InvalidError(f"unknown store kind '{kind}' (expected sqlite or memory)", "store")
