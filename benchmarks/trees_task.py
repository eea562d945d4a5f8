"""A live conditional multi-fidelity task whose fidelity is the ensemble size: trees and boosting rounds.

A task family unlike the others in the suite, for the robustness tables (issue 16: "the
number of boosting rounds as fidelity"; "other model families"). The top-level ``Choice``
is the learner, four tree ensembles of scikit-learn, each with its own settings; the
fidelity is how many members the ensemble has, grown with ``warm_start`` as a real run
would grow it (a promoted trial adds members to the model it kept; it does not refit):

* ``hgb``: ``HistGradientBoostingClassifier``, 10 boosting rounds per step (10..270);
* ``gbm``: ``GradientBoostingClassifier`` (exact trees, row subsampling), 10 rounds per step;
* ``forest``: ``RandomForestClassifier``, 4 trees per step (4..108);
* ``extra``: ``ExtraTreesClassifier``, 4 trees per step.

Why it is hard for a model fitted on a low rung: a boosting run's early value depends
mostly on its learning rate (a small rate looks bad after 10 rounds and can be the best at
270), while a forest is near its final value after a few trees. So low rungs favour
forests and large learning rates, whatever the full budget favours. Nothing here was used
to tune a default.

* Data: ``make_classification`` (3,000 samples, 20 features, 6 informative, 4 redundant,
  3 clusters per class, 3% flipped labels, ``class_sep=0.7``, ``random_state=1``), a
  stratified 50/50 train/validation split (``random_state=0``): one validation sample is
  0.067 points.
* Metric: validation accuracy in percent, maximised. Fidelity: steps 1..27 (``EPOCHS``).
* Determinism: every learner has ``random_state=0`` and always grows one step at a time, so
  a config's value at a step does not depend on how it got there (a retrain from scratch
  replays the same steps). Seconds are measured (fit and predict, one thread).
* Resuming: the model after each step is kept in memory per config, as the other live
  tasks keep theirs (:mod:`benchmarks.digits`); a segment that does not start where the
  kept model ends retrains from scratch, and pays for it.

Same interface as the other live tasks (``epochs``, ``space``, ``segment``,
``optuna_config``, ``ray_space``), so every multi-fidelity method runs it unchanged
(``python -m benchmarks.run mf --tasks trees``).
"""

from __future__ import annotations

import time
from typing import Any

from benchmarks._kept import KeptStates

__all__ = ["TreeEnsembles", "EPOCHS", "MEMBERS_PER_STEP"]

EPOCHS = 27
#: Ensemble members added per fidelity step, per learner.
MEMBERS_PER_STEP = {"hgb": 10, "gbm": 10, "forest": 4, "extra": 4}


