"""Study files of schema versions 1 (before `notes`) and 2 (typed fields in `notes`) are upgraded in place."""

from __future__ import annotations

import json
import sqlite3

from hpo.storage import SQLiteStorage
from hpo.storage.base import SCHEMA_VERSION, StudySpec

V1_SCHEMA = """
CREATE TABLE hpo_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE trials (
    trial_id INTEGER PRIMARY KEY AUTOINCREMENT, config TEXT NOT NULL, status TEXT NOT NULL, value REAL,
    metrics TEXT NOT NULL DEFAULT '{}', budget REAL NOT NULL DEFAULT 0, cost REAL NOT NULL DEFAULT 0,
    reason TEXT, traceback TEXT, requeued_from INTEGER, created_at REAL, started_at REAL, finished_at REAL,
    last_step REAL, worker TEXT
);
CREATE TABLE reports (
    trial_id INTEGER NOT NULL REFERENCES trials(trial_id), seq INTEGER NOT NULL, step REAL NOT NULL,
    metrics TEXT NOT NULL, elapsed REAL NOT NULL, recorded_at REAL NOT NULL, PRIMARY KEY (trial_id, seq)
);
"""


def test_version_1_file_is_upgraded_and_keeps_its_trials(tmp_path):
    path = tmp_path / "old.db"
    spec = StudySpec("old", "loss", "min", {"x": {"type": "float", "low": 0.0, "high": 1.0}}, {"min": 1, "max": 1}, None, {})
    conn = sqlite3.connect(path)
    conn.executescript(V1_SCHEMA)
    conn.execute("INSERT INTO hpo_meta VALUES ('schema_version', '1')")
    conn.execute("INSERT INTO hpo_meta VALUES ('study', ?)", (spec.to_json(),))
    conn.execute(
        "INSERT INTO trials(config, status, value, budget) VALUES (?, 'COMPLETED', 0.25, 1)", (json.dumps({"x": 0.5}),)
    )
    conn.commit()
    conn.close()
    with SQLiteStorage(path) as storage:
        (trial,) = storage.trials()
        assert trial.value == 0.25 and trial.config == {"x": 0.5} and trial.notes == {}
        storage.update_trial(trial.evolve(reached=1.0, notes={"replaces": 2}))
        assert storage.trials()[0].reached == 1.0 and storage.trials()[0].notes == {"replaces": 2}
        assert storage.observations() == []
    conn = sqlite3.connect(path)
    assert conn.execute("SELECT value FROM hpo_meta WHERE key='schema_version'").fetchone()[0] == str(SCHEMA_VERSION)
    conn.close()


def _version_2_file(path):
    spec = StudySpec("old", "loss", "min", {"x": {"type": "float", "low": 0.0, "high": 1.0}}, {"min": 1, "max": 9}, None, {})
    conn = sqlite3.connect(path)
    conn.executescript(V1_SCHEMA)
    conn.execute("ALTER TABLE trials ADD COLUMN notes TEXT NOT NULL DEFAULT '{}'")
    conn.execute("INSERT INTO hpo_meta VALUES ('schema_version', '2')")
    conn.execute("INSERT INTO hpo_meta VALUES ('study', ?)", (spec.to_json(),))
    notes = {"reached": 3, "restarts": 1, "parent": 4, "replaces": 2}
    conn.execute(
        "INSERT INTO trials(config, status, value, budget, notes) VALUES (?, 'PAUSED', 0.5, 4, ?)",
        (json.dumps({"x": 0.5}), json.dumps(notes)),
    )
    conn.commit()
    conn.close()


def test_version_2_notes_become_typed_fields(tmp_path):
    path = tmp_path / "v2.db"
    _version_2_file(path)
    with SQLiteStorage(path, readonly=True) as reader:  # a reader needs no upgrade
        (trial,) = reader.trials()
        assert (trial.reached, trial.restarts, trial.parent) == (3.0, 1, 4) and trial.notes == {"replaces": 2}
    with SQLiteStorage(path) as storage:
        (trial,) = storage.trials()
        assert (trial.reached, trial.restarts, trial.retries, trial.parent) == (3.0, 1, 0, 4)
        assert trial.notes == {"replaces": 2} and trial.fidelity == 3.0
    conn = sqlite3.connect(path)
    row = conn.execute("SELECT reached, restarts, parent, notes FROM trials").fetchone()
    conn.close()
    assert row[:3] == (3.0, 1, 4) and json.loads(row[3]) == {"replaces": 2}


def test_a_file_from_before_reevaluations_gets_the_table_at_its_first_one(tmp_path):
    from hpo._reevaluation import ReevalRecord

    path = tmp_path / "v3.db"
    with SQLiteStorage(path) as storage:
        storage.create_study(StudySpec("v3", "loss", "min", {}, {"min": 1, "max": 1}, None, {}))
        trial = storage.create_trial({"x": 0.5})
    conn = sqlite3.connect(path)
    conn.execute("DROP TABLE reevaluations")  # as written by hyperbandit before re-evaluations
    conn.commit()
    conn.close()
    with SQLiteStorage(path, readonly=True) as reader:
        assert reader.reevaluations() == []
    with SQLiteStorage(path, lock=False) as storage:  # no driver lock: works beside a running study
        storage.add_reevaluation(ReevalRecord(trial.trial_id, 7, 0.5, "COMPLETED", None, 1.0))
    with SQLiteStorage(path, readonly=True) as reader:
        assert [(r.seed, r.value) for r in reader.reevaluations()] == [(7, 0.5)]
        version = reader._db.execute("SELECT value FROM hpo_meta WHERE key='schema_version'").fetchone()[0]
    assert version == str(SCHEMA_VERSION)
