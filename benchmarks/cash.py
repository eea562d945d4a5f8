"""A live CASH benchmark: which scikit-learn learner, and its settings, scored by 5-fold CV.

CASH (combined algorithm selection and hyperparameter optimization, Thornton et al.,
"Auto-WEKA", KDD 2013) as one conditional space: a top-level ``Choice`` named
``"learner"``, each option with its own sub-space (the SVM's kernel is a nested
``Choice``). Unlike :mod:`benchmarks.cash_mf` there is no fidelity: every evaluation fits
the learner on all of a bundled scikit-learn dataset, five times.

* Data and score (maximised): ``digits``, ``breast_cancer`` and ``wine``: mean accuracy
  over ``StratifiedKFold(5, shuffle=True, random_state=0)``; ``diabetes``: mean R² over
  ``KFold(5, shuffle=True, random_state=0)``. The folds are fixed, and every stochastic
  learner has ``random_state=0``, so a config's score is deterministic.
* Learners (classification / regression): SVM (``SVC`` / ``SVR``; kernel rbf, poly or
  linear), random forest, histogram gradient boosting, k-nearest neighbours, logistic
  regression / ridge, and a one-hidden-layer MLP. SVM, kNN, logistic/ridge and the MLP
  standardise the features in a ``Pipeline``. For ``diabetes`` the target is standardised
  too (``TransformedTargetRegressor``, for every learner: SVR's ``epsilon=0.1`` and the
  MLP's initial scale assume a unit-scale target; R² is unchanged by it).
* Cost: every fit is single-threaded (``threadpool_limits(1)``, ``n_jobs=1``), and
  ``ConvergenceWarning`` is silenced. Caps, measured on ``digits`` on one core (seconds
  per evaluation, i.e. five fits, at the middle of each range):

  - Histogram gradient boosting grows one tree per class per iteration, and each tree
    costs about 2 ms however small, so on 10-class ``digits`` the middle config took
    11 s (3.3 s capped). A fit grows at most ``HGB_MAX_TREES`` = 300 trees:
    ``max_iter`` is in effect ``min(max_iter, 300 // n_classes)``, i.e. at most 30 on
    ``digits`` and 100 on ``wine``; binary and regression tasks are unaffected.
    Features are binned into 64 bins (default 255; 20% faster).
  - ``SVC``/``SVR`` stop after ``SVM_MAX_ITER`` solver iterations; binding only at the
    poly kernel's largest ``C`` and ``gamma`` (``diabetes``: 1.8 s per fit uncapped).
  - Logistic regression stops after 1000 L-BFGS iterations, the MLP after 200 epochs
    (no early stopping), as specified.
  - Not capped: the random forest (5 to 6 s at the middle config, 18 s at 200 trees of
    depth 20 on every feature) and the MLP (3.4 s; 17 s at 256 units and
    ``learning_rate_init=1e-4``, which runs all 200 epochs). Both exceed a 3 s target at
    the top of their ranges; capping them would change the learner rather than its cost.
* Robustness of the score: an R² below ``R2_FLOOR`` (a diverged fit, e.g. an MLP at a
  large learning rate) or a non-finite one counts as ``R2_FLOOR``, so that one blown-up
  fit does not set the scale every model of the scores has to fit.

Methods (:data:`METHODS`): ``hpo-rb`` (our Rising Bandits scheduler), ``hpo-rb-c1`` (the
same with arms judged after ``C + 1`` pulls, design or not: its default before 2026-12-02), ``hpo-bo`` (our
default BO, decomposed conditional model), ``hpo-bo-joint`` (one GP over every column),
``hpo-sampler`` (our ``HPOSampler`` in an Optuna study, define-by-run, defaults: the tree
read off the trials and BOSearcher's decomposed conditional BO on it), ``hpo-sampler-groups``
(the same with ``conditional="groups"``: a model per group of co-occurring parameters),
``optuna-tpe`` (multivariate TPE with ``group=True``, define-by-run), ``random`` (our
random searcher) and ``smac`` (SMAC3's HPO facade, run only where ``smac`` is importable;
see :data:`SMAC_STATUS`).
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Callable, Mapping
from typing import Any

from benchmarks._spaces import optuna_suggest

__all__ = ["CashProblem", "DATASETS", "METHODS", "SMAC_STATUS", "available", "run_one"]

DATASETS = ("digits", "breast_cancer", "wine", "diabetes")
METHODS = ("hpo-rb", "hpo-rb-c1", "hpo-bo", "hpo-bo-joint", "hpo-sampler", "hpo-sampler-groups", "optuna-tpe", "random", "smac")
SVM_MAX_ITER = 100_000
HGB_MAX_TREES = 300
R2_FLOOR = -1.0

#: Result of trying to install SMAC3 for this benchmark (printed in the report's header).
SMAC_STATUS = (
    "SMAC3 2.4.1 (ConfigSpace 1.2.2; no pyrfr any more) installs with our pins: `make bench-peers` "
    "(from benchmarks/peers/requirements-main.txt). It is not part of `make test` or `make demo`, so the `smac` method runs only "
    "where `import smac` works; its HyperparameterOptimizationFacade gets our space as a ConfigSpace "
    "space with EqualsConditions."
)


def available(method: str) -> str | None:
    """None if ``method`` can run in this environment, else the reason it cannot."""
    import importlib.util

    if method not in METHODS:
        return f"unknown method {method!r}; choose from {METHODS}"
    if method == "smac" and importlib.util.find_spec("smac") is None:
        return "smac is not importable in this environment (see SMAC_STATUS)"
    return None


class CashProblem:
    """The CASH task on one bundled dataset: its space (ours and Optuna's) and its CV score.

    Args:
        dataset: One of :data:`DATASETS`.
    """

    def __init__(self, dataset: str) -> None:
        from sklearn import datasets
        from sklearn.model_selection import KFold, StratifiedKFold

        if dataset not in DATASETS:
            raise ValueError(f"unknown dataset {dataset!r}; choose from {DATASETS}")
        self.dataset = dataset
        self.regression = dataset == "diabetes"
        self.metric = "R²" if self.regression else "accuracy"
        self.x, self.y = getattr(datasets, f"load_{dataset}")(return_X_y=True)
        cv = KFold(5, shuffle=True, random_state=0) if self.regression else StratifiedKFold(5, shuffle=True, random_state=0)
        self.folds = list(cv.split(self.x, self.y))
        n_classes = 1 if self.regression else len(set(self.y.tolist()))
        self.trees_per_iter = n_classes if n_classes > 2 else 1

    def space(self) -> dict[str, Any]:
        """Our conditional space: ``{"learner": Choice({...})}``, names unique across options."""
        from hpo.search_spaces import Categorical, Choice, Float, Int

        linear = (
            {"ridge": {"ridge_alpha": Float(1e-4, 1e3, log=True)}} if self.regression
            else {"logreg": {"lr_C": Float(1e-4, 1e3, log=True)}}
        )
        return {
            "learner": Choice({
                "svm": {
                    "svm_C": Float(1e-2, 1e3, log=True),
                    "svm_kernel": Choice({
                        "rbf": {"svm_rbf_gamma": Float(1e-4, 1.0, log=True)},
                        "poly": {"svm_poly_degree": Int(2, 4), "svm_poly_gamma": Float(1e-4, 1.0, log=True)},
                        "linear": {},
                    }),
                },
                "forest": {
                    "rf_n_estimators": Int(20, 200),
                    "rf_max_depth": Int(2, 20),
                    "rf_max_features": Float(0.1, 1.0),
                    "rf_min_samples_leaf": Int(1, 10),
                },
                "hgb": {
                    "hgb_learning_rate": Float(1e-3, 0.5, log=True),
                    "hgb_max_iter": Int(20, 200),
                    "hgb_max_leaf_nodes": Int(4, 64),
                    "hgb_l2": Float(1e-6, 1.0, log=True),
                },
                "knn": {"knn_k": Int(1, 30), "knn_weights": Categorical(["uniform", "distance"]), "knn_p": Int(1, 2)},
                **linear,
                "mlp": {
                    "mlp_hidden": Int(16, 256),
                    "mlp_alpha": Float(1e-6, 1e-1, log=True),
                    "mlp_lr": Float(1e-4, 1e-1, log=True),
                },
            })
        }

    def optuna_config(self, trial: Any) -> dict[str, Any]:
        """The same space define-by-run: ``learner`` first, then only that branch's parameters.

        Walks :meth:`space`, so names, ranges and log scales are the same by construction.
        """
        config: dict[str, Any] = {}
        optuna_suggest(trial, self.space(), config)
        return config

    def model(self, config: Mapping[str, Any]) -> Any:
        """The (unfitted) scikit-learn estimator of ``config``."""
        from sklearn import ensemble, linear_model, neighbors, neural_network, svm
        from sklearn.compose import TransformedTargetRegressor
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        reg = self.regression
        learner, c = config["learner"], config
        scaled = True
        if learner == "svm":
            kernel = c["svm_kernel"]
            kw: dict[str, Any] = {"C": c["svm_C"], "kernel": kernel, "max_iter": SVM_MAX_ITER}
            if kernel == "rbf":
                kw["gamma"] = c["svm_rbf_gamma"]
            elif kernel == "poly":
                kw.update(degree=int(c["svm_poly_degree"]), gamma=c["svm_poly_gamma"])
            model = svm.SVR(**kw) if reg else svm.SVC(**kw)
        elif learner == "forest":
            cls = ensemble.RandomForestRegressor if reg else ensemble.RandomForestClassifier
            model = cls(n_estimators=int(c["rf_n_estimators"]), max_depth=int(c["rf_max_depth"]), max_features=c["rf_max_features"],
                        min_samples_leaf=int(c["rf_min_samples_leaf"]), random_state=0, n_jobs=1)
            scaled = False
        elif learner == "hgb":
            cls = ensemble.HistGradientBoostingRegressor if reg else ensemble.HistGradientBoostingClassifier
            max_iter = min(int(c["hgb_max_iter"]), max(1, HGB_MAX_TREES // self.trees_per_iter))
            model = cls(learning_rate=c["hgb_learning_rate"], max_iter=max_iter, max_leaf_nodes=int(c["hgb_max_leaf_nodes"]),
                        l2_regularization=c["hgb_l2"], max_bins=64, early_stopping=False, random_state=0)
            scaled = False
        elif learner == "knn":
            cls = neighbors.KNeighborsRegressor if reg else neighbors.KNeighborsClassifier
            model = cls(n_neighbors=int(c["knn_k"]), weights=c["knn_weights"], p=int(c["knn_p"]), n_jobs=1)
        elif learner == "ridge":
            model = linear_model.Ridge(alpha=c["ridge_alpha"])
        elif learner == "logreg":
            model = linear_model.LogisticRegression(C=c["lr_C"], max_iter=1000)
        elif learner == "mlp":
            cls = neural_network.MLPRegressor if reg else neural_network.MLPClassifier
            model = cls(hidden_layer_sizes=(int(c["mlp_hidden"]),), alpha=c["mlp_alpha"], learning_rate_init=c["mlp_lr"],
                        max_iter=200, early_stopping=False, random_state=0)
        else:
            raise ValueError(f"unknown learner {learner!r}")
        if scaled:
            model = make_pipeline(StandardScaler(), model)
        return TransformedTargetRegressor(regressor=model, transformer=StandardScaler()) if reg else model

    def evaluate(self, config: Mapping[str, Any]) -> float:
        """Mean 5-fold CV accuracy (classification) or R² (regression, floored at ``R2_FLOOR``)."""
        import numpy as np
        from sklearn.exceptions import ConvergenceWarning
        from sklearn.metrics import r2_score
        from threadpoolctl import threadpool_limits

        scores = []
        # One thread: runs go side by side, one core each (HistGradientBoosting's OpenMP
        # pool loads with its first fit, so the limit is set around every fit).
        with warnings.catch_warnings(), threadpool_limits(1):
            warnings.simplefilter("ignore", ConvergenceWarning)
            for train, test in self.folds:
                model = self.model(config).fit(self.x[train], self.y[train])
                pred = model.predict(self.x[test])
                if self.regression:
                    with np.errstate(all="ignore"):
                        r2 = float(r2_score(self.y[test], pred)) if np.all(np.isfinite(pred)) else R2_FLOOR
                    scores.append(max(r2, R2_FLOOR) if math.isfinite(r2) else R2_FLOOR)
                else:
                    scores.append(float(np.mean(pred == self.y[test])))
        return float(np.mean(scores))


def _configspace(space: Mapping[str, Any]) -> Any:
    """The space as a ConfigSpace ``ConfigurationSpace``: each ``Choice`` a categorical, its
    options' parameters active under ``EqualsCondition`` (nested choices chain)."""
    from ConfigSpace import (
        CategoricalHyperparameter,
        ConfigurationSpace,
        EqualsCondition,
        UniformFloatHyperparameter,
        UniformIntegerHyperparameter,
    )

    from hpo.search_spaces import Categorical, Choice, Float, Int

    cs = ConfigurationSpace()

    def add(sub: Mapping[str, Any], parent: Any, value: str | None) -> None:
        for name, p in sub.items():
            if isinstance(p, Choice | Categorical):
                hp: Any = CategoricalHyperparameter(name, list(p.options if isinstance(p, Choice) else p.choices))
            elif isinstance(p, Int):
                hp = UniformIntegerHyperparameter(name, p.low, p.high, log=p.log)
            elif isinstance(p, Float):
                hp = UniformFloatHyperparameter(name, p.low, p.high, log=p.log)
            else:
                raise TypeError(f"{name}: no ConfigSpace counterpart for {type(p).__name__}")
            cs.add(hp)
            if parent is not None:
                cs.add(EqualsCondition(hp, parent, value))
            if isinstance(p, Choice):
                for option, option_space in p.options.items():
                    add(option_space, hp, option)

    add(space, None, None)
    return cs


def _study_run(problem: CashProblem, method: str, seed: int, evals: int, objective: Callable[[Any], float]) -> dict[str, Any]:
    """Our Study (in memory, in-process, one trial at a time); hpo-rb's eliminations from the notes."""
    import json

    from hpo._registry import SCHEDULERS
    from hpo.search_spaces import SearchSpace
    from hpo.searchers import BOSearcher
    from hpo.study import Study

    space = SearchSpace(problem.space())
    kwargs: dict[str, Any] = {"scheduler": "fifo"}
    if method == "hpo-rb":  # the scheduler with the study's default searcher
        if "rising_bandits" not in SCHEDULERS.names():
            raise RuntimeError(f"hpo-rb: scheduler 'rising_bandits' is not registered in hpo._registry.SCHEDULERS "
                               f"(available: {', '.join(SCHEDULERS.names())})")
        kwargs["scheduler"] = "rising_bandits"
    elif method == "hpo-rb-c1":  # DESIGN's earliest judgement: bounds after C + 1 = 6 pulls, design or not
        from hpo.schedulers import RisingBandits

        kwargs["scheduler"] = RisingBandits(BOSearcher(space, seed=seed), window=5, min_pulls=6)
    elif method == "hpo-bo-joint":
        kwargs["searcher"] = BOSearcher(space, seed=seed, conditional="joint")
    else:
        kwargs["searcher"] = {"hpo-bo": "bo", "random": "random"}[method]
    study = Study.create(lambda config: {"score": objective(config)}, space, metric="score", mode="max", storage=None,
                         executor="inprocess", seed=seed, **kwargs)
    study.optimize(n_trials=evals)
    if not method.startswith("hpo-rb"):
        return {}
    notes = [{"trial_id": t.trial_id, "note": t.notes["rising_bandits"]} for t in study.trials if "rising_bandits" in (t.notes or {})]
    return {"eliminations": json.loads(json.dumps(notes, default=str))}


def _optuna_run(problem: CashProblem, seed: int, evals: int, objective: Callable[[Any], float],
                method: str = "optuna-tpe") -> dict[str, Any]:
    """An Optuna study on the define-by-run space: TPE (``group=True``), or our ``HPOSampler`` (``hpo-sampler*``)."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    if method.startswith("hpo-sampler"):  # imported here only: TPE's timed runs do not load our sampler
        from hpo.integrations.optuna import HPOSampler

        sampler: optuna.samplers.BaseSampler = HPOSampler(seed=seed, conditional="groups" if method == "hpo-sampler-groups" else "decompose")
    else:
        sampler = optuna.samplers.TPESampler(seed=seed, multivariate=True, group=True)
    study = optuna.create_study(direction="maximize", sampler=sampler)
    for _ in range(evals):
        trial = study.ask()
        study.tell(trial, objective(problem.optuna_config(trial)))
    return {}


def _smac_run(problem: CashProblem, seed: int, evals: int, objective: Callable[[Any], float]) -> dict[str, Any]:
    """SMAC3's HPO facade (random forest + log EI, its own initial design), minimising ``-score``."""
    import tempfile

    from smac import HyperparameterOptimizationFacade, Scenario

    with tempfile.TemporaryDirectory(prefix="cash-smac-") as tmp:
        scenario = Scenario(_configspace(problem.space()), deterministic=True, n_trials=evals, seed=seed, output_directory=tmp)
        facade = HyperparameterOptimizationFacade(
            scenario, lambda config, seed=0: -objective(dict(config)), overwrite=True, logging_level=40
        )
        facade.optimize()
    return {}


def _warm_imports(method: str) -> None:
    """Import what a run needs before its clock starts, so the first run in a worker pays no more."""
    import importlib

    names = ["sklearn.ensemble", "sklearn.linear_model", "sklearn.neighbors", "sklearn.neural_network", "sklearn.svm"]
    if method.startswith("hpo-") or method == "random":
        names += ["torch", "hpo.study", "hpo.searchers.bo", "hpo.schedulers.fifo"]
        names += ["botorch", "gpytorch"] if method != "random" else []
    sampler = ["optuna", "hpo.integrations.optuna", "hpo.searchers.bo"]
    names += {"optuna-tpe": ["optuna"], "hpo-sampler": sampler, "hpo-sampler-groups": sampler, "smac": ["smac"]}.get(method, [])
    for name in names:
        importlib.import_module(name)


def run_one(dataset: str, method: str, seed: int, evals: int) -> dict[str, Any]:
    """One run: the CV score, seconds, end time and config of every evaluation in order, and the total wall.

    Raises:
        RuntimeError: if ``method`` cannot run here (``smac`` not importable, ``hpo-rb``'s
            scheduler not registered).
    """
    import logging

    reason = available(method)
    if reason:
        raise RuntimeError(f"{method}: {reason}")
    warnings.simplefilter("ignore")
    logging.getLogger("hpo").setLevel(logging.WARNING)
    problem = CashProblem(dataset)
    scores: list[float] = []
    seconds: list[float] = []
    configs: list[dict[str, Any]] = []
    ends: list[float] = []  # seconds from the start of the run (t0, set below) to the end of each evaluation

    def objective(config: Mapping[str, Any]) -> float:
        started = time.perf_counter()
        score = problem.evaluate(config)
        seconds.append(time.perf_counter() - started)
        ends.append(time.perf_counter() - t0)
        scores.append(score)
        configs.append({k: v.item() if hasattr(v, "item") else v for k, v in config.items()})
        return score

    _warm_imports(method)
    if method.startswith("hpo-") or method == "random":
        import torch

        torch.set_num_threads(1)  # one run per core: every method of ours runs single-threaded
    t0 = time.perf_counter()
    if method in ("optuna-tpe", "hpo-sampler", "hpo-sampler-groups"):
        extra = _optuna_run(problem, seed, evals, objective, method)
    elif method == "smac":
        extra = _smac_run(problem, seed, evals, objective)
    else:
        extra = _study_run(problem, method, seed, evals, objective)
    wall = time.perf_counter() - t0
    return {"dataset": dataset, "metric": problem.metric, "method": method, "seed": seed, "evals": evals,
            "scores": [round(s, 6) for s in scores], "seconds": [round(s, 4) for s in seconds], "configs": configs,
            "ends": [round(e, 3) for e in ends], "wall": round(wall, 3), **extra}
