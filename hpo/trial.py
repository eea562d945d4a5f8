"""Value types shared by the study loop and its plugins.

Everything here is a small frozen value object or an enum. Schedulers and searchers
see the study only through :class:`StudyView`, a read-mostly protocol defined here, so
no plugin ever imports :mod:`hpo.study` (no import circles between the loop and its
plugins).
"""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Protocol

from hpo.budget import Budget, JobBudget

if TYPE_CHECKING:
    import numpy as np

    from hpo.search_spaces import SearchSpace

__all__ = [
    "TrialStatus",
    "Decision",
    "Report",
    "Trial",
    "Job",
    "StudyView",
    "INTERRUPTED",
]

#: Reason recorded for trials that were running when their driver died or was interrupted.
INTERRUPTED = "interrupted"


class TrialStatus(str, enum.Enum):
    """Life cycle of a trial.

    ``PENDING -> RUNNING -> {COMPLETED, PRUNED, PAUSED, FAILED}``; a ``PAUSED`` trial can
    run again. ``STOPPED`` is an alias of ``PRUNED`` (Ray Tune's word for it).
    """

    PENDING = "PENDING"
    RUNNING = "RUNNING"
    PAUSED = "PAUSED"
    COMPLETED = "COMPLETED"
    PRUNED = "PRUNED"
    STOPPED = "PRUNED"  # alias: the enum value is shared with PRUNED
    FAILED = "FAILED"

    @property
    def is_finished(self) -> bool:
        """True for states a trial never leaves (COMPLETED, PRUNED, FAILED)."""
        return self in (TrialStatus.COMPLETED, TrialStatus.PRUNED, TrialStatus.FAILED)


class Decision(str, enum.Enum):
    """What a scheduler says about a running trial after one of its reports."""

    CONTINUE = "CONTINUE"
    STOP = "STOP"
    PAUSE = "PAUSE"


@dataclass(frozen=True)
class Report:
    """One intermediate result, as sent by ``hpo.report(**metrics, step=...)``.

    Attributes:
        step: Position in the fidelity, e.g. the epoch index (``budget.start <= step < budget.stop``).
        metrics: Metric name to value.
        elapsed: Seconds since the job started, measured in the worker.
    """

    step: float
    metrics: Mapping[str, float]
    elapsed: float = 0.0

    def value(self, metric: str) -> float | None:
        """The report's value of ``metric`` as a finite float, or None if absent or not finite."""
        raw = self.metrics.get(metric)
        if raw is None or isinstance(raw, bool):
            return None
        try:
            value = float(raw)
        except (TypeError, ValueError):
            return None
        return value if math.isfinite(value) else None


@dataclass(frozen=True)
class Trial:
    """A configuration and everything recorded about it.

    Attributes:
        trial_id: Unique, increasing id within the study (assigned by the storage).
        config: Parameter name to value, in the user's space (not encoded).
        status: Current :class:`TrialStatus`.
        value: The study metric's final value (COMPLETED), or its last reported value.
        metrics: All metrics of the final result.
        budget: Budget the trial has reached so far (fidelity units).
        cost: Resources used, in seconds of worker time. A first-class field so cost-aware
            methods need not dig into metrics.
        reason: One line saying why a trial FAILED or was PRUNED.
        traceback: Full traceback of a failure, when there is one.
        requeued_from: For a trial re-queued after an interruption, the id of the original.
        created_at, started_at, finished_at: Unix times.
        last_step: Last reported step, used to resume without a checkpoint.
        worker: Where the trial last ran (pid, Ray node id, ...).
        notes: Bookkeeping by the study and schedulers, e.g. ``{"restarts": 1}`` when a
            promoted trial had no checkpoint and ran again from zero, ``{"parent": 7}``
            for a PBT trial that continues trial 7's checkpoint, ``{"rung": 2}``.
    """

    trial_id: int
    config: Mapping[str, Any]
    status: TrialStatus = TrialStatus.PENDING
    value: float | None = None
    metrics: Mapping[str, Any] = field(default_factory=dict)
    budget: float = 0.0
    cost: float = 0.0
    reason: str | None = None
    traceback: str | None = None
    requeued_from: int | None = None
    created_at: float | None = None
    started_at: float | None = None
    finished_at: float | None = None
    last_step: float | None = None
    worker: str | None = None
    notes: Mapping[str, Any] = field(default_factory=dict)

    def evolve(self, **changes: Any) -> Trial:
        """A copy with ``changes`` applied (trials are immutable)."""
        return replace(self, **changes)

    @property
    def counts_toward_limit(self) -> bool:
        """False only for runs that were interrupted and re-queued under a new id."""
        return not (self.status is TrialStatus.FAILED and self.reason == INTERRUPTED)


@dataclass(frozen=True)
class Job:
    """A unit of work: run ``trial`` from ``budget.start`` up to ``budget.stop``."""

    trial: Trial
    budget: JobBudget


class StudyView(Protocol):
    """What schedulers and searchers may see of a running study.

    The only writing methods are :meth:`new_trial` and :meth:`take_enqueued`, which
    create or claim the trial a new job is for; everything else is read-only.
    """

    @property
    def space(self) -> SearchSpace: ...

    @property
    def metric(self) -> str: ...

    @property
    def mode(self) -> str: ...

    @property
    def budget(self) -> Budget: ...

    @property
    def rng(self) -> np.random.Generator: ...

    def trials(self) -> Sequence[Trial]:
        """All trials of the study, in id order."""
        ...

    def running(self) -> Sequence[Trial]:
        """Trials whose jobs are running now."""
        ...

    def incumbent(self) -> Trial | None:
        """Best COMPLETED trial so far, or None."""
        ...

    def can_start_trial(self) -> bool:
        """Whether a new trial may start now (stopping rules such as ``n_trials``)."""
        ...

    def take_enqueued(self) -> Trial | None:
        """Claim a PENDING trial queued by the user or re-queued after an interruption."""
        ...

    def new_trial(self, config: Mapping[str, Any], notes: Mapping[str, Any] | None = None) -> Trial:
        """Record a new PENDING trial for ``config`` (with scheduler ``notes``) and return it."""
        ...

    def artifact_dir(self, trial_id: int) -> str:
        """The folder of a trial's files and checkpoint (see :mod:`hpo.checkpoint`)."""
        ...
