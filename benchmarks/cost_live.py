"""The live task of the cost-aware benchmark: a scikit-learn MLP on ``digits``, cost in measured seconds.

``digits-mlp`` (issue 18, 5b): ``MLPClassifier`` with one hidden layer on scikit-learn's
``load_digits`` (a fixed stratified 75/25 split, ``random_state=0``), searched over

* ``hidden_units`` = Int(8, 256, log), ``learning_rate`` = Float(1e-4, 1e-1, log),
* ``epochs`` = Int(1, 60): ``max_iter``, the passes over the training set (convergence
  warnings are expected and ignored; ``tol=0`` so every epoch runs),

with ``val_error`` = 100 - validation accuracy (percent) and cost = the seconds the fit
took, measured around ``fit`` (one thread, ``threadpool_limits(1)``).

The cost scale (:class:`benchmarks.cost_aware.TaskScale`) is measured once, on
``N_SCALE_CONFIGS`` random configs at 60 epochs, and stored in the file named by
``HPO_COST_SCALE_FILE`` (``cmd_cost`` sets it to ``<out>/cost_aware_scale.json``), so that
every run, also of a later ``--resume`` batch, gets the same ``max_cost``. The reference cost of the hypervolume is
``SCALE_REF_FACTOR`` x the slowest of those fits (measured times vary between fits).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

__all__ = ["LIVE_TASKS", "DigitsMLPCost", "live_scale"]

LIVE_TASKS = ("digits-mlp",)
EPOCHS = 60
N_SCALE_CONFIGS = 10
SCALE_REF_FACTOR = 2.0


class DigitsMLPCost:
    """``digits-mlp``: the same interface as :class:`benchmarks.cost_aware.CostTask`."""

    def __init__(self, task: str = "digits-mlp") -> None:
        from sklearn.datasets import load_digits
        from sklearn.model_selection import train_test_split

        self.task = task
        x, y = load_digits(return_X_y=True)
        self.data = train_test_split(x / 16.0, y, test_size=0.25, random_state=0, stratify=y)

    @staticmethod
    def space() -> dict[str, Any]:
        from hpo.search_spaces import Float, Int

        return {"hidden_units": Int(8, 256, log=True), "learning_rate": Float(1e-4, 1e-1, log=True), "epochs": Int(1, EPOCHS)}

    @staticmethod
    def optuna_config(trial: Any) -> dict[str, Any]:
        from benchmarks._spaces import optuna_config

        return optuna_config(trial, DigitsMLPCost.space())

    @staticmethod
    def flaml_space() -> dict[str, Any]:
        from flaml import tune

        from benchmarks._spaces import ray_domains

        return ray_domains(DigitsMLPCost.space(), tune)

    def evaluate(self, config: Mapping[str, Any]) -> tuple[float, float]:
        """``(val_error, seconds)`` of one fit."""
        import warnings

        from sklearn.neural_network import MLPClassifier
        from threadpoolctl import threadpool_limits

        x_train, x_val, y_train, y_val = self.data
        model = MLPClassifier(hidden_layer_sizes=(int(config["hidden_units"]),), learning_rate_init=float(config["learning_rate"]),
                              max_iter=int(config["epochs"]), tol=0.0, n_iter_no_change=10_000, random_state=0)  # fmt: skip
        with threadpool_limits(1), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            t0 = time.perf_counter()
            model.fit(x_train, y_train)
            seconds = time.perf_counter() - t0
        return 100.0 * (1.0 - float(model.score(x_val, y_val))), seconds


def live_scale(task: str) -> tuple[float, float]:
    """``(mean_full_cost, max_full_cost)`` of the live task, measured once and shared through a file."""
    import numpy as np

    from hpo.search_spaces import SearchSpace
    from hpo.searchers import RandomSearcher

    path = os.environ.get("HPO_COST_SCALE_FILE")
    if path and Path(path).exists():
        stored = json.loads(Path(path).read_text())
        if task in stored:
            return tuple(stored[task])  # type: ignore[return-value]
    searcher = RandomSearcher(SearchSpace(DigitsMLPCost.space()), seed=0)
    searcher.set_objective("val_error", "min")
    problem = DigitsMLPCost(task)
    seconds = [problem.evaluate({**c, "epochs": EPOCHS})[1] for c in searcher.suggest(N_SCALE_CONFIGS)]
    scale = (float(np.mean(seconds)), float(SCALE_REF_FACTOR * max(seconds)))
    if path:
        stored = json.loads(Path(path).read_text()) if Path(path).exists() else {}
        Path(path).write_text(json.dumps({**stored, task: scale}))
    return scale
