"""What a study gives back: :class:`StudyResult`, the incumbent, the Pareto front, and
:func:`load_study`, a read-only view of a study file that works while a driver runs it.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from hpo.errors import HPOError
from hpo.trial import Report, Trial, TrialStatus, as_objectives, finite

if TYPE_CHECKING:
    from hpo._reevaluation import Reevaluation

__all__ = ["StudyResult", "best_trial", "rank_key", "load_study"]

_CANDIDATES = (TrialStatus.COMPLETED, TrialStatus.PAUSED)


def rank_key(trial: Trial, mode: str) -> tuple[int, float, float, int] | None:
    """Sort key of a trial as an incumbent candidate (larger is better), or None.

    A COMPLETED trial (it ran to the full budget) beats any other; among trials PAUSED at a
    rung, the one that reached the larger budget wins, as in Hyperband, where only the
    largest budget's results are trusted; then the better value; then the earlier trial.
    PRUNED (stopped) trials are never candidates, as in Optuna.
    """
    if trial.value is None or trial.status not in _CANDIDATES:
        return None
    sign = 1.0 if mode == "max" else -1.0
    return (int(trial.status is TrialStatus.COMPLETED), trial.fidelity, sign * trial.value, -trial.trial_id)


def best_trial(trials: Iterable[Trial], mode: str) -> Trial | None:
    """The incumbent: the best COMPLETED trial, else the best at the largest budget reached.

    See :func:`rank_key`; None if no trial has a value yet.
    """
    ranked = [(k, t) for t in trials if (k := rank_key(t, mode)) is not None]
    return max(ranked, key=lambda kt: kt[0])[1] if ranked else None


@dataclass
class StudyResult:
    """What ``Study.optimize``, ``@tune(...).run`` and :func:`load_study` return.

    Attributes:
        incumbent: The best COMPLETED trial (``.config``, ``.value``) in the first
            objective; in a multi-fidelity study where none reached the full budget yet,
            the best trial at the largest budget reached (see :func:`rank_key`); None if
            no trial has a value. With several objectives, see :attr:`pareto_front`.
        trials: Every trial of the study, in id order.
        metric, mode: What was optimized: a name and ``"min"``/``"max"``, or tuples of them.
        storage: Where the study is stored (a file path), or None for in-memory.
        stop_reason: Why ``optimize`` returned (``"n_trials"``, ``"timeout"``, ...);
            ``"running"`` or None for a study read by :func:`load_study`.
    """

    incumbent: Trial | None
    trials: list[Trial]
    metric: Any
    mode: Any
    storage: str | None = None
    stop_reason: str | None = None
    _report_source: Callable[[int], list[Report]] | None = field(default=None, repr=False, compare=False)
    _live_storage: Any = field(default=None, repr=False, compare=False)  # an in-memory study's storage

    @property
    def metrics(self) -> tuple[str, ...]:
        """Every objective's metric name, in order."""
        return as_objectives(self.metric, self.mode)[0]

    @property
    def modes(self) -> tuple[str, ...]:
        return as_objectives(self.metric, self.mode)[1]

    @property
    def best_config(self) -> Mapping[str, Any] | None:
        return None if self.incumbent is None else self.incumbent.config

    @property
    def best_value(self) -> float | None:
        return None if self.incumbent is None else self.incumbent.value

    def pareto_front(self, cost: str | None = None) -> list[Trial]:
        """The non-dominated COMPLETED trials, in id order.

        Args:
            cost: None (default): the front over every objective (with one objective, the
                best COMPLETED trial(s)). ``"cost"``: the cost-performance front, the first
                objective against what each trial cost (:attr:`Trial.cost_used`: a reported
                ``cost`` metric, else seconds of worker time), cost minimized. Any other
                name: that reported metric as the cost.
        """
        from hpo.pareto import non_dominated, pareto_front

        if cost is None:
            return list(pareto_front(self.trials, self.metrics, self.modes))
        priced, rows = [], []
        for t in self.trials:  # COMPLETED, with a finite value and cost (no copies: 10,000 trials)
            if t.status is TrialStatus.COMPLETED:
                value, price = finite(t.metrics.get(self.metrics[0])), t.cost_used if cost == "cost" else finite(t.metrics.get(cost))
                if value is not None and price is not None and math.isfinite(price):
                    priced.append(t)
                    rows.append((value, price))
        if not priced:
            return []
        mask = non_dominated(rows, [self.modes[0] == "max", False])
        return [t for t, keep in zip(priced, mask, strict=True) if keep]

    def counts(self) -> dict[str, int]:
        """Number of trials in each state."""
        out: dict[str, int] = {}
        for t in self.trials:
            out[t.status.value] = out.get(t.status.value, 0) + 1
        return out

    def reports(self, trial_id: int) -> list[Report]:
        """The intermediate reports of one trial, in the order they arrived.

        Raises:
            HPOError: if the study's reports are no longer readable (an in-memory study
                whose storage is gone).
        """
        if self._report_source is not None:
            return self._report_source(trial_id)
        if self.storage is not None:
            from hpo.storage import SQLiteStorage

            with SQLiteStorage(self.storage, readonly=True) as reader:
                return reader.reports(trial_id)
        raise HPOError("this in-memory study's reports are gone; use a file storage to keep them")

    def reevaluate(
        self,
        objective: Callable[..., Any] | None = None,
        seeds: int | Sequence[int] = 10,
        top_k: int = 5,
        *,
        callback: Callable[[Any], None] | None = None,
    ) -> Reevaluation:
        """Re-run the incumbent and the ``top_k`` best COMPLETED configs on held-out seeds.

        Tune on the tuning seed, report on separate test seeds (Eimer, Lindauer & Raileanu,
        "Hyperparameters in Reinforcement Learning and How To Tune Them", ICML 2023). Each
        run gets its seed as ``hpo.trial_context().seed`` and, if the objective has a
        ``seed`` parameter, as ``seed=``. Results are stored with the study (a re-run of the
        same trial and seed replaces the earlier one); see :func:`hpo.reevaluate.reevaluate`.

        Args:
            objective: The function to run; None: the one stored with the study.
            seeds: How many held-out seeds (from :data:`hpo.reevaluate.DEFAULT_SEED_START`),
                or the seeds themselves.
            top_k: How many of the best COMPLETED trials to re-run (with the incumbent).
            callback: Called with each :class:`~hpo.reevaluate.ReevalRecord` as it is stored.

        Returns:
            The :class:`~hpo.reevaluate.Reevaluation` over every stored seed; its
            ``recommended`` row is the best held-out mean, while :attr:`best_config` stays
            the search incumbent.
        """
        from hpo.reevaluate import reevaluate

        return reevaluate(self, objective, seeds, top_k, callback=callback)

    def reevaluation(self) -> Reevaluation | None:
        """The stored held-out re-evaluation (:meth:`reevaluate`), or None if there is none."""
        from hpo.reevaluate import stored_reevaluation

        return stored_reevaluation(self)

    def to_dataframe(self) -> Any:
        """One row per trial: id, status, value(s), budget, cost, timings, reason and ``config.*`` columns.

        With several objectives there is one ``values.<metric>`` column per objective.
        ``on_front`` marks the members of :meth:`pareto_front` (the best trial(s) with one
        objective), ``on_cost_front`` those of ``pareto_front(cost="cost")``; ``cost_used``
        is what the cost front and ``max_cost`` count (a reported cost, else seconds).
        Needs pandas (``pip install pandas``).
        """
        try:
            import pandas as pd
        except ImportError as exc:
            raise ImportError("StudyResult.to_dataframe() needs pandas: pip install pandas") from exc
        several = len(self.metrics) > 1
        front = {t.trial_id for t in self.pareto_front()}
        cost_front = {t.trial_id for t in self.pareto_front(cost="cost")}
        rows = []
        for t in self.trials:
            row: dict[str, Any] = {"trial_id": t.trial_id, "status": t.status.value, "value": t.value}
            if several:
                row.update({f"values.{m}": t.metrics.get(m) for m in self.metrics})
            row.update(
                {
                    "budget": t.budget,
                    "reached": t.reached,
                    "cost": t.cost,
                    "cost_used": t.cost_used,
                    "on_front": t.trial_id in front,
                    "on_cost_front": t.trial_id in cost_front,
                    "reason": t.reason,
                    "started_at": t.started_at,
                    "finished_at": t.finished_at,
                }
            )
            row.update({f"config.{k}": v for k, v in t.config.items()})
            rows.append(row)
        return pd.DataFrame(rows)


