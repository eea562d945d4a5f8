"""The live conditional multi-fidelity task (benchmarks/cash_mf.py) behaves as documented."""

import numpy as np
import optuna
import pytest

from benchmarks.cash_mf import STEPS, CashTask
from hpo.search_spaces import SearchSpace


@pytest.fixture(scope="module")
def task():
    return CashTask("breast_cancer")


def test_prefixes_keep_the_class_shares(task):
    shares = []
    for step in range(STEPS):
        n = max(task.n_min, round(len(task.y_train) * (step + 1) / STEPS))
        shares.append(task.y_train[:n].mean())
    overall = task.y_train.mean()
    assert all(abs(s - overall) < 0.05 for s in shares), (shares, overall)


def test_segments_are_real_fits_and_deterministic(task):
    space = SearchSpace(CashTask.space())
    configs = space.sample(np.random.default_rng(0), 6)
    for config in configs:
        acc, seconds = task.segment(config, 0, STEPS)
        assert len(acc) == STEPS and all(0.0 <= a <= 100.0 for a in acc)
        assert all(b >= a for a, b in zip(seconds, seconds[1:], strict=False))
        again, _ = CashTask("breast_cancer").segment(config, 3, 5)
        assert again == acc[3:5]
    # more data helps on average: the full-data fit beats the smallest one for most configs
    better = sum(task.segment(c, STEPS - 1, STEPS)[0][0] >= task.segment(c, 0, 1)[0][0] for c in configs)
    assert better >= 4


def test_optuna_define_by_run_space_matches_ours():
    space = SearchSpace(CashTask.space())
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    for _ in range(20):
        trial = study.ask()
        config = CashTask.optuna_config(trial)
        space.validate(config)
        study.tell(trial, 0.0)


def test_unknown_dataset_is_a_clear_error():
    with pytest.raises(ValueError, match="iris"):
        CashTask("iris")


@pytest.mark.parametrize("method", ["hpo-asha-bo-ts", "optuna-tpe-hyperband", "optuna-tpe-hyperband-async"])
def test_the_multi_fidelity_runner_runs_it(method):
    from benchmarks.multifidelity import run_one

    out = run_one("cash-breast_cancer", method, seed=0, epochs=27)
    assert out["task"] == "cash-breast_cancer" and len(out["values"]) == 27
    assert max(out["values"]) > 85.0


def test_ray_space_draws_each_learners_settings_within_our_ranges(task):
    from ray.tune.search.variant_generator import generate_variants

    space = SearchSpace(CashTask.space())
    ours = CashTask.space()["learner"].options
    learners = set()
    for i in range(40):
        _, config = next(generate_variants(CashTask.ray_space(), random_state=i))
        learners.add(config["learner"])
        active = {"learner": config["learner"], **{k: config[k] for k in ours[config["learner"]]}}
        space.validate(active)  # every active setting is one our space can draw
        assert set(config) == {"learner", *(k for option in ours.values() for k in option)}
        assert task.segment(config, 0, 1)[0][0] == task.segment(active, 0, 1)[0][0]  # inactive ones are ignored
    assert learners == set(ours)
