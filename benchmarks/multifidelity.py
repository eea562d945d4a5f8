"""Multi-fidelity runs on LCBench and on live digits: ours (simulated executor) against Ray Tune and Optuna.

Every method optimizes the same task (``val_accuracy``, max; LCBench epochs 1..52, or the
live digits MLP of :mod:`benchmarks.digits`, epochs 1..27) with the same epoch budget. Each run returns a *trace*: one entry per epoch evaluated, in
the order the method saw them, with the value and (for ours) the simulated time, so
regret can be read against cumulative epochs and against simulated wall-clock time.

* ours: ``Study`` + our schedulers on :class:`hpo.execution.simulated.SimulatedExecutor`
  with K simulated workers; promotions continue for free (as a checkpoint would);
* Ray Tune: a real ``Tuner`` run (function trainable, ``tune.report`` every epoch) with
  ``ASHAScheduler`` or ``HyperBandScheduler`` (whose paused trials resume from a
  checkpoint), stopped once the epoch budget is spent;
* Optuna: ``TPESampler`` + ``HyperbandPruner`` (``trial.report``/``should_prune`` every epoch);
  ``optuna-tpe-hyperband`` runs one trial at a time (``study.optimize``), as most Optuna users
  do; ``optuna-tpe-hyperband-async`` runs K trials at once on a simulated clock (ask/tell, each
  epoch taking the task's own time, as our simulated executor counts it), so that it sees what
  K parallel workers would: the same parallelism as ours;
* library peers (:data:`LIBRARY_PEERS`, LCBench only): Syne Tune's MOBSTER, Hyper-Tune and
  BOHB on its simulator backend and DEHB, in the peers' environment
  (:mod:`benchmarks.peers.mf_child`), and SMAC3's multi-fidelity facade here
  (:mod:`benchmarks.peers.smac_mf`). DEHB and SMAC3 train each evaluation from scratch, so
  each pays its whole fidelity in epochs.
"""

from __future__ import annotations

import functools
import time
import warnings
from typing import Any

OURS = ("hpo-asha", "hpo-hyperband", "hpo-asha-bo", "hpo-hyperband-bo", "hpo-asha-bo-ts", "hpo-hyperband-bo-ts", "hpo-random")
PEERS = ("ray-asha", "ray-hyperband", "optuna-tpe-hyperband", "optuna-tpe-hyperband-async")
#: Peers from other HPO libraries, each with the module it needs (in the peers' environment,
#: except ``smac``, which is in ours).
PEER_LIBRARY = {"synetune-mobster": "syne_tune", "synetune-hypertune": "syne_tune", "synetune-bohb": "syne_tune",
                "dehb": "dehb", "smac-mf": "smac"}
LIBRARY_PEERS = tuple(PEER_LIBRARY)
METHODS = OURS + PEERS + LIBRARY_PEERS


def unavailable(method: str) -> str | None:
    """Why ``method``'s library cannot run here (None when it can, or when it needs none)."""
    import importlib.util

    module = PEER_LIBRARY.get(method)
    if module is None:
        return None
    if method == "smac-mf":
        return None if importlib.util.find_spec(module) else f"`import {module}` failed: not installed in this environment"
    return _peers_env_unavailable(module)


@functools.cache
def _peers_env_unavailable(module: str) -> str | None:
    from benchmarks.peers import peer_unavailable

    return peer_unavailable(module)


def _library_peer(task: str, method: str, seed: int, epochs: int, workers: int) -> dict[str, Any]:
    """A library peer's run on LCBench ``task``: SMAC3 here, the others in the peers' environment."""
    if not task.isdigit():
        raise ValueError(f"{method} runs on LCBench tasks only, not {task!r}")
    if method == "smac-mf":
        from benchmarks.peers.smac_mf import run_smac_mf

        return run_smac_mf(task, seed, epochs)
    from benchmarks.peers import run_child

    return run_child("benchmarks.peers.mf_child", {"method": method, "task": task, "seed": seed, "epochs": epochs, "workers": workers})


