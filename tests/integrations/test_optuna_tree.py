"""HPOSampler reads a define-by-run tree off the trials and runs the decomposed conditional BO on it."""

import collections

import numpy as np
import optuna
import pytest
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

from hpo.integrations._optuna_structure import infer_choice_space
from hpo.integrations.optuna import HPOSampler, _to_param
from hpo.search_spaces import Choice

DISTS = {
    "model": CategoricalDistribution(["a", "b", "flat"]),
    "x": FloatDistribution(-1.0, 1.0),
    "y": FloatDistribution(0.0, 1.0),
    "k": CategoricalDistribution(["p", "q"]),
    "z": FloatDistribution(0.0, 1.0),
    "depth": IntDistribution(1, 10),
}


def trials_of_tree():
    """Trials of: model in {a, b, flat}; a -> y, k (k = p -> z); b -> depth; flat -> nothing."""
    return [
        {"model": "a", "x": 0.1, "y": 0.2, "k": "p", "z": 0.3},
        {"model": "a", "x": 0.2, "y": 0.4, "k": "q"},
        {"model": "b", "x": -0.5, "depth": 3},
        {"model": "flat", "x": 0.0},
        {"model": "a", "x": 0.9, "y": 0.1, "k": "p", "z": 0.8},
        {"model": "b", "x": 0.5, "depth": 7},
    ]


def test_nested_tree_is_recovered_and_maps_both_ways():
    mapping = infer_choice_space(trials_of_tree(), DISTS, _to_param)
    assert mapping is not None
    space = mapping.space
    assert isinstance(space.params["model"], Choice)
    assert set(space.params["model"].options) == {"a", "b", "flat"}
    a = space.params["model"].options["a"]
    assert set(a) == {"y|model=a", "k|model=a"} and isinstance(a["k|model=a"], Choice)
    assert set(a["k|model=a"].options["p"]) == {"z|model=a|k=p"} and a["k|model=a"].options["q"] == {}
    assert space.params["model"].options["flat"] == {}
    for params in trials_of_tree():
        config = mapping.to_config(params)
        assert space.contains(config), config
        assert mapping.to_params(config) == params
    # a config the model proposes comes back with Optuna's names and only the active ones
    rng = np.random.default_rng(0)
    for config in space.sample(rng, 20):
        params = mapping.to_params(config)
        assert set(params) <= set(DISTS)
        if params["model"] == "b":
            assert set(params) == {"model", "x", "depth"}


def test_running_trial_with_missing_parameters_does_not_fit():
    mapping = infer_choice_space(trials_of_tree(), DISTS, _to_param)
    assert mapping.to_config({"model": "a", "x": 0.0}) is None  # y and k not suggested yet
    assert mapping.to_config({"model": "b", "x": 0.0, "depth": 2}) is not None


def test_same_name_under_two_options_and_non_string_choices():
    dists = {
        "learner": CategoricalDistribution([1, 2, None]),
        "max_depth": IntDistribution(2, 20),
        "lr": FloatDistribution(1e-3, 1.0, log=True),
    }
    trials = [
        {"learner": 1, "max_depth": 3},
        {"learner": 2, "max_depth": 5, "lr": 0.1},
        {"learner": None},
        {"learner": 1, "max_depth": 9},
    ]
    mapping = infer_choice_space(trials, dists, _to_param)
    assert mapping is not None
    options = mapping.space.params["learner"].options
    assert set(options) == {"1", "2", "None"}
    assert set(options["1"]) == {"max_depth|learner=1"} and set(options["2"]) == {"max_depth|learner=2", "lr|learner=2"}
    for params in trials:
        assert mapping.to_params(mapping.to_config(params)) == params


@pytest.mark.parametrize("trials", [
    [{"x": 0.1, "k": "p"}, {"x": 0.2, "k": "q"}],  # flat: no conditional parameter
    [{"k": "p", "x": 0.1, "y": 0.3}, {"k": "p", "x": 0.2}, {"k": "q", "x": 0.3, "y": 0.1}],  # y occurs at random
    [{"x": 0.1, "y": 0.3}, {"x": 0.2}],  # no categorical to select y
])
def test_no_tree(trials):
    assert infer_choice_space(trials, DISTS, _to_param) is None


