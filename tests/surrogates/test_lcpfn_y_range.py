"""The metric range LC-PFN maps onto [0, 1]: inferred when not given, values clipped to it, the
same for ``LCStopping``, ``LCPFNPruner`` and ``LCPFNStopper`` (one ``StoppingRule``)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from hpo.errors import SettingError
from hpo.surrogates.lcpfn.stopping import StoppingRule, infer_y_range


class Recorder:
    """A stand-in predictor that records what the rule hands LC-PFN (isolates the mapping)."""

    def __init__(self, p: float = 0.5) -> None:
        self.p = p
        self.seen: list[tuple[list[list[float]], float, tuple[float, float]]] = []

    def prob_improvement(self, x, y, x_final, threshold, maximize, y_range):
        self.seen.append(([list(c) for c in y], threshold, y_range))
        return np.full(len(y), self.p)


@pytest.mark.parametrize(
    ("low", "high", "start", "maximize", "expected"),
    [
        (0.1, 0.9, 0.1, True, (0.0, 1.0)),  # an accuracy
        (0.05, 0.7, 0.7, False, (0.0, 1.0)),  # an error rate
        (3.0, 97.0, 3.0, True, (0.0, 100.0)),  # an accuracy in percent
        (0.08, 2.4, 2.3, False, (0.0, 2.3)),  # a cross-entropy loss: 0 to where curves start
        (-2.4, -0.1, -2.3, True, (-2.3, 0.0)),  # a negated loss, maximised
        (-5.0, 300.0, -5.0, True, None),  # a reward of either sign
        (0.0, 250.0, 1.0, True, None),  # a maximised metric beyond 100
        (-1.0, 3.0, 3.0, False, None),  # a minimised metric that goes negative (a log-likelihood)
    ],
)
def test_infer_y_range_places_common_metrics_and_refuses_the_rest(low, high, start, maximize, expected):
    inferred = infer_y_range(low, high, start, maximize)
    assert (inferred and inferred[0]) == expected or (inferred is None and expected is None)
    if inferred is not None:
        assert inferred[1]  # a reason, for reports


def test_a_loss_curve_reaches_the_model_on_a_rising_unit_scale():
    model = Recorder()
    rule = StoppingRule(min_steps=2, model=model, calibrate=False, rank_check=False)
    loss = [(1.0, 2.0), (2.0, 1.2), (3.0, 0.9)]
    rule.should_stop(loss, 10.0, best=0.5, maximize=False)
    y, threshold, y_range = model.seen[-1]
    assert y_range == (0.0, 2.0) and y == [[2.0, 1.2, 0.9]] and threshold == 0.5
    rule.should_stop([(1.0, 2.5), (2.0, 1.0)], 10.0, best=0.5, maximize=False)
    assert model.seen[-1][2] == (0.0, 2.25)  # the median first value of the two curves
    for start in (40.0, 300.0):  # runs that start far off (too large a learning rate) ...
        rule.should_stop([(1.0, start), (2.0, 1.0)], 10.0, best=0.5, maximize=False)
    assert model.seen[-1][2] == (0.0, 21.25)
    for start in (1.9, 2.1, 2.2):  # ... do not set the scale once most runs start near 2
        rule.should_stop([(1.0, start), (2.0, 1.0)], 10.0, best=0.5, maximize=False)
    assert model.seen[-1][2] == (0.0, 2.2) and model.seen[-1][0] == [[2.2, 1.0]]


def test_values_outside_a_range_are_clipped_to_it_and_so_is_the_incumbent():
    model = Recorder()
    rule = StoppingRule(min_steps=2, y_range=(0.0, 1.0), model=model, calibrate=False, rank_check=False)
    rule.should_stop([(1.0, 1.4), (2.0, -0.2), (3.0, 0.5)], 10.0, best=1.3, maximize=True)
    y, threshold, y_range = model.seen[-1]
    assert y == [[1.0, 0.0, 0.5]] and threshold == 1.0 and y_range == (0.0, 1.0)
    inferred = StoppingRule(min_steps=2, model=model, calibrate=False, rank_check=False)
    inferred.should_stop([(1.0, 2.0), (2.0, 1.0)], 10.0, best=0.4, maximize=False)
    inferred.should_stop([(1.0, 1.5), (2.0, 9.0)], 10.0, best=0.4, maximize=False)  # a loss that blows up
    assert model.seen[-1][0] == [[1.5, 1.75]] and model.seen[-1][2] == (0.0, 1.75)  # clipped at the bottom


def test_a_metric_without_a_range_to_infer_raises_naming_it_and_a_given_range_is_checked():
    rule = StoppingRule(min_steps=1, model=Recorder(), calibrate=False, rank_check=False)
    rule.label = "'reward'"
    with pytest.raises(SettingError, match=r"'reward'.*\[-4, 120\].*y_range"):
        rule.should_stop([(1.0, -4.0), (2.0, 120.0)], 10.0, best=200.0, maximize=True)
    for bad in ((1.0, 0.0), (0.0, math.nan), (0.0,), "ab"):
        with pytest.raises(SettingError, match="y_range"):
            StoppingRule(y_range=bad)  # type: ignore[arg-type]


def test_calibration_sees_the_same_mapping_as_the_judgements():
    class Calibrated(Recorder):
        def __init__(self) -> None:
            super().__init__()
            self.observed: list[tuple[list[tuple[float, float]], tuple[float, float]]] = []

        def observe(self, curve, x_final, maximize, y_range):
            self.observed.append((list(curve), y_range))

    model = Calibrated()
    rule = StoppingRule(min_steps=2, model=model, calibrate=False, rank_check=False)
    rule.calibrate = True
    rule._calibrated = model  # the calibration wrapper, isolated
    rule.observe_final([(1.0, 3.0), (2.0, 1.0), (3.0, 4.0)], 3.0, maximize=False)
    curve, y_range = model.observed[-1]
    assert y_range == (0.0, 3.0) and curve == [(1.0, 3.0), (2.0, 1.0), (3.0, 3.0)]
    rule.observe_final([(1.0, 2.0), (2.0, 2.5), (3.0, 1.0)], 3.0, maximize=False)
    assert model.observed[-1] == ([(1.0, 2.0), (2.0, 2.5), (3.0, 1.0)], (0.0, 2.5))  # median of 3.0 and 2.0


def test_lcpfn_pruner_on_a_loss_to_minimise_with_the_shipped_model():
    optuna = pytest.importorskip("optuna")
    pytest.importorskip("torch")
    from hpo.integrations.optuna import LCPFNPruner

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    pruner = LCPFNPruner(max_step=20)
    seen: list[tuple[float, float]] = []
    judge = pruner.rule.probabilities

    def spy(curves, x_final, best, maximize):
        out = judge(curves, x_final, best, maximize)
        seen.append(pruner.rule.scale(maximize))  # the range this judgement used
        return out

    pruner.rule.probabilities = spy  # type: ignore[method-assign]

    def objective(trial):
        rate = trial.suggest_float("rate", 0.01, 1.0, log=True)
        loss = 2.3
        for step in range(20):
            loss = 0.2 + 2.1 * math.exp(-rate * (step + 1))  # from 2.3 towards 0.2, faster with a larger rate
            trial.report(loss, step)
            if trial.should_prune():
                raise optuna.TrialPruned()
        return loss

    study = optuna.create_study(direction="minimize", sampler=optuna.samplers.RandomSampler(seed=0), pruner=pruner)
    study.enqueue_trial({"rate": 1.0})  # the best curve first: the incumbent
    study.optimize(objective, n_trials=12)
    assert seen and all(low == 0.0 and 1.0 < high <= 2.3 for low, high in seen)
    pruned = [t for t in study.trials if t.state == optuna.trial.TrialState.PRUNED]
    assert pruned and study.best_trial.number == 0


def test_the_shipped_model_reads_a_steep_loss_curve_above_1_as_promising_once_the_range_fits():
    pytest.importorskip("torch")
    incumbent = [(float(e), 0.5 + 1.8 * math.exp(-0.5 * (e - 1))) for e in range(1, 21)]  # ends at 0.5
    steep = [(1.0, 2.3), (2.0, 1.6), (3.0, 1.1)]  # falling fast: may end below 0.5
    flat = [(1.0, 2.3), (2.0, 2.2), (3.0, 2.15)]  # hardly learning
    for y_range, keeps_steep in ((None, True), ((0.0, 1.0), False)):  # (0, 1): every point clipped to its floor
        rule = StoppingRule(min_steps=3, y_range=y_range, calibrate=False, rank_check=False)
        rule.observe_final(incumbent, 20.0, maximize=False)
        assert rule.should_stop(steep, 20.0, 0.5, maximize=False) is not keeps_steep
        assert rule.should_stop(flat, 20.0, 0.5, maximize=False)
