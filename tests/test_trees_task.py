"""The live tree-ensemble task of the multi-fidelity suite (``benchmarks/trees_task.py``)."""

from __future__ import annotations

import pytest

pytest.importorskip("sklearn")

from benchmarks.multifidelity import make_task, run_one  # noqa: E402
from benchmarks.trees_task import MEMBERS_PER_STEP, TreeEnsembles  # noqa: E402

HGB = {"learner": "hgb", "hgb_learning_rate": 0.1, "hgb_max_leaf_nodes": 16, "hgb_min_samples_leaf": 20,
       "hgb_l2": 1e-3, "hgb_max_features": 0.8}
FOREST = {"learner": "forest", "rf_max_features": 0.3, "rf_min_samples_leaf": 2, "rf_criterion": "gini"}


@pytest.mark.parametrize("config", [HGB, FOREST], ids=["boosting", "forest"])
def test_a_promoted_config_grows_the_model_it_kept_and_matches_a_fresh_run(config):
    task = TreeEnsembles()
    first, t_first = task.segment(config, 0, 2)
    second, t_second = task.segment(config, 2, 4)
    model = task._kept.get(config)["model"]
    size = model.n_iter_ if config["learner"] == "hgb" else len(model.estimators_)
    assert size == 4 * MEMBERS_PER_STEP[config["learner"]]  # four steps' members, grown, not refitted
    whole, _ = TreeEnsembles().segment(config, 0, 4)
    assert first + second == whole  # the same value whichever way a step was reached
    assert t_second[0] > t_first[-1] > 0.0
    assert all(50.0 <= a <= 100.0 for a in whole)


def test_without_its_model_a_config_regrows_from_scratch():
    task = TreeEnsembles()
    task.segment(HGB, 0, 3)
    again, seconds = task.segment(HGB, 1, 2)  # the kept model is at step 3: regrow steps 0-1
    assert again == TreeEnsembles().segment(HGB, 0, 2)[0][1:]
    assert len(seconds) == 1


def test_boosting_rounds_are_the_fidelity_of_a_small_learning_rate():
    slow = dict(HGB, hgb_learning_rate=0.01)
    acc, _ = TreeEnsembles().segment(slow, 0, 9)
    assert acc[-1] > acc[0]  # a small rate keeps improving with rounds


def test_the_task_runs_under_the_suite_by_name_with_its_conditional_space():
    import optuna

    task = make_task("trees")
    assert isinstance(task, TreeEnsembles)
    assert set(task.space()["learner"].options) == set(MEMBERS_PER_STEP)
    trial = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=3)).ask()
    config = task.optuna_config(trial)
    learner = config["learner"]
    assert all(k == "learner" or k.startswith({"hgb": "hgb_", "gbm": "gbm_", "forest": "rf_", "extra": "et_"}[learner])
               for k in config)  # only the chosen learner's settings
    r = run_one("trees", "hpo-asha", 0, 30, workers=2)
    assert len(r["values"]) == 30 and max(r["values"]) > 70.0