def trap(trial):
    """A flat option with the best mean, a better optimum in a wide, mostly bad option (minimize)."""
    option = trial.suggest_categorical("option", ["wide", "flat", "mid"])
    x = trial.suggest_float("x", 0.0, 1.0)
    if option == "flat":
        return 0.3
    if option == "mid":
        d = trial.suggest_int("d", 1, 10)
        return 0.5 + abs(d - 4) * 0.02 + 0.1 * x
    u = trial.suggest_float("u", 0.0, 1.0)
    v = trial.suggest_float("v", 0.0, 1.0)
    return min(1.5, 8.0 * ((u - 0.8) ** 2 + (v - 0.3) ** 2)) + 0.05 * x


def test_sampler_searches_past_a_flat_option_with_the_best_mean():
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    # with groups (the old sampler) 27 of 30 trials went to "flat" (seed 0); with the tree and a
    # random start, before constant options were left to their floor, 15 of 24 did (seed 2)
    sampler = HPOSampler(seed=2, n_startup_trials=6)
    study = optuna.create_study(sampler=sampler)
    study.optimize(trap, n_trials=24)
    assert "tree" in sampler._feeds  # the tree was read and BOSearcher suggested
    counts = collections.Counter(t.params["option"] for t in study.trials)
    assert min(counts.values()) >= 3, counts  # the floor: half an even share of 24, less one
    assert study.best_value < 0.2, (study.best_value, counts)


def test_running_trials_are_pending_points():
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    sampler = HPOSampler(seed=1, n_startup_trials=4)
    study = optuna.create_study(sampler=sampler)
    study.optimize(trap, n_trials=8)
    running = [study.ask() for _ in range(3)]
    for t in running:
        trap(t)  # suggests every parameter, leaves the trial RUNNING
    configs = [tuple(sorted(t.params.items())) for t in running]
    assert len(set(configs)) == 3
    for t in running:
        study.tell(t, trap(t))
    assert len(study.trials) == 11


def test_parallel_threads_and_pickling_keep_the_tree_path_working():
    import pickle

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    sampler = HPOSampler(seed=2, n_startup_trials=5)
    study = optuna.create_study(sampler=sampler)
    # one trial per option first: with n_jobs > 1 Optuna reseeds the sampler's generators
    # without a seed, and a startup that happens to draw one option only (seen once in about
    # 30 runs) shows no tree to read
    for option in ("wide", "flat", "mid"):
        study.enqueue_trial({"option": option})
    study.optimize(trap, n_trials=14, n_jobs=2)
    assert sum(t.state == optuna.trial.TrialState.COMPLETE for t in study.trials) == 14
    assert "tree" in sampler._feeds
    restored = pickle.loads(pickle.dumps(sampler))
    assert not restored._feeds  # rebuilt from the trials on its next suggestion
    study.sampler = restored
    study.optimize(trap, n_trials=2)
    assert "tree" in restored._feeds and len(study.trials) == 16


def test_a_small_integer_range_selects_layers_as_in_optunas_pytorch_example():
    dists = {"n_layers": IntDistribution(1, 3), "lr": FloatDistribution(1e-5, 1e-1, log=True)}
    dists.update({f"n_units_l{i}": IntDistribution(4, 128) for i in range(3)})
    trials = []
    for k in (1, 3, 2, 1, 3):
        trials.append({"n_layers": k, "lr": 1e-3, **{f"n_units_l{i}": 16 * (i + 1) for i in range(k)}})
    mapping = infer_choice_space(trials, dists, _to_param)
    assert mapping is not None
    options = mapping.space.params["n_layers"].options
    assert set(options) == {"1", "2", "3"}
    assert set(options["3"]) == {"n_units_l1|n_layers=3", "n_units_l2|n_layers=3"}
    assert mapping.space.params["n_units_l0"] is not None  # every trial has layer 0: a top-level parameter
    for params in trials:
        assert mapping.to_params(mapping.to_config(params)) == params
    wide = dict(dists, n_layers=IntDistribution(1, 64))  # too many values to be a selector
    assert infer_choice_space(trials, wide, _to_param) is None


@pytest.mark.parametrize("choice", [None, "ei"])
def test_branch_choice_reaches_the_tree_searcher_and_is_checked(choice):
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    sampler = HPOSampler(seed=2, n_startup_trials=6) if choice is None else HPOSampler(seed=2, n_startup_trials=6, branch_choice=choice)
    study = optuna.create_study(sampler=sampler)
    study.optimize(trap, n_trials=8)
    assert sampler._feeds["tree"].searcher.branch_choice == (choice or "top-ts")
    with pytest.raises(ValueError, match="branch_choice"):
        HPOSampler(branch_choice="mean")