class TreeEnsembles:
    """The live tree-ensemble task; one instance per process (it keeps the per-config models)."""

    task = "trees"
    epochs = EPOCHS

    def __init__(self) -> None:
        from sklearn.datasets import make_classification
        from sklearn.model_selection import train_test_split

        x, y = make_classification(n_samples=3000, n_features=20, n_informative=6, n_redundant=4,
                                   n_clusters_per_class=3, flip_y=0.03, class_sep=0.7, random_state=1)
        self.x_train, self.x_val, self.y_train, self.y_val = train_test_split(
            x, y, test_size=0.5, random_state=0, stratify=y)
        self._kept = KeptStates(EPOCHS)

    @staticmethod
    def space() -> dict[str, Any]:
        """The conditional space: ``{"learner": Choice({...})}``, names unique across options."""
        from hpo.search_spaces import Categorical, Choice, Float, Int

        return {
            "learner": Choice({
                "hgb": {
                    "hgb_learning_rate": Float(5e-3, 1.0, log=True),
                    "hgb_max_leaf_nodes": Int(4, 128, log=True),
                    "hgb_min_samples_leaf": Int(2, 200, log=True),
                    "hgb_l2": Float(1e-6, 10.0, log=True),
                    "hgb_max_features": Float(0.2, 1.0),
                },
                "gbm": {
                    "gbm_learning_rate": Float(5e-3, 1.0, log=True),
                    "gbm_max_depth": Int(1, 6),
                    "gbm_subsample": Float(0.3, 1.0),
                    "gbm_min_samples_leaf": Int(1, 100, log=True),
                },
                "forest": {
                    "rf_max_features": Float(0.05, 1.0),
                    "rf_min_samples_leaf": Int(1, 50, log=True),
                    "rf_criterion": Categorical(["gini", "entropy"]),
                },
                "extra": {
                    "et_max_features": Float(0.05, 1.0),
                    "et_min_samples_leaf": Int(1, 50, log=True),
                },
            })
        }

    @staticmethod
    def optuna_config(trial: Any) -> dict[str, Any]:
        """The same space, define-by-run: ``learner`` first, then only that learner's settings."""
        from benchmarks._spaces import optuna_suggest

        config: dict[str, Any] = {}
        optuna_suggest(trial, TreeEnsembles.space(), config)
        return config

    @staticmethod
    def ray_space() -> dict[str, Any]:
        """The space as a flat Ray Tune ``param_space`` (see :meth:`benchmarks.cash_mf.CashTask.ray_space`)."""
        from benchmarks._spaces import ray_domains

        return ray_domains(TreeEnsembles.space())

    @staticmethod
    def model(config: dict[str, Any]) -> Any:
        """The scikit-learn estimator of a config, with no members yet (``warm_start=True``)."""
        from sklearn.ensemble import (
            ExtraTreesClassifier,
            GradientBoostingClassifier,
            HistGradientBoostingClassifier,
            RandomForestClassifier,
        )

        learner = config["learner"]
        if learner == "hgb":
            return HistGradientBoostingClassifier(
                learning_rate=config["hgb_learning_rate"], max_leaf_nodes=int(config["hgb_max_leaf_nodes"]),
                min_samples_leaf=int(config["hgb_min_samples_leaf"]), l2_regularization=config["hgb_l2"],
                max_features=config["hgb_max_features"], early_stopping=False, warm_start=True, random_state=0)
        if learner == "gbm":
            return GradientBoostingClassifier(
                learning_rate=config["gbm_learning_rate"], max_depth=int(config["gbm_max_depth"]),
                subsample=config["gbm_subsample"], min_samples_leaf=int(config["gbm_min_samples_leaf"]),
                warm_start=True, random_state=0)
        if learner == "forest":
            return RandomForestClassifier(
                max_features=config["rf_max_features"], min_samples_leaf=int(config["rf_min_samples_leaf"]),
                criterion=config["rf_criterion"], warm_start=True, random_state=0, n_jobs=1)
        if learner == "extra":
            return ExtraTreesClassifier(
                max_features=config["et_max_features"], min_samples_leaf=int(config["et_min_samples_leaf"]),
                warm_start=True, random_state=0, n_jobs=1)
        raise ValueError(f"unknown learner {learner!r}")

    def segment(self, config: dict[str, Any], start: int, stop: int) -> tuple[list[float], list[float]]:
        """Grow 0-based steps ``start..stop-1``: validation accuracy (percent) and cumulative seconds after each."""
        import warnings

        from threadpoolctl import threadpool_limits

        # no kept model at `start`: grow from scratch
        state = self._kept.resume(config, start, lambda: {"model": self.model(config), "epoch": 0, "seconds": 0.0})
        first = state["epoch"]
        size_name = "max_iter" if config["learner"] == "hgb" else "n_estimators"
        per_step = MEMBERS_PER_STEP[config["learner"]]
        model = state["model"]
        acc: list[float] = []
        seconds: list[float] = []
        # One thread: runs go side by side, one core each (HGB's OpenMP pool included).
        with warnings.catch_warnings(), threadpool_limits(1):
            warnings.simplefilter("ignore")
            for step in range(first, stop):
                t0 = time.perf_counter()
                model.set_params(**{size_name: per_step * (step + 1)})
                model.fit(self.x_train, self.y_train)
                value = 100.0 * float((model.predict(self.x_val) == self.y_val).mean())
                state["seconds"] += time.perf_counter() - t0
                acc.append(value)
                seconds.append(state["seconds"])
        self._kept.keep(config, state, stop)
        return acc[start - first:], seconds[start - first:]
