"""One contract suite for every `StateStore` (memory, sqlite, later ZooKeeper); all must pass.

To add a backend, add a factory to `STORES`; backend-specific tests (persistence across processes)
are at the bottom and marked with the backend they need.
"""

from __future__ import annotations

import json
import math
import multiprocessing
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from dcos_core.errors import ConflictError, InvalidError, StoreError
from dcos_core.state import (
    Delete,
    Entry,
    InMemoryStore,
    Put,
    SQLiteStore,
    StateStore,
    StoreConflict,
    open_store,
)

StoreFactory = Callable[[Path], StateStore]

STORES: dict[str, StoreFactory] = {
    "memory": lambda _tmp: InMemoryStore(),
    "sqlite": lambda tmp: SQLiteStore(tmp / "registry.db"),
}


@pytest.fixture(params=sorted(STORES))
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StateStore]:
    s = STORES[request.param](tmp_path)
    yield s
    s.close()


def snapshot(store: StateStore) -> dict[str, tuple[object, int]]:
    return {k: (e.value, e.version) for k, e in store.list("").items()}


# ---- put / get / versions -----------------------------------------------------------------------


def test_get_missing_key_is_none(store: StateStore) -> None:
    """An absent key reads as None, not an error."""
    assert store.get("agents/nope") is None


def test_put_then_get_returns_value_and_version_1(store: StateStore) -> None:
    """The first write creates version 1 and the value round-trips exactly."""
    value = {
        "hostname": "h1",
        "resources": [{"name": "cpus", "scalar": {"value": 0.5}}],
        "n": 3,
        "ok": True,
        "none": None,
    }
    assert store.put("agents/a1", value) == 1
    entry = store.get("agents/a1")
    assert entry is not None
    assert entry.value == value
    assert entry.version == 1


def test_each_put_increments_the_version(store: StateStore) -> None:
    """Versions go 1, 2, 3 on unconditional writes."""
    assert [store.put("weights", {"eng": i}) for i in range(3)] == [1, 2, 3]
    entry = store.get("weights")
    assert entry is not None and entry.value == {"eng": 2}


def test_list_values_are_accepted(store: StateStore) -> None:
    """A JSON list is a valid document."""
    store.put("quota/eng", [1, "two", 3.5])
    entry = store.get("quota/eng")
    assert entry is not None and entry.value == [1, "two", 3.5]


def test_returned_value_is_a_copy(store: StateStore) -> None:
    """Mutating what get() returned does not change stored state."""
    store.put("frameworks/f1", {"roles": ["a"]})
    entry = store.get("frameworks/f1")
    assert entry is not None
    entry.value["roles"].append("b")
    again = store.get("frameworks/f1")
    assert again is not None and again.value == {"roles": ["a"]}


# ---- conditional writes -------------------------------------------------------------------------


def test_expected_version_zero_creates_only_if_absent(store: StateStore) -> None:
    """expected_version=0 means 'must not exist'; a second create conflicts and changes nothing."""
    assert store.put("frameworks/f1", {"v": 1}, expected_version=0) == 1
    with pytest.raises(StoreConflict, match="frameworks/f1"):
        store.put("frameworks/f1", {"v": 2}, expected_version=0)
    entry = store.get("frameworks/f1")
    assert entry is not None and entry.value == {"v": 1} and entry.version == 1


def test_matching_expected_version_writes(store: StateStore) -> None:
    """Compare-and-set succeeds when the version matches."""
    store.put("agents/a1", {"v": 1})
    assert store.put("agents/a1", {"v": 2}, expected_version=1) == 2


def test_stale_expected_version_conflicts_and_leaves_state(store: StateStore) -> None:
    """A stale version raises StoreConflict (a ConflictError) naming the key; nothing changes."""
    store.put("agents/a1", {"v": 1})
    store.put("agents/a1", {"v": 2})
    before = snapshot(store)
    with pytest.raises(ConflictError, match="agents/a1") as info:
        store.put("agents/a1", {"v": 3}, expected_version=1)
    assert isinstance(info.value, StoreConflict)
    assert (info.value.expected, info.value.actual) == (1, 2)
    assert snapshot(store) == before


def test_expected_version_on_missing_key_conflicts(store: StateStore) -> None:
    """Expecting version 4 of an absent key is a conflict, not a create."""
    with pytest.raises(StoreConflict):
        store.put("agents/a1", {"v": 1}, expected_version=4)
    assert store.get("agents/a1") is None


