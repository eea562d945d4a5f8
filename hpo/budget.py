"""Fidelity budgets: the study-wide range and the slice one job runs."""

from __future__ import annotations

import math
from dataclasses import dataclass

from hpo.errors import HPOError

__all__ = ["Budget", "JobBudget"]


def _as_int_if_whole(value: float) -> float:
    """Whole numbers become ints, so ``range(budget.start, budget.stop)`` works for epochs."""
    return int(value) if float(value).is_integer() else value


@dataclass(frozen=True)
class Budget:
    """The fidelity range of a study (epochs, steps, data fraction, ...).

    Args:
        min: The smallest budget a scheduler may give a trial (e.g. 1 epoch).
        max: The full budget (e.g. 81 epochs). Plain (non multi-fidelity) studies use
            ``Budget(1, 1)``: one unit, the objective is simply evaluated.

    Raises:
        HPOError: if the range is empty, inverted or not finite.
    """

    min: float = 1
    max: float = 1

    def __post_init__(self) -> None:
        for name in ("min", "max"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise HPOError(f"Budget.{name} must be a number, got {value!r}")
            if not math.isfinite(value) or value <= 0:
                raise HPOError(f"Budget.{name} must be finite and > 0, got {value!r}")
            object.__setattr__(self, name, _as_int_if_whole(value))
        if self.min > self.max:
            raise HPOError(f"Budget.min ({self.min}) is greater than Budget.max ({self.max})")

    def full(self) -> JobBudget:
        """The job budget of a fresh trial run to the full budget."""
        return JobBudget(start=0, stop=self.max, max=self.max)

    def to_dict(self) -> dict[str, float]:
        return {"min": self.min, "max": self.max}


@dataclass(frozen=True)
class JobBudget:
    """The slice of fidelity a single job runs: from ``start`` up to ``stop``.

    A train function typically loops ``for epoch in range(budget.start, budget.stop)``.
    ``start`` is larger than 0 when a paused or promoted trial resumes from its
    checkpoint or last step.

    Attributes:
        start: Budget already spent by this trial before this job (0 for a fresh trial).
        stop: Budget the trial must reach by the end of this job.
        max: The study's full budget, for functions that schedule e.g. a learning rate.
    """

    start: float
    stop: float
    max: float

    def __post_init__(self) -> None:
        for name in ("start", "stop", "max"):
            object.__setattr__(self, name, _as_int_if_whole(getattr(self, name)))
        if not 0 <= self.start <= self.stop <= self.max:
            raise HPOError(
                f"invalid job budget: need 0 <= start <= stop <= max, got "
                f"start={self.start}, stop={self.stop}, max={self.max}"
            )

    @property
    def size(self) -> float:
        """Budget this job adds to the trial (``stop - start``)."""
        return self.stop - self.start
