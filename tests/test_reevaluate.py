"""Held-out re-evaluation (Eimer et al., ICML 2023): tune on one seed, recommend by test seeds."""

from __future__ import annotations

import json
import random

import pytest

import hpo
from hpo.cli import main
from hpo.errors import HPOError, SettingError
from hpo.execution._jobs import call_objective
from hpo.reevaluate import DEFAULT_SEED_START, held_out_seeds, tuning_seed
from hpo.search_spaces import Float
from hpo.study import Study

ARMS = (0.1, 0.3, 0.5, 0.7)
TRUE_BEST = 0.3


def true_loss(x: float) -> float:
    return 5 * (x - TRUE_BEST) ** 2


def noisy(config, seed=3):
    """True quality plus large seed noise; at the tuning seed 3, x=0.5 draws a lucky -0.33."""
    x = config["x"]
    return {"loss": true_loss(x) + random.Random(f"{x}/{seed}").uniform(-0.4, 0.4)}


def _study(path, objective=noisy):
    study = Study.create(objective, {"x": Float(0.0, 1.0)}, metric="loss", mode="min", storage=str(path),
                         searcher="random", executor="inprocess", seed=0)
    for x in ARMS:
        study.enqueue({"x": x})
    try:
        return study.optimize(n_trials=len(ARMS))
    finally:
        study.close()


def test_the_held_out_mean_recovers_the_config_the_noisy_search_missed(tmp_path):
    path = tmp_path / "noisy.db"
    result = _study(path)
    assert result.best_config == {"x": 0.5}  # the single-seed search is misled
    report = result.reevaluate(noisy, seeds=10, top_k=4)
    assert report.seeds == tuple(range(DEFAULT_SEED_START, DEFAULT_SEED_START + 10))
    assert report.recommended is not None and report.recommended.config == {"x": TRUE_BEST}
    assert [r.config["x"] for r in report.rows][:1] == [TRUE_BEST]
    means = [r.mean for r in report.rows]
    assert means == sorted(means) and all(r.complete and r.sd > 0 for r in report.rows)
    incumbent = result.incumbent.trial_id
    assert report.incumbent_id == incumbent and result.best_config == {"x": 0.5}  # the incumbent stays
    assert report.summary().startswith(
        f"recommended by held-out mean over 10 seed(s) [10000..10009]: trial {report.recommended.trial_id} (loss "
    )
    assert f"search incumbent was trial {incumbent}, held-out " in report.summary()
    assert "held-out re-evaluation of loss (min)" in str(report)
    # stored with the study: the read-only loader sees the same seeds and values
    again = hpo.load_study(path).reevaluation()
    assert again == report
    row = again.row(report.recommended.trial_id)
    assert row.values == tuple(true_loss(TRUE_BEST) + random.Random(f"{TRUE_BEST}/{s}").uniform(-0.4, 0.4) for s in report.seeds)


def seed_from_context(config):
    seed = hpo.trial_context().seed  # None during the search
    return {"loss": config["x"] + (0 if seed is None else seed)}


def test_an_objective_without_a_seed_parameter_reads_it_from_the_trial_context(tmp_path):
    result = _study(tmp_path / "ctx.db", seed_from_context)
    report = result.reevaluate(seed_from_context, seeds=[7, 8], top_k=1)
    (row,) = report.rows
    assert row.config == {"x": 0.1} and row.values == (7.1, 8.1)


def test_the_context_seed_and_the_seed_keyword(tmp_path):
    seen = []

    def both(config, budget, seed=1):
        seen.append((seed, hpo.trial_context().seed, budget.start, budget.stop))
        return {"loss": config["x"] + seed}

    result = hpo.tune(space={"x": Float(0.0, 1.0)}, metric="loss", mode="min", searcher="random")(both).run(
        n_trials=2, executor="inprocess", seed=0)
    assert {s[:2] for s in seen} == {(1, None)}  # the search: the objective's own seed
    seen.clear()
    report = result.reevaluate(both, seeds=[5, 6], top_k=1)
    assert seen == [(5, 5, 0, 1), (6, 6, 0, 1)] and report.seeds == (5, 6)
    assert result.reevaluation() == report  # an in-memory study keeps it in its storage
    assert report.rows[0].values == (result.incumbent.config["x"] + 5, result.incumbent.config["x"] + 6)


