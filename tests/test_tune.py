import pickle

import cloudpickle
import pytest

import hpo
from hpo.errors import SearchSpaceError, UnknownPluginError
from hpo.search_spaces import Categorical, Float, Int

SPACE = {"lr": Float(1e-4, 1e-1, log=True), "layers": Int(1, 4), "opt": Categorical(["adam", "sgd"])}


@hpo.tune(space=SPACE, metric="val_loss", mode="min", budget=hpo.Budget(1, 3))
def train(config, budget):
    loss = 1.0
    for epoch in range(budget.start, budget.stop):
        loss = abs(config["lr"] - 0.01) + 0.1 * config["layers"] + 1.0 / (epoch + 1)
        hpo.report(val_loss=loss, step=epoch)
    return {"val_loss": loss, "epochs": budget.stop}


def test_decorated_function_still_runs_normally():
    out = train({"lr": 0.01, "layers": 1, "opt": "adam"}, hpo.Budget(1, 3).full())
    assert out == {"val_loss": pytest.approx(0.1 + 1 / 3), "epochs": 3}
    assert train.__name__ == "train" and train.settings.metric == "val_loss"


def test_run_returns_a_study_result(tmp_path):
    result = train.run(n_trials=6, workers=2, storage=f"sqlite:///{tmp_path}/t.db", seed=0)
    assert len(result.trials) == 6 and result.counts() == {"COMPLETED": 6}
    assert result.incumbent.value == min(t.value for t in result.trials)
    assert set(result.incumbent.config) == {"lr", "layers", "opt"}
    assert result.storage == f"{tmp_path}/t.db"
    df = result.to_dataframe()
    assert list(df["trial_id"]) == [1, 2, 3, 4, 5, 6]
    assert {"config.lr", "config.layers", "config.opt", "value", "status"} <= set(df.columns)


def test_run_again_on_the_same_file_continues_the_study(tmp_path):
    db = tmp_path / "t.db"
    train.run(n_trials=3, executor="inprocess", storage=db, seed=0)
    result = train.run(n_trials=5, executor="inprocess", storage=db, seed=0)
    assert len(result.trials) == 5
    assert len({tuple(sorted(t.config.items())) for t in result.trials}) == 5  # no replay


def test_decorated_module_function_pickles_by_reference():
    assert pickle.loads(cloudpickle.dumps(train)) is train


def test_bad_space_is_reported_at_decoration_time():
    with pytest.raises(SearchSpaceError, match="'lr'.*log=True needs low > 0"):
        hpo.tune(space={"lr": Float(0.0, 1.0, log=True)})


def test_unknown_plugins_are_named():
    with pytest.raises(UnknownPluginError, match="unknown scheduler 'asha2'; available: asha, async_hyperband, fifo, hyperband, lcstopping, pbt, rising_bandits, sh"):
        hpo.tune(space=SPACE, scheduler="asha2")
    with pytest.raises(UnknownPluginError, match="unknown searcher 'tpe'"):
        hpo.tune(space=SPACE, searcher="tpe")
    with pytest.raises(UnknownPluginError, match="unknown surrogate 'bnn9'; available: .*gp"):
        hpo.tune(space=SPACE, surrogate="bnn9")
    with pytest.raises(hpo.HPOError, match="needs searcher='bo'"):
        hpo.tune(space=SPACE, surrogate="gp", searcher="random")


def test_run_needs_a_stopping_rule():
    with pytest.raises(hpo.HPOError, match="stopping rule"):
        train.run()


def test_report_outside_a_study_is_a_no_op():
    assert hpo.report(loss=1.0) is hpo.Decision.CONTINUE
    assert hpo.trial_context() is None


def test_report_rejects_non_numbers_inside_a_study():
    @hpo.tune(space={"x": Float(0, 1)})
    def bad(config):
        hpo.report(loss="high")
        return 0.0

    (trial,) = bad.run(n_trials=1, executor="inprocess").trials
    assert trial.status is hpo.TrialStatus.FAILED
    assert "hpo.report(loss=...) got str 'high', expected a number" in trial.reason


def test_trial_context_inside_a_trial(tmp_path):
    @hpo.tune(space={"x": Float(0, 1)})
    def ctx_fn(config):
        ctx = hpo.trial_context()
        return {"loss": config["x"], "trial": ctx.trial_id, "has_dir": float(bool(ctx.artifact_dir))}

    result = ctx_fn.run(n_trials=2, executor="inprocess", storage=tmp_path / "c.db")
    assert [t.metrics["trial"] for t in result.trials] == [1, 2]
    assert (tmp_path / "c.artifacts" / "trial_1").is_dir()


def test_progress_bar_runs(capsys):
    result = train.run(n_trials=3, executor="inprocess", show_progress=True)
    assert len(result.trials) == 3
