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
    "Observation",
    "Job",
    "StudyView",
    "INTERRUPTED",
    "as_objectives",
    "finite",
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
        return finite(self.metrics.get(metric))


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
        reached: The budget position its last job reached (the rung a PAUSED trial waits
            at); below :attr:`budget` when a restart ran steps twice. None before any job.
        restarts: How often a continued job found no checkpoint and ran again from 0.
        retries: How often its job was retried after its worker died (Ray).
        parent: The trial whose checkpoint it continues (PBT), or None.
        notes: Free-form bookkeeping of schedulers (e.g. ``{"replaces": 4}`` in PBT) and
            the study (``{"retry_reason": ...}``); nothing the loop relies on.
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
    reached: float | None = None
    restarts: int = 0
    retries: int = 0
    parent: int | None = None
    notes: Mapping[str, Any] = field(default_factory=dict)

    def evolve(self, **changes: Any) -> Trial:
        """A copy with ``changes`` applied (trials are immutable)."""
        return replace(self, **changes)

    @property
    def counts_toward_limit(self) -> bool:
        """False only for runs that were interrupted and re-queued under a new id."""
        return not (self.status is TrialStatus.FAILED and self.reason == INTERRUPTED)

    @property
    def cost_used(self) -> float:
        """What the trial cost (see :func:`cost_of`): the unit of ``max_cost`` and cost-aware searchers."""
        return cost_of(self.metrics, self.cost)

    @property
    def fidelity(self) -> float:
        """The budget position reached: :attr:`reached`, or :attr:`budget` before any job ended."""
        return float(self.budget if self.reached is None else self.reached)


