"""`dcos-core master` on a registry it cannot trust: one line saying what and how, exit non-zero.

A zero-length registry.db (SQLite would take it for a new database: an empty cluster, silently),
rows that are not JSON, and documents of the wrong shape are refused before the master serves,
and the file is left as it was.
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cluster import free_port

pytestmark = pytest.mark.integration

HINT = "restore it from a backup, or delete it to start a new cluster"
_ENTRIES = (
    "CREATE TABLE entries (key TEXT PRIMARY KEY NOT NULL, value TEXT NOT NULL,"
    " version INTEGER NOT NULL) WITHOUT ROWID"
)


def run_daemon(daemon: str, work: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`dcos-core <daemon>` on a free port with `work` as its work dir, to its exit."""
    where = ("--ip", "127.0.0.1", "--port", str(free_port()), "--work-dir", str(work))
    return subprocess.run(
        [sys.executable, "-m", "dcos_core", daemon, *args, *where],
        capture_output=True,
        text=True,
        timeout=60,
    )


def run_master(work: Path) -> subprocess.CompletedProcess[str]:
    return run_daemon("master", work)


def registry_with(work: Path, *rows: tuple[str, str, int]) -> Path:
    work.mkdir()
    path = work / "registry.db"
    conn = sqlite3.connect(path)
    conn.execute(_ENTRIES)
    conn.executemany("INSERT INTO entries VALUES (?, ?, ?)", rows)
    conn.commit()
    conn.close()
    return path


def assert_refused(p: subprocess.CompletedProcess[str], line: str) -> None:
    assert p.returncode != 0
    assert "Traceback" not in p.stderr
    assert p.stderr.splitlines() == [line], p.stderr


def test_zero_length_registry_is_refused(tmp_path: Path) -> None:
    work = tmp_path / "master"
    work.mkdir()
    path = work / "registry.db"
    path.write_bytes(b"")
    p = run_master(work)
    assert_refused(p, f"dcos-core: registry {path} is empty (0 bytes): {HINT}")
    assert path.read_bytes() == b""


def test_row_that_is_not_json_is_refused_naming_it(tmp_path: Path) -> None:
    path = registry_with(tmp_path / "master", ("agents/a1", "{'hostname': 'h1'}", 1))
    before = path.read_bytes()
    p = run_master(tmp_path / "master")
    assert_refused(
        p,
        f"dcos-core: registry {path}: row 'agents/a1' of table 'entries' has a value that is "
        f"not valid JSON; {HINT}",
    )
    assert path.read_bytes() == before


def test_document_of_the_wrong_shape_is_refused_naming_its_key(tmp_path: Path) -> None:
    path = registry_with(
        tmp_path / "master",
        ("frameworks/f1", '{"name": "marathon", "user": "root"}', 1),
        ("agents/a1", '["h1", 5051]', 3),
    )
    p = run_master(tmp_path / "master")
    assert_refused(
        p, f"dcos-core: registry {path}: key 'agents/a1' is an array, expected an object; {HINT}"
    )


def test_someone_elses_database_is_refused(tmp_path: Path) -> None:
    work = tmp_path / "master"
    work.mkdir()
    path = work / "registry.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE photos (id INTEGER, data BLOB)")
    conn.commit()
    conn.close()
    p = run_master(work)
    assert_refused(
        p,
        f"dcos-core: registry {path} is not a dcos-core store: it has table(s) photos but no "
        f"table 'entries'; {HINT}",
    )


@pytest.mark.parametrize(("daemon", "db"), [("marathon", "marathon.db"), ("chronos", "chronos.db")])
def test_marathon_and_chronos_refuse_a_zero_length_store(
    tmp_path: Path, daemon: str, db: str
) -> None:
    work = tmp_path / daemon
    work.mkdir()
    path = work / db
    path.write_bytes(b"")
    p = run_daemon(daemon, work, "--master", f"127.0.0.1:{free_port()}")
    assert_refused(
        p,
        f"dcos-core: state store {path} is empty (0 bytes): restore it from a backup, "
        "or delete it to start from an empty state",
    )
    assert path.read_bytes() == b""
