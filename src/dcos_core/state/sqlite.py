"""SQLiteStore: the durable `StateStore`, one SQLite file in WAL mode with one table.

Durability: `journal_mode=WAL` with `synchronous=FULL`. With WAL, `NORMAL` keeps the database
consistent but a power loss can roll back the last commits; the registry records facts the
master has already acted on (an agent admitted, a framework id handed out), so forgetting them
after a crash would be wrong. FULL costs one fsync of the WAL per commit, well under a
millisecond to a few milliseconds on SSDs, and registry writes are rare (registrations, quota,
weights), so we pay it.

Several processes may open the same file: writes take SQLite's write lock up front
(`BEGIN IMMEDIATE`), so a conditional put checks and writes without anyone in between, and
readers never block writers (WAL).

Opening checks the file before writing anything to it: a zero-length file (SQLite would take it
for a new database, and the cluster would silently start empty), a file that is not a database,
somebody else's database, and rows of the wrong shape are refused with one line naming the file,
the table or key and what is wrong, and how to recover. A missing file is a new store.

Example:
    >>> import tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "registry.db")
    >>> s = SQLiteStore(path)
    >>> s.put("frameworks/f1", {"name": "marathon"}, expected_version=0)
    1
    >>> s.close(); SQLiteStore(path).get("frameworks/f1").version
    1
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Sequence
from pathlib import Path

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

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS entries ("
    " key TEXT PRIMARY KEY NOT NULL,"
    " value TEXT NOT NULL,"
    " version INTEGER NOT NULL"
    ") WITHOUT ROWID"
)
_COLUMNS = ["key", "value", "version"]
BUSY_TIMEOUT_SECONDS = 10.0


class SQLiteStore:
    """A `StateStore` in the SQLite file at `path` (created with its parent directories).

    Args:
        path: the database file.
        busy_timeout: seconds to wait for another process's write lock before StoreError.
        name: what the file is, for messages ("registry", "Marathon state", ...).
        fresh: what deleting the file starts, for messages ("a new cluster", ...).

    Raises:
        StoreError: naming the path, if the file cannot be opened, is empty (0 bytes), is not a
            database, is corrupt, has tables of another shape, or has a row of the wrong shape
            (a key that is not a valid key, a value that is not JSON text, a version that is not
            an integer >= 1).
    """

    def __init__(
        self,
        path: str | Path,
        busy_timeout: float = BUSY_TIMEOUT_SECONDS,
        *,
        name: str = "state store",
        fresh: str = "from an empty state",
    ) -> None:
        self.path = Path(path)
        self.name = name
        self._hint = f"restore it from a backup, or delete it to start {fresh}"
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise StoreError(f"cannot create directory for {name} {self.path}: {e}") from None
        existed = self._check_not_empty()
        conn: sqlite3.Connection | None = None
        try:
            conn = sqlite3.connect(
                self.path, timeout=busy_timeout, isolation_level=None, check_same_thread=False
            )
            # Everything is checked before anything is written: a file we refuse stays as it was.
            check = conn.execute("PRAGMA quick_check").fetchall()
            if check != [("ok",)]:
                raise StoreError(f"{name} {self.path} is corrupt: {check[:3]}; {self._hint}")
            if existed:
                self._check_shape(conn)
            mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()
            if not mode or str(mode[0]).lower() != "wal":
                raise StoreError(f"{name} {self.path}: cannot switch to WAL mode ({mode})")
            conn.execute("PRAGMA synchronous=FULL")
            conn.execute(_SCHEMA)
        except (sqlite3.Error, StoreError) as e:
            if conn is not None:
                conn.close()
            if isinstance(e, StoreError):
                raise
            raise StoreError(f"cannot open {name} {self.path}: {e}; {self._hint}") from None
        self._conn = conn

    def _check_not_empty(self) -> bool:
        """True if the file exists. A zero-length file is refused: SQLite would take it for a new,
        empty database, and the cluster would silently start with nothing."""
        try:
            size = self.path.stat().st_size
        except FileNotFoundError:
            return False
        except OSError as e:
            raise StoreError(f"cannot read {self.name} {self.path}: {e}") from None
        if size == 0 and self.path.is_file():
            raise StoreError(f"{self.name} {self.path} is empty (0 bytes): {self._hint}")
        return True

    def _check_shape(self, conn: sqlite3.Connection) -> None:
        """Refuse a database whose tables or rows are not those of a `SQLiteStore`."""
        where = f"{self.name} {self.path}"
        tables = [
            str(r[0])
            for r in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table'"
                " AND name NOT LIKE 'sqlite_%' ORDER BY name"
            )
        ]
        if "entries" not in tables:
            if tables:  # somebody else's database: never add our table to it
                raise StoreError(
                    f"{where} is not a dcos-core store: it has table(s) {', '.join(tables)} "
                    f"but no table 'entries'; {self._hint}"
                )
            return  # created, then stopped before its table was: nothing stored yet
        cols = [str(row[1]) for row in conn.execute("PRAGMA table_info(entries)")]
        if cols != _COLUMNS:
            raise StoreError(
                f"{where}: table 'entries' has columns {', '.join(cols)} "
                f"(expected {', '.join(_COLUMNS)}); {self._hint}"
            )
        bad = conn.execute(
            "SELECT key, typeof(key), typeof(value), typeof(version), version FROM entries"
            " WHERE typeof(key) != 'text' OR typeof(value) != 'text'"
            " OR typeof(version) != 'integer' OR version < 1 OR NOT json_valid(value) LIMIT 1"
        ).fetchone()
        if bad is not None:
            key, key_type, value_type, version_type, version = bad
            if key_type != "text":
                problem = f"has a key of type {key_type} ({key!r}), expected text"
            elif value_type != "text":
                problem = f"has a value of type {value_type}, expected JSON text"
            elif version_type != "integer" or version < 1:
                problem = f"has version {version!r}, expected an integer >= 1"
            else:
                problem = "has a value that is not valid JSON"
            raise StoreError(f"{where}: row '{key}' of table 'entries' {problem}; {self._hint}")
        for (key,) in conn.execute("SELECT key FROM entries"):
            try:
                check_key(key)
            except InvalidError as e:
                raise StoreError(
                    f"{where}: table 'entries' has an invalid key ({e}); {self._hint}"
                ) from None

    def _db(self) -> sqlite3.Connection:
        if self._conn is None:
            raise StoreError(f"state store {self.path} is closed")
        return self._conn

    def get(self, key: str) -> Entry | None:
        check_key(key)
        with self._lock:
            try:
                row = (
                    self._db()
                    .execute("SELECT value, version FROM entries WHERE key = ?", (key,))
                    .fetchone()
                )
            except sqlite3.Error as e:
                raise StoreError(f"state store {self.path}: reading '{key}' failed: {e}") from None
        return None if row is None else self._entry(key, row[0], row[1])

    def put(self, key: str, value: JsonValue, expected_version: int | None = None) -> int:
        return self._write([Put(key, value, expected_version)])[key]

    def delete(self, key: str, expected_version: int | None = None) -> bool:
        # -1 marks "was there and is now deleted", decided under the write lock.
        return self._write([Delete(key, expected_version)])[key] == -1

    def list(self, prefix: str) -> dict[str, Entry]:
        low, high = list_bounds(prefix)
        with self._lock:
            try:
                rows = (
                    self._db()
                    .execute(
                        "SELECT key, value, version FROM entries"
                        " WHERE key >= ? AND key < ? ORDER BY key",
                        (low, high),
                    )
                    .fetchall()
                )
            except sqlite3.Error as e:
                raise StoreError(
                    f"state store {self.path}: listing '{prefix}' failed: {e}"
                ) from None
        return {str(k): self._entry(str(k), v, ver) for k, v, ver in rows}

    def transaction(self, ops: Sequence[Op]) -> None:
        self._write(ops)

    def _entry(self, key: str, text: object, version: object) -> Entry:
        try:
            if not isinstance(text, str) or isinstance(version, bool):
                raise TypeError(f"value of type {type(text).__name__}")
            return Entry(decode_value(text), int(version))  # type: ignore[call-overload]
        except (TypeError, ValueError) as e:
            raise StoreError(
                f"{self.name} {self.path}: row '{key}' of table 'entries' is unreadable ({e}); "
                f"{self._hint}"
            ) from None

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                try:
                    self._conn.close()
                finally:
                    self._conn = None

    def _write(self, ops: Sequence[Op]) -> dict[str, int]:
        """Apply ops in one IMMEDIATE transaction; final version per key (0 absent, -1 deleted)."""
        # Validate and encode everything before touching the database.
        prepared: list[tuple[str, int | None, str | None]] = []
        for op in ops:
            key = check_key(op.key)
            expected = check_expected(op.expected_version, key)
            if isinstance(op, Put):
                prepared.append((key, expected, encode_value(key, op.value)))
            elif isinstance(op, Delete):
                prepared.append((key, expected, None))
            else:
                raise InvalidError(f"unknown transaction op {op!r}", "ops")
        if not prepared:
            return {}
        with self._lock:
            db = self._db()
            key = prepared[0][0]
            result: dict[str, int] = {}
            try:
                db.execute("BEGIN IMMEDIATE")
                try:
                    for key, expected, text in prepared:
                        row = db.execute(
                            "SELECT version FROM entries WHERE key = ?", (key,)
                        ).fetchone()
                        version = 0 if row is None else int(row[0])
                        if expected is not None and expected != version:
                            raise StoreConflict(key, expected, version)
                        if text is None:
                            db.execute("DELETE FROM entries WHERE key = ?", (key,))
                            result[key] = -1 if version else 0
                        else:
                            db.execute(
                                "INSERT INTO entries (key, value, version) VALUES (?, ?, ?)"
                                " ON CONFLICT(key) DO UPDATE"
                                " SET value = excluded.value, version = excluded.version",
                                (key, text, version + 1),
                            )
                            result[key] = version + 1
                    db.execute("COMMIT")
                except BaseException:
                    if db.in_transaction:
                        db.execute("ROLLBACK")
                    raise
            except sqlite3.Error as e:
                raise StoreError(f"state store {self.path}: writing '{key}' failed: {e}") from None
        return result