def load_study(path: str | os.PathLike[str], *, reports: bool = True) -> StudyResult:
    """Read a stored study without taking its driver's lock, e.g. while it runs.

    The file is opened read-only (SQLite WAL readers see every committed write), so this
    works from another process or notebook while a driver is writing the study, and never
    blocks or disturbs it. To *continue* a study, use :meth:`hpo.Study.load` instead.

    Args:
        path: The study file (a path or ``"sqlite:///file.db"``).
        reports: Read every trial's reports into the snapshot (one query). False (what
            ``hpo status`` uses): :meth:`StudyResult.reports` reads them from the file when
            asked, so they are as of that moment.

    Returns:
        A :class:`StudyResult` snapshot: trials, incumbent, Pareto front, every trial's
        reports (:meth:`StudyResult.reports`) and ``to_dataframe()``.
        ``stop_reason`` is ``"running"`` while trials were running at the snapshot.

    Raises:
        StorageError: if there is no study file at ``path``.
        StorageCorruptError, StudyMismatchError: for a damaged or foreign file.
    """
    from hpo.storage import SQLiteStorage

    with SQLiteStorage(path, readonly=True) as reader:
        spec = reader.load_study()
        if spec is None:
            raise HPOError(f"no study in {os.fspath(path)!r}")
        trials = reader.trials()
        stored = reader.all_reports() if reports else None
        location = reader.location
    running = any(t.status is TrialStatus.RUNNING for t in trials)
    return StudyResult(
        best_trial(trials, spec.modes[0]),
        trials,
        spec.metric,
        spec.mode,
        location,
        "running" if running else None,
        _report_source=None if stored is None else (lambda trial_id: list(stored.get(trial_id, []))),
    )