@pytest.mark.parametrize("bad", [-1, 1.5, "1", True])
def test_bad_expected_version_is_invalid(store: StateStore, bad: object) -> None:
    """expected_version must be None or an int >= 0."""
    with pytest.raises(InvalidError, match="expected_version"):
        store.put("agents/a1", {}, expected_version=bad)  # type: ignore[arg-type]
    assert store.get("agents/a1") is None


# ---- delete -------------------------------------------------------------------------------------


def test_delete_existing_returns_true_and_removes(store: StateStore) -> None:
    """delete() reports whether the key existed."""
    store.put("agents/a1", {})
    assert store.delete("agents/a1") is True
    assert store.get("agents/a1") is None
    assert store.delete("agents/a1") is False


def test_conditional_delete_conflict_leaves_key(store: StateStore) -> None:
    """A delete with a stale version raises and the key stays."""
    store.put("agents/a1", {"v": 1})
    store.put("agents/a1", {"v": 2})
    with pytest.raises(StoreConflict, match="agents/a1"):
        store.delete("agents/a1", expected_version=1)
    entry = store.get("agents/a1")
    assert entry is not None and entry.version == 2
    assert store.delete("agents/a1", expected_version=2) is True


def test_conditional_delete_of_missing_key(store: StateStore) -> None:
    """Deleting an absent key: expected 0 is a no-op, expected n > 0 conflicts."""
    assert store.delete("agents/a1", expected_version=0) is False
    with pytest.raises(StoreConflict):
        store.delete("agents/a1", expected_version=1)


def test_recreated_key_starts_again_at_version_1(store: StateStore) -> None:
    """After a delete the key can be created again with expected_version=0 (ZooKeeper semantics)."""
    store.put("agents/a1", {"v": 1})
    store.put("agents/a1", {"v": 2})
    store.delete("agents/a1")
    assert store.put("agents/a1", {"v": 3}, expected_version=0) == 1


# ---- list ---------------------------------------------------------------------------------------


def test_list_by_prefix_is_hierarchical(store: StateStore) -> None:
    """`agents/` (or `agents`) lists keys below agents/, never `agentsX` or `agents` itself."""
    for key in [
        "agents/a1",
        "agents/a2",
        "agents/a1/tasks/t1",
        "agentsX",
        "agentsX/a3",
        "agents",
        "frameworks/f1",
        "agent",
    ]:
        store.put(key, {"key": key})
    expected = ["agents/a1", "agents/a1/tasks/t1", "agents/a2"]
    assert list(store.list("agents/")) == expected
    assert list(store.list("agents")) == expected
    assert store.list("agents/")["agents/a2"].value == {"key": "agents/a2"}
    assert list(store.list("agents/a1")) == ["agents/a1/tasks/t1"]
    assert store.list("nothing/") == {}


def test_list_empty_prefix_returns_everything_sorted(store: StateStore) -> None:
    """The empty prefix lists every key, sorted."""
    for key in ["weights", "quota/eng", "agents/a1"]:
        store.put(key, 1)
    assert list(store.list("")) == ["agents/a1", "quota/eng", "weights"]
    assert all(e.version == 1 for e in store.list("").values())


# ---- transactions -------------------------------------------------------------------------------


def test_transaction_applies_all_ops(store: StateStore) -> None:
    """Puts and deletes in one transaction all take effect."""
    store.put("agents/a1", {"v": 1})
    store.transaction(
        [
            Put("agents/a2", {"v": 1}, expected_version=0),
            Put("agents/a1", {"v": 2}, expected_version=1),
            Delete("weights"),
            Put("weights", {"eng": 1}),
        ]
    )
    assert snapshot(store) == {
        "agents/a1": ({"v": 2}, 2),
        "agents/a2": ({"v": 1}, 1),
        "weights": ({"eng": 1}, 1),
    }


def test_transaction_sees_its_own_earlier_ops(store: StateStore) -> None:
    """Expected versions are checked against the state left by the ops before (ZooKeeper multi)."""
    store.transaction(
        [
            Put("agents/a1", {"v": 1}, expected_version=0),
            Put("agents/a1", {"v": 2}, expected_version=1),
            Delete("agents/a1", expected_version=2),
            Put("agents/a1", {"v": 3}, expected_version=0),
        ]
    )
    entry = store.get("agents/a1")
    assert entry is not None and entry.value == {"v": 3} and entry.version == 1


