"""The BO suite's problems: the live gradient-boosting problem and the default problem list."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("sklearn")
optuna = pytest.importorskip("optuna")

from benchmarks.problems import OPT_IN, problems  # noqa: E402


def test_live_problem_is_a_real_deterministic_fit_with_the_same_space_both_ways():
    problem = problems()["hgb-live"]()
    (config,) = problem.space.sample(np.random.default_rng(3), 1)
    error = problem.evaluate(config)
    assert 0.0 < error < 0.5 and problem.evaluate(config) == error  # a real CV error, fixed folds and seeds
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    drawn = problem.suggest(study.ask())
    assert set(drawn) == set(problem.space.names) and problem.space.contains(drawn)


def test_the_default_bo_suite_leaves_live_problems_out(tmp_path, monkeypatch):
    import argparse

    from benchmarks import bo_report

    seen = {}

    def fake_batch(args, stem, tasks, *rest, **kw):
        seen["problems"] = {t[0] for t in tasks}
        raise SystemExit(0)

    monkeypatch.setattr("benchmarks.run.run_batch", fake_batch)
    args = argparse.Namespace(problems=None, methods=["random"], quick=False, first_seed=0, seeds=1, evals=5,
                              timing_evals=0, timing_seeds=0, out=str(tmp_path), jobs=1, resume=False)
    with pytest.raises(SystemExit):
        bo_report.cmd_bo(args)
    assert seen["problems"] == set(problems()) - set(OPT_IN) and "hgb-live" in OPT_IN


@pytest.mark.parametrize("key", ["dbr-threshold", "dbr-cats"])
def test_define_by_run_problems_draw_within_the_space_and_know_their_optimum(key):
    problem = problems()[key]()
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    for _ in range(20):
        trial = study.ask()
        config = problem.suggest(trial)
        assert problem.space.contains(config) and problem.evaluate(config) >= problem.optimum
        study.tell(trial, problem.evaluate(config))
    if key == "dbr-threshold":  # two parameter groups below the common x, selected by its value
        assert {frozenset(t.params) for t in study.trials} == {frozenset({"x", "y"}), frozenset({"x", "z", "w"})}
        assert problem.evaluate({"x": 0.8, "y": 1.3, "z": 1, "w": 1.0}) == 0.0
    else:
        assert problem.evaluate({**{f"c{i}": f"v{i}" for i in range(6)}, "x": 0.0}) == 0.0
