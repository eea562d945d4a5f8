"""A closed-form 9-epoch learning-curve task, for quick checks of the benchmark runners.

Not a benchmark: it lets tests drive every runner (ours, Ray Tune, Optuna) through the same
task interface as :class:`benchmarks.lcbench.LCBench` and :class:`benchmarks.digits.DigitsMLP`
in seconds. Curve: ``val_accuracy(e) = ceiling * (1 - exp(-rate * e))`` at 1-based epoch
``e``; one simulated second per epoch.
"""

from __future__ import annotations

import math
from typing import Any

__all__ = ["SyntheticCurves"]


class SyntheticCurves:
    """Saturating curves; the best configs have a high ``ceiling`` and a high ``rate``."""

    epochs = 9

    @staticmethod
    def space() -> dict[str, Any]:
        from hpo.search_spaces import Float

        return {"rate": Float(0.01, 1.0, log=True), "ceiling": Float(50.0, 100.0)}

    @staticmethod
    def optuna_config(trial: Any) -> dict[str, Any]:
        return {"rate": trial.suggest_float("rate", 0.01, 1.0, log=True), "ceiling": trial.suggest_float("ceiling", 50.0, 100.0)}

    @staticmethod
    def ray_space() -> dict[str, Any]:
        from ray import tune

        return {"rate": tune.loguniform(0.01, 1.0), "ceiling": tune.uniform(50.0, 100.0)}

    def segment(self, config: dict[str, Any], start: int, stop: int) -> tuple[list[float], list[float]]:
        """val_accuracy and cumulative seconds at 0-based epochs ``start..stop-1``."""
        acc = [config["ceiling"] * (1.0 - math.exp(-config["rate"] * (e + 1))) for e in range(start, stop)]
        return acc, [float(e + 1) for e in range(start, stop)]