def test_transaction_conflict_in_the_middle_writes_nothing(store: StateStore) -> None:
    """A conflicting op in the middle rolls back the ops before it."""
    store.put("agents/a1", {"v": 1})
    store.put("agents/a2", {"v": 1})
    before = snapshot(store)
    with pytest.raises(StoreConflict, match="agents/a2"):
        store.transaction(
            [
                Put("agents/a1", {"v": 2}, expected_version=1),
                Delete("agents/a3"),
                Put("agents/a2", {"v": 2}, expected_version=7),  # stale: fails
                Put("frameworks/f1", {"v": 1}),
            ]
        )
    assert snapshot(store) == before


def test_transaction_invalid_value_in_the_middle_writes_nothing(store: StateStore) -> None:
    """A non-JSON value anywhere in a transaction aborts all of it."""
    store.put("agents/a1", {"v": 1})
    before = snapshot(store)
    with pytest.raises(InvalidError):
        store.transaction(
            [
                Delete("agents/a1"),
                Put("agents/a2", {"bad": {1, 2}}),
                Put("agents/a3", {"v": 1}),
            ]
        )
    assert snapshot(store) == before


def test_empty_transaction_is_a_no_op(store: StateStore) -> None:
    """No ops, no change, no error."""
    store.transaction([])
    assert store.list("") == {}


# ---- validation ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        {"s": {1, 2}},
        {"b": b"bytes"},
        {"f": math.nan},
        {"f": math.inf},
        {1: "int key"},
        {"t": (1, 2)},
        object(),
    ],
    ids=["set", "bytes", "nan", "inf", "int-key", "tuple", "object"],
)
def test_non_json_values_are_rejected_and_nothing_written(store: StateStore, value: object) -> None:
    """A value that is not plain JSON raises InvalidError naming the key, and nothing is written."""
    store.put("agents/a1", {"v": 1})
    with pytest.raises(InvalidError, match="agents/a1"):
        store.put("agents/a1", value)
    entry = store.get("agents/a1")
    assert entry is not None and entry.value == {"v": 1} and entry.version == 1


@pytest.mark.parametrize("key", ["", "/agents", "agents/", "agents//a1", "a/../b", "a\nb", 7])
def test_bad_keys_are_rejected(store: StateStore, key: object) -> None:
    """Keys are non-empty '/'-separated non-empty segments without control characters."""
    with pytest.raises(InvalidError, match="key"):
        store.put(key, {})  # type: ignore[arg-type]
    assert store.list("") == {}


def test_closed_store_raises_store_error(store: StateStore) -> None:
    """After close(), every call raises StoreError; close() is idempotent."""
    store.close()
    store.close()
    with pytest.raises(StoreError):
        store.get("agents/a1")
    with pytest.raises(StoreError):
        store.put("agents/a1", {})


# ---- concurrency --------------------------------------------------------------------------------


def test_concurrent_cas_increments_never_lose_an_update(store: StateStore) -> None:
    """Two threads incrementing a counter with a read/compare-and-set retry loop lose nothing."""
    store.put("counter", {"n": 0})
    per_thread = 200
    conflicts = [0, 0]

    def worker(i: int) -> None:
        for _ in range(per_thread):
            while True:
                entry = store.get("counter")
                assert entry is not None
                try:
                    store.put("counter", {"n": entry.value["n"] + 1}, entry.version)
                    break
                except StoreConflict:
                    conflicts[i] += 1

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    entry = store.get("counter")
    assert entry is not None
    # 2 threads x 200 increments each on top of 0; the version counts the initial put too.
    assert entry.value == {"n": 2 * per_thread}
    assert entry.version == 2 * per_thread + 1


# ---- sqlite-specific: persistence ---------------------------------------------------------------


