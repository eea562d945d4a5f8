"""Worker-side runtime: ``hpo.report()``, ``hpo.trial_context()`` and the stop signal.

This module is imported inside worker processes and threads, so it stays tiny and
imports nothing heavy. Each job runs with a :class:`TrialContext` bound to the current
thread; ``report()`` sends through the job's channel and waits for the scheduler's
decision, so a STOP or PAUSE takes effect at the very next report.
"""

from __future__ import annotations

import math
import numbers
import os
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from hpo.budget import JobBudget
from hpo.errors import ObjectiveError
from hpo.trial import Decision, Report

__all__ = ["TrialContext", "TrialStopped", "report", "trial_context", "Channel", "to_plain"]


class TrialStopped(BaseException):
    """Raised by ``hpo.report()`` when the scheduler stops or pauses the trial.

    It derives from ``BaseException`` (like ``KeyboardInterrupt``) so that a training
    loop's ``except Exception`` does not swallow it. Let it propagate; clean up in
    ``finally`` blocks if needed.
    """

    def __init__(self, decision: Decision) -> None:
        word = "stopped" if decision is Decision.STOP else "paused"
        super().__init__(f"trial {word} by the scheduler")
        self.decision = decision


class Channel(Protocol):
    """How a running job talks to its driver."""

    def report(self, report: Report) -> Decision: ...


@dataclass
class TrialContext:
    """What a running trial may know about itself (``hpo.trial_context()``).

    Attributes:
        trial_id: The trial's id in the study.
        config: Its config.
        budget: The slice of budget this job runs.
        artifact_dir: A folder for this trial's files and checkpoints, or None.
        gpu_ids: GPU ids assigned to the trial (from ``CUDA_VISIBLE_DEVICES``); empty on CPU.
        seed: The held-out seed of a re-evaluation run (:meth:`hpo.StudyResult.reevaluate`);
            None during the search, where the objective uses its own (tuning) seed.
    """

    trial_id: int
    config: Mapping[str, Any]
    budget: JobBudget
    artifact_dir: str | None = None
    gpu_ids: tuple[str, ...] = ()
    seed: int | None = None
    channel: Channel | None = field(default=None, repr=False)
    started: float = field(default_factory=time.monotonic, repr=False)
    next_step: float = 0

    def __post_init__(self) -> None:
        self.next_step = self.budget.start
        if not self.gpu_ids:
            visible = os.environ.get("CUDA_VISIBLE_DEVICES", "")
            self.gpu_ids = tuple(g for g in visible.split(",") if g.strip())


_local = threading.local()


def current() -> TrialContext | None:
    return getattr(_local, "context", None)


def bind(context: TrialContext | None) -> None:
    _local.context = context


def trial_context() -> TrialContext | None:
    """The running trial's context, or None when called outside a study."""
    return current()


def to_plain(value: Any) -> Any:
    """Turn numpy / torch scalars into Python numbers so results pickle and store cleanly."""
    if isinstance(value, (bool, str, type(None))):
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value)
    item = getattr(value, "item", None)
    if callable(item) and getattr(value, "ndim", getattr(value, "dim", lambda: 1)) in (0, ()):
        try:
            return to_plain(item())
        except (TypeError, ValueError, RuntimeError):
            return value
    if isinstance(value, Mapping):
        return {str(k): to_plain(v) for k, v in value.items()}
    return value


def report(step: float | None = None, **metrics: Any) -> Decision:
    """Send an intermediate result of the running trial to the study.

    Args:
        step: Position in the fidelity (e.g. the epoch index). Defaults to one past the
            previous report's step, starting at ``budget.start``.
        **metrics: Metric name to number, e.g. ``val_loss=0.31``.

    Returns:
        ``Decision.CONTINUE``. Outside a study (the function called directly) it does nothing.

    Raises:
        TrialStopped: when the scheduler stops or pauses the trial.
        ObjectiveError: when a metric is not a number.
    """
    context = current()
    if context is None or context.channel is None:
        return Decision.CONTINUE
    if not metrics:
        raise ObjectiveError(f"trial {context.trial_id}: hpo.report() needs at least one metric")
    plain: dict[str, float] = {}
    for name, value in metrics.items():
        v = to_plain(value)
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise ObjectiveError(
                f"trial {context.trial_id}: hpo.report({name}=...) got {type(value).__name__} {value!r}, expected a number"
            )
        plain[name] = float(v)
    if step is None:
        step = context.next_step
    step = to_plain(step)
    if isinstance(step, bool) or not isinstance(step, (int, float)) or not math.isfinite(step):
        raise ObjectiveError(f"trial {context.trial_id}: hpo.report(step={step!r}) must be a finite number")
    context.next_step = step + 1
    decision = context.channel.report(Report(step, plain, time.monotonic() - context.started))
    if decision is not Decision.CONTINUE:
        raise TrialStopped(decision)
    return decision
