"""The live CASH benchmark (benchmarks/cash.py) runs its Optuna-study methods define-by-run."""

import pytest

from benchmarks.cash import CashProblem, run_one


@pytest.mark.parametrize("method", ["hpo-sampler", "optuna-tpe"])
def test_optuna_study_methods_evaluate_valid_configs_of_every_learner_they_try(method):
    from hpo.search_spaces import SearchSpace

    out = run_one("wine", method, seed=0, evals=8)
    assert out["method"] == method and len(out["scores"]) == len(out["configs"]) == 8
    space = SearchSpace(CashProblem("wine").space())
    for config in out["configs"]:
        space.validate(config)  # only the chosen learner's settings, within our ranges
    assert len({c["learner"] for c in out["configs"]}) >= 2
    assert max(out["scores"]) > 0.9