def test_sqlite_persists_across_close_and_reopen(tmp_path: Path) -> None:
    """Everything written (values and versions) is there after reopening the file."""
    path = tmp_path / "registry.db"
    s = SQLiteStore(path)
    s.put("agents/a1", {"v": 1})
    s.put("agents/a1", {"v": 2})
    s.transaction([Put("frameworks/f1", {"name": "m"}), Put("weights", {"eng": 2.0})])
    s.close()
    s2 = open_store("sqlite", path)
    try:
        assert snapshot(s2) == {
            "agents/a1": ({"v": 2}, 2),
            "frameworks/f1": ({"name": "m"}, 1),
            "weights": ({"eng": 2.0}, 1),
        }
    finally:
        s2.close()


def test_sqlite_uses_wal_and_full_sync(tmp_path: Path) -> None:
    """The file is in WAL mode (persistent across connections)."""
    import sqlite3

    path = tmp_path / "registry.db"
    SQLiteStore(path).close()
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        conn.close()


def _writer_process(path: str, n: int) -> None:
    s = SQLiteStore(path)
    for i in range(n):
        s.put(f"agents/a{i}", {"i": i}, expected_version=0)
    s.close()


def _cas_process(path: str, n: int) -> None:
    s = SQLiteStore(path)
    for _ in range(n):
        while True:
            entry = s.get("counter")
            assert entry is not None
            try:
                s.put("counter", {"n": entry.value["n"] + 1}, entry.version)
                break
            except StoreConflict:
                pass
    s.close()


def test_sqlite_one_process_writes_another_reads(tmp_path: Path) -> None:
    """A separate process writes and exits; this process opens the file and sees it all."""
    path = tmp_path / "registry.db"
    ctx = multiprocessing.get_context("spawn")
    p = ctx.Process(target=_writer_process, args=(str(path), 20))
    p.start()
    p.join(60)
    assert p.exitcode == 0
    s = SQLiteStore(path)
    try:
        listed = s.list("agents/")
        assert len(listed) == 20
        assert listed["agents/a7"].value == {"i": 7}
    finally:
        s.close()


def test_sqlite_cas_across_processes_never_loses_an_update(tmp_path: Path) -> None:
    """Two processes increment one counter with compare-and-set; all increments survive."""
    path = tmp_path / "registry.db"
    s = SQLiteStore(path)
    s.put("counter", {"n": 0})
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_cas_process, args=(str(path), 50)) for _ in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    entry = s.get("counter")
    s.close()
    assert entry is not None and entry.value == {"n": 100}


def test_sqlite_corrupt_file_raises_store_error_with_path(tmp_path: Path) -> None:
    """A file that is not a SQLite database is refused with the path in the message."""
    path = tmp_path / "registry.db"
    path.write_bytes(b"this is not a database, just text " * 200)
    with pytest.raises(StoreError, match=str(path)):
        SQLiteStore(path)


def test_sqlite_unopenable_path_raises_store_error_with_path(tmp_path: Path) -> None:
    """A path that is a directory cannot be opened as a database."""
    path = tmp_path / "dir.db"
    path.mkdir()
    with pytest.raises(StoreError, match=str(path)):
        SQLiteStore(path)


def test_sqlite_foreign_table_shape_is_refused(tmp_path: Path) -> None:
    """A database with an `entries` table of another shape is not silently used."""
    import sqlite3

    path = tmp_path / "other.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE entries (id INTEGER, blob BLOB)")
    conn.commit()
    conn.close()
    with pytest.raises(StoreError, match="entries"):
        SQLiteStore(path)


def test_sqlite_unopenable_path_raises_store_error(tmp_path: Path) -> None:
    """A path that cannot be opened as a database (here: a directory) gives StoreError naming it.

    (File permissions cannot be used for this: the tests run as root, who reads any file.)
    """
    path = tmp_path / "registry.db"
    path.mkdir()
    with pytest.raises(StoreError, match=str(path)):
        SQLiteStore(path)


def test_open_store_kinds(tmp_path: Path) -> None:
    """open_store builds each backend and rejects unknown kinds and sqlite without a path."""
    assert isinstance(open_store("memory"), InMemoryStore)
    s = open_store("sqlite", tmp_path / "x" / "r.db")
    assert isinstance(s, SQLiteStore)
    s.close()
    with pytest.raises(InvalidError, match="zookeeper"):
        open_store("zookeeper", tmp_path / "r.db")
    with pytest.raises(InvalidError, match="path"):
        open_store("sqlite")


