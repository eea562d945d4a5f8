"""Recorded schedule curves (``benchmarks/schedule_curves.py``): the pool replays them, the early-stopping benchmark runs on them."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("sklearn")

from benchmarks.early_stopping import best_known, run_one  # noqa: E402
from benchmarks.schedule_curves import DATA, LOSS_POOLS, POOLS, CurvePool, record  # noqa: E402


@pytest.mark.parametrize("task", sorted(POOLS))
def test_a_pool_replays_its_recorded_runs(task):
    pool = CurvePool(task)
    data = np.load(DATA / POOLS[task])
    assert pool.n == len(data["y"]) >= 100 and pool.epochs == 27
    acc, seconds = pool.segment({"config": 7}, 3, 6)
    assert acc == pytest.approx(100 * data["y"][7, 3:6]) and seconds == pytest.approx(data["seconds"][7, 3:6])
    assert pool.best() == pytest.approx(100 * data["y"][:, -1].max()) == best_known(task)
    assert pool.space()["config"].high == pool.n - 1


def test_record_writes_the_curve_layout(tmp_path):
    path = record("step", 2, 0, tmp_path / "two.npz")
    data = np.load(path)
    assert data["x"].shape == data["y"].shape == data["seconds"].shape == (2, 27)
    assert ((data["y"] >= 0) & (data["y"] <= 1)).all() and (np.diff(data["seconds"], axis=1) > 0).all()
    assert "schedule='step'" in str(data["note"]) and len(data["meta"]) == 2


def test_record_writes_tree_ensemble_curves_of_accuracy_only(tmp_path):
    data = np.load(record("trees", 2, 0, tmp_path / "trees.npz"))
    assert data["y"].shape == data["seconds"].shape == (2, 27) and ((data["y"] > 0) & (data["y"] <= 1)).all()
    assert "TreeEnsembles" in str(data["note"]) and "--task trees" in str(data["note"])
    with pytest.raises(ValueError, match="accuracy only"):
        record("trees", 1, 0, tmp_path / "loss.npz", metric="loss")


def test_early_stopping_replays_a_pool_and_lcpfn_spends_fewer_epochs():
    fifo = run_one("digits-step", "hpo-fifo", 0, 12)
    lc = run_one("digits-step", "hpo-fifo-lc", 0, 12)
    assert fifo["epochs"] == 12 * 27
    assert lc["epochs"] < fifo["epochs"] and lc["stopped"] > 0
    assert lc["best"] <= fifo["best"]  # the same 12 configs; stopping can only lose finals
    median = run_one("digits-step", "optuna-median", 0, 12)
    assert median["epochs"] <= 12 * 27 and np.isfinite(median["best"])


@pytest.mark.parametrize("task", sorted(LOSS_POOLS))
def test_a_loss_pool_replays_the_same_configs_as_its_accuracy_pool_minimised(task):
    pool = CurvePool(task)
    data = np.load(DATA / LOSS_POOLS[task])
    accuracy = np.load(DATA / POOLS[task.removesuffix("-loss")])
    assert not pool.maximize and (data["meta"] == accuracy["meta"]).all()  # same runs, another metric
    loss, _ = pool.segment({"config": 7}, 0, 27)
    assert loss == pytest.approx(data["y"][7].tolist(), nan_ok=True)
    assert pool.best() == pytest.approx(np.nanmin(data["y"][:, -1])) and 0 < pool.best() < 1


def test_record_writes_loss_curves(tmp_path):
    data = np.load(record("cosine", 2, 0, tmp_path / "loss.npz", metric="loss"))
    assert data["y"].shape == (2, 27) and "validation loss" in str(data["note"]) and "--metric loss" in str(data["note"])
    finite = data["y"][np.isfinite(data["y"])]
    assert (finite > 0).all() and finite.max() > 1  # cross-entropy, not an accuracy


def test_loss_pruning_lcpfn_infers_the_range_and_spends_fewer_epochs_than_no_pruning():
    from benchmarks.loss_pruning import report
    from benchmarks.loss_pruning import run_one as run_loss

    runs = [run_loss("digits-step-loss", m, 0, 15) for m in ("optuna-nopruner", "optuna-median", "optuna-lcpfn")]
    full, median, lcpfn = runs
    assert full["epochs"] == 15 * 27 and full["pruned"] == 0
    assert lcpfn["epochs"] < full["epochs"] and lcpfn["pruned"] > 0
    assert lcpfn["best"] >= full["best"] and np.isfinite(lcpfn["best"])  # the same 15 configs: pruning only loses finals
    table = report(runs, "CMD")
    assert "| digits-step-loss |" in table and "| optuna-lcpfn | digits-step-loss |" in table
