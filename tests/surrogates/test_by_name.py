"""Every registered surrogate, chosen by name, from every entry point.

``@tune(surrogate=NAME)`` with two workers, inside the model-based multi-fidelity schedulers
(ASHA and Hyperband), ``HPOSampler(surrogate=NAME)`` in an Optuna study, and
``hpo run --surrogate NAME``.
"""

import json
import math
import sqlite3
import subprocess
import sys

import optuna
import pytest

import hpo
from hpo._registry import SURROGATES
from hpo.integrations.optuna import HPOSampler
from hpo.search_spaces import Categorical, Float
from hpo.trial import TrialStatus

NAMES = SURROGATES.names()
SPACE = {"x": Float(0.0, 1.0), "lr": Float(1e-4, 1e-1, log=True), "opt": Categorical(["adam", "sgd"])}


def _loss(config, epoch=None):
    base = (config["x"] - 0.3) ** 2 + 0.1 * (math.log10(config["lr"]) + 2) ** 2 + 0.2 * (config["opt"] == "sgd")
    return base if epoch is None else base + 1.0 / (epoch + 1)


def _counting(monkeypatch, name):
    """Count the fits of the surrogate class registered as ``name``."""
    cls = type(SURROGATES.build(name, seed=0))
    fits = []
    fit = cls.fit

    def counting_fit(self, x_unit, y, cat_dims=None):
        fits.append(len(y))
        return fit(self, x_unit, y, cat_dims)

    monkeypatch.setattr(cls, "fit", counting_fit)
    return cls, fits


def _run(tuned, cls, n_trials):
    """A 2-worker in-process study of a ``@tune`` function whose searcher uses a ``cls`` surrogate."""
    study = tuned.study(executor="inprocess", workers=2, seed=0)
    assert isinstance(study.scheduler.searcher.surrogate, cls)
    try:
        result = study.optimize(n_trials=n_trials)
    finally:
        study.close()
    assert len(result.trials) == n_trials
    return result


@pytest.mark.parametrize("name", NAMES)
def test_two_worker_tune_study_by_name(name, monkeypatch):
    cls, fits = _counting(monkeypatch, name)

    @hpo.tune(space=SPACE, metric="loss", mode="min", surrogate=name)
    def objective(config):
        return {"loss": _loss(config)}

    result = _run(objective, cls, 10)
    assert all(t.status is TrialStatus.COMPLETED for t in result.trials), [(t.status, t.reason) for t in result.trials]
    assert fits, f"the {name} surrogate was never fitted"
    assert result.incumbent is not None and math.isfinite(result.incumbent.value)


@pytest.mark.parametrize("scheduler", ["asha", "hyperband"])
@pytest.mark.parametrize("name", NAMES)
def test_model_based_multi_fidelity_by_name(name, scheduler, monkeypatch):
    cls, fits = _counting(monkeypatch, name)

    @hpo.tune(space=SPACE, metric="loss", mode="min", surrogate=name, scheduler=scheduler, budget=hpo.Budget(1, 9))
    def train(config, budget):
        loss = math.inf
        for epoch in range(budget.start, budget.stop):
            loss = _loss(config, epoch)
            hpo.report(loss=loss, step=epoch)
        return {"loss": loss}

    result = _run(train, cls, 14)
    assert not [t for t in result.trials if t.status is TrialStatus.FAILED], [(t.status, t.reason) for t in result.trials]
    assert any((t.reached or 0) > 1 for t in result.trials), "nothing was promoted"
    assert fits, f"the {name} surrogate was never fitted"
    assert result.incumbent is not None and math.isfinite(result.incumbent.value)


@pytest.mark.parametrize("name", NAMES)
def test_hpo_sampler_by_name(name, monkeypatch):
    cls, fits = _counting(monkeypatch, name)
    sampler = HPOSampler(seed=0, surrogate=name)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(sampler=sampler)
    study.optimize(
        lambda t: _loss({"x": t.suggest_float("x", 0.0, 1.0), "lr": t.suggest_float("lr", 1e-4, 1e-1, log=True),
                         "opt": t.suggest_categorical("opt", ["adam", "sgd"])}),
        n_trials=9,
    )
    assert len(study.trials) == 9 and all(t.state == optuna.trial.TrialState.COMPLETE for t in study.trials)
    (feed,) = sampler._feeds.values()  # one group: x, lr and opt always occur together
    assert isinstance(feed.searcher.surrogate, cls)
    assert fits, f"the {name} surrogate was never fitted"


def test_hpo_sampler_rejects_an_unknown_surrogate_name():
    with pytest.raises(ValueError, match="nosuch"):
        HPOSampler(surrogate="nosuch")


OBJ = '''
import math

def train(config):
    return {"loss": (config["x"] - 0.3) ** 2 + 0.1 * (math.log10(config["lr"]) + 2) ** 2}
'''
SPACE_YAML = """
x: {type: float, low: 0, high: 1}
lr: {type: float, low: 0.0001, high: 0.1, log: true}
"""


@pytest.mark.parametrize("name", NAMES)
def test_cli_run_with_surrogate_by_name(name, tmp_path):
    (tmp_path / "train.py").write_text(OBJ)
    (tmp_path / "space.yaml").write_text(SPACE_YAML)
    db = tmp_path / "study.db"
    out = subprocess.run(
        [sys.executable, "-m", "hpo", "run", f"{tmp_path}/train.py:train", "--space", str(tmp_path / "space.yaml"),
         "--trials", "8", "--surrogate", name, "--executor", "inprocess", "--storage", str(db), "--seed", "0",
         "--no-progress"],
        capture_output=True, text=True, timeout=600,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert "completed 8" in out.stdout
    with sqlite3.connect(db) as conn:
        stored = dict(conn.execute("SELECT key, value FROM hpo_meta").fetchall())
    assert name in json.dumps(stored), stored  # the stored settings name the surrogate (resume rebuilds it)
