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


def test_runs_record_when_each_evaluation_ended_and_the_report_compares_equal_wall_times():
    from benchmarks.cash_report import _equal_time, end_times

    out = run_one("wine", "random", seed=0, evals=5)
    ends = out["ends"]
    assert len(ends) == 5 and all(b > a for a, b in zip(ends, ends[1:], strict=False))
    assert ends[-1] <= out["wall"] and ends[-1] >= sum(out["seconds"])
    # an older run without end times spreads its optimizer time evenly
    old = {"seconds": [1.0, 1.0, 2.0], "wall": 7.0}
    assert end_times(old) == [2.0, 4.0, 7.0]
    runs = [
        {"method": "random", "scores": [0.1, 0.5, 0.9], "seconds": [1.0, 1.0, 1.0], "ends": [1.0, 2.0, 4.0], "wall": 4.0},
        {"method": "slow", "scores": [0.2, 0.95], "seconds": [1.0, 1.0], "ends": [1.5, 6.0], "wall": 6.0},
    ]
    table = "\n".join(_equal_time(runs, ["random", "slow"]))
    assert "**4 s**" in table  # random's median wall is the budget
    assert "| random | 0.1000 [0.1000, 0.1000] | 0.5000 [0.5000, 0.5000] | 0.9000 [0.9000, 0.9000] | 3 |" in table
    # "slow" has one evaluation by 2 s and by 4 s; its 0.95 came after the budget
    assert "| slow | - (0/1) | 0.2000 [0.2000, 0.2000] | 0.2000 [0.2000, 0.2000] | 1 |" in table


def test_the_robustness_count_names_the_best_learner_and_the_learners_tied_with_it():
    from benchmarks.cash_report import _robustness

    def run(method, seed, pairs, gone=()):
        return {"method": method, "seed": seed, "configs": [{"learner": k} for k, _ in pairs], "scores": [v for _, v in pairs],
                "eliminations": [{"arm": "x", "eliminated": [{"arm": a, "trial": 9} for a in gone]}]}

    druns = [run("optuna-tpe", 0, [("svm", 0.984), ("mlp", 0.983), ("knn", 0.95)]),
             run("hpo-rb", 0, [("mlp", 0.983)], gone=("svm", "knn")),  # svm gone, mlp (one sample below) kept
             run("hpo-rb", 1, [("knn", 0.95)], gone=("svm", "mlp"))]  # both gone
    lines = _robustness(druns, tie=0.0018)
    assert "eventual best learner is **svm**" in lines[0] and "**2/2** seeds (0, 1)" in lines[0]
    assert "within 0.0018 of it (one validation sample): mlp, svm" in lines[1] and "**1/2** seeds" in lines[1]
    assert "exact ties): svm;" in _robustness(druns, tie=0.0)[1]