def test_values_are_stored_as_canonical_json(tmp_path: Path) -> None:
    """SQLite rows hold plain JSON text (readable with the sqlite3 CLI for debugging)."""
    import sqlite3

    path = tmp_path / "r.db"
    s = SQLiteStore(path)
    s.put("weights", {"b": 1, "a": 2})
    s.close()
    conn = sqlite3.connect(path)
    try:
        (text,) = conn.execute("SELECT value FROM entries WHERE key = 'weights'").fetchone()
    finally:
        conn.close()
    assert json.loads(text) == {"a": 2, "b": 1}


# ---- sqlite-specific: files that are not a usable store are refused, unchanged -------------------

HINT = "restore it from a backup, or delete it to start"


def test_sqlite_zero_length_file_is_refused_and_left_alone(tmp_path: Path) -> None:
    """SQLite takes an empty file for a new database: the store must not (a truncated registry
    would silently become an empty cluster)."""
    path = tmp_path / "registry.db"
    path.write_bytes(b"")
    with pytest.raises(StoreError) as e:
        open_store("sqlite", path, name="registry", fresh="a new cluster")
    assert str(e.value) == (
        f"registry {path} is empty (0 bytes): restore it from a backup, "
        "or delete it to start a new cluster"
    )
    assert path.read_bytes() == b""
    assert not (tmp_path / "registry.db-wal").exists()


def test_sqlite_missing_file_is_a_new_store(tmp_path: Path) -> None:
    s = open_store("sqlite", tmp_path / "new" / "registry.db")
    assert s.list("") == {}
    s.close()


def _sqlite_file(path: Path, *statements: str) -> bytes:
    import sqlite3

    conn = sqlite3.connect(path)
    for stmt in statements:
        conn.execute(stmt)
    conn.commit()
    conn.close()
    return path.read_bytes()


_ENTRIES = (
    "CREATE TABLE entries (key TEXT PRIMARY KEY NOT NULL, value TEXT NOT NULL,"
    " version INTEGER NOT NULL) WITHOUT ROWID"
)


@pytest.mark.parametrize(
    ("row", "needle"),
    [
        ("('agents/a1', '{not json', 1)", "row 'agents/a1' of table 'entries' has a value that is"),
        ("('agents/a1', '{}', 'two')", "row 'agents/a1' of table 'entries' has version 'two'"),
        ("('agents/a1', '{}', 0)", "row 'agents/a1' of table 'entries' has version 0"),
        (
            "('agents/a1', X'7b7d', 1)",
            "row 'agents/a1' of table 'entries' has a value of type blob",
        ),
        ("(X'6b', '{}', 1)", "has a key of type blob (b'k')"),
        ("('agents//a1', '{}', 1)", "table 'entries' has an invalid key"),
    ],
)
def test_sqlite_rows_of_the_wrong_shape_are_refused_with_the_key(
    tmp_path: Path, row: str, needle: str
) -> None:
    path = tmp_path / "registry.db"
    before = _sqlite_file(path, _ENTRIES, f"INSERT INTO entries VALUES {row}")
    with pytest.raises(StoreError) as e:
        SQLiteStore(path)
    msg = str(e.value)
    assert str(path) in msg and needle in msg and HINT in msg and "\n" not in msg
    assert path.read_bytes() == before  # refused before anything was written


def test_sqlite_someone_elses_database_is_refused_and_not_modified(tmp_path: Path) -> None:
    path = tmp_path / "registry.db"
    before = _sqlite_file(path, "CREATE TABLE users (name TEXT)", "INSERT INTO users VALUES ('x')")
    with pytest.raises(StoreError, match="has table\\(s\\) users but no table 'entries'"):
        SQLiteStore(path)
    assert path.read_bytes() == before


def test_sqlite_garbage_file_message_says_how_to_recover(tmp_path: Path) -> None:
    path = tmp_path / "registry.db"
    path.write_bytes(b"garbage " * 1000)
    with pytest.raises(StoreError, match=HINT):
        SQLiteStore(path)


def test_sqlite_valid_existing_store_still_opens(tmp_path: Path) -> None:
    path = tmp_path / "registry.db"
    s = SQLiteStore(path)
    s.put("agents/a1", {"hostname": "h"})
    s.put("weights", [1, "two", None])
    s.close()
    s = SQLiteStore(path)
    assert s.get("agents/a1") == Entry({"hostname": "h"}, 1)
    assert s.get("weights") == Entry([1, "two", None], 1)
    s.close()