def as_objectives(metric: str | Sequence[str], mode: str | Sequence[str]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Normalise ``metric``/``mode`` (one name or several) to two equal-length tuples.

    Raises:
        HPOError: naming the culprit, for an empty or duplicated metric, a mode that is
            not ``"min"``/``"max"``, or lengths that differ.
    """
    from hpo.errors import HPOError

    metrics = (metric,) if isinstance(metric, str) else tuple(metric)
    modes = (mode,) * len(metrics) if isinstance(mode, str) else tuple(mode)
    if not metrics or any(not isinstance(m, str) or not m for m in metrics):
        raise HPOError(f"metric must be a non-empty string or a tuple of them, got {metric!r}")
    if len(set(metrics)) != len(metrics):
        raise HPOError(f"metric names must be distinct, got {metric!r}")
    if len(modes) != len(metrics):
        raise HPOError(f"mode {mode!r} must give one 'min'/'max' per metric {metric!r}")
    for m in modes:
        if m not in ("min", "max"):
            raise HPOError(f"mode must be 'min' or 'max', got {m!r}")
    return metrics, modes


def cost_of(metrics: Mapping[str, Any], seconds: float) -> float:
    """A trial's cost: a ``cost`` metric the objective reported (``hpo.report(cost=...)`` or
    returned; finite and >= 0, in the user's unit), else ``seconds`` of worker time."""
    reported = finite(metrics.get("cost"))
    return float(reported) if reported is not None and reported >= 0 else float(seconds)


def finite(raw: Any) -> float | None:
    """``raw`` as a finite float, or None (absent, a bool, not a number, NaN or infinite)."""
    if raw is None or isinstance(raw, bool):
        return None
    try:
        value = float(raw)
    except (TypeError, ValueError, OverflowError):  # OverflowError: an int too large for a float
        return None
    return value if math.isfinite(value) else None


@dataclass(frozen=True)
class Observation:
    """What a searcher learns when a job ends, under every scheduler.

    Searchers receive real observations, never synthetic trials: a PAUSED trial at a rung,
    a PRUNED one, a FAILED one (e.g. out of memory) and a COMPLETED one each arrive with
    the fidelity they reached, every metric they reported and their cost, so a searcher may
    model across fidelities, avoid failing regions, or treat cost as an objective.

    Attributes:
        trial_id: The trial.
        config: Its config, in the user's space.
        status: COMPLETED, PRUNED, PAUSED or FAILED.
        fidelity: The budget position reached (e.g. epochs); ``budget.max`` when COMPLETED.
        metrics: Every metric of the job's result (or of its last report), user units.
        cost: Seconds of worker time the trial used so far (``trial.cost``).
        values: The study's objectives, in order, in user units; None when one is missing
            or not finite (always None for FAILED).
        reason: Why it FAILED or was PRUNED, when it did.
    """

    trial_id: int
    config: Mapping[str, Any]
    status: TrialStatus
    fidelity: float
    metrics: Mapping[str, Any] = field(default_factory=dict)
    cost: float = 0.0
    values: tuple[float, ...] | None = None
    reason: str | None = None

    @property
    def value(self) -> float | None:
        """The first objective's value (None when unknown)."""
        return None if self.values is None else self.values[0]

    @property
    def cost_used(self) -> float:
        """What the job cost, for cost-aware searchers (see :func:`cost_of`)."""
        return cost_of(self.metrics, self.cost)

    @classmethod
    def of(cls, trial: Trial, objectives: Sequence[str]) -> Observation:
        """The observation of a trial whose job just ended (``objectives``: the study's metrics)."""
        values: tuple[float, ...] | None = None
        if trial.status is not TrialStatus.FAILED:
            found = [finite(trial.metrics.get(name)) for name in objectives]
            if found and found[0] is None:
                found[0] = finite(trial.value)
            if all(v is not None for v in found):
                values = tuple(float(v) for v in found)  # type: ignore[arg-type]
        return cls(
            trial_id=trial.trial_id,
            config=dict(trial.config),
            status=trial.status,
            fidelity=trial.fidelity,
            metrics=dict(trial.metrics),
            cost=float(trial.cost),
            values=values,
            reason=trial.reason,
        )

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (storage keeps every observation, so resume replays them)."""
        return {
            "trial_id": self.trial_id,
            "config": dict(self.config),
            "status": self.status.value,
            "fidelity": self.fidelity,
            "metrics": dict(self.metrics),
            "cost": self.cost,
            "values": None if self.values is None else list(self.values),
            "reason": self.reason,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Observation:
        values = data.get("values")
        return cls(
            trial_id=int(data["trial_id"]),
            config=dict(data["config"]),
            status=TrialStatus(data["status"]),
            fidelity=float(data["fidelity"]),
            metrics=dict(data.get("metrics") or {}),
            cost=float(data.get("cost") or 0.0),
            values=None if values is None else tuple(float(v) for v in values),
            reason=data.get("reason"),
        )


@dataclass(frozen=True)
class Job:
    """A unit of work: run ``trial`` from ``budget.start`` up to ``budget.stop``."""

    trial: Trial
    budget: JobBudget


class StudyView(Protocol):
    """What schedulers and searchers may see of a running study.

    The only writing methods are :meth:`new_trial` and :meth:`take_enqueued`, which
    create or claim the trial a new job is for, and :meth:`annotate`, which adds scheduler
    notes to a trial; everything else is read-only.
    """

    @property
    def space(self) -> SearchSpace: ...

    @property
    def metric(self) -> str:
        """The first (or only) objective's metric."""
        ...

    @property
    def mode(self) -> str: ...

    @property
    def metrics(self) -> tuple[str, ...]:
        """Every objective's metric, in order (one for single-objective studies)."""
        ...

    @property
    def modes(self) -> tuple[str, ...]: ...

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

    def new_trial(
        self, config: Mapping[str, Any], notes: Mapping[str, Any] | None = None, parent: int | None = None
    ) -> Trial:
        """Record a new PENDING trial for ``config`` (with scheduler ``notes`` and the
        ``parent`` whose checkpoint it continues) and return it."""
        ...

    def artifact_dir(self, trial_id: int) -> str:
        """The folder of a trial's files and checkpoint (see :mod:`hpo.checkpoint`)."""
        ...

    def remaining(self) -> tuple[int | None, float | None]:
        """``(trials that may still be created, seconds before the deadline)``; None: no such limit."""
        ...

    def annotate(self, trial_id: int, notes: Mapping[str, Any]) -> Trial:
        """Merge ``notes`` into a trial's :attr:`Trial.notes` and store it (e.g. why a
        scheduler acted after its result); returns the updated trial."""
        ...
