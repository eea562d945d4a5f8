"""Two drivers on one study file: the second is refused, the first goes on untouched, and
readers (``hpo.load_study``) never block the driver.

Every driver here is a real second process, as it is when two people (or two terminals)
run ``hpo run``/``hpo resume`` on one file.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

import hpo
from hpo.errors import StorageError, StorageLockedError
from hpo.trial import TrialStatus

TRAIN = textwrap.dedent(
    """
    import time
    import hpo
    from hpo.search_spaces import Float

    @hpo.tune(space={"x": Float(0.0, 1.0)}, metric="loss", searcher="random")
    def slow(config):
        for step in range(3):
            time.sleep(SLEEP)
            hpo.report(loss=config["x"] + 1.0 / (step + 1), step=step)
        return {"loss": config["x"]}
    """
)


def _hpo(*args: str) -> list[str]:
    return [sys.executable, "-m", "hpo", *args]


def _start_driver(tmp_path: Path, n_trials: int, sleep: float) -> subprocess.Popen[str]:
    (tmp_path / "train.py").write_text(TRAIN.replace("SLEEP", repr(sleep)))
    return subprocess.Popen(
        _hpo("run", "train.py:slow", "--storage", "study.db", "--trials", str(n_trials), "--executor",
             "inprocess", "--seed", "0", "--no-progress",),
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def _wait_for_trials(path: Path, driver: subprocess.Popen[str], n: int) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        assert driver.poll() is None, driver.communicate()
        try:
            if len(hpo.load_study(path).trials) >= n:
                return
        except StorageError:
            pass  # not created yet
        time.sleep(0.05)
    raise AssertionError("the driver made no progress")


def _finish(driver: subprocess.Popen[str]) -> str:
    out, err = driver.communicate(timeout=180)
    assert driver.returncode == 0, (out, err)
    return out


def test_a_second_driver_is_refused_naming_the_file_and_the_holder(tmp_path):
    path = tmp_path / "study.db"
    driver = _start_driver(tmp_path, n_trials=8, sleep=0.1)
    try:
        _wait_for_trials(path, driver, 2)
        for args in (
            ("resume", "study.db", "--trials", "8", "--no-progress"),
            ("run", "train.py:slow", "--storage", "study.db", "--trials", "8", "--executor", "inprocess",
             "--no-progress"),
        ):
            second = subprocess.run(_hpo(*args), cwd=tmp_path, capture_output=True, text=True,
                                    timeout=120)
            assert second.returncode == 2, second
            assert f"hpo {args[0]}: error: study file 'study.db' is locked by another running driver " \
                f"(pid {driver.pid}) on host {socket.gethostname()!r}" in second.stderr
        # the Python API raises the typed error, and says how to read the study instead
        code = (
            "import sys, hpo\n"
            "try:\n    hpo.Study.load(sys.argv[1])\n"
            "except hpo.StorageLockedError as exc:\n    print(type(exc).__name__, exc)\n"
        )
        api = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, timeout=120)
        assert api.stdout.startswith(f"StorageLockedError study file {str(path)!r} is locked"), api
        assert f"pid {driver.pid}" in api.stdout and "hpo.load_study" in api.stdout
        assert driver.poll() is None  # refusing the others did not stop the first
    finally:
        if driver.poll() is None:
            _finish(driver)
    result = hpo.load_study(path)
    assert result.counts() == {"COMPLETED": 8}  # every trial of the first driver, none of the others
    assert all(len(result.reports(t.trial_id)) == 3 for t in result.trials)
    assert {t.worker.split(",")[0] for t in result.trials} == {f"pid={driver.pid}"}


def test_readers_never_block_the_driver(tmp_path):
    path = tmp_path / "study.db"
    n_trials = 20
    driver = _start_driver(tmp_path, n_trials=n_trials, sleep=0.03)
    loads = running_loads = 0
    try:
        _wait_for_trials(path, driver, 1)
        while driver.poll() is None:  # load as often as a busy dashboard would, until the driver ends
            snapshot = hpo.load_study(path)  # never a lock error: no StorageError is caught here
            loads += 1
            running_loads += snapshot.stop_reason == "running"
            time.sleep(0.005)
    finally:
        out = _finish(driver)
    assert running_loads >= 5, (loads, running_loads)  # the loads overlapped the driver's writes
    result = hpo.load_study(path)
    assert result.counts() == {"COMPLETED": n_trials}, out
    # the driver's own time between trials (storage writes, the searcher) stayed small: one
    # write blocked by a reader would wait for SQLite's 10 s busy timeout, or fail
    trials = sorted(result.trials, key=lambda t: t.started_at)
    gaps = [b.started_at - a.finished_at for a, b in zip(trials, trials[1:], strict=False)]
    assert max(gaps) < 5.0, gaps


def test_a_reader_opened_first_does_not_stop_a_driver_from_starting(tmp_path):
    """A notebook holding a study open read-only, then ``hpo resume`` on the same file."""
    from hpo.storage import SQLiteStorage

    path = tmp_path / "study.db"
    driver = _start_driver(tmp_path, n_trials=2, sleep=0.0)
    _finish(driver)
    with SQLiteStorage(path, readonly=True) as reader:
        reader.trials()
        resumed = subprocess.run(_hpo("resume", "study.db", "--trials", "4", "--no-progress"),
                                 cwd=tmp_path, capture_output=True, text=True, timeout=120)
        assert resumed.returncode == 0, resumed
        assert len(reader.trials()) == 4  # the reader sees the new trials, and never held a lock
    assert json.loads(subprocess.run(_hpo("status", "study.db", "--json"), cwd=tmp_path,
                                     capture_output=True, text=True, timeout=120).stdout)["counts"] == {"COMPLETED": 4}


def test_the_lock_is_gone_with_its_driver(tmp_path):
    """A driver killed with SIGKILL leaves a lock file, but no lock: the next driver runs."""
    path = tmp_path / "study.db"
    driver = _start_driver(tmp_path, n_trials=50, sleep=0.2)
    _wait_for_trials(path, driver, 1)
    driver.kill()
    driver.communicate()
    assert Path(f"{path}.lock").exists()
    assert any(t.status is TrialStatus.RUNNING for t in hpo.load_study(path).trials)  # what it left
    held = hpo.Study.load(path, executor="inprocess")  # the kernel dropped the dead driver's lock
    try:
        with pytest.raises(StorageLockedError, match=f"pid {os.getpid()}"):  # now this process holds it
            hpo.Study.load(path, executor="inprocess")
    finally:
        held.close()
    assert not any(t.status is TrialStatus.RUNNING for t in hpo.load_study(path).trials)  # interrupted
