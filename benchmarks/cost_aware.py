"""Cost-aware search on LCBench with a simulated cost: the cost-performance front.

A config is an LCBench task's own space (:meth:`benchmarks.lcbench.LCBench.space`, which
already holds ``max_units``) plus ``epochs`` = ``Int(1, 52)``, searched like any other
parameter. Evaluating it reads the YAHPO surrogate at that epoch:

* objective (minimized): ``val_error = 100 - val_accuracy`` (percent) after ``epochs`` epochs;
* cost: the surrogate's cumulative training time up to that epoch, in simulated seconds,
  returned as the ``cost`` metric, so no real time is spent and every method pays the same.

Budget of a run (:class:`TaskScale`, computed once per task from fixed draws): total cost
``max_cost = budget_multiple x`` the mean full-training (52-epoch) cost of
``N_BUDGET_CONFIGS`` = 50 uniform random configs (our ``RandomSearcher``, seed
``SCALE_SEED``), and at most ``max_trials`` (300) evaluations. Every method stops starting
evaluations once the costs it has paid sum to ``max_cost``; the last one may overshoot, and
the report counts only evaluations whose cumulative spend is within a fraction of it.

Methods (:data:`METHODS`), each one evaluation at a time:

* ours, a :class:`hpo.study.Study` in memory (``executor="inprocess"``), one objective
  (``val_error``) with ``optimize(n_trials=max_trials, max_cost=max_cost)``:
  ``hpo-logei`` (``BOSearcher``, LogEI, cost-blind), ``hpo-ei-per-cost`` (EI / predicted
  cost), ``hpo-ei-cool`` (CArBO cost cooling over ``max_cost``), ``hpo-cfo`` (our CFO from
  ``LOW_COST`` = ``{"epochs": 1}``), ``hpo-carbs`` (CARBS, default centre), ``random``;
* ``optuna-nsga2`` / ``optuna-motpe``: Optuna ``NSGAIISampler`` / ``TPESampler(multivariate=True)``
  on the two objectives ``(val_error, cost)``, both minimized, ask/tell, define-by-run;
* ``flaml-cfo``: FLAML's own CFO (``flaml.tune.run`` with ``CFO(low_cost_partial_config=LOW_COST,
  cost_attr="cost", cost_budget=max_cost)``), only where ``flaml`` imports (:data:`FLAML_STATUS`).

Wu, Wang & Huang, "Frugal Optimization for Cost-related Hyperparameters", AAAI 2021 (CFO);
Lee, Eriksson, Perrone & Seeger, "A Nonmyopic Approach to Cost-Constrained Bayesian
Optimization", UAI 2021 (CArBO); Snoek, Larochelle & Adams, NeurIPS 2012 (EI per second);
Fetterman et al., "Tune As You Scale", 2023 (CARBS).
"""

from __future__ import annotations

import functools
import importlib.util
import math
import time
import warnings
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

__all__ = ["CostTask", "FLAML_STATUS", "METHODS", "TaskScale", "available", "run_one", "task_scale"]

OURS = ("hpo-logei", "hpo-ei-per-cost", "hpo-ei-cool", "hpo-cfo", "hpo-carbs", "random")
PEERS = ("optuna-nsga2", "optuna-motpe", "flaml-cfo")
METHODS = OURS + PEERS
MAX_TRIALS = 300
BUDGET_MULTIPLE = 20.0
N_BUDGET_CONFIGS = 50
N_REF_CONFIGS = 1000
SCALE_SEED = 0
REF_COST_FACTOR = 1.1
LOW_COST: dict[str, Any] = {"epochs": 1}
MIN_COST = 1e-3  # the surrogate's time is positive on every task tried; this only guards the cost metric

#: Result of trying FLAML with our pins (printed in the report's header).
FLAML_STATUS = (
    "FLAML 2.8.0 installs with our pins (its only requirement is numpy>=1.17): `make bench-peers` (from "
    "benchmarks/peers/requirements-main.txt). It is not part of `make test` or `make demo`, so `flaml-cfo` runs only where `import flaml` works "
    "(flaml.tune.CFO needs no extra)."
)


@dataclass(frozen=True)
class TaskScale:
    """A task's cost scale, from fixed random draws (seed ``SCALE_SEED``), in simulated seconds.

    Attributes:
        mean_full_cost: Mean 52-epoch cost of ``N_BUDGET_CONFIGS`` random configs: the unit of ``max_cost``.
        max_full_cost: Largest 52-epoch cost among ``N_REF_CONFIGS`` random configs (the first
            ``N_BUDGET_CONFIGS`` of them the same); ``REF_COST_FACTOR`` times it is the
            hypervolume reference's cost.
    """

    mean_full_cost: float
    max_full_cost: float


