"""The security pass (SECURITY.md): file permissions, code named by study files, secrets."""

from __future__ import annotations

import logging
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import hpo
from hpo.errors import HPOError
from hpo.storage import SQLiteStorage

TRAIN = textwrap.dedent(
    """
    import sys
    import hpo
    from hpo.search_spaces import Float

    print("TRAIN MODULE IMPORTED", file=sys.stderr, flush=True)

    @hpo.tune(space={"x": Float(0.0, 1.0)}, metric="loss", searcher="random")
    def train(config):
        hpo.checkpoint.save({"x": config["x"]})
        return {"loss": config["x"]}
    """
)


def _run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, *args], cwd=cwd, capture_output=True, text=True, timeout=180)


def test_study_files_and_artifacts_follow_the_umask(tmp_path):
    """With umask 077, nothing hyperbandit creates is readable by the group or others."""
    (tmp_path / "train.py").write_text(TRAIN)
    code = (
        "import os, sys; os.umask(0o077); sys.argv[1:] = ['run', 'train.py:train', '--storage', "
        "'new/folder/study.db', '--trials', '2', '--executor', 'inprocess', '--no-progress']; "
        "from hpo.cli import main; sys.exit(main())"
    )
    done = _run("-c", code, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    created = [p for p in (tmp_path / "new").rglob("*")] + [tmp_path / "new"]
    names = {p.name for p in created}
    assert {"study.db", "study.db.lock", "study.artifacts", "trial_1", "checkpoint.pkl"} <= names, names
    for path in created:
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode & 0o077 == 0, f"{path} has mode {oct(mode)}"


def test_resume_shows_the_objective_a_study_file_names_before_importing_it(tmp_path):
    (tmp_path / "train.py").write_text(TRAIN)
    first = _run("-m", "hpo", "run", "train.py:train", "--storage", "study.db", "--trials", "1", "--executor",
                 "inprocess", "--no-progress", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    resumed = _run("-m", "hpo", "resume", "study.db", "--trials", "2", "--no-progress", cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    notice = f"hpo resume: importing objective '{tmp_path / 'train.py'}:train' named in the study file 'study.db'"
    assert notice in resumed.stderr
    assert resumed.stderr.index(notice) < resumed.stderr.index("TRAIN MODULE IMPORTED")


def test_a_study_file_cannot_make_resume_call_anything_but_a_plugin_class(tmp_path):
    """Settings name plugin classes to rebuild; a foreign file naming ``subprocess:run`` is refused."""
    path = tmp_path / "study.db"
    study = hpo.Study.create(lambda config: config["x"], {"x": hpo.search_spaces.Float(0.0, 1.0)}, storage=path,
                             searcher="random", executor="inprocess")
    study.close()
    marker = tmp_path / "pwned"
    evil = {"class": "subprocess:run", "params": {"args": ["touch", str(marker)]}, "complete": True}
    with SQLiteStorage(path) as store:
        settings = dict(store.load_study().settings)
        settings["scheduler"] = {"class": "hpo.schedulers.fifo:FIFOScheduler", "params": {"x": evil},
                                 "complete": True}
        store.update_settings(settings)
    with pytest.raises(HPOError, match="'subprocess:run' as its surrogate, which is not a scheduler, searcher"):
        hpo.Study.load(path, objective=lambda config: 0.0, executor="inprocess")
    assert not marker.exists()


def test_secrets_in_executor_options_never_reach_the_study_file(tmp_path, caplog):
    from hpo._setup import _storable

    options = {
        "address": "auto",
        "resources": {"gpu": 1},
        "init_kwargs": {"_redis_password": "hunter2", "runtime_env": {"env_vars": {"RAY_AUTH_TOKEN": "tok-123",
                                                                                  "WANDB_API_KEY": "k-456",
                                                                                  "OMP_NUM_THREADS": "1"}}},
    }
    with caplog.at_level(logging.INFO, logger="hpo.study"):
        stored = _storable(options)
    assert stored == {"address": "auto", "resources": {"gpu": 1},
                      "init_kwargs": {"runtime_env": {"env_vars": {"OMP_NUM_THREADS": "1"}}}}
    assert "init_kwargs._redis_password" in caplog.text  # named, so the user knows to pass it again
    for secret in ("hunter2", "tok-123", "k-456"):
        assert secret not in caplog.text


def test_cluster_addresses_are_shown_without_credentials():
    from hpo.execution.ray import redact

    message = redact("could not connect to the Ray cluster at 'ray://alice:s3cret@head:10001': refused")
    assert message == "could not connect to the Ray cluster at 'ray://***@head:10001': refused"


def test_shipped_weights_load_as_tensors_only():
    """The LC-PFN weights are read with ``weights_only=True`` (no pickled code runs)."""
    source = (Path(hpo.__file__).parent / "surrogates" / "lcpfn" / "__init__.py").read_text()
    assert "weights_only=True" in source and "torch.load(" in source
