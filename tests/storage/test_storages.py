import sqlite3
import subprocess
import sys

import pytest

from hpo.errors import StorageCorruptError, StorageError, StorageLockedError, StudyMismatchError
from hpo.storage import MemoryStorage, SQLiteStorage, open_storage
from hpo.storage.base import StudySpec
from hpo.testing import StorageContract
from hpo.testing.storage import SPEC


class TestMemoryStorage(StorageContract):
    def make_storage(self, path):
        return MemoryStorage()


class TestSQLiteStorage(StorageContract):
    def make_storage(self, path):
        return SQLiteStorage(path)

    def reopen(self, path):
        return SQLiteStorage(path)


def test_open_storage_dispatch(tmp_path):
    assert isinstance(open_storage(None), MemoryStorage)
    assert isinstance(open_storage(":memory:"), MemoryStorage)
    s = open_storage(f"sqlite:///{tmp_path}/a.db")
    assert isinstance(s, SQLiteStorage) and s.location == f"{tmp_path}/a.db"
    s.close()
    with pytest.raises(StorageError, match="unsupported storage URL"):
        open_storage("postgresql://host/db")


def test_wal_mode_is_on(tmp_path):
    s = SQLiteStorage(tmp_path / "wal.db")
    s.create_study(SPEC)
    s.close()
    mode = sqlite3.connect(tmp_path / "wal.db").execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"


def test_writes_are_visible_to_another_process_immediately(tmp_path):
    path = tmp_path / "live.db"
    s = SQLiteStorage(path)
    s.create_study(SPEC)
    t = s.create_trial({"x": 0.3})
    code = (
        "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]);"
        "print(c.execute('select count(*) from trials').fetchone()[0])"
    )
    out = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "1"
    assert t.trial_id == 1
    s.close()


def test_second_driver_is_refused_and_nothing_changes(tmp_path):
    path = tmp_path / "locked.db"
    first = SQLiteStorage(path)
    first.create_study(SPEC)
    first.create_trial({"x": 0.5})
    with pytest.raises(StorageLockedError, match=r"locked by another running driver \(pid \d+\)"):
        SQLiteStorage(path)
    reader = SQLiteStorage(path, readonly=True)
    assert len(reader.trials()) == 1 and reader.load_study() == SPEC
    with pytest.raises(StorageError, match="read-only"):
        reader.create_trial({"x": 0.1})
    reader.close()
    first.close()
    again = SQLiteStorage(path)  # the lock is released on close
    assert len(again.trials()) == 1
    again.close()


def test_sqlite_write_lock_held_elsewhere_gives_a_clear_error(tmp_path):
    path = tmp_path / "busy.db"
    s = SQLiteStorage(path, timeout=0.2)
    s.create_study(SPEC)
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(StorageLockedError, match="busy.db.*locked"):
            s.create_trial({"x": 0.5})
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert s.create_trial({"x": 0.5}).trial_id == 1  # nothing was lost or half-written
    s.close()


def test_corrupt_file_is_refused_and_left_untouched(tmp_path):
    path = tmp_path / "corrupt.db"
    garbage = b"this is not a database at all\x00" * 200
    path.write_bytes(garbage)
    with pytest.raises(StorageCorruptError, match="corrupt.db.*corrupt or not a SQLite database"):
        SQLiteStorage(path)
    assert path.read_bytes() == garbage


def test_truncated_database_is_refused(tmp_path):
    path = tmp_path / "trunc.db"
    s = SQLiteStorage(path)
    s.create_study(SPEC)
    for i in range(200):
        s.create_trial({"x": i / 200})
    s.close()
    sqlite3.connect(path).execute("PRAGMA wal_checkpoint(TRUNCATE)").close()
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2] + b"\xff" * 4096)
    with pytest.raises((StorageCorruptError, StudyMismatchError)):
        SQLiteStorage(path)


def test_foreign_sqlite_database_is_refused(tmp_path):
    path = tmp_path / "other.db"
    c = sqlite3.connect(path)
    c.execute("CREATE TABLE users(id INTEGER)")
    c.commit()
    c.close()
    with pytest.raises(StudyMismatchError, match=r"not a hyperbandit study.*users"):
        SQLiteStorage(path)
    assert sqlite3.connect(path).execute("SELECT name FROM sqlite_master").fetchall() == [("users",)]


def test_file_holding_another_study_is_refused(tmp_path):
    path = tmp_path / "two.db"
    s = SQLiteStorage(path)
    s.create_study(SPEC)
    other = StudySpec(**{**SPEC.__dict__, "name": "other"})
    with pytest.raises(StudyMismatchError, match="already holds study 'contract'"):
        s.create_study(other)
    assert s.load_study() == SPEC
    s.close()


def test_readonly_missing_file(tmp_path):
    with pytest.raises(StorageError, match="no study database"):
        SQLiteStorage(tmp_path / "nope.db", readonly=True)
