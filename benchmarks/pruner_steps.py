"""Where an Optuna pruner's epochs go on one LCBench task: epochs spent and the epoch each trial stopped at.

A diagnosis for ``early_stopping.md``'s pairing of ``LCPFNPruner`` with ``MedianPruner``
(the same objective as :func:`benchmarks.early_stopping._optuna`: 100 random configs, one
report per epoch); the table is in ``benchmarks/results/robustness.md``.

    python -m benchmarks.pruner_steps TASK SEED lcpfn [MIN_STEPS]
    python -m benchmarks.pruner_steps TASK SEED median
"""

from __future__ import annotations

import collections
import sys
from typing import Any


def run(task: str, seed: int, pruner_name: str, min_steps: int = 3, n_trials: int = 100) -> dict[str, Any]:
    """``{"epochs", "best", "stopped_at": {epochs trained: trials}}`` of one study."""
    import optuna

    from benchmarks.early_stopping import Y_RANGE
    from benchmarks.lcbench import EPOCHS, LCBench
    from hpo.integrations.optuna import LCPFNPruner

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    bench = LCBench(task)

    def objective(trial: Any) -> float:
        config = LCBench.optuna_config(trial)
        acc = 0.0
        for epoch in range(EPOCHS):
            (acc,), _ = bench.segment(config, epoch, epoch + 1)
            trial.report(acc, epoch)
            if trial.should_prune():
                raise optuna.TrialPruned()
        return acc

    if pruner_name == "lcpfn":
        pruner: Any = LCPFNPruner(max_step=EPOCHS, y_range=Y_RANGE, min_steps=min_steps)
    elif pruner_name == "median":
        pruner = optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=3)
    else:
        raise ValueError(f"pruner must be 'lcpfn' or 'median', got {pruner_name!r}")
    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.RandomSampler(seed=seed), pruner=pruner)
    study.optimize(objective, n_trials=n_trials)
    steps = [len(t.intermediate_values) for t in study.trials]
    return {"epochs": sum(steps), "best": study.best_value, "stopped_at": dict(sorted(collections.Counter(steps).items()))}


if __name__ == "__main__":
    args = sys.argv[1:]
    result = run(args[0], int(args[1]), args[2], int(args[3]) if len(args) > 3 else 3)
    print(args, result)
