import numpy as np
import optuna
import pytest
from optuna.testing.pytest_samplers import (
    BasicSamplerTestCase,
    MultiObjectiveSamplerTestCase,
    RelativeSamplerTestCase,
)

from hpo.integrations.optuna import HPOSampler

optuna.logging.set_verbosity(optuna.logging.WARNING)


class _Fixture:
    @pytest.fixture
    def sampler(self):
        return lambda: HPOSampler(seed=0, n_startup_trials=2)


class TestHPOSamplerBasic(_Fixture, BasicSamplerTestCase):
    pass


class TestHPOSamplerRelative(_Fixture, RelativeSamplerTestCase):
    pass


class TestHPOSamplerMultiObjective(_Fixture, MultiObjectiveSamplerTestCase):
    pass


def _quadratic(trial):
    x = trial.suggest_float("x", -5, 5)
    y = trial.suggest_float("y", -5, 5)
    return (x - 1.5) ** 2 + (y + 0.5) ** 2


def test_finds_the_minimum_better_than_random():
    ours, rand = [], []
    for seed in range(3):
        s = optuna.create_study(sampler=HPOSampler(seed=seed))
        s.optimize(_quadratic, n_trials=25)
        ours.append(s.best_value)
        r = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=seed))
        r.optimize(_quadratic, n_trials=25)
        rand.append(r.best_value)
    assert np.median(ours) < 0.05 < np.median(rand)


def test_parallel_jobs_get_different_suggestions():
    study = optuna.create_study(sampler=HPOSampler(seed=0, n_startup_trials=5))
    study.optimize(_quadratic, n_trials=5)
    running = [study.ask() for _ in range(3)]
    for t in running:
        t.suggest_float("x", -5, 5)
        t.suggest_float("y", -5, 5)
    points = {(round(t.params["x"], 4), round(t.params["y"], 4)) for t in running}
    assert len(points) == 3  # pending trials push later suggestions elsewhere


def test_honours_log_step_int_and_categorical():
    def objective(trial):
        lr = trial.suggest_float("lr", 1e-5, 1e-1, log=True)
        drop = trial.suggest_float("drop", 0.0, 0.5, step=0.1)
        units = trial.suggest_int("units", 8, 256, log=True)
        layers = trial.suggest_int("layers", 1, 9, step=2)
        act = trial.suggest_categorical("act", ["relu", "tanh", None])
        return np.log10(lr) ** 2 / 10 + drop + abs(units - 64) / 100 + layers / 10 + (act is None)

    study = optuna.create_study(sampler=HPOSampler(seed=1, n_startup_trials=4))
    study.optimize(objective, n_trials=12)
    for t in study.trials:
        p = t.params
        assert 1e-5 <= p["lr"] <= 1e-1 and isinstance(p["lr"], float)
        assert abs(p["drop"] * 10 - round(p["drop"] * 10)) < 1e-9
        assert isinstance(p["units"], int) and 8 <= p["units"] <= 256
        assert p["layers"] in (1, 3, 5, 7, 9)
        assert p["act"] in ("relu", "tanh", None)


def test_works_with_hyperband_pruner_and_learns_from_pruned_trials():
    def objective(trial):
        x = trial.suggest_float("x", 0, 1)
        for step in range(1, 28):
            value = (x - 0.3) ** 2 + 1.0 / step
            trial.report(value, step)
            if trial.should_prune():
                raise optuna.TrialPruned()
        return value

    sampler = HPOSampler(seed=0, n_startup_trials=4)
    study = optuna.create_study(sampler=sampler, pruner=optuna.pruners.HyperbandPruner(min_resource=1, max_resource=27))
    study.optimize(objective, n_trials=20)
    states = {t.state for t in study.trials}
    assert optuna.trial.TrialState.PRUNED in states and optuna.trial.TrialState.COMPLETE in states
    assert abs(study.best_params["x"] - 0.3) < 0.2


