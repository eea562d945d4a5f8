"""Recorded schedule curves (``benchmarks/schedule_curves.py``): the pool replays them, the early-stopping benchmark runs on them."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("sklearn")

from benchmarks.early_stopping import best_known, run_one  # noqa: E402
from benchmarks.schedule_curves import DATA, POOLS, CurvePool, record  # noqa: E402


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


def test_early_stopping_replays_a_pool_and_lcpfn_spends_fewer_epochs():
    fifo = run_one("digits-step", "hpo-fifo", 0, 12)
    lc = run_one("digits-step", "hpo-fifo-lc", 0, 12)
    assert fifo["epochs"] == 12 * 27
    assert lc["epochs"] < fifo["epochs"] and lc["stopped"] > 0
    assert lc["best"] <= fifo["best"]  # the same 12 configs; stopping can only lose finals
    median = run_one("digits-step", "optuna-median", 0, 12)
    assert median["epochs"] <= 12 * 27 and np.isfinite(median["best"])
