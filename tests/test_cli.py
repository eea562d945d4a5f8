import json
import subprocess
import sys

import pytest

OBJ = '''
import hpo

def train(config, budget):
    for epoch in range(budget.start, budget.stop):
        hpo.report(loss=(config["x"] - 2) ** 2 + 1 / (epoch + 1), step=epoch)
    return {"loss": (config["x"] - 2) ** 2}
'''

SPACE = """
x: {type: float, low: -5, high: 5}
"""


def hpo_cli(*args, check=True):
    out = subprocess.run([sys.executable, "-m", "hpo", *args], capture_output=True, text=True, timeout=300)
    if check and out.returncode != 0:
        raise AssertionError(out.stdout + out.stderr)
    return out


@pytest.fixture
def project(tmp_path):
    (tmp_path / "train.py").write_text(OBJ)
    (tmp_path / "space.yaml").write_text(SPACE)
    return tmp_path


def test_run_status_best_resume(project):
    db = project / "study.db"
    out = hpo_cli("run", f"{project}/train.py:train", "--space", str(project / "space.yaml"), "--trials", "6",
                  "--workers", "2", "--storage", str(db), "--budget-max", "3", "--seed", "0", "--no-progress")
    assert "stopped (n_trials): completed 6" in out.stdout
    assert "incumbent: trial" in out.stdout and str(db) in out.stdout

    status = hpo_cli("status", str(db), "--json")
    data = json.loads(status.stdout)
    assert data["counts"] == {"COMPLETED": 6} and data["n_trials"] == 6
    assert data["incumbent"]["config"].keys() == {"x"}

    best = json.loads(hpo_cli("best", str(db)).stdout)
    assert best == data["incumbent"]["config"]

    more = hpo_cli("resume", str(db), "--trials", "8", "--no-progress")
    assert "completed 8" in more.stdout
    text = hpo_cli("status", str(db)).stdout
    assert "trials: completed 8" in text and "incumbent: trial" in text


def test_progress_bar_output(project):
    db = project / "p.db"
    out = hpo_cli("run", f"{project}/train.py:train", "--space", str(project / "space.yaml"), "--trials", "3",
                  "--storage", str(db), "--executor", "inprocess")
    assert "3/3" in out.stdout and "best" in out.stdout


def test_clear_errors(project):
    out = hpo_cli("run", f"{project}/train.py:train", "--trials", "2", "--storage", str(project / "e.db"), check=False)
    assert out.returncode == 2 and "not decorated with @hpo.tune; pass --space" in out.stderr
    out = hpo_cli("run", f"{project}/nope.py:train", "--trials", "2", check=False)
    assert out.returncode == 2 and "does not exist" in out.stderr
    (project / "bad.yaml").write_text("x: {type: float, low: 5, high: -5}\n")
    out = hpo_cli("run", f"{project}/train.py:train", "--space", str(project / "bad.yaml"), "--trials", "2",
                  "--storage", str(project / "e2.db"), check=False)
    assert out.returncode == 2 and "parameter 'x': inverted range" in out.stderr
    (project / "junk.db").write_bytes(b"garbage" * 1000)
    out = hpo_cli("status", str(project / "junk.db"), check=False)
    assert out.returncode == 2 and "corrupt or not a SQLite database" in out.stderr
    out = hpo_cli("run", f"{project}/train.py:train", "--space", str(project / "space.yaml"), "--trials", "2",
                  "--storage", str(project / "e3.db"), "--gpus-per-trial", "1", check=False)
    assert out.returncode == 2 and "--gpus-per-trial need --executor ray" in out.stderr