def test_a_seed_that_fails_is_recorded_and_the_others_go_on(tmp_path):
    path = tmp_path / "fails.db"
    result = _study(path)

    def fragile(config, seed=3):
        if config["x"] == 0.7 and seed == 10_001:
            raise ValueError("diverged on seed 10001")
        if config["x"] == 0.5 and seed == 10_002:
            return {"loss": float("nan")}
        return noisy(config, seed)

    report = result.reevaluate(fragile, seeds=3, top_k=4)
    by_x = {r.config["x"]: r for r in report.rows}
    assert by_x[0.7].values[1] is None and by_x[0.7].reasons[1] == "ValueError: diverged on seed 10001"
    assert by_x[0.5].values[2] is None and by_x[0.5].reasons[2] == "ObjectiveError: 'loss' is nan (not finite)"
    assert by_x[0.1].complete and by_x[TRUE_BEST].complete
    assert report.recommended.complete and report.recommended.config == {"x": TRUE_BEST}
    stored = hpo.load_study(path).reevaluation()
    assert stored.row(by_x[0.7].trial_id).reasons == by_x[0.7].reasons
    assert "1/3" in str(report)


def test_rerunning_replaces_the_same_seeds_and_keeps_the_others(tmp_path):
    path = tmp_path / "rerun.db"
    result = _study(path)
    shift = {"value": 0.0}

    def shifted(config, seed=3):
        return {"loss": noisy(config, seed)["loss"] + shift["value"]}

    first = result.reevaluate(shifted, seeds=[100, 101], top_k=4)
    shift["value"] = 10.0
    second = result.reevaluate(shifted, seeds=[101, 102], top_k=1)  # only the best completed (the incumbent)
    assert second.seeds == (100, 101, 102)
    incumbent = result.incumbent.trial_id
    row = second.row(incumbent)
    assert row.values[0] == first.row(incumbent).values[0]  # seed 100 kept
    assert row.values[1] == pytest.approx(first.row(incumbent).values[1] + 10.0)  # seed 101 replaced
    others = [r for r in second.rows if r.trial_id != incumbent]
    assert all(r.reasons[2] == "not run" and r.values[2] is None for r in others)
    # a complete row is preferred to a better mean over fewer seeds
    assert second.recommended.trial_id == incumbent
    assert hpo.load_study(path).reevaluation() == second


def test_the_cli_runs_the_stored_objective_and_stores_the_seeds(tmp_path, capsys):
    path = str(tmp_path / "cli.db")
    _study(path)
    assert main(["reevaluate", path, "--seeds", "3", "--top-k", "2"]) == 0
    out = capsys.readouterr().out
    assert "trial 2 seed 10000: " in out and "held-out re-evaluation of loss (min)" in out
    assert "recommended by held-out mean over 3 seed(s) [10000..10002]: trial 2 " in out
    assert main(["reevaluate", path, "--seed-list", "20,21", "--top-k", "1", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["seeds"] == [20, 21, 10000, 10001, 10002] and data["incumbent"] == 3
    assert hpo.load_study(path).reevaluation().seeds == (20, 21, 10000, 10001, 10002)
    # the tuning seed (the objective's default seed=3) is never a held-out seed
    assert main(["reevaluate", path, "--seed-list", "3,4"]) == 2
    assert "seed 3 is the tuning seed" in capsys.readouterr().err
    assert main(["reevaluate", path, "--seeds", "2", "--seed-list", "4"]) == 2


def test_bad_requests_are_named(tmp_path):
    result = _study(tmp_path / "bad.db")
    with pytest.raises(SettingError, match="top_k"):
        result.reevaluate(noisy, seeds=2, top_k=0)
    with pytest.raises(SettingError, match="repeat"):
        result.reevaluate(noisy, seeds=[1, 1])
    with pytest.raises(SettingError, match="positive int"):
        result.reevaluate(noisy, seeds=0)
    multi = hpo.tune(space={"x": Float(0.0, 1.0)}, metric=("a", "b"), mode=("min", "min"), searcher="random")(
        lambda c: {"a": c["x"], "b": -c["x"]}).run(n_trials=2, executor="inprocess", seed=0)
    with pytest.raises(HPOError, match="several objectives"):
        multi.reevaluate(lambda c: {"a": 0.0, "b": 0.0}, seeds=1)
    assert multi.reevaluation() is None


def test_seed_helpers_and_a_seed_parameter_is_never_the_budget():
    assert held_out_seeds(3, 5, exclude=(6,)) == [5, 7, 8]
    assert tuning_seed(noisy) == 3 and tuning_seed(seed_from_context) is None

    def config_and_seed(config, seed=0):
        return seed

    budget = hpo.Budget(1, 4).full()
    assert call_objective(config_and_seed, {}, budget) == 0
    assert call_objective(config_and_seed, {}, budget, seed=9) == 9
    assert call_objective(lambda config: 1, {}, budget, seed=9) == 1  # no seed parameter: not passed
