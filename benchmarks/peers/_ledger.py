"""The epoch accounting shared by the multi-fidelity peers (both environments; imports nothing from ``hpo``).

A run's *trace* is the val_accuracy of every epoch trained, in the order trained, cut at the
epoch budget, as :mod:`benchmarks.multifidelity` records it for every method.
"""

from __future__ import annotations

from typing import Any

__all__ = ["EpochLedger"]


class EpochLedger:
    """The trace of one run on an LCBench-like task (``segment(config, start, stop)``, 0-based epochs).

    Args:
        bench: The task, e.g. :class:`benchmarks.lcbench.LCBench`.
        epochs: The run's budget in cumulative epochs; the trace never grows past it.
    """

    def __init__(self, bench: Any, epochs: int) -> None:
        self.bench = bench
        self.epochs = epochs
        self.values: list[float] = []
        self.n_evaluations = 0

    @property
    def spent(self) -> bool:
        """Whether the budget is used up."""
        return len(self.values) >= self.epochs

    def train_from_scratch(self, config: dict[str, Any], fidelity: int) -> float:
        """Train ``config`` from epoch 1 to ``fidelity`` (no checkpoint to continue from).

        Every one of the ``fidelity`` epochs is paid for and enters the trace, as the epochs of
        a training run validated each epoch do, even when a lower fidelity of the same config
        was trained before: a peer that restarts from scratch pays for the epochs again.

        Returns:
            val_accuracy at epoch ``fidelity``, the value the optimizer is told.
        """
        acc, _ = self.bench.segment(config, 0, fidelity)
        self.values += acc[: max(0, self.epochs - len(self.values))]
        self.n_evaluations += 1
        return float(acc[-1])
