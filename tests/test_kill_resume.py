"""Kill test: SIGKILL the driver mid-study, resume with `hpo resume`, lose and re-run nothing."""

import json
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from hpo.testing._drive import kill_when

OBJECTIVE = '''
import json, os, time
import hpo
from hpo.search_spaces import Float

LOG = os.environ["HPO_KILL_LOG"]

@hpo.tune(space={"x": Float(0.0, 1.0), "y": Float(0.0, 1.0)}, metric="loss", mode="min")
def train(config):
    ctx = hpo.trial_context()
    with open(LOG, "a") as f:
        f.write(json.dumps({"trial": ctx.trial_id, "config": config}) + "\\n")
    time.sleep(0.15)
    return {"loss": (config["x"] - 0.3) ** 2 + (config["y"] - 0.7) ** 2}
'''


def _hpo(*args):
    return [sys.executable, "-m", "hpo.cli", *args]


def _completed(db: Path) -> dict[int, tuple[str, float]]:
    if not db.exists():
        return {}
    try:
        c = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
        rows = c.execute("SELECT trial_id, config, value FROM trials WHERE status='COMPLETED'").fetchall()
        c.close()
    except sqlite3.OperationalError:
        return {}
    return {r[0]: (r[1], r[2]) for r in rows}


def test_sigkill_driver_then_resume_loses_and_reruns_nothing(tmp_path):
    (tmp_path / "killme.py").write_text(OBJECTIVE)
    db = tmp_path / "study.db"
    log = tmp_path / "calls.jsonl"
    env = {**os.environ, "HPO_KILL_LOG": str(log)}
    driver = subprocess.Popen(
        _hpo("run", f"{tmp_path}/killme.py:train", "--trials", "30", "--workers", "2", "--storage", str(db),
             "--seed", "1", "--no-progress"),
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )
    kill_when(driver, lambda: len(_completed(db)) >= 10)
    before = _completed(db)
    assert 10 <= len(before) < 30
    time.sleep(0.5)  # the workers die with their parent (PR_SET_PDEATHSIG)
    calls_before = [json.loads(line) for line in log.read_text().splitlines()]

    status = subprocess.run(_hpo("status", str(db)), env=env, capture_output=True, text=True, check=True)
    assert "running" in status.stdout  # trials the dead driver left RUNNING

    resume = subprocess.run(_hpo("resume", str(db), "--no-progress"), env=env, capture_output=True, text=True, timeout=300)
    assert resume.returncode == 0, resume.stdout + resume.stderr

    c = sqlite3.connect(db)
    rows = c.execute("SELECT trial_id, status, config, value, reason, requeued_from FROM trials").fetchall()
    c.close()
    by_id = {r[0]: r for r in rows}
    # nothing completed before the kill was lost or changed
    for trial_id, (config, value) in before.items():
        assert by_id[trial_id][1] == "COMPLETED" and by_id[trial_id][2] == config and by_id[trial_id][3] == value
    # the study reached its n_trials: 30 counted, finished trials
    counted = [r for r in rows if not (r[1] == "FAILED" and r[4] == "interrupted")]
    assert len(counted) == 30 and all(r[1] == "COMPLETED" for r in counted)
    # interrupted trials were re-queued with the same config
    interrupted = {r[0]: r for r in rows if r[4] == "interrupted"}
    requeued = {r[5]: r for r in rows if r[5] is not None}
    assert interrupted and set(requeued) == set(interrupted)
    for old_id, new in requeued.items():
        assert new[2] == interrupted[old_id][2] and new[1] == "COMPLETED"
    # nothing that had finished ran again: each completed trial was called exactly once,
    # and no call after the kill used the config of a trial completed before it
    calls = [json.loads(line) for line in log.read_text().splitlines()]
    after = calls[len(calls_before):]
    for trial_id in before:
        assert sum(1 for call in calls if call["trial"] == trial_id) == 1
    before_configs = {json.dumps(json.loads(cfg), sort_keys=True) for cfg, _ in before.values()}
    assert not any(json.dumps(call["config"], sort_keys=True) in before_configs for call in after)
    assert len(after) == 30 - len(before)