class CostTask:
    """One LCBench task with ``epochs`` searched: validation error and simulated cost of a config.

    Args:
        task: OpenML task id as a string, e.g. ``"3945"``.
    """

    def __init__(self, task: str) -> None:
        from benchmarks.lcbench import LCBench

        self.task = task
        self.bench = LCBench(task)

    @staticmethod
    def space() -> dict[str, Any]:
        from benchmarks.lcbench import EPOCHS, LCBench
        from hpo.search_spaces import Int

        return {**LCBench.space(), "epochs": Int(1, EPOCHS)}

    @staticmethod
    def optuna_config(trial: Any) -> dict[str, Any]:
        """The same space, suggested through an Optuna trial."""
        from benchmarks.lcbench import EPOCHS, LCBench

        return {**LCBench.optuna_config(trial), "epochs": trial.suggest_int("epochs", 1, EPOCHS)}

    @staticmethod
    def flaml_space() -> dict[str, Any]:
        """The same space in ``flaml.tune`` domains (upper bounds of integer domains exclusive)."""
        from flaml import tune

        from benchmarks.lcbench import EPOCHS, LCBench

        return {**LCBench.tune_domains(tune), "epochs": tune.randint(1, EPOCHS + 1)}

    def evaluate(self, config: Mapping[str, Any]) -> tuple[float, float]:
        """``(val_error, cost)``: 100 - val accuracy (percent) and cumulative simulated seconds at ``config["epochs"]``."""
        epoch = int(config["epochs"])
        (acc,), (seconds,) = self.bench.segment(dict(config), epoch - 1, epoch)
        return 100.0 - acc, max(seconds, MIN_COST)


def make_task(task: str) -> Any:
    """An LCBench :class:`CostTask`, or the live task (:mod:`benchmarks.cost_live`) by its name."""
    from benchmarks.cost_live import LIVE_TASKS, DigitsMLPCost

    return DigitsMLPCost(task) if task in LIVE_TASKS else CostTask(task)


@functools.cache
def task_scale(task: str) -> TaskScale:
    """The task's :class:`TaskScale` (LCBench: deterministic; the live task: measured once; cached per process)."""
    import numpy as np

    from benchmarks.cost_live import LIVE_TASKS, live_scale

    if task in LIVE_TASKS:
        mean, ref = live_scale(task)
        return TaskScale(mean, ref / REF_COST_FACTOR)  # the report multiplies by REF_COST_FACTOR again

    from benchmarks.lcbench import EPOCHS, LCBench
    from hpo.search_spaces import SearchSpace
    from hpo.searchers import RandomSearcher

    searcher = RandomSearcher(SearchSpace(LCBench.space()), seed=SCALE_SEED)
    searcher.set_objective("val_error", "min")
    configs = searcher.suggest(N_REF_CONFIGS)
    _, seconds = CostTask(task).bench.evaluate(configs, [EPOCHS])
    full = np.asarray(seconds)[:, 0]
    return TaskScale(float(full[:N_BUDGET_CONFIGS].mean()), float(full.max()))


def available(method: str) -> str | None:
    """None if ``method`` can run in this environment, else the reason it cannot."""
    if method not in METHODS:
        return f"unknown method {method!r}; choose from {METHODS}"
    if method == "flaml-cfo" and importlib.util.find_spec("flaml") is None:
        return "flaml is not importable in this environment (see FLAML_STATUS)"
    if method == "hpo-carbs":
        try:
            from hpo.searchers.carbs import CARBS  # noqa: F401
        except Exception as exc:  # noqa: BLE001 - being written concurrently: any import failure means "not yet"
            return f"hpo.searchers.carbs.CARBS does not import yet ({type(exc).__name__}: {exc})"
    return None


def _study_run(task: Any, method: str, seed: int, max_cost: float, max_trials: int,
               evaluate: Callable[[Mapping[str, Any]], tuple[float, float]]) -> dict[str, Any]:
    """Our Study, one objective (``val_error``), stopped at ``max_cost`` or ``max_trials``."""
    import torch

    from hpo.search_spaces import SearchSpace
    from hpo.searchers import CFO, BOSearcher, RandomSearcher
    from hpo.study import Study

    torch.set_num_threads(1)
    space = SearchSpace(task.space())
    if method == "hpo-carbs":
        from hpo.searchers.carbs import CARBS

        searcher: Any = CARBS(space, seed=seed)
    elif method == "hpo-cfo":
        searcher = CFO(space, seed=seed, low_cost_partial_config=LOW_COST)
    elif method == "random":
        searcher = RandomSearcher(space, seed)
    else:
        acquisition = {"hpo-logei": "logei", "hpo-ei-per-cost": "ei_per_cost", "hpo-ei-cool": "ei_cool"}[method]
        searcher = BOSearcher(space, seed=seed, acquisition=acquisition)

    def objective(config: Mapping[str, Any]) -> dict[str, float]:
        error, cost = evaluate(config)
        return {"val_error": error, "cost": cost}

    study = Study.create(objective, space, metric="val_error", mode="min", searcher=searcher, executor="inprocess",
                         storage=None, seed=seed)
    result = study.optimize(n_trials=max_trials, max_cost=max_cost)
    return {"stop": result.stop_reason, "cost_front": len(result.pareto_front(cost="cost")),
            "failed": sum(t.status.value == "FAILED" for t in result.trials)}


