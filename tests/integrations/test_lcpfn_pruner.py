"""LCPFNPruner in real Optuna studies: the rule (stub predictor) and a run with an untrained LC-PFN."""

from __future__ import annotations

import numpy as np
import pytest

optuna = pytest.importorskip("optuna")
pytest.importorskip("torch")

from hpo.integrations.optuna import LCPFNPruner  # noqa: E402
from hpo.surrogates.lcpfn import LCPFN  # noqa: E402


class Oracle:
    def __init__(self):
        self.calls = []

    def prob_improvement(self, x, y, x_final, threshold, maximize, y_range):
        self.calls.append((x, y, x_final, threshold, maximize))
        return np.array([0.01 if c[-1] < 0.5 else 0.9 for c in y])


def objective(trial):
    x = trial.suggest_float("x", 0.0, 1.0)
    acc = 0.0
    for step in range(10):
        acc = x * (1 - 0.5 ** (step + 1))
        trial.report(acc, step)
        if trial.should_prune():
            raise optuna.TrialPruned()
    return acc


def test_prunes_hopeless_trials_after_min_steps_and_an_incumbent():
    oracle = Oracle()
    pruner = LCPFNPruner(max_step=10, min_steps=3, model=oracle, calibrate=False, rank_check=False)
    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.RandomSampler(seed=0), pruner=pruner)
    study.enqueue_trial({"x": 0.95})
    study.optimize(objective, n_trials=15)
    trials = study.get_trials()
    assert trials[0].state == optuna.trial.TrialState.COMPLETE
    pruned = [t for t in trials if t.state == optuna.trial.TrialState.PRUNED]
    assert pruned and all(t.params["x"] * (1 - 0.5**3) < 0.5 for t in pruned)
    assert all(max(t.intermediate_values) == 2 for t in pruned)  # stopped at the 3rd report
    x, _, x_final, threshold, maximize = oracle.calls[0]
    assert x[0] == [1.0, 2.0, 3.0] and x_final == 10 and maximize and threshold == pytest.approx(trials[0].value)


def test_prunes_before_min_steps_once_complete_trials_show_the_first_report_ranks_as_the_final():
    oracle = Oracle()
    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.RandomSampler(seed=0),
                                pruner=LCPFNPruner(max_step=10, min_steps=3, model=oracle, calibrate=False))  # fmt: skip
    for x in (0.95, 0.9, 0.85, 0.8, 0.75, 0.7, 0.1, 0.2):  # six complete (their reports keep x's order), two hopeless
        study.enqueue_trial({"x": x})
    study.optimize(objective, n_trials=8)
    assert [t.state for t in study.trials[:6]] == [optuna.trial.TrialState.COMPLETE] * 6
    assert [max(t.intermediate_values) for t in study.trials[6:]] == [0, 0]  # pruned at the 1st report
    assert [t.state for t in study.trials[6:]] == [optuna.trial.TrialState.PRUNED] * 2


def test_runs_with_a_real_lcpfn_and_checks_arguments():
    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.RandomSampler(seed=1),
                                pruner=LCPFNPruner(max_step=10, model=LCPFN.untrained(seed=0)))  # fmt: skip
    study.optimize(objective, n_trials=8)
    assert len(study.trials) == 8 and study.best_value > 0
    with pytest.raises(ValueError, match="threshold"):
        LCPFNPruner(max_step=10, threshold=2.0)


def test_learns_its_calibration_from_complete_trials_that_reach_max_step():
    pruner = LCPFNPruner(max_step=10, model=LCPFN.untrained(seed=0))
    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.RandomSampler(seed=2), pruner=pruner)
    study.optimize(objective, n_trials=10)
    complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    # each COMPLETE trial is learned from once, by the first prune() call after it ended
    learned = pruner.rule.model.calibration.n_curves
    assert 1 <= learned <= len(complete) and learned >= len(complete) - 1



def test_a_diverged_report_is_pruned_not_failed():
    """A NaN report prunes the trial at once (as MedianPruner does) instead of failing it."""
    oracle = Oracle()

    def diverging(trial):
        x = trial.suggest_float("x", 0.0, 1.0)
        for step in range(10):
            acc = float("nan") if x > 0.8 and step >= 4 else x * (1 - 0.5 ** (step + 1))
            trial.report(acc, step)
            if trial.should_prune():
                raise optuna.TrialPruned()
        return acc

    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.RandomSampler(seed=0),
                                pruner=LCPFNPruner(max_step=10, min_steps=3, model=oracle, calibrate=False))  # fmt: skip
    study.enqueue_trial({"x": 0.7})
    study.enqueue_trial({"x": 0.9})  # diverges at its 5th report
    study.optimize(diverging, n_trials=2)
    assert [t.state for t in study.trials] == [optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED]
    assert max(study.trials[1].intermediate_values) == 4
    assert all(np.isfinite(v).all() for _, ys, *_ in oracle.calls for v in ys)


def test_the_rule_leaves_non_finite_points_out_of_the_extrapolation():
    from hpo.surrogates.lcpfn.stopping import StoppingRule

    oracle = Oracle()
    rule = StoppingRule(min_steps=3, model=oracle, calibrate=False)
    nan = float("nan")
    assert not rule.should_stop([(1.0, nan), (2.0, 0.6), (3.0, 0.7)], 10.0, 0.8, True)
    assert oracle.calls[-1][0] == [[2.0, 3.0]] and oracle.calls[-1][1] == [[0.6, 0.7]]
    assert rule.probabilities([[(1.0, nan)], [(1.0, 0.9)]], 10.0, 0.8, True) == [0.0, 0.9]
    assert rule.should_stop([(1.0, 0.6), (2.0, float("inf"))], 10.0, None, True)  # diverged: stopped at once
