"""Cost as a first-class quantity: the cost-performance front, a total cost budget, and
cost-aware BO (EI per unit cost, CArBO's cost cooling)."""

import json
import math

import numpy as np
import pytest

import hpo
from hpo.cli import main
from hpo.errors import HPOError
from hpo.result import StudyResult
from hpo.search_spaces import Float, SearchSpace
from hpo.searchers import BOSearcher
from hpo.study import Study
from hpo.trial import Observation, Trial, TrialStatus

LINE = SearchSpace({"x": Float(0.0, 1.0)})


def _trial(tid, value, seconds, reported=None, status=TrialStatus.COMPLETED):
    metrics = {"acc": value} if value is not None else {}
    if reported is not None:
        metrics["cost"] = reported
    return Trial(tid, {"x": tid / 10}, status, value, metrics, 1.0, seconds)


def test_cost_front_on_hand_made_trials():
    trials = [
        _trial(1, 0.80, 10.0),  # front: cheapest
        _trial(2, 0.85, 30.0),  # front
        _trial(3, 0.84, 50.0),  # dominated by 2 (worse and dearer)
        _trial(4, 0.90, 5.0, reported=100.0),  # a reported cost wins over seconds: front (best)
        _trial(5, None, 1.0, status=TrialStatus.FAILED),  # never on a front
        _trial(6, 0.80, 10.0),  # a tie with 1: both kept
    ]
    result = StudyResult(None, trials, "acc", "max")
    assert [t.trial_id for t in result.pareto_front(cost="cost")] == [1, 2, 4, 6]
    assert [t.trial_id for t in result.pareto_front()] == [4]
    df = result.to_dataframe()
    assert df.set_index("trial_id")["on_cost_front"].to_dict() == {1: True, 2: True, 3: False, 4: True, 5: False, 6: True}
    assert df.set_index("trial_id").loc[4, "cost_used"] == 100.0


def _priced(config):
    """Accuracy rises with x; cost (reported) rises steeply with x."""
    x = config["x"]
    return {"acc": 1 - (1 - x) ** 2, "cost": math.exp(4 * x)}


def test_max_cost_stops_the_study_and_reaches_the_searcher(tmp_path):
    searcher = BOSearcher(LINE, seed=0, acquisition="ei_cool")
    study = Study.create(lambda c: {"acc": c["x"], "cost": 3.0}, LINE, metric="acc", mode="max", searcher=searcher,
                         executor="inprocess", storage=str(tmp_path / "c.db"))
    result = study.optimize(max_cost=10.0)
    study.close()
    assert result.stop_reason == "max_cost"
    assert len(result.trials) == 4  # 3 trials cost 9 < 10, the 4th brings 12
    assert searcher.cost_budget == 10.0
    assert searcher.cost_alpha() == 0.0  # the budget is spent: plain EI


def test_cost_alpha_cools_from_one_to_zero_over_the_budget():
    s = BOSearcher(LINE, seed=0, acquisition="ei_cool", n_init=2, cost_budget=12.0)
    s.set_objective("acc", "max")
    s.observe([Observation(i, {"x": 0.1 * i}, TrialStatus.COMPLETED, 1.0, {"acc": 0.1, "cost": 1.0}, 0.0, (0.1,))
               for i in (1, 2)])
    assert s.cost_alpha() == 1.0  # only the initial design's cost (2) is spent
    s.observe([Observation(3, {"x": 0.5}, TrialStatus.COMPLETED, 1.0, {"acc": 0.1, "cost": 5.0}, 0.0, (0.1,))])
    assert s.cost_alpha() == pytest.approx((12 - 7) / (12 - 2))
    s.set_cost_budget(1000.0)  # the constructor's budget wins over the study's
    assert s.cost_budget == 12.0
    assert BOSearcher(LINE, acquisition="ei_per_cost").cost_alpha() == 1.0
    with pytest.raises(HPOError, match="max_cost"):
        BOSearcher(LINE, acquisition="ei_cool").cost_alpha()
    with pytest.raises(HPOError, match="cost_budget"):
        BOSearcher(LINE, acquisition="ei_cool", cost_budget=-1)


def test_cost_weighted_acquisition_is_log_ei_minus_log_cost():
    import torch

    from hpo.acquisition import CostWeighted, LogEI
    from hpo.testing import FunctionSurrogate

    objective = FunctionSurrogate(lambda x: x[..., 0], 0.01)
    log_cost = FunctionSurrogate(lambda x: 3.0 * x[..., 0], 1e-6)
    base = LogEI(objective, best_f=0.5)
    x = torch.tensor([[[0.2]], [[0.9]]], dtype=torch.float64)
    for alpha in (0.0, 0.5, 1.0):
        got = CostWeighted(base, log_cost, alpha)(x)
        assert torch.allclose(got, base(x) - alpha * 3.0 * x[:, 0, 0])