def _optuna_run(task: Any, method: str, seed: int, max_cost: float, max_trials: int,
                evaluate: Callable[[Mapping[str, Any]], tuple[float, float]]) -> dict[str, Any]:
    """Optuna on ``(val_error, cost)``, both minimized, ask/tell until the spend reaches ``max_cost``."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    if method == "optuna-nsga2":
        sampler: Any = optuna.samplers.NSGAIISampler(seed=seed)
    else:
        sampler = optuna.samplers.TPESampler(seed=seed, multivariate=True)
    study = optuna.create_study(directions=["minimize", "minimize"], sampler=sampler)
    spent, n = 0.0, 0
    while spent < max_cost and n < max_trials:
        trial = study.ask()
        error, cost = evaluate(task.optuna_config(trial))
        study.tell(trial, [error, cost])
        spent, n = spent + cost, n + 1
    return {"stop": "max_cost" if spent >= max_cost else "n_trials"}


def _flaml_run(task: Any, seed: int, max_cost: float, max_trials: int,
               evaluate: Callable[[Mapping[str, Any]], tuple[float, float]]) -> dict[str, Any]:
    """FLAML's CFO on ``val_error`` with ``cost`` as its cost attribute and ``max_cost`` as its cost budget."""
    from flaml import tune
    from flaml.tune.searcher.blendsearch import CFO

    def trainable(config: dict[str, Any]) -> dict[str, float]:
        error, cost = evaluate(config)
        return {"val_error": error, "cost": cost}

    search_alg = CFO(metric="val_error", mode="min", space=task.flaml_space(), low_cost_partial_config=LOW_COST,
                     cost_attr="cost", cost_budget=max_cost, seed=seed)
    analysis = tune.run(trainable, search_alg=search_alg, metric="val_error", mode="min", num_samples=max_trials,
                        use_ray=False, verbose=0)
    return {"stop": "n_trials" if len(analysis.trials) >= max_trials else "max_cost"}


def _warm_imports(method: str) -> None:
    """Import what a run needs before its clock starts, so the first run in a worker pays no more."""
    import importlib

    names = ["onnxruntime"]
    if method in OURS:
        names += ["torch", "hpo.study", "hpo.searchers.bo", "botorch", "gpytorch"]
    names += {"optuna-nsga2": ["optuna"], "optuna-motpe": ["optuna"], "flaml-cfo": ["flaml.tune"]}.get(method, [])
    for name in names:
        importlib.import_module(name)


def run_one(task: str, method: str, seed: int, budget_multiple: float = BUDGET_MULTIPLE,
            max_trials: int = MAX_TRIALS) -> dict[str, Any]:
    """One run: ``val_error``, ``cost`` and ``epochs`` of every evaluation in order, and the run's budget.

    Raises:
        RuntimeError: if ``method`` cannot run here (see :func:`available`).
    """
    import logging

    reason = available(method)
    if reason:
        raise RuntimeError(f"{method}: {reason}")
    warnings.simplefilter("ignore")
    logging.getLogger("hpo").setLevel(logging.WARNING)
    logging.getLogger("flaml").setLevel(logging.WARNING)
    problem = make_task(task)
    scale = task_scale(task)
    max_cost = budget_multiple * scale.mean_full_cost
    errors: list[float] = []
    costs: list[float] = []
    epochs: list[int] = []

    def evaluate(config: Mapping[str, Any]) -> tuple[float, float]:
        error, cost = problem.evaluate(config)
        errors.append(error)
        costs.append(cost)
        epochs.append(int(config["epochs"]))
        return error, cost

    _warm_imports(method)
    t0 = time.perf_counter()
    if method in OURS:
        extra = _study_run(problem, method, seed, max_cost, max_trials, evaluate)
    elif method == "flaml-cfo":
        extra = _flaml_run(problem, seed, max_cost, max_trials, evaluate)
    else:
        extra = _optuna_run(problem, method, seed, max_cost, max_trials, evaluate)
    wall = time.perf_counter() - t0
    if not all(math.isfinite(v) for v in errors + costs):
        raise RuntimeError(f"{task} {method} seed {seed}: non-finite val_error or cost from the surrogate")
    return {"task": task, "method": method, "seed": seed, "budget_multiple": budget_multiple, "max_trials": max_trials,
            "max_cost": max_cost, **asdict(scale), "errors": [round(e, 4) for e in errors],
            "costs": [round(c, 3) for c in costs], "epochs": epochs, "wall": round(wall, 3), **extra}
