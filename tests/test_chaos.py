"""Chaos test: SIGKILL the driver 20 times (some kills inside an open SQLite write
transaction) and kill worker processes at random, with ``hpo resume`` after every driver
kill, on a real ASHA study with checkpoints and 2 local worker processes.

After every kill and at the end the study file is read read-only and checked against
everything seen before (:class:`Invariants`). Slow: ``make test-slow`` runs it.

How kills are timed (seeded ``numpy`` generator):

* **plain lives** (the real ``hpo run`` / ``hpo resume``): killed once 1-6 more reports
  are in the file, after a further random 0-0.15 s; so a kill lands anywhere, sometimes
  during a commit (random timing, not forced). In half of them a worker process (a child
  of the driver, found through ``/proc``) is killed first, after the first new report.
* **in-transaction lives** (``hpo.cli.main`` behind a hook, :data:`HOOK`): the driver's
  N-th write transaction (N mostly 1-5, so recovery writes at start-up are hit, else up
  to 40) runs its statements, announces itself in a marker file and sleeps before
  ``COMMIT``; the test kills it then, so the kill lands inside an open write transaction.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from hpo.testing._drive import kill_when

pytestmark = pytest.mark.slow

N_TRIALS = 120
DRIVER_KILLS = 20
SEED = 20261202

OBJECTIVE = '''
import time
import hpo
from hpo import checkpoint

def train(config, budget):
    state = checkpoint.load({"step": int(budget.start)})
    if state["step"] != int(budget.start):  # the study must continue exactly where the checkpoint is
        raise RuntimeError(f"checkpoint mismatch: saved at {state['step']}, job starts at {budget.start}")
    loss = float("inf")
    for step in range(int(budget.start), int(budget.stop)):
        loss = (config["x"] - 0.3) ** 2 + (config["y"] - 0.7) ** 2 + 1.0 / (step + 1)
        hpo.report(loss=loss, step=step)
        time.sleep(0.03)
        checkpoint.save({"step": step + 1}, step=step + 1)
    return {"loss": loss}
'''

SPACE = {"x": {"type": "float", "low": 0.0, "high": 1.0}, "y": {"type": "float", "low": 0.0, "high": 1.0}}

# The driver's N-th write transaction stops before COMMIT, says so, and waits to be killed.
HOOK = '''
import os, sys, time
from contextlib import contextmanager
from hpo.storage import sqlite as _sqlite

_tx, _count = _sqlite.SQLiteStorage._tx, [0]

@contextmanager
def _slow_tx(self):
    with _tx(self) as conn:
        yield conn
        _count[0] += 1
        if _count[0] == int(os.environ["HPO_CHAOS_WRITE"]):
            with open(os.environ["HPO_CHAOS_MARKER"], "w") as fh:
                fh.write(str(_count[0]))
            time.sleep(60)

_sqlite.SQLiteStorage._tx = _slow_tx
from hpo.cli import main
sys.exit(main(sys.argv[1:]))
'''


def _read(db: Path) -> dict | None:
    """Everything in the study file (read-only), or None before the driver created it."""
    if not db.exists():
        return None
    try:
        c = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
        try:
            trials = c.execute(
                "SELECT trial_id, config, status, value, budget, metrics, reason, requeued_from FROM trials"
            ).fetchall()
            reports = c.execute("SELECT trial_id, seq, step, metrics FROM reports ORDER BY trial_id, seq").fetchall()
            observations = c.execute("SELECT seq, trial_id, data FROM observations ORDER BY seq").fetchall()
        finally:
            c.close()
    except sqlite3.OperationalError:  # tables not created yet
        return None
    by_trial: dict[int, list[tuple]] = {}
    for trial_id, seq, step, metrics in reports:
        by_trial.setdefault(trial_id, []).append((seq, step, metrics))
    return {"trials": {r[0]: r for r in trials}, "reports": by_trial, "observations": observations}


class Invariants:
    """What must hold between any two snapshots of the study file, and within each."""

    def __init__(self) -> None:
        self.finished: dict[int, tuple] = {}  # trial id -> row, once COMPLETED, PRUNED or FAILED
        self.reports: dict[int, list[tuple]] = {}
        self.observations: list[tuple] = []
        self.checks = 0

    def check(self, db: Path, final: bool = False) -> dict:
        snap = _read(db)
        assert snap is not None, "the study file is unreadable"
        trials, reports = snap["trials"], snap["reports"]
        # 1. no finished trial lost or changed (config, status, value, budget, metrics, reason)
        for trial_id, row in self.finished.items():
            assert trials.get(trial_id) == row, f"trial {trial_id} changed: {row} -> {trials.get(trial_id)}"
        # 2. every report kept: a trial's reports only grow, seq 0..k-1, steps strictly increasing
        for trial_id, old in self.reports.items():
            assert reports.get(trial_id, [])[: len(old)] == old, f"reports of trial {trial_id} lost or changed"
        for trial_id, rows in reports.items():
            assert [r[0] for r in rows] == list(range(len(rows))), f"trial {trial_id}: report seq has gaps"
            steps = [r[1] for r in rows]
            assert all(a < b for a, b in zip(steps, steps[1:], strict=False)), f"trial {trial_id}: steps {steps} repeat"
        # 3. every observation kept, in order; no trial's result observed twice at one fidelity
        assert snap["observations"][: len(self.observations)] == self.observations, "observations lost"
        results = [(o[1], json.loads(o[2])) for o in snap["observations"]]
        seen = [(trial_id, data["fidelity"]) for trial_id, data in results if data["status"] != "FAILED"]
        assert len(seen) == len(set(seen)), "a trial was observed twice at the same fidelity"
        # 4. no duplicate completion: a config is COMPLETED (at the full budget) at most once
        done = [json.dumps(json.loads(r[1]), sort_keys=True) for r in trials.values() if r[2] == "COMPLETED"]
        assert len(done) == len(set(done)), "a config was completed twice"
        # 5. no checkpoint was continued from the wrong place
        assert not [r for r in trials.values() if r[6] and "checkpoint mismatch" in r[6]]
        if final:
            self._final(trials)
        self.finished.update({k: r for k, r in trials.items() if r[2] in ("COMPLETED", "PRUNED", "FAILED")})
        self.reports = {k: list(v) for k, v in reports.items()}
        self.observations = list(snap["observations"])
        self.checks += 1
        return snap

    @staticmethod
    def _final(trials: dict[int, tuple]) -> None:
        counted = [r for r in trials.values() if not (r[2] == "FAILED" and r[6] == "interrupted")]
        assert len(counted) == N_TRIALS, f"{len(counted)} counted trials, expected {N_TRIALS}"
        assert not [r for r in trials.values() if r[2] in ("RUNNING", "PENDING")]
        assert any(r[2] == "COMPLETED" for r in trials.values())
        # every interrupted trial was re-queued once, with its config
        interrupted = {r[0]: r for r in trials.values() if r[6] == "interrupted"}
        requeued = [r for r in trials.values() if r[7] is not None]
        assert sorted(r[7] for r in requeued) == sorted(interrupted), "an interrupted trial was not re-queued once"
        for r in requeued:
            assert r[1] == interrupted[r[7]][1]


def _children(pid: int) -> list[int]:
    """Pids of the live child processes of ``pid`` (Linux ``/proc``)."""
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            fields = stat[stat.rindex(")") + 2 :].split()
            if int(fields[1]) == pid and fields[0] != "Z":
                out.append(int(entry.name))
    return out


def _n_reports(db: Path) -> int:
    snap = _read(db)
    return 0 if snap is None else sum(len(v) for v in snap["reports"].values())


def _reports_reach(db: Path, n: int):
    return lambda: _n_reports(db) >= n


def _after(ready, delay: float):
    """``ready`` that holds only ``delay`` seconds after ``ready()`` first held."""
    since: list[float] = []

    def later() -> bool:
        if not since and ready():
            since.append(time.monotonic())
        return bool(since) and time.monotonic() >= since[0] + delay

    return later


def _wait(driver: subprocess.Popen, ready, timeout: float = 120.0) -> bool:
    """Poll until ``ready()``; False if the driver exited first."""
    deadline = time.monotonic() + timeout
    while not ready():
        if driver.poll() is not None:
            return False
        assert time.monotonic() < deadline, "the study made no progress"
        time.sleep(0.02)
    return True


def test_twenty_driver_kills_and_worker_kills_lose_nothing(tmp_path, capsys):
    rng = np.random.default_rng(SEED)
    (tmp_path / "chaos_objective.py").write_text(OBJECTIVE)
    (tmp_path / "space.json").write_text(json.dumps(SPACE))
    (tmp_path / "hook.py").write_text(HOOK)
    db, marker = tmp_path / "chaos.db", tmp_path / "in_transaction"
    run = ["run", f"{tmp_path}/chaos_objective.py:train", "--space", str(tmp_path / "space.json"), "--storage", str(db),
           "--trials", str(N_TRIALS), "--workers", "2", "--seed", "0", "--scheduler", "asha", "--searcher", "random",
           "--budget-min", "1", "--budget-max", "9", "--no-progress"]  # fmt: skip
    resume = ["resume", str(db), "--no-progress"]
    invariants = Invariants()
    counts = {"driver kills": 0, "in-transaction kills": 0, "worker kills": 0, "resumes": 0}
    for life in range(DRIVER_KILLS):
        args = run if life == 0 else resume
        counts["resumes"] += life > 0
        marker.unlink(missing_ok=True)
        in_tx = life % 3 == 2
        if in_tx:  # the N-th write of this life hangs inside its transaction
            nth = int(rng.integers(1, 6)) if rng.random() < 0.5 else int(rng.integers(6, 41))
            env = {**os.environ, "HPO_CHAOS_WRITE": str(nth), "HPO_CHAOS_MARKER": str(marker)}
            cmd = [sys.executable, str(tmp_path / "hook.py"), *args]
        else:
            env, cmd = dict(os.environ), [sys.executable, "-m", "hpo.cli", *args]
        driver = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        try:  # kill_when fails, with the driver's output, if the study finished first: raise N_TRIALS
            if in_tx:
                kill_when(driver, marker.exists)
                counts["in-transaction kills"] += 1
            else:
                base = _n_reports(db)
                if rng.random() < 0.5 and _wait(driver, _reports_reach(db, base + 1)):
                    workers = _children(driver.pid)
                    if workers:
                        os.kill(int(rng.choice(workers)), signal.SIGKILL)
                        counts["worker kills"] += 1
                more, delay = int(rng.integers(1, 7)), float(rng.uniform(0.0, 0.15))
                kill_when(driver, _after(_reports_reach(db, base + more), delay))
        finally:
            if driver.poll() is None:
                driver.kill()
                driver.wait()
        time.sleep(0.3)  # the workers die with their driver (PR_SET_PDEATHSIG)
        counts["driver kills"] += 1
        invariants.check(db)
    final = subprocess.run([sys.executable, "-m", "hpo.cli", *resume], capture_output=True, text=True, timeout=240)
    counts["resumes"] += 1
    assert final.returncode == 0, final.stdout + final.stderr
    snap = invariants.check(db, final=True)
    statuses: dict[str, int] = {}
    for r in snap["trials"].values():
        key = r[2] if r[6] != "interrupted" else "FAILED (interrupted)"
        statuses[key] = statuses.get(key, 0) + 1
    with capsys.disabled():
        print(f"\nchaos: {counts}, invariant checks {invariants.checks}, trials {statuses}, "
              f"reports {sum(len(v) for v in snap['reports'].values())}")
    assert counts["driver kills"] == DRIVER_KILLS and counts["worker kills"] >= 3
