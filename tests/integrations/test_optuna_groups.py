"""HPOSampler on define-by-run conditional spaces: groups of co-occurring parameters."""

import optuna
import pytest
from optuna.distributions import CategoricalDistribution, FloatDistribution
from optuna.samplers import RandomSampler

from hpo.integrations.optuna import HPOSampler, group_parameters

CLF = CategoricalDistribution(["svm", "forest"])
C = FloatDistribution(1e-3, 1e3, log=True)
DEPTH = FloatDistribution(1.0, 20.0)
LR = FloatDistribution(1e-4, 1e-1, log=True)


def test_group_parameters_splits_root_and_branches():
    groups = group_parameters([
        {"clf": CLF, "lr": LR, "C": C},
        {"clf": CLF, "lr": LR, "depth": DEPTH},
        {"clf": CLF, "lr": LR, "C": C},
    ])
    assert [sorted(g) for g in groups] == [["clf", "lr"], ["C"], ["depth"]]
    assert groups[1]["C"] == C


def test_group_parameters_drops_changed_and_single_valued_distributions():
    groups = group_parameters([
        {"clf": CLF, "x": FloatDistribution(0.0, 1.0), "k": CategoricalDistribution(["only"])},
        {"clf": CLF, "x": FloatDistribution(0.0, 2.0), "k": CategoricalDistribution(["only"])},
    ])
    assert [sorted(g) for g in groups] == [["clf"]]
    assert group_parameters([]) == []


class SpyRandom(RandomSampler):
    """The independent sampler, recording which parameters it was asked for."""

    def __init__(self):
        super().__init__(seed=0)
        self.names = []

    def sample_independent(self, study, trial, param_name, param_distribution):
        self.names.append((trial.number, param_name))
        return super().sample_independent(study, trial, param_name, param_distribution)


def objective(trial):
    clf = trial.suggest_categorical("clf", ["svm", "forest"])
    lr = trial.suggest_float("lr", 1e-4, 1e-1, log=True)
    if clf == "svm":
        c = trial.suggest_float("C", 1e-3, 1e3, log=True)
        return (abs(c - 10.0) / 100.0) + lr
    depth = trial.suggest_float("depth", 1.0, 20.0)
    return 0.5 + abs(depth - 7.0) / 20.0 + lr


@pytest.mark.parametrize("group", [True, False])
def test_branch_parameters_are_modelled_only_with_groups(group):
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    spy = SpyRandom()
    sampler = HPOSampler(seed=0, n_startup_trials=3, independent_sampler=spy, group=group)
    study = optuna.create_study(sampler=sampler)
    study.optimize(objective, n_trials=20)
    assert len(study.trials) == 20 and all(t.state == optuna.trial.TrialState.COMPLETE for t in study.trials)
    # After each branch has been seen a few times, who samples its parameters?
    late = [name for number, name in spy.names if number >= 14]
    counts = {b: sum(1 for t in study.trials if t.params.get("clf") == b) for b in ("svm", "forest")}
    assert min(counts.values()) >= 3, counts
    if group:
        assert not {"C", "depth"} & set(late), late  # the model samples both branches
    else:
        assert {"C", "depth"} & set(late)  # outside the intersection: random


def test_grouped_relative_space_holds_every_group():
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    sampler = HPOSampler(seed=0)
    study = optuna.create_study(sampler=sampler)
    study.optimize(objective, n_trials=8)
    space = sampler.infer_relative_search_space(study, study.trials[-1])
    seen = {n for t in study.trials for n in t.params}
    assert set(space) == seen
