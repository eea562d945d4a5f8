"""Early stopping with LC-PFN on LCBench (replayed in simulated time): epochs spent and final regret.

Protocol (Adriaensen et al., NeurIPS 2023, Section 5): every method of a pair sees the
same sequence of random configs (same seed), so the comparison isolates the stopping
rule. Each run evaluates ``n_trials`` configs on one task; we record the epochs it
consumed and the best final ``val_accuracy`` (percent) of the trials that reached 52 epochs.

* ours (simulated executor, 1 worker, so the incumbent forms as in the paper's sequential runs):
  ``hpo-fifo`` (full budget), ``hpo-fifo-lc`` (``LCStopping`` on top of FIFO), both for
  ``n_trials`` configs; ``hpo-asha``, ``hpo-asha-lc`` (LC-PFN deciding within ASHA's
  rungs), both until they consumed ``n_trials * 52 / 4`` epochs (ASHA keeps promoting
  paused trials, so a trial count alone does not bound it);
* Optuna (random sampler, same seed for all three): ``optuna-median`` (MedianPruner),
  ``optuna-hyperband`` (HyperbandPruner), ``optuna-lcpfn`` (our ``LCPFNPruner``).
"""

from __future__ import annotations

import time
from typing import Any

OURS = ("hpo-fifo", "hpo-fifo-lc", "hpo-asha", "hpo-asha-lc")
OPTUNA = ("optuna-median", "optuna-hyperband", "optuna-lcpfn")
METHODS = OURS + OPTUNA
Y_RANGE = (0.0, 100.0)  # LCBench's val_accuracy is in percent


def _ours(task: str, method: str, seed: int, n_trials: int, weights: str | None) -> dict[str, Any]:
    import hpo
    from benchmarks.lcbench import EPOCHS, LCBench
    from hpo.budget import Budget
    from hpo.execution.simulated import SimulatedExecutor
    from hpo.schedulers import ASHA, FIFOScheduler, LCStopping
    from hpo.search_spaces import SearchSpace
    from hpo.searchers import RandomSearcher
    from hpo.study import Study
    from hpo.surrogates.lcpfn import LCPFN
    from hpo.trial import TrialStatus

    bench = LCBench(task)
    space = SearchSpace(LCBench.space())

    def train(config: dict[str, Any], budget: Any) -> dict[str, float]:
        acc, tm = bench.segment(config, budget.start, budget.stop)
        for i, epoch in enumerate(range(budget.start, budget.stop)):
            hpo.report(val_accuracy=acc[i], time=tm[i], step=epoch)
        return {"val_accuracy": acc[-1], "time": tm[-1]}

    searcher = RandomSearcher(space, seed)
    base = ASHA(searcher, eta=3) if "asha" in method else FIFOScheduler(searcher)
    scheduler = base
    if method.endswith("-lc"):
        model = LCPFN.load(weights) if weights else LCPFN.load()
        scheduler = LCStopping(searcher, base=base, y_range=Y_RANGE, model=model)
    study = Study.create(train, space, metric="val_accuracy", mode="max", budget=Budget(1, EPOCHS),
                         scheduler=scheduler, executor=SimulatedExecutor(n_workers=1), seed=seed)  # fmt: skip
    t0 = time.perf_counter()
    if "asha" in method:
        result = study.optimize(max_budget=n_trials * EPOCHS / 4)
    else:
        result = study.optimize(n_trials=n_trials)
    full = [t.value for t in result.trials if t.status is TrialStatus.COMPLETED and t.value is not None]
    return {
        "epochs": float(sum(t.budget for t in result.trials)),
        "best": max(full) if full else float("nan"),
        "wall": time.perf_counter() - t0,
        "stopped": getattr(scheduler, "n_stopped", 0),
    }


def _optuna(task: str, method: str, seed: int, n_trials: int, weights: str | None) -> dict[str, Any]:
    import optuna

    from benchmarks.lcbench import EPOCHS, LCBench
    from benchmarks.multifidelity import optuna_config
    from hpo.integrations.optuna import LCPFNPruner
    from hpo.surrogates.lcpfn import LCPFN

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    bench = LCBench(task)
    spent = [0]

    def objective(trial: Any) -> float:
        config = optuna_config(trial)
        acc = 0.0
        for epoch in range(EPOCHS):
            (acc,), _ = bench.segment(config, epoch, epoch + 1)
            spent[0] += 1
            trial.report(acc, epoch)
            if trial.should_prune():
                raise optuna.TrialPruned()
        return acc

    if method == "optuna-median":
        pruner: Any = optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=3)
    elif method == "optuna-hyperband":
        pruner = optuna.pruners.HyperbandPruner(min_resource=1, max_resource=EPOCHS, reduction_factor=3)
    else:
        model = LCPFN.load(weights) if weights else LCPFN.load()
        pruner = LCPFNPruner(max_step=EPOCHS, y_range=Y_RANGE, model=model)
    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.RandomSampler(seed=seed), pruner=pruner)
    t0 = time.perf_counter()
    study.optimize(objective, n_trials=n_trials)
    complete = [t.value for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    return {"epochs": float(spent[0]), "best": max(complete) if complete else float("nan"), "wall": time.perf_counter() - t0}


def run_one(task: str, method: str, seed: int, n_trials: int, weights: str | None = None) -> dict[str, Any]:
    """One run; ``best`` is the best final val_accuracy of the trials that reached 52 epochs."""
    fn = _ours if method in OURS else _optuna
    return {"task": task, "method": method, "seed": seed, **fn(task, method, seed, n_trials, weights)}