def _two_objectives(trial):
    x = trial.suggest_float("x", 0.0, 1.0)
    n = trial.suggest_int("n", 1, 8)
    lr = trial.suggest_float("lr", 1e-4, 1e-1, log=True)
    # Minimize the first, maximize the second: they conflict through x and n.
    return (x - 0.2) ** 2 + n / 10 + np.log10(lr) ** 2 / 10, -((x - 0.8) ** 2) - (8 - n) / 10


@pytest.fixture
def pareto_calls(monkeypatch):
    """Records the arguments of every ``propose_pareto`` call the sampler makes."""
    import hpo.searchers._mobo as mobo

    calls = []
    real = mobo.propose_pareto

    def spy(space, x_obs, y_obs, x_pending, rng, *args, **kwargs):
        calls.append((x_obs.copy(), y_obs.copy(), x_pending))
        return real(space, x_obs, y_obs, x_pending, rng, *args, **kwargs)

    monkeypatch.setattr(mobo, "propose_pareto", spy)
    return calls


def test_multi_objective_study_uses_propose_pareto_with_signed_targets(pareto_calls):
    study = optuna.create_study(directions=["minimize", "maximize"], sampler=HPOSampler(seed=0, n_startup_trials=4))
    study.optimize(_two_objectives, n_trials=8)
    assert all(t.state == optuna.trial.TrialState.COMPLETE for t in study.trials)
    # Trial 0 from Optuna's independent sampler (no search space yet), 4 design points, then the model.
    assert len(pareto_calls) == 8 - 1 - 4
    x_obs, y_obs, x_pending = pareto_calls[-1]
    assert x_obs.shape == (7, 3) and x_pending is None
    # Targets are maximized: the minimized objective negated, the maximized one as is.
    values = np.array([t.values for t in study.trials[:7]])
    np.testing.assert_allclose(y_obs, values * [-1.0, 1.0])
    for t in study.trials:
        assert 0.0 <= t.params["x"] <= 1.0 and isinstance(t.params["x"], float)
        assert isinstance(t.params["n"], int) and 1 <= t.params["n"] <= 8
        assert 1e-4 <= t.params["lr"] <= 1e-1
    assert study.best_trials  # Optuna's Pareto front


def test_multi_objective_parallel_jobs_get_different_suggestions():
    study = optuna.create_study(directions=["minimize", "minimize"], sampler=HPOSampler(seed=0, n_startup_trials=5))
    study.optimize(lambda t: (_quadratic(t), t.params["x"] ** 2), n_trials=6)
    running = [study.ask() for _ in range(3)]
    for t in running:
        t.suggest_float("x", -5, 5)
        t.suggest_float("y", -5, 5)
    points = {(round(t.params["x"], 4), round(t.params["y"], 4)) for t in running}
    assert len(points) == 3  # RUNNING trials are pending points for the next suggestions


@pytest.mark.parametrize("failed", ["impute", "ignore"])
def test_multi_objective_failed_trials_imputed_or_left_out(pareto_calls, failed):
    def objective(trial):
        x = trial.suggest_float("x", 0.0, 1.0)
        if trial.number in (1, 4):
            raise ValueError("boom")
        if trial.number == 2:
            return float("nan"), 1.0  # Optuna records a non-finite result as FAIL
        return x, (1 - x) ** 2

    sampler = HPOSampler(seed=0, n_startup_trials=2, failed=failed)
    study = optuna.create_study(directions=["minimize", "minimize"], sampler=sampler)
    study.optimize(objective, n_trials=6, catch=(ValueError,))
    states = [t.state for t in study.trials]
    assert states.count(optuna.trial.TrialState.FAIL) == 3
    # Trials 0 and 3 complete before trial 4 asks; 1 and 2 failed before it, 4 before trial 5.
    if failed == "ignore":
        assert [len(x) for x, _, _ in pareto_calls] == [2, 2]
    else:
        assert [len(x) for x, _, _ in pareto_calls] == [4, 5]
        x_obs, y_obs, _ = pareto_calls[-1]
        # the failures carry the worst (signed) value of each objective among the complete trials
        assert np.allclose(y_obs[2:], y_obs[:2].min(axis=0))
