"""A live *conditional* multi-fidelity task: which scikit-learn learner, and its settings.

The top-level ``Choice`` is the learner, each with its own sub-space; the fidelity is the
training-set fraction. Every evaluation is a real fit on a bundled dataset (``digits`` or
``breast_cancer``), scored on a fixed validation split. The task has the interface of the
multi-fidelity runners (``epochs``, ``space``, ``segment``, ``optuna_config``), so every
method runs it unchanged; here an "epoch" is one fidelity step.

* Data: a stratified 70/30 train/validation split (``random_state=0``), features
  standardised on the training split (trees are indifferent to it).
* Fidelity: step ``e`` (0-based, of ``STEPS``) fits on the first ``(e + 1) / STEPS`` of a
  fixed stratified shuffle of the training split (at least 3 samples per class), so a
  larger fidelity sees a superset of a smaller one's data. Fits at one step do not help
  the next (no warm start): each step is a fresh fit, and the cumulative budget counts
  steps, so a method that runs many low-fidelity fits pays for each.
* Metric: validation accuracy in percent, maximised.
* Learners (a CASH space as in Auto-sklearn, trimmed to a few parameters each): SVM (RBF),
  random forest, histogram gradient boosting, k-nearest neighbours, logistic regression.
  Low fidelities favour some learners (kNN and forests do well on little data; gradient
  boosting and the SVM need more), which is what can mislead a model fitted on a low rung.
* The values are deterministic per (config, step): every learner gets ``random_state=0``.
  They are cached per process, so a resumed or repeated segment costs nothing more
  (the in-process equivalent of keeping a finished run's score).
"""

from __future__ import annotations

import time
from typing import Any

__all__ = ["CashTask", "STEPS", "DATASETS"]

STEPS = 9
DATASETS = ("digits", "breast_cancer")


