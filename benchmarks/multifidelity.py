"""Multi-fidelity runs on LCBench: ours (simulated executor) against Ray Tune and Optuna.

Every method optimizes the same LCBench task (``val_accuracy``, max, epochs 1..52) with
the same epoch budget. Each run returns a *trace*: one entry per epoch evaluated, in
the order the method saw them, with the value and (for ours) the simulated time, so
regret can be read against cumulative epochs and against simulated wall-clock time.

* ours: ``Study`` + our schedulers on :class:`hpo.execution.simulated.SimulatedExecutor`
  with K simulated workers; promotions continue for free (as a checkpoint would);
* Ray Tune: a real ``Tuner`` run (function trainable, ``tune.report`` every epoch) with
  ``ASHAScheduler`` or ``HyperBandScheduler``, stopped once the epoch budget is spent;
* Optuna: ``TPESampler`` + ``HyperbandPruner`` (``trial.report``/``should_prune`` every epoch).
"""

from __future__ import annotations

import time
import warnings
from typing import Any

OURS = ("hpo-asha", "hpo-hyperband", "hpo-asha-bo", "hpo-hyperband-bo", "hpo-random")
PEERS = ("ray-asha", "ray-hyperband", "optuna-tpe-hyperband")
METHODS = OURS + PEERS


def _ours(task: str, method: str, seed: int, epochs: int, workers: int) -> dict[str, Any]:
    import hpo
    from benchmarks.lcbench import EPOCHS, LCBench
    from hpo.budget import Budget
    from hpo.execution.simulated import SimulatedExecutor
    from hpo.schedulers import ASHA, FIFOScheduler, Hyperband
    from hpo.search_spaces import SearchSpace
    from hpo.searchers import BOSearcher, RandomSearcher
    from hpo.study import Study

    bench = LCBench(task)
    space = SearchSpace(LCBench.space())
    trace: list[tuple[float, float]] = []  # (simulated time, val_accuracy) per epoch
    executor = SimulatedExecutor(n_workers=workers)

    def train(config: dict[str, Any], budget: Any) -> dict[str, float]:
        acc, tm = bench.segment(config, budget.start, budget.stop)
        for i, epoch in enumerate(range(budget.start, budget.stop)):
            hpo.report(val_accuracy=acc[i], time=tm[i], step=epoch)
        return {"val_accuracy": acc[-1], "time": tm[-1]}

    searcher = BOSearcher(space, seed=seed) if method.endswith("-bo") else RandomSearcher(space, seed)
    kind = method.removeprefix("hpo-").removesuffix("-bo")
    inner = {"asha": lambda: ASHA(searcher, eta=3), "hyperband": lambda: Hyperband(searcher, eta=3), "random": lambda: FIFOScheduler(searcher)}[kind]()

    def on_report(trial: Any, report: Any) -> Any:  # records each report at its simulated time
        trace.append((executor.clock.time(), float(report.metrics["val_accuracy"])))
        return type(inner).on_report(inner, trial, report)

    inner.on_report = on_report  # type: ignore[method-assign]
    study = Study.create(
        train, space, metric="val_accuracy", mode="max", budget=Budget(1, EPOCHS), scheduler=inner, executor=executor, seed=seed
    )
    t0 = time.perf_counter()
    study.optimize(max_budget=epochs)
    wall = time.perf_counter() - t0
    return {"times": [t for t, _ in trace], "values": [v for _, v in trace], "wall": wall, "overhead": executor.overhead,
            "n_trials": len(study.trials)}


def optuna_config(trial: Any) -> dict[str, Any]:
    """LCBench's space, suggested through an Optuna trial."""
    return {
        "batch_size": trial.suggest_int("batch_size", 16, 512, log=True),
        "learning_rate": trial.suggest_float("learning_rate", 1e-4, 1e-1, log=True),
        "momentum": trial.suggest_float("momentum", 0.1, 0.99),
        "weight_decay": trial.suggest_float("weight_decay", 1e-5, 0.1),
        "num_layers": trial.suggest_int("num_layers", 1, 5),
        "max_units": trial.suggest_int("max_units", 64, 1024, log=True),
        "max_dropout": trial.suggest_float("max_dropout", 0.0, 1.0),
    }