def _ours(task: str, method: str, seed: int, epochs: int, workers: int) -> dict[str, Any]:
    import hpo
    from hpo.budget import Budget
    from hpo.execution.simulated import SimulatedExecutor
    from hpo.schedulers import ASHA, FIFOScheduler, Hyperband
    from hpo.search_spaces import SearchSpace
    from hpo.searchers import BOSearcher, RandomSearcher
    from hpo.study import Study

    bench = make_task(task)
    space = SearchSpace(bench.space())
    trace: list[tuple[float, float]] = []  # (simulated time, val_accuracy) per epoch
    executor = SimulatedExecutor(n_workers=workers)

    def train(config: dict[str, Any], budget: Any) -> dict[str, float]:
        acc, tm = bench.segment(config, budget.start, budget.stop)
        for i, epoch in enumerate(range(budget.start, budget.stop)):
            hpo.report(val_accuracy=acc[i], time=tm[i], step=epoch)
        return {"val_accuracy": acc[-1], "time": tm[-1]}

    # ablation variants: "<method>:rf0" fixes BOSearcher(random_fraction=0.0) (no rank-trust random share);
    # ":fin" is BOSearcher(fidelity_model="input") (one model across fidelities), ":rung" fidelity_model="rung";
    # ASHA only, brackets="all" with bracket_weights: ":bp" "trust", ":bt" "trust-linear" (named "trust" at
    # commit 7f61768), ":bht" "hyperband-trust" (named ":br" at
    # commit b10833e), ":brh" "hyperband"; ":br1" ASHA(brackets=1) (classic ASHA, whatever the default),
    # ":s1" ASHA(min_early_stopping_rate=1)
    method, _, variant = method.partition(":")
    kind, _, acq = method.removeprefix("hpo-").partition("-bo")  # "asha-bo-ts" -> ("asha", "-ts")
    model_based = method.removeprefix("hpo-") != kind
    extra = {"rf0": {"random_fraction": 0.0}, "fin": {"fidelity_model": "input"}, "rung": {"fidelity_model": "rung"}}.get(variant, {})
    searcher = (
        BOSearcher(space, seed=seed, acquisition=acq.lstrip("-") or "logei", **extra) if model_based else RandomSearcher(space, seed)
    )
    asha_kw = {"bt": {"brackets": "all", "bracket_weights": "trust-linear"}, "bp": {"brackets": "all", "bracket_weights": "trust"}, "bht": {"brackets": "all", "bracket_weights": "hyperband-trust"},
               "brh": {"brackets": "all", "bracket_weights": "hyperband"},
               "br1": {"brackets": 1}, "s1": {"min_early_stopping_rate": 1}}.get(variant, {})
    inner = {"asha": lambda: ASHA(searcher, eta=3, **asha_kw), "hyperband": lambda: Hyperband(searcher, eta=3), "random": lambda: FIFOScheduler(searcher)}[kind]()

    def on_report(trial: Any, report: Any) -> Any:  # records each report at its simulated time
        trace.append((executor.clock.time(), float(report.metrics["val_accuracy"])))
        return type(inner).on_report(inner, trial, report)

    inner.on_report = on_report  # type: ignore[method-assign]
    study = Study.create(
        train, space, metric="val_accuracy", mode="max", budget=Budget(1, bench.epochs), scheduler=inner, executor=executor, seed=seed
    )
    t0 = time.perf_counter()
    study.optimize(max_budget=epochs)
    wall = time.perf_counter() - t0
    return {"times": [t for t, _ in trace], "values": [v for _, v in trace], "wall": wall, "overhead": executor.overhead,
            "n_trials": len(study.trials)}


def make_task(task: str) -> Any:
    """``"digits"``: the live MLP task; ``"digits-cosine"`` / ``"digits-step"``: the live torch MLP with a cosine
    or step learning-rate schedule (:mod:`benchmarks.schedule_task`); ``"cash-<dataset>"``: the live conditional CASH task
    (:mod:`benchmarks.cash_mf`); ``"trees"``: the live conditional tree-ensemble task, fidelity = ensemble size
    (:mod:`benchmarks.trees_task`); ``"synthetic"``: closed-form curves for tests; otherwise an LCBench task id."""
    if task.startswith("cash-"):
        from benchmarks.cash_mf import CashTask

        return CashTask(task.removeprefix("cash-"))
    if task == "synthetic":
        from benchmarks.synthetic import SyntheticCurves

        return SyntheticCurves()
    if task == "digits":
        from benchmarks.digits import DigitsMLP

        return DigitsMLP()
    if task in ("digits-cosine", "digits-step"):
        from benchmarks.schedule_task import DigitsCosine

        return DigitsCosine(task.removeprefix("digits-"))
    if task == "trees":
        from benchmarks.trees_task import TreeEnsembles

        return TreeEnsembles()
    from benchmarks.lcbench import LCBench

    return LCBench(task)


