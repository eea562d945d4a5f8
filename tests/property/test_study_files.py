"""Random and damaged study files: the read-only loader gives a correct study or a typed
error (:class:`~hpo.errors.StorageCorruptError`), never another exception.

Study files are SQLite; the JSON they hold (the study record, each trial's config,
metrics and notes, reports, observations) is read back with ``json.loads``, so the JSON
suites write random JSON into those columns of a valid file.
"""

from __future__ import annotations

import json
import sqlite3
import tempfile
from pathlib import Path
from typing import Any

import pytest
from _strategies import json_values, scaled
from hypothesis import given, settings
from hypothesis import strategies as st

import hpo
from hpo.errors import StorageCorruptError
from hpo.search_spaces import Float
from hpo.storage import SQLiteStorage


def _objective(config: dict[str, Any]) -> dict[str, float]:
    hpo.report(loss=config["x"] + 1.0, step=0)
    return {"loss": config["x"], "cost": 2.0}


@pytest.fixture(scope="module")
def valid_file(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """The bytes of a small finished study (4 trials with reports and observations)."""
    path = tmp_path_factory.mktemp("valid") / "study.db"
    study = hpo.Study.create(
        _objective, {"x": Float(0.0, 1.0)}, storage=path, searcher="random", executor="inprocess", seed=0
    )
    study.optimize(4)
    study.close()
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # everything in the main file
    conn.close()
    return path.read_bytes()


def load_everything(path: Path) -> hpo.StudyResult:
    """What ``hpo status``/``hpo best``/``hpo resume`` read: the study, trials, reports, observations."""
    result = hpo.load_study(path)
    result.counts()
    for trial in result.trials:
        result.reports(trial.trial_id)
    with SQLiteStorage(path, readonly=True) as reader:
        reader.observations()
    return result


def loads_or_is_corrupt(path: Path) -> hpo.StudyResult | None:
    """The study, or None where the loader raised StorageCorruptError (anything else fails)."""
    try:
        return load_everything(path)
    except StorageCorruptError as exc:
        assert str(path) in str(exc)  # the error names the file
        return None


def _write(folder: str, data: bytes) -> Path:
    path = Path(folder) / "study.db"
    path.write_bytes(data)
    return path


@settings(max_examples=scaled(60))
@given(st.one_of(st.binary(max_size=2048), st.binary(max_size=2048).map(lambda b: b"SQLite format 3\x00" + b)))
def test_random_bytes_are_refused_as_corrupt(data):
    with tempfile.TemporaryDirectory() as folder:
        path = _write(folder, data)
        assert loads_or_is_corrupt(path) is None
        assert path.read_bytes() == data  # never overwritten


@settings(max_examples=scaled(40))
@given(st.data())
def test_a_truncated_file_loads_whole_or_is_refused(valid_file, data):
    cut = data.draw(st.integers(0, len(valid_file)), label="cut")
    with tempfile.TemporaryDirectory() as folder:
        result = loads_or_is_corrupt(_write(folder, valid_file[:cut]))
        if result is not None:  # only a cut in the unused tail of the last page loads
            assert result.counts() == {"COMPLETED": 4}


@settings(max_examples=scaled(40))
@given(st.data())
def test_flipped_bytes_load_or_are_refused(valid_file, data):
    damaged = bytearray(valid_file)
    for _ in range(data.draw(st.integers(1, 8), label="flips")):
        damaged[data.draw(st.integers(0, len(damaged) - 1))] ^= data.draw(st.integers(1, 255))
    with tempfile.TemporaryDirectory() as folder:
        loads_or_is_corrupt(_write(folder, bytes(damaged)))


_COLUMNS = [
    ("hpo_meta", "value", "key='study'"),
    ("hpo_meta", "value", "key='schema_version'"),
    ("trials", "config", "trial_id=2"),
    ("trials", "metrics", "trial_id=2"),
    ("trials", "notes", "trial_id=2"),
    ("trials", "status", "trial_id=2"),
    ("reports", "metrics", "trial_id=2"),
    ("observations", "data", "seq=2"),
]
_study_records = st.fixed_dictionaries(
    {"name": json_values, "metric": json_values, "mode": json_values, "space": json_values,
     "budget": json_values, "settings": json_values},
    optional={"objective": json_values, "created_at": json_values, "extra": json_values},
)


@settings(max_examples=scaled(120))
@given(
    st.sampled_from(_COLUMNS),
    st.one_of(json_values.map(json.dumps), _study_records.map(json.dumps), st.text(max_size=20)),
)
def test_random_json_in_a_study_file_loads_or_is_refused(valid_file, column, text):
    table, name, where = column
    with tempfile.TemporaryDirectory() as folder:
        path = _write(folder, valid_file)
        with sqlite3.connect(path) as conn:
            conn.execute(f"UPDATE {table} SET {name}=? WHERE {where}", (text,))
        conn.close()
        loads_or_is_corrupt(path)


def test_an_empty_file_is_refused_as_corrupt(tmp_path):
    path = _write(str(tmp_path), b"")
    with pytest.raises(StorageCorruptError, match="study.db.*no hyperbandit study"):
        hpo.load_study(path)