def _optuna(task: str, seed: int, epochs: int) -> dict[str, Any]:
    import optuna

    from benchmarks.lcbench import EPOCHS, LCBench

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    bench = LCBench(task)
    values: list[float] = []

    def objective(trial: Any) -> float:
        config = optuna_config(trial)
        acc = 0.0
        for epoch in range(EPOCHS):
            (acc,), _ = bench.segment(config, epoch, epoch + 1)
            values.append(acc)
            trial.report(acc, epoch + 1)
            if len(values) >= epochs:
                trial.study.stop()
                return acc
            if trial.should_prune():
                raise optuna.TrialPruned()
        return acc

    study = optuna.create_study(
        direction="maximize",
        sampler=optuna.samplers.TPESampler(seed=seed, multivariate=True),
        pruner=optuna.pruners.HyperbandPruner(min_resource=1, max_resource=EPOCHS, reduction_factor=3),
    )
    t0 = time.perf_counter()
    study.optimize(objective, n_trials=100_000)
    return {"values": values, "wall": time.perf_counter() - t0, "n_trials": len(study.trials)}


def _ray(task: str, method: str, seed: int, epochs: int) -> dict[str, Any]:
    import ray
    from ray import tune
    from ray.tune.schedulers import ASHAScheduler, HyperBandScheduler
    from ray.tune.search import BasicVariantGenerator

    from benchmarks.lcbench import EPOCHS

    values: list[float] = []

    class EpochBudget(tune.Stopper):
        """Counts every reported epoch in the driver; stops everything at the budget."""

        def __call__(self, trial_id: str, result: dict[str, Any]) -> bool:
            if len(values) < epochs:
                values.append(float(result["val_accuracy"]))
            return False

        def stop_all(self) -> bool:
            return len(values) >= epochs

    def trainable(config: dict[str, Any]) -> None:
        from benchmarks.lcbench import LCBench

        bench = LCBench(task)
        acc, _ = bench.segment(config, 0, EPOCHS)
        for a in acc:
            tune.report({"val_accuracy": a})

    scheduler = (
        ASHAScheduler(time_attr="training_iteration", max_t=EPOCHS, grace_period=1, reduction_factor=3)
        if method == "ray-asha"
        else HyperBandScheduler(time_attr="training_iteration", max_t=EPOCHS, reduction_factor=3)
    )
    space = {
        "batch_size": tune.lograndint(16, 513),
        "learning_rate": tune.loguniform(1e-4, 1e-1),
        "momentum": tune.uniform(0.1, 0.99),
        "weight_decay": tune.uniform(1e-5, 0.1),
        "num_layers": tune.randint(1, 6),
        "max_units": tune.lograndint(64, 1025),
        "max_dropout": tune.uniform(0.0, 1.0),
    }
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        tuner = tune.Tuner(
            tune.with_resources(trainable, {"cpu": 0.25}),
            param_space=space,
            tune_config=tune.TuneConfig(
                metric="val_accuracy",
                mode="max",
                scheduler=scheduler,
                search_alg=BasicVariantGenerator(random_state=seed),
                num_samples=10_000,
                reuse_actors=True,
            ),
            run_config=tune.RunConfig(stop=EpochBudget(), storage_path=tmp, verbose=0, log_to_file=False),
        )
        t0 = time.perf_counter()
        tuner.fit()
        wall = time.perf_counter() - t0
    del ray
    return {"values": values, "wall": wall}


def run_one(task: str, method: str, seed: int, epochs: int, workers: int = 4) -> dict[str, Any]:
    """One run; returns its trace (values per epoch, simulated times for ours)."""
    warnings.simplefilter("ignore")
    import torch

    torch.set_num_threads(1)
    if method in OURS:
        out = _ours(task, method, seed, epochs, workers)
    elif method == "optuna-tpe-hyperband":
        out = _optuna(task, seed, epochs)
    else:
        out = _ray(task, method, seed, epochs)
    out["values"] = out["values"][:epochs]
    if "times" in out:
        out["times"] = out["times"][:epochs]
    return {"task": task, "method": method, "seed": seed, "workers": workers, **out}


def reference_best(task: str, n: int = 20_000, seed: int = 12345) -> float:
    """Best val_accuracy at epoch 52 over ``n`` uniformly random configs."""
    import numpy as np

    from benchmarks.lcbench import LCBench
    from hpo.search_spaces import SearchSpace

    bench = LCBench(task)
    configs = SearchSpace(LCBench.space()).sample(np.random.default_rng(seed), n)
    acc, _ = bench.evaluate(configs, [52])
    return float(acc.max())