def _optuna_study(bench: Any, seed: int) -> Any:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    # a fixed study name: HyperbandPruner assigns trials to brackets by hashing it with the
    # trial number, so Optuna's default random name would make a run depend on more than its seed
    return optuna.create_study(
        study_name=f"{type(bench).__name__}-{seed}",
        direction="maximize",
        sampler=optuna.samplers.TPESampler(seed=seed, multivariate=True),
        pruner=optuna.pruners.HyperbandPruner(min_resource=1, max_resource=bench.epochs, reduction_factor=3),
    )


def _optuna_async(task: str, seed: int, epochs: int, workers: int) -> dict[str, Any]:
    """Optuna TPE + HyperbandPruner with ``workers`` trials running at once, on a simulated clock.

    Ask/tell: each running trial trains one epoch at a time; the trial whose next report comes
    first (the epoch's start plus its training time, from the task's cumulative time, as
    :class:`hpo.execution.simulated.SimulatedExecutor` counts it) reports next and is asked
    ``should_prune``; a free worker asks the sampler for a new trial at once, while the
    others are still running (TPE sees only finished and pruned trials' values and the
    running ones' reports, as with ``study.optimize(n_jobs=K)``). Deterministic for a seed,
    unlike real threads.
    """
    import heapq

    import optuna

    bench = make_task(task)
    study = _optuna_study(bench, seed)
    values: list[float] = []
    times: list[float] = []
    # (simulated time of the next report, tie-break, trial, config, 0-based epoch, its value, cumulative time)
    running: list[tuple[float, int, Any, dict[str, Any], int, float, float]] = []
    order = 0

    def start_epoch(now: float, trial: Any, config: dict[str, Any], epoch: int, spent: float) -> None:
        nonlocal order
        (acc,), (cumulative,) = bench.segment(config, epoch, epoch + 1)
        heapq.heappush(running, (now + max(float(cumulative) - spent, 0.0), order, trial, config, epoch, acc, float(cumulative)))
        order += 1

    t0 = time.perf_counter()
    now = 0.0
    while len(values) < epochs:
        while len(running) < workers:
            trial = study.ask()
            start_epoch(now, trial, bench.optuna_config(trial), 0, 0.0)
        now, _, trial, config, epoch, acc, cumulative = heapq.heappop(running)
        values.append(acc)
        times.append(now)
        trial.report(acc, epoch + 1)
        if epoch + 1 >= bench.epochs:
            study.tell(trial, acc)
        elif trial.should_prune():
            study.tell(trial, state=optuna.trial.TrialState.PRUNED)
        else:
            start_epoch(now, trial, config, epoch + 1, cumulative)
    return {"values": values, "times": times, "wall": time.perf_counter() - t0, "n_trials": len(study.trials)}


def _optuna(task: str, seed: int, epochs: int) -> dict[str, Any]:
    """Optuna TPE + HyperbandPruner, one trial at a time (``study.optimize``)."""
    import optuna

    bench = make_task(task)
    values: list[float] = []

    def objective(trial: Any) -> float:
        config = bench.optuna_config(trial)
        acc = 0.0
        for epoch in range(bench.epochs):
            (acc,), _ = bench.segment(config, epoch, epoch + 1)
            values.append(acc)
            trial.report(acc, epoch + 1)
            if len(values) >= epochs:
                trial.study.stop()
                return acc
            if trial.should_prune():
                raise optuna.TrialPruned()
        return acc

    study = _optuna_study(bench, seed)
    t0 = time.perf_counter()
    study.optimize(objective, n_trials=100_000)
    return {"values": values, "wall": time.perf_counter() - t0, "n_trials": len(study.trials)}


