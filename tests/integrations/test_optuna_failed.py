"""``HPOSampler`` learns from FAIL trials (NaN or raised), so it does not suggest a failing region again."""

from __future__ import annotations

import math

import optuna
import pytest

from hpo.integrations.optuna import HPOSampler

optuna.logging.set_verbosity(optuna.logging.WARNING)

N_TRIALS = 24


def flat(trial: optuna.Trial) -> float:
    x = trial.suggest_float("x", -2.0, 2.0)
    y = trial.suggest_float("y", 0.0, 1.0)
    return float("nan") if x < -1.0 else x + 0.1 * y  # the valid optimum is on the edge of the failing region


def tree(trial: optuna.Trial) -> float:
    kind = trial.suggest_categorical("kind", ["lin", "quad"])
    if kind == "lin":
        x = trial.suggest_float("x", -2.0, 2.0)
        if x < -1.0:
            raise ValueError("diverged")
        return x
    return 1.0 + trial.suggest_float("z", -1.0, 1.0) ** 2


def two_objectives(trial: optuna.Trial) -> tuple[float, float]:
    x = trial.suggest_float("x", -2.0, 2.0)
    y = trial.suggest_float("y", 0.0, 1.0)
    return (float("nan"), float("nan")) if x < -1.0 else (x, y - x)


@pytest.mark.parametrize("objective", [flat, tree, two_objectives], ids=["flat", "tree", "pareto"])
def test_failures_are_imputed_not_repeated(objective):
    directions = ["minimize", "minimize"] if objective is two_objectives else ["minimize"]
    study = optuna.create_study(directions=directions, sampler=HPOSampler(seed=0, n_startup_trials=5))
    study.optimize(objective, n_trials=N_TRIALS, catch=(ValueError,))
    failed = [t for t in study.trials if t.state == optuna.trial.TrialState.FAIL]
    complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    # every failure is recorded with its params, and the study went on
    assert len(failed) + len(complete) == N_TRIALS
    assert all("x" in t.params for t in failed)
    # ignoring failures, the GP walks into x < -1 and stays there (flat: 19 of 24 failed)
    assert len(failed) <= N_TRIALS // 3, [round(t.params["x"], 3) for t in failed]
    if objective is not two_objectives:
        assert study.best_value < -0.5
        assert all(math.isfinite(t.value) for t in complete)


def test_failed_ignore_keeps_the_old_behaviour_selectable():
    study = optuna.create_study(sampler=HPOSampler(seed=0, n_startup_trials=5, failed="ignore"))
    study.optimize(flat, n_trials=12)
    assert len(study.trials) == 12
    with pytest.raises(ValueError, match="failed must be"):
        HPOSampler(failed="skip")