def _ask(searcher, configs, values, costs, n):
    searcher.set_objective("acc", "max")
    searcher.observe([Observation(i + 1, c, TrialStatus.COMPLETED, 1.0, {"acc": v, "cost": k}, 0.0, (v,))
                      for i, (c, v, k) in enumerate(zip(configs, values, costs, strict=True))])
    searcher.replay([])  # (no-op) the initial design is done: the model proposes
    searcher._n_suggested = len(configs)
    return [c["x"] for c in searcher.suggest(n)]


def test_ei_per_cost_prefers_the_cheap_one_of_two_similar_optima():
    """Two peaks, the dearer one slightly higher: EI goes to the dear one, EI per cost to the cheap one."""

    def acc(x):
        return 0.90 * math.exp(-(((x - 0.2) / 0.1) ** 2)) + 0.92 * math.exp(-(((x - 0.8) / 0.1) ** 2))

    configs = [{"x": v} for v in np.linspace(0.0, 1.0, 11)]
    values = [acc(c["x"]) for c in configs]
    costs = [math.exp(4 * c["x"]) for c in configs]
    plain = _ask(BOSearcher(LINE, seed=0), configs, values, costs, 1)
    frugal = _ask(BOSearcher(LINE, seed=0, acquisition="ei_per_cost"), configs, values, costs, 1)
    assert plain[0] > 0.6 and frugal[0] < 0.4


def test_cost_aware_study_end_to_end_and_cli_front(tmp_path, capsys):
    db = tmp_path / "cost.db"
    f = hpo.tune(space={"x": Float(0.0, 1.0)}, metric="acc", mode="max",
                 searcher=BOSearcher(LINE, seed=0, acquisition="ei_cool"))(_priced)
    result = f.run(max_cost=60.0, executor="inprocess", storage=str(db), seed=0)
    assert result.stop_reason == "max_cost"
    front = result.pareto_front(cost="cost")
    assert front and all(t.status is TrialStatus.COMPLETED for t in front)
    assert main(["best", str(db), "--front"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].startswith("pareto front over acc (max), cost (min)")
    points = [json.loads(line) for line in lines[1:]]
    assert [p["trial_id"] for p in points] == sorted((t.trial_id for t in front), key=lambda i: result.trials[i - 1].cost_used)
    assert all(set(p["values"]) == {"acc", "cost"} for p in points)


def test_carbs_toy_benchmark_scores_the_front_it_finds(tmp_path):
    """benchmarks/carbs_toy.py on a few evaluations: the summary reads the front, the report renders."""
    from benchmarks import carbs_toy

    run = carbs_toy.run_one("hpo-carbs", 0, 12)
    assert len(run["rows"]) == 12 and all(2 <= r["epochs"] <= 512 for r in run["rows"])
    s = carbs_toy.summary(run)
    cheapest = min(r["epochs"] for r in run["rows"])
    assert math.isfinite(s["best@512"]) and s["best@512"] == min(r["f"] for r in run["rows"])
    assert (cheapest > 8) == math.isnan(s["best@8"]) and s["front_size"] >= 1
    assert carbs_toy.main(["--seeds", "1", "--evals", "6", "--out", str(tmp_path)]) == 0
    text = (tmp_path / "cost_aware_toy.md").read_text()
    assert "| hpo-carbs | 1 |" in text and "| random | 1 |" in text


def test_live_cost_task_measures_its_fits_and_shares_one_scale(tmp_path, monkeypatch):
    """benchmarks/cost_live.py: a real MLP fit on digits; the cost scale is measured once and read back."""
    from benchmarks import cost_live
    from benchmarks.cost_aware import make_task

    task = make_task("digits-mlp")
    short = task.evaluate({"hidden_units": 16, "learning_rate": 1e-2, "epochs": 1})
    longer = task.evaluate({"hidden_units": 16, "learning_rate": 1e-2, "epochs": 30})
    assert 0.0 <= longer[0] < short[0] <= 100.0  # more epochs: lower validation error
    assert 0.0 < short[1] < longer[1]  # and more measured seconds
    monkeypatch.setattr(cost_live, "N_SCALE_CONFIGS", 2)
    monkeypatch.setenv("HPO_COST_SCALE_FILE", str(tmp_path / "scale.json"))
    first = cost_live.live_scale("digits-mlp")
    assert first[0] > 0 and first[1] >= first[0]
    assert cost_live.live_scale("digits-mlp") == first  # read from the file, not measured again