class CashTask:
    """The live CASH task on one dataset; one instance per process (it caches scores)."""

    epochs = STEPS

    def __init__(self, dataset: str) -> None:
        import numpy as np
        from sklearn import datasets
        from sklearn.model_selection import train_test_split
        from sklearn.preprocessing import StandardScaler

        if dataset not in DATASETS:
            raise ValueError(f"unknown dataset {dataset!r}; choose from {DATASETS}")
        self.task = f"cash-{dataset}"
        x, y = getattr(datasets, f"load_{dataset}")(return_X_y=True)
        x_train, x_val, y_train, self.y_val = train_test_split(x, y, test_size=0.3, random_state=0, stratify=y)
        scaler = StandardScaler().fit(x_train)
        x_train, self.x_val = scaler.transform(x_train), scaler.transform(x_val)
        # A fixed stratified order: each class's samples in a seeded random order, merged by
        # their relative position within the class, so every prefix keeps the class shares.
        rng = np.random.default_rng(0)
        keys = np.empty(len(y_train))
        for c in np.unique(y_train):
            idx = rng.permutation(np.flatnonzero(y_train == c))
            keys[idx] = (np.arange(len(idx)) + rng.random()) / len(idx)
        order = np.argsort(keys, kind="stable")
        self.x_train, self.y_train = x_train[order], y_train[order]
        n_classes = len(np.unique(y_train))
        self.n_min = 3 * n_classes
        self._cache: dict[tuple[Any, ...], tuple[float, float]] = {}

    @staticmethod
    def space() -> dict[str, Any]:
        from hpo.search_spaces import Categorical, Choice, Float, Int

        return {
            "learner": Choice({
                "svm": {"svm_C": Float(1e-2, 1e3, log=True), "svm_gamma": Float(1e-5, 1e0, log=True)},
                "forest": {
                    "rf_max_features": Float(0.05, 1.0),
                    "rf_min_samples_leaf": Int(1, 20, log=True),
                    "rf_criterion": Categorical(["gini", "entropy"]),
                },
                "hgb": {
                    "hgb_learning_rate": Float(1e-3, 0.5, log=True),
                    "hgb_max_leaf_nodes": Int(4, 32, log=True),
                    "hgb_l2": Float(1e-6, 1e1, log=True),
                },
                "knn": {"knn_k": Int(1, 50, log=True), "knn_weights": Categorical(["uniform", "distance"])},
                "logreg": {"lr_C": Float(1e-4, 1e3, log=True)},
            })
        }

    @staticmethod
    def optuna_config(trial: Any) -> dict[str, Any]:
        """The same space, define-by-run: ``learner`` first, then only that learner's settings."""
        from benchmarks._spaces import optuna_suggest

        config: dict[str, Any] = {}
        optuna_suggest(trial, CashTask.space(), config)
        return config

    @staticmethod
    def ray_space() -> dict[str, Any]:
        """The space as a Ray Tune ``param_space``: flat, the way random search sees it.

        Ray Tune's random search has no conditional parameters, so every learner's settings
        are drawn and the trainable uses the chosen learner's only (:meth:`model`): the
        active settings have the same distribution as in :meth:`space`, from which this is
        derived (a ``Choice`` becomes ``tune.choice`` over its option names, followed by
        every option's parameters).
        """
        from benchmarks._spaces import ray_domains

        return ray_domains(CashTask.space())

    @staticmethod
    def model(config: dict[str, Any]) -> Any:
        """The scikit-learn estimator of a config."""
        from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
        from sklearn.linear_model import LogisticRegression
        from sklearn.neighbors import KNeighborsClassifier
        from sklearn.svm import SVC

        learner = config["learner"]
        if learner == "svm":
            return SVC(C=config["svm_C"], gamma=config["svm_gamma"])
        if learner == "forest":
            return RandomForestClassifier(n_estimators=50, max_features=config["rf_max_features"],
                                          min_samples_leaf=int(config["rf_min_samples_leaf"]),
                                          criterion=config["rf_criterion"], random_state=0, n_jobs=1)
        if learner == "hgb":
            return HistGradientBoostingClassifier(learning_rate=config["hgb_learning_rate"], max_iter=20, max_bins=32,
                                                  max_leaf_nodes=int(config["hgb_max_leaf_nodes"]),
                                                  l2_regularization=config["hgb_l2"], early_stopping=False, random_state=0)
        if learner == "knn":
            return KNeighborsClassifier(n_neighbors=int(config["knn_k"]), weights=config["knn_weights"])
        if learner == "logreg":
            return LogisticRegression(C=config["lr_C"], max_iter=300)
        raise ValueError(f"unknown learner {learner!r}")

    def score(self, config: dict[str, Any], step: int) -> tuple[float, float]:
        """Validation accuracy (percent) and fit seconds at 0-based fidelity ``step``."""
        import warnings

        from threadpoolctl import threadpool_limits

        key = (tuple(sorted((k, str(v)) for k, v in config.items())), step)
        if key not in self._cache:
            n = max(self.n_min, round(len(self.y_train) * (step + 1) / self.epochs))
            model = self.model(config)
            k = int(config.get("knn_k", 1))
            if config["learner"] == "knn" and k > n:
                model.set_params(n_neighbors=n)
            t0 = time.perf_counter()
            # One thread: runs go side by side, one core each (HistGradientBoosting's OpenMP
            # pool loads with its first fit, after the runner's own limit was set).
            with warnings.catch_warnings(), threadpool_limits(1):
                warnings.simplefilter("ignore")
                model.fit(self.x_train[:n], self.y_train[:n])
                acc = 100.0 * float((model.predict(self.x_val) == self.y_val).mean())
            self._cache[key] = (acc, time.perf_counter() - t0)
        return self._cache[key]

    def segment(self, config: dict[str, Any], start: int, stop: int) -> tuple[list[float], list[float]]:
        """Fidelity steps ``start..stop-1``: accuracy (percent) and cumulative fit seconds after each."""
        acc: list[float] = []
        seconds: list[float] = []
        total = 0.0
        for step in range(start, stop):
            value, sec = self.score(config, step)
            total += sec
            acc.append(value)
            seconds.append(total)
        return acc, seconds
