"""Where an Optuna pruner's epochs go on one LCBench task: epochs spent and the epoch each trial stopped at.

A diagnosis for ``early_stopping.md``'s pairing of ``LCPFNPruner`` with ``MedianPruner``:
the benchmark's own study (:func:`benchmarks.early_stopping.optuna_study`: 100 random
configs, one report per epoch), with ``LCPFNPruner``'s ``min_steps`` varied; the table is in
``benchmarks/results/robustness.md``.

    python -m benchmarks.pruner_steps TASK SEED lcpfn [MIN_STEPS]
    python -m benchmarks.pruner_steps TASK SEED median
"""

from __future__ import annotations

import collections
import sys
from typing import Any


def run(task: str, seed: int, pruner_name: str, min_steps: int = 3, n_trials: int = 100) -> dict[str, Any]:
    """``{"epochs", "best", "stopped_at": {epochs trained: trials}}`` of one study."""
    from benchmarks.early_stopping import optuna_study

    study = optuna_study(task, f"optuna-{pruner_name}", seed, n_trials, min_steps=min_steps)
    steps = [len(t.intermediate_values) for t in study.trials]
    return {"epochs": sum(steps), "best": study.best_value, "stopped_at": dict(sorted(collections.Counter(steps).items()))}


if __name__ == "__main__":
    args = sys.argv[1:]
    result = run(args[0], int(args[1]), args[2], int(args[3]) if len(args) > 3 else 3)
    print(args, result)
