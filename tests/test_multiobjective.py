"""Several objectives: ``metric=(...)`` in ``@tune``, ``Study`` and the CLI; the Pareto front."""

from __future__ import annotations

import json
import math

import pytest

import hpo
from hpo.cli import main
from hpo.errors import HPOError
from hpo.search_spaces import Float
from hpo.trial import TrialStatus

SPACE = {"x": Float(0.0, 1.0), "y": Float(0.0, 1.0)}


def two_objectives(config):
    """A convex front: f1 = x, f2 = 1 - sqrt(x) + y (y > 0 is dominated)."""
    x, y = config["x"], config["y"]
    return {"f1": x, "f2": 1.0 - math.sqrt(x) + y, "seconds": 0.01}


def _dominated(a, b):
    """True when b dominates a (both minimized)."""
    return all(bi <= ai for ai, bi in zip(a, b, strict=True)) and any(bi < ai for ai, bi in zip(a, b, strict=True))


@pytest.mark.parametrize("searcher", ["random", "sobol", "bo"])
def test_tune_with_two_objectives_gives_a_pareto_front(searcher, tmp_path):
    f = hpo.tune(space=SPACE, metric=("f1", "f2"), mode=("min", "min"), searcher=searcher)(two_objectives)
    n = 14 if searcher == "bo" else 20
    result = f.run(n_trials=n, executor="inprocess", workers=2 if searcher == "bo" else 1, seed=0,
                   storage=str(tmp_path / "mo.db"))
    assert result.metrics == ("f1", "f2") and result.counts() == {"COMPLETED": n}
    front = result.pareto_front()
    assert front
    points = {t.trial_id: (t.metrics["f1"], t.metrics["f2"]) for t in result.trials}
    on_front = {t.trial_id for t in front}
    for tid, p in points.items():  # the front is exactly the non-dominated set
        dominated = any(_dominated(p, q) for other, q in points.items() if other != tid)
        assert (tid in on_front) == (not dominated)
    frame = result.to_dataframe()
    assert {"values.f1", "values.f2"} <= set(frame.columns)
    again = hpo.load_study(tmp_path / "mo.db")
    assert [t.trial_id for t in again.pareto_front()] == [t.trial_id for t in front]


def test_bo_with_two_objectives_moves_towards_the_front(tmp_path):
    """After its design, qLogNEHVI proposes configs with small y (y > 0 is always dominated)."""
    f = hpo.tune(space=SPACE, metric=("f1", "f2"), mode=("min", "min"))(two_objectives)
    result = f.run(n_trials=16, executor="inprocess", seed=1)
    model_based = [t.config["y"] for t in result.trials[6:]]
    design = [t.config["y"] for t in result.trials[:6]]
    assert sorted(model_based)[len(model_based) // 2] < sorted(design)[len(design) // 2]


def test_cost_reported_as_a_metric_can_be_an_objective():
    f = hpo.tune(space=SPACE, metric=("f1", "seconds"), mode=("min", "min"), searcher="random")(two_objectives)
    result = f.run(n_trials=6, executor="inprocess", seed=0)
    assert all(t.status is TrialStatus.COMPLETED for t in result.trials)
    # every trial costs the same 0.01 s: the front is the trial with the smallest f1
    assert [t.trial_id for t in result.pareto_front()] == [min(result.trials, key=lambda t: t.metrics["f1"]).trial_id]


def test_a_missing_objective_fails_the_trial_with_its_name():
    f = hpo.tune(space=SPACE, metric=("f1", "latency"), mode="min", searcher="random")(two_objectives)
    result = f.run(n_trials=2, executor="inprocess", seed=0)
    assert all(t.status is TrialStatus.FAILED and "'latency'" in t.reason for t in result.trials)


def test_bad_objective_declarations_are_named():
    with pytest.raises(HPOError, match="one 'min'/'max' per metric"):
        hpo.tune(space=SPACE, metric=("a", "b"), mode=("min",))
    with pytest.raises(HPOError, match="distinct"):
        hpo.tune(space=SPACE, metric=("a", "a"))
    with pytest.raises(HPOError, match="'mini'"):
        hpo.Study.create(two_objectives, SPACE, metric=("a", "b"), mode=("min", "mini"))


def test_a_single_objective_searcher_refuses_several_objectives():
    from hpo.searchers import BaseSearcher

    class OneOnly(BaseSearcher):
        def suggest(self, n, pending=()):
            return self.space.sample(self.rng, n)

    from hpo.search_spaces import SearchSpace

    with pytest.raises(HPOError, match="at most 1 objective"):
        hpo.Study.create(two_objectives, SPACE, metric=("f1", "f2"), searcher=OneOnly(SearchSpace(SPACE), 0),
                         executor="inprocess")


def test_cli_best_prints_the_front(tmp_path, capsys):
    script = tmp_path / "mo.py"
    script.write_text(
        "import math\n"
        "def f(config):\n"
        "    return {'f1': config['x'], 'f2': 1 - math.sqrt(config['x']) + config['y']}\n"
    )
    space = tmp_path / "space.yaml"
    space.write_text("x: {type: float, low: 0, high: 1}\ny: {type: float, low: 0, high: 1}\n")
    db = str(tmp_path / "mo.db")
    code = main(["run", f"{script}:f", "--space", str(space), "--metric", "f1,f2", "--mode", "min,min",
                 "--searcher", "random", "--trials", "10", "--executor", "inprocess", "--storage", db, "--no-progress"])
    assert code == 0
    out = capsys.readouterr().out
    assert "pareto front over f1 (min), f2 (min)" in out
    assert main(["best", db]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    front = [json.loads(line) for line in lines[1:]]
    assert front and all(set(p["values"]) == {"f1", "f2"} for p in front)
    assert [p["trial_id"] for p in front] == [t.trial_id for t in hpo.load_study(db).pareto_front()]
