"""SQLite storage: the embedded default. One file holds one study.

* Every trial state change and every report is committed when it happens, in WAL mode
  (``synchronous=NORMAL``: a commit survives the driver being killed at any moment;
  only an OS crash or power loss can drop the last few).
* A driver holds an exclusive ``flock`` on ``<file>.lock`` while it runs the study, so
  two drivers never write one study; the kernel drops the lock if the driver dies.
  Readers (``hpo status``, ``hpo best``) open the file read-only and take no lock.
* A file that is not SQLite, is damaged, or holds something other than a hyperbandit
  study raises :class:`~hpo.errors.StorageCorruptError` or
  :class:`~hpo.errors.StudyMismatchError`; it is never overwritten.
"""

from __future__ import annotations

import math
import os
import socket
import sqlite3
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, ClassVar

from hpo._reevaluation import ReevalRecord
from hpo.errors import StorageCorruptError, StorageError, StorageLockedError, StudyMismatchError
from hpo.storage.base import (
    SCHEMA_VERSION,
    BaseStorage,
    StudySpec,
    decoded,
    dumps,
    loads,
    report_from_row,
    trial_from_row,
    trial_to_row,
)
from hpo.trial import Observation, Report, Trial

__all__ = ["SQLiteStorage", "parse_sqlite_url"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS hpo_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS trials (
    trial_id INTEGER PRIMARY KEY AUTOINCREMENT,
    config TEXT NOT NULL,
    status TEXT NOT NULL,
    value REAL,
    metrics TEXT NOT NULL DEFAULT '{}',
    budget REAL NOT NULL DEFAULT 0,
    cost REAL NOT NULL DEFAULT 0,
    reason TEXT,
    traceback TEXT,
    requeued_from INTEGER,
    created_at REAL,
    started_at REAL,
    finished_at REAL,
    last_step REAL,
    worker TEXT,
    reached REAL,
    restarts INTEGER NOT NULL DEFAULT 0,
    retries INTEGER NOT NULL DEFAULT 0,
    parent INTEGER,
    notes TEXT NOT NULL DEFAULT '{}'
);
CREATE TABLE IF NOT EXISTS observations (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    trial_id INTEGER NOT NULL,
    data TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS reports (
    trial_id INTEGER NOT NULL REFERENCES trials(trial_id),
    seq INTEGER NOT NULL,
    step REAL NOT NULL,
    metrics TEXT NOT NULL,
    elapsed REAL NOT NULL,
    recorded_at REAL NOT NULL,
    PRIMARY KEY (trial_id, seq)
);
CREATE TABLE IF NOT EXISTS reevaluations (
    trial_id INTEGER NOT NULL,
    seed INTEGER NOT NULL,
    value REAL,
    status TEXT NOT NULL,
    reason TEXT,
    created_at REAL NOT NULL,
    PRIMARY KEY (trial_id, seed)
);
"""
# ``reevaluations`` came after schema version 3 without a version bump: the table is only
# added, so older readers ignore it, and files without it get it at their first re-evaluation.
_REEVAL_TABLE = _SCHEMA[_SCHEMA.index("CREATE TABLE IF NOT EXISTS reevaluations") :].rstrip().rstrip(";")


def parse_sqlite_url(url: str | os.PathLike[str]) -> str:
    """``"sqlite:///study.db"``, ``"sqlite:////abs/study.db"`` or a plain path -> a file path."""
    text = os.fspath(url)
    if text.startswith("sqlite:///"):
        return text[len("sqlite:///") :]
    if "://" in text:
        raise StorageError(f"unsupported storage URL {text!r}: use 'sqlite:///path.db', a path, or ':memory:'")
    return text


class SQLiteStorage(BaseStorage):
    """A study in a SQLite file.

    Args:
        path: File path or ``sqlite:///`` URL. Created if missing.
        readonly: Open for reading only (no lock, no writes), e.g. for ``hpo status``.
        lock: Take the exclusive driver lock (default when not ``readonly``).
        timeout: Seconds to wait for SQLite's own write lock before raising
            :class:`~hpo.errors.StorageLockedError`.
    """

    durable: ClassVar[bool] = True

    def __init__(self, path: str | os.PathLike[str], *, readonly: bool = False, lock: bool | None = None, timeout: float = 10.0) -> None:
        self.path = Path(parse_sqlite_url(path))
        self.location = str(self.path)
        self.readonly = readonly
        self._lock_fd: int | None = None
        self._conn: sqlite3.Connection | None = None
        if readonly and not self.path.exists():
            raise StorageError(f"no study database at {str(self.path)!r}")
        if lock if lock is not None else not readonly:
            self._acquire_driver_lock()
        try:
            self._conn = self._connect(timeout)
            self._check_and_init()
        except BaseException:
            self.close()
            raise

    # ------------------------------------------------------------------ opening
    def _acquire_driver_lock(self) -> None:
        import fcntl

        lock_path = f"{self.path}.lock"
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)  # the umask applies, as to the study file
        except OSError as exc:
            raise StorageError(f"cannot create the lock file {lock_path!r} of the study: {exc.strerror}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            # the holder wrote "PID HOST" (older versions: "PID")
            pid, _, host = os.pread(fd, 256, 0).decode(errors="replace").strip().partition(" ")
            os.close(fd)
            raise StorageLockedError(
                f"study file {str(self.path)!r} is locked by another running driver (pid {pid or 'unknown'})"
                f"{f' on host {host!r}' if host else ''}; stop it first; to read the study while it runs, "
                "use hpo.load_study(path) or `hpo status`"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()} {socket.gethostname()}".encode(), 0)
        self._lock_fd = fd

    def _connect(self, timeout: float) -> sqlite3.Connection:
        if self.readonly:
            uri = f"file:{self.path.resolve()}?mode=ro"
            conn = sqlite3.connect(uri, uri=True, timeout=timeout, isolation_level=None)
        else:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(str(self.path), timeout=timeout, isolation_level=None)
        conn.row_factory = sqlite3.Row
        return conn

    @contextmanager
    def _errors(self, action: str) -> Iterator[None]:
        try:
            yield
        except sqlite3.OperationalError as exc:
            if "locked" in str(exc) or "busy" in str(exc):
                raise StorageLockedError(
                    f"study file {str(self.path)!r} is locked ({exc}) while trying to {action}"
                ) from exc
            if "decode" in str(exc):  # "Could not decode to UTF-8 column ...": damaged text
                raise StorageCorruptError(f"study file {str(self.path)!r} is corrupt ({exc})") from exc
            raise StorageError(f"cannot {action} in {str(self.path)!r}: {exc}") from exc
        except (sqlite3.DatabaseError, UnicodeDecodeError) as exc:
            raise StorageCorruptError(
                f"study file {str(self.path)!r} is corrupt or not a SQLite database ({exc}); "
                "it was left untouched"
            ) from exc

    def _check_and_init(self) -> None:
        conn = self._db
        with self._errors("open the study"):
            tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
            if not tables and self.readonly:
                raise StorageCorruptError(
                    f"study file {str(self.path)!r} holds no hyperbandit study: it is empty (truncated, "
                    "or its driver has not created the study yet)"
                )
            if tables and "hpo_meta" not in tables:
                raise StudyMismatchError(
                    f"{str(self.path)!r} is a SQLite database but not a hyperbandit study "
                    f"(it has tables {sorted(tables)}); refusing to touch it"
                )
            if tables:
                check = conn.execute("PRAGMA quick_check").fetchone()[0]
                if check != "ok":
                    raise StorageCorruptError(f"study file {str(self.path)!r} failed its integrity check: {check}")
                version = conn.execute("SELECT value FROM hpo_meta WHERE key='schema_version'").fetchone()
                if version is not None and not str(version[0]).isdecimal():
                    raise StorageCorruptError(
                        f"study file {str(self.path)!r} has an unreadable schema version {version[0]!r:.40}"
                    )
                if version is not None and int(version[0]) in (1, 2) and not self.readonly:
                    self._migrate(int(version[0]))
                    version = (str(SCHEMA_VERSION),)
                readable = (SCHEMA_VERSION, 2) if self.readonly else (SCHEMA_VERSION,)
                if version is None or int(version[0]) not in readable:
                    found = None if version is None else version[0]
                    raise StudyMismatchError(
                        f"{str(self.path)!r} has schema version {found}, this hyperbandit reads {SCHEMA_VERSION}"
                    )
            if not self.readonly:
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("PRAGMA synchronous=NORMAL")
                conn.execute("PRAGMA foreign_keys=ON")
                if not tables:
                    with self._tx():
                        for statement in filter(str.strip, _SCHEMA.split(";")):
                            conn.execute(statement)
                        conn.execute(
                            "INSERT INTO hpo_meta(key, value) VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),)
                        )

    def _migrate(self, version: int) -> None:
        """Bring a file of schema version 1 or 2 up to date, in one transaction.

        1 -> 2: trials gained ``notes``. 2 -> 3: ``reached``, ``restarts``, ``retries`` and
        ``parent`` moved from ``notes`` into typed columns, and the ``observations`` table.
        """
        conn = self._db
        with self._tx():
            if version == 1:
                conn.execute("ALTER TABLE trials ADD COLUMN notes TEXT NOT NULL DEFAULT '{}'")
            for column in ("reached REAL", "restarts INTEGER NOT NULL DEFAULT 0",
                           "retries INTEGER NOT NULL DEFAULT 0", "parent INTEGER"):
                conn.execute(f"ALTER TABLE trials ADD COLUMN {column}")
            conn.execute(
                "CREATE TABLE IF NOT EXISTS observations (seq INTEGER PRIMARY KEY AUTOINCREMENT, "
                "trial_id INTEGER NOT NULL, data TEXT NOT NULL)"
            )
            for row in conn.execute("SELECT * FROM trials").fetchall():
                trial = trial_from_row(row)  # reads the typed fields out of notes
                fields = trial_to_row(trial)
                conn.execute(
                    "UPDATE trials SET reached=?, restarts=?, retries=?, parent=?, notes=? WHERE trial_id=?",
                    (fields["reached"], fields["restarts"], fields["retries"], fields["parent"], fields["notes"], trial.trial_id),
                )
            conn.execute("UPDATE hpo_meta SET value=? WHERE key='schema_version'", (str(SCHEMA_VERSION),))

    @property
    def _db(self) -> sqlite3.Connection:
        if self._conn is None:
            raise StorageError(f"storage {str(self.path)!r} is closed")
        return self._conn

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        conn = self._db
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def _write(self, action: str, sql: str, params: Any = ()) -> sqlite3.Cursor:
        if self.readonly:
            raise StorageError(f"{str(self.path)!r} was opened read-only; cannot {action}")
        with self._errors(action), self._tx() as conn:
            return conn.execute(sql, params)

    # ------------------------------------------------------------------ study
    def create_study(self, spec: StudySpec) -> None:
        existing = self.load_study()
        if existing is not None:
            raise StudyMismatchError(
                f"{str(self.path)!r} already holds study {existing.name!r}; load it with Study.load / "
                "`hpo resume`, or choose another file"
            )
        self._write("create the study", "INSERT INTO hpo_meta(key, value) VALUES ('study', ?)", (spec.to_json(),))

    def load_study(self) -> StudySpec | None:
        with self._errors("read the study"):
            row = self._db.execute("SELECT value FROM hpo_meta WHERE key='study'").fetchone()
        if row is None:
            return None
        try:
            return StudySpec.from_json(row[0])
        except (ValueError, TypeError) as exc:
            raise StorageCorruptError(f"study record in {str(self.path)!r} is unreadable: {exc}") from exc

    def update_settings(self, settings: Mapping[str, Any]) -> None:
        spec = self.load_study()
        if spec is None:
            raise StorageError(f"no study in {str(self.path)!r}")
        new = StudySpec(**{**spec.__dict__, "settings": dict(settings)})
        self._write("update settings", "UPDATE hpo_meta SET value=? WHERE key='study'", (new.to_json(),))

    # ------------------------------------------------------------------ trials
    def create_trial(
        self, config: Mapping[str, Any], *, requeued_from: int | None = None, created_at: float | None = None
    ) -> Trial:
        created = time.time() if created_at is None else created_at
        cursor = self._write("create a trial", "INSERT INTO trials(config, status, requeued_from, created_at) VALUES (?, 'PENDING', ?, ?)",
                             (dumps(dict(config)), requeued_from, created))
        return Trial(int(cursor.lastrowid or 0), dict(config), requeued_from=requeued_from, created_at=created)

    def update_trial(self, trial: Trial) -> None:
        row = trial_to_row(trial)
        trial_id = row.pop("trial_id")
        assignments = ", ".join(f"{k}=?" for k in row)
        cursor = self._write(f"update trial {trial_id}", f"UPDATE trials SET {assignments} WHERE trial_id=?", (*row.values(), trial_id))
        if cursor.rowcount != 1:
            raise StorageError(f"trial {trial_id} does not exist in {str(self.path)!r}")

    def add_report(self, trial_id: int, report: Report) -> None:
        self._write(
            f"record a report of trial {trial_id}",
            "INSERT INTO reports(trial_id, seq, step, metrics, elapsed, recorded_at) VALUES "
            "(?, (SELECT COUNT(*) FROM reports WHERE trial_id=?), ?, ?, ?, ?)",
            (trial_id, trial_id, report.step, dumps(dict(report.metrics)), report.elapsed, time.time()),
        )

    def trials(self) -> list[Trial]:
        with self._errors("read trials"):
            rows = self._db.execute("SELECT * FROM trials ORDER BY trial_id").fetchall()
        return [decoded(self.location, f"trial {r['trial_id']}", trial_from_row, r) for r in rows]

    def reports(self, trial_id: int) -> list[Report]:
        return self._reports(f"read reports of trial {trial_id}", "WHERE trial_id=?", (trial_id,)).get(trial_id, [])

    def all_reports(self) -> dict[int, list[Report]]:
        return self._reports("read reports", "", ())  # one query, not one per trial

    def _reports(self, action: str, where: str, params: tuple[Any, ...]) -> dict[int, list[Report]]:
        with self._errors(action):
            rows = self._db.execute(
                f"SELECT trial_id, step, metrics, elapsed FROM reports {where} ORDER BY trial_id, seq", params
            ).fetchall()
        out: dict[int, list[Report]] = {}
        for r in rows:
            out.setdefault(r[0], []).append(decoded(self.location, f"a report of trial {r[0]}", report_from_row, r))
        return out

    def add_observation(self, observation: Observation) -> None:
        self._write(f"record an observation of trial {observation.trial_id}", "INSERT INTO observations(trial_id, data) VALUES (?, ?)",
                    (observation.trial_id, dumps(observation.to_dict())))

    def observations(self) -> list[Observation]:
        with self._errors("read observations"):
            if not self._has_table("observations"):  # a version-2 file opened read-only
                return []
            rows = self._db.execute("SELECT data FROM observations ORDER BY seq").fetchall()
        return [decoded(self.location, "an observation", lambda r: Observation.from_dict(loads(r["data"])), r)
                for r in rows]

    def add_reevaluation(self, record: ReevalRecord) -> None:
        if self.readonly:
            raise StorageError(f"{str(self.path)!r} was opened read-only; cannot record a re-evaluation")
        value = record.value if record.value is not None and math.isfinite(record.value) else None
        with self._errors(f"record a re-evaluation of trial {record.trial_id}"), self._tx() as conn:
            conn.execute(_REEVAL_TABLE)
            if conn.execute("SELECT 1 FROM trials WHERE trial_id=?", (record.trial_id,)).fetchone() is None:
                raise StorageError(f"trial {record.trial_id} does not exist in {str(self.path)!r}")
            conn.execute(
                "INSERT OR REPLACE INTO reevaluations(trial_id, seed, value, status, reason, created_at) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (record.trial_id, record.seed, value, record.status, record.reason, record.created_at),
            )

    def reevaluations(self) -> list[ReevalRecord]:
        with self._errors("read re-evaluations"):
            if not self._has_table("reevaluations"):
                return []
            rows = self._db.execute("SELECT * FROM reevaluations ORDER BY trial_id, seed").fetchall()
        return [ReevalRecord(r["trial_id"], r["seed"], r["value"], r["status"], r["reason"], r["created_at"]) for r in rows]

    def _has_table(self, name: str) -> bool:
        return self._db.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name=?", (name,)).fetchone() is not None

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # closing the descriptor releases the flock
            self._lock_fd = None