def _ray(task: str, method: str, seed: int, epochs: int, checkpoint: bool | None = None) -> dict[str, Any]:
    """A real Ray Tune run; its trace counts every epoch any trial reported.

    ``HyperBandScheduler`` pauses trials at its milestones and resumes them later, so the
    trainable reports a checkpoint (the next epoch) each epoch and resumes from it, as the
    Ray Tune docs ask of a pausing scheduler; without it a resumed trial retrains from
    epoch 1. ``ASHAScheduler`` only stops trials, so its trainable does not checkpoint.
    ``checkpoint`` overrides that choice. ``restarts`` counts reports of an epoch a trial had
    already reported (0 when resuming works).
    """
    import json
    import tempfile
    from pathlib import Path

    from ray import tune
    from ray.tune.schedulers import ASHAScheduler, HyperBandScheduler
    from ray.tune.search import BasicVariantGenerator

    bench = make_task(task)
    space, n_epochs = bench.ray_space(), bench.epochs
    checkpointing = method == "ray-hyperband" if checkpoint is None else checkpoint
    values: list[float] = []
    last_epoch: dict[str, int] = {}
    restarts = [0]

    class EpochBudget(tune.Stopper):
        """Counts every reported epoch in the driver; stops everything at the budget."""

        def __call__(self, trial_id: str, result: dict[str, Any]) -> bool:
            if len(values) < epochs:
                values.append(float(result["val_accuracy"]))
                restarts[0] += int(result["epoch"] <= last_epoch.get(trial_id, 0))
                last_epoch[trial_id] = int(result["epoch"])
            return False

        def stop_all(self) -> bool:
            return len(values) >= epochs

    def trainable(config: dict[str, Any]) -> None:
        bench = _task_in_worker(task)
        start = 0
        saved = tune.get_checkpoint() if checkpointing else None
        if saved is not None:
            with saved.as_directory() as folder:
                start = json.loads((Path(folder) / "state.json").read_text())["next_epoch"]
        for epoch in range(start, n_epochs):  # epoch by epoch: a stopped trial trains no further
            (acc,), _ = bench.segment(config, epoch, epoch + 1)
            metrics = {"val_accuracy": acc, "epoch": epoch + 1}
            if not checkpointing:
                tune.report(metrics)
                continue
            with tempfile.TemporaryDirectory() as folder:
                (Path(folder) / "state.json").write_text(json.dumps({"next_epoch": epoch + 1}))
                tune.report(metrics, checkpoint=tune.Checkpoint.from_directory(folder))

    scheduler = (
        ASHAScheduler(time_attr="training_iteration", max_t=n_epochs, grace_period=1, reduction_factor=3)
        if method == "ray-asha"
        else HyperBandScheduler(time_attr="training_iteration", max_t=n_epochs, reduction_factor=3)
    )
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
            run_config=tune.RunConfig(
                stop=EpochBudget(),
                storage_path=tmp,
                verbose=0,
                log_to_file=False,
            ),
        )
        t0 = time.perf_counter()
        try:
            tuner.fit()
        except RuntimeError as exc:
            # Ray Tune 2.60 bug: after a HyperBand run, building the ResultGrid can raise
            # "Should not access `trial_fs_path` without setting `trial_dir_name`" for a
            # trial that was created but never started. The budget was spent by then and
            # the trace is complete; the ResultGrid is not used.
            if len(values) < epochs or "trial_dir_name" not in str(exc):
                raise
        wall = time.perf_counter() - t0
    return {"values": values, "wall": wall, "restarts": restarts[0], "n_trials": len(last_epoch)}


_WORKER_TASKS: dict[str, Any] = {}


def _task_in_worker(task: str) -> Any:
    """One task object per Ray worker process, so a reused actor keeps its models."""
    if task not in _WORKER_TASKS:
        from threadpoolctl import threadpool_limits

        threadpool_limits(1)  # one BLAS thread per trial, as in run_one
        _WORKER_TASKS[task] = make_task(task)
    return _WORKER_TASKS[task]


def run_one(task: str, method: str, seed: int, epochs: int, workers: int = 4) -> dict[str, Any]:
    """One run; returns its trace (values per epoch, simulated times for ours)."""
    warnings.simplefilter("ignore")
    import torch
    from threadpoolctl import threadpool_limits

    torch.set_num_threads(1)
    threadpool_limits(1)  # numpy/scikit-learn BLAS too: runs go side by side, one core each
    if method.partition(":")[0] in OURS:
        out = _ours(task, method, seed, epochs, workers)
    elif method == "optuna-tpe-hyperband":
        out = _optuna(task, seed, epochs)
    elif method == "optuna-tpe-hyperband-async":
        out = _optuna_async(task, seed, epochs, workers)
    elif method in LIBRARY_PEERS:
        out = _library_peer(task, method, seed, epochs, workers)
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
