"""The study loop: fill free workers from the scheduler, route reports, record, track the incumbent.

The :class:`Study` is a thin coordinator. Plugins see it only through
:class:`hpo.trial.StudyView` (implemented by :class:`_View` here); they never import
this module.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from hpo._objective import extract_value, load_objective, objective_ref
from hpo.budget import Budget, JobBudget
from hpo.errors import HPOError, ObjectiveError, StudyMismatchError
from hpo.execution.base import BaseExecutor, Event, Failed, Finished, Reported, Retrying, Stopped
from hpo.search_spaces import SearchSpace
from hpo.storage import BaseStorage, StudySpec, open_storage
from hpo.trial import INTERRUPTED, Decision, Job, Report, Trial, TrialStatus

__all__ = ["Study", "StudyResult", "Callback", "best_trial"]

logger = logging.getLogger("hpo.study")


class Callback(Protocol):
    """Hooks for progress bars and loggers. Every method is optional."""

    def on_trial_end(self, study: Study, trial: Trial) -> None: ...


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
    reached = float(trial.notes.get("reached", trial.budget))
    return (int(trial.status is TrialStatus.COMPLETED), reached, sign * trial.value, -trial.trial_id)


_CANDIDATES = (TrialStatus.COMPLETED, TrialStatus.PAUSED)


def best_trial(trials: Iterable[Trial], mode: str) -> Trial | None:
    """The incumbent: the best COMPLETED trial, else the best at the largest budget reached.

    See :func:`rank_key`; None if no trial has a value yet.
    """
    ranked = [(k, t) for t in trials if (k := rank_key(t, mode)) is not None]
    return max(ranked, key=lambda kt: kt[0])[1] if ranked else None


@dataclass
class StudyResult:
    """What ``Study.optimize`` and ``@tune(...).run`` return.

    Attributes:
        incumbent: The best COMPLETED trial (``.config``, ``.value``); in a multi-fidelity
            study where none reached the full budget yet, the best trial at the largest
            budget reached (see :func:`rank_key`); None if no trial has a value.
        trials: Every trial of the study, in id order.
        metric, mode: What was optimized.
        storage: Where the study is stored (a file path), or None for in-memory.
        stop_reason: Why ``optimize`` returned (``"n_trials"``, ``"timeout"``, ...).
    """

    incumbent: Trial | None
    trials: list[Trial]
    metric: str
    mode: str
    storage: str | None = None
    stop_reason: str | None = None

    @property
    def best_config(self) -> Mapping[str, Any] | None:
        return None if self.incumbent is None else self.incumbent.config

    @property
    def best_value(self) -> float | None:
        return None if self.incumbent is None else self.incumbent.value

    def counts(self) -> dict[str, int]:
        """Number of trials in each state."""
        out: dict[str, int] = {}
        for t in self.trials:
            out[t.status.value] = out.get(t.status.value, 0) + 1
        return out

    def to_dataframe(self) -> Any:
        """One row per trial: id, status, value, budget, timings, reason and ``config.*`` columns.

        Needs pandas (``pip install pandas``).
        """
        try:
            import pandas as pd
        except ImportError as exc:
            raise ImportError("StudyResult.to_dataframe() needs pandas: pip install pandas") from exc
        rows = []
        for t in self.trials:
            row: dict[str, Any] = {
                "trial_id": t.trial_id,
                "status": t.status.value,
                "value": t.value,
                "budget": t.budget,
                "cost": t.cost,
                "reason": t.reason,
                "started_at": t.started_at,
                "finished_at": t.finished_at,
            }
            row.update({f"config.{k}": v for k, v in t.config.items()})
            rows.append(row)
        return pd.DataFrame(rows)


class _View:
    """The study as schedulers and searchers see it (:class:`hpo.trial.StudyView`)."""

    def __init__(self, study: Study) -> None:
        self._study = study

    @property
    def space(self) -> SearchSpace:
        return self._study.space

    @property
    def metric(self) -> str:
        return self._study.metric

    @property
    def mode(self) -> str:
        return self._study.mode

    @property
    def budget(self) -> Budget:
        return self._study.budget

    @property
    def rng(self) -> Any:
        return self._study.rng

    def trials(self) -> Sequence[Trial]:
        return self._study.trials

    def running(self) -> Sequence[Trial]:
        return [self._study._trials[i] for i in self._study._jobs]

    def incumbent(self) -> Trial | None:
        return self._study.incumbent

    def can_start_trial(self) -> bool:
        return self._study._can_start_trial()

    def take_enqueued(self) -> Trial | None:
        return self._study._take_enqueued()

    def new_trial(self, config: Mapping[str, Any], notes: Mapping[str, Any] | None = None) -> Trial:
        return self._study._new_trial(config, notes)

    def artifact_dir(self, trial_id: int) -> str:
        return self._study._trial_dir(trial_id)


class Study:
    """A hyperparameter search, recorded in a storage.

    Prefer :meth:`create` and :meth:`load` (or ``@hpo.tune``) to the constructor.

    Args:
        objective: ``f(config)`` or ``f(config, budget)`` returning a number, a dict with
            ``metric``, or None after reporting ``metric`` with ``hpo.report``.
        storage: Where everything is recorded (see :func:`hpo.storage.open_storage`).
        spec: The study's definition (as stored).
        scheduler: A :class:`hpo.schedulers.BaseScheduler`.
        executor: A :class:`hpo.execution.BaseExecutor`.
    """

    def __init__(
        self,
        objective: Callable[..., Any],
        storage: BaseStorage,
        spec: StudySpec,
        scheduler: Any,
        executor: BaseExecutor,
    ) -> None:
        import numpy as np

        self.objective = objective
        self.storage = storage
        self.spec = spec
        self.space = SearchSpace(spec.space)
        self.metric = spec.metric
        self.mode = spec.mode
        self.budget = Budget(**spec.budget)
        self.scheduler = scheduler
        self.executor = executor
        self.rng = np.random.default_rng(spec.settings.get("seed"))
        self._trials: dict[int, Trial] = {}
        # Running totals, kept up to date by `_track`, so every step of the loop is O(1)
        # in the number of trials (a 10,000-trial simulated replay depends on it).
        self._n_counted = 0
        self._n_counted_finished = 0
        self._budget_total = 0.0
        self._best_id: int | None = None
        self._best_key: tuple[int, float, float, int] | None = None
        for t in storage.trials():
            self._track(t)
        self._tmp_artifacts: Any = None
        self._jobs: dict[int, Job] = {}
        self._reports: dict[int, list[Report]] = {}
        self._enqueued: deque[int] = deque()
        self._n_trials: int | None = None
        self._deadline: float | None = None
        self._max_budget: float | None = None
        self.scheduler.searcher.set_objective(self.metric, self.mode)
        self._recover_interrupted()
        self._enqueued.extend(t.trial_id for t in self.trials if t.status is TrialStatus.PENDING)
        self.scheduler.restore(self.trials)
        self.view = _View(self)

    # ------------------------------------------------------------------ construction
    @classmethod
    def create(
        cls,
        objective: Callable[..., Any],
        space: Mapping[str, Any] | SearchSpace,
        *,
        metric: str = "loss",
        mode: str = "min",
        budget: Budget | None = None,
        storage: Any = None,
        name: str | None = None,
        scheduler: Any = "fifo",
        searcher: Any = "bo",
        executor: Any = "local",
        workers: int | None = None,
        trial_timeout: float | None = None,
        seed: int | None = None,
        load_if_exists: bool = False,
        executor_options: Mapping[str, Any] | None = None,
    ) -> Study:
        """Start a new study (or, with ``load_if_exists``, continue the one in ``storage``).

        Args:
            objective: The function to optimize.
            space: Parameter name to parameter (or a :class:`SearchSpace`).
            metric: Name of the metric to optimize.
            mode: ``"min"`` or ``"max"``.
            budget: The fidelity range; ``Budget(1, 1)`` (one plain evaluation) by default.
            storage: A path, ``"sqlite:///file.db"``, ``":memory:"``/None, or a storage object.
            name: Study name (defaults to the objective's name).
            scheduler: A registered name (``"fifo"``) or a scheduler object.
            searcher: A registered name (``"bo"``: GP BO after a Sobol design, the default,
                LogEI, or Thompson sampling (``"bo-ts"``) under ``scheduler="asha"``;
                ``"bo-ts"``, ``"random"``, ``"sobol"``) or a searcher object.
            executor: ``"local"`` (worker processes), ``"inprocess"`` (threads), ``"ray"``
                (a Ray cluster), ``"simulated"`` or an executor object.
            workers: Number of trials running at once (for named executors): 1 by default
                for the local ones; for Ray, a cap (by default the cluster's resources decide).
            trial_timeout: Seconds one job may run before it is killed and recorded FAILED.
            seed: Seed for the searcher and scheduler.
            load_if_exists: Continue an existing study in ``storage`` instead of failing.
            executor_options: Extra arguments of a named executor, e.g. ``{"address":
                "auto", "resources": {"gpu": 1}}`` for Ray. Stored (where JSON can hold
                them) so that ``Study.load`` and ``hpo resume`` reuse them.

        Raises:
            SearchSpaceError: for an invalid space.
            StudyMismatchError: if ``storage`` already holds a study and not ``load_if_exists``.
            StorageLockedError, StorageCorruptError: for unusable storage files.
        """
        if mode not in ("min", "max"):
            raise HPOError(f"mode must be 'min' or 'max', got {mode!r}")
        if not isinstance(metric, str) or not metric:
            raise HPOError(f"metric must be a non-empty string, got {metric!r}")
        space = SearchSpace(space)
        budget = budget or Budget(1, 1)
        store = open_storage(storage)
        try:
            existing = store.load_study()
            study_name = name or getattr(objective, "__name__", "study")
            if existing is not None and load_if_exists:
                _check_same_study(existing, study_name, metric, mode, space, budget, store.location)
                return cls._attach(
                    objective, store, existing, scheduler, searcher, executor, workers, trial_timeout, executor_options
                )
            settings = {
                "scheduler": scheduler if isinstance(scheduler, str) else _qualname(scheduler),
                "searcher": searcher if isinstance(searcher, str) else _qualname(searcher),
                "executor": executor if isinstance(executor, str) else _qualname(executor),
                "workers": workers,
                "trial_timeout": trial_timeout,
                "seed": seed,
                "executor_options": _storable(executor_options),
            }
            spec = StudySpec(
                name=study_name,
                metric=metric,
                mode=mode,
                space=space.to_dict(),
                budget=budget.to_dict(),
                objective=objective_ref(objective),
                settings=settings,
                created_at=time.time(),
            )
            store.create_study(spec)
            return cls._attach(
                objective, store, spec, scheduler, searcher, executor, workers, trial_timeout, executor_options
            )
        except BaseException:
            if store is not storage:
                store.close()
            raise

    @classmethod
    def load(
        cls,
        storage: Any,
        objective: Callable[..., Any] | None = None,
        *,
        scheduler: Any = None,
        searcher: Any = None,
        executor: Any = None,
        workers: int | None = None,
        trial_timeout: float | None = None,
        executor_options: Mapping[str, Any] | None = None,
    ) -> Study:
        """Continue a stored study.

        Finished trials are kept and never re-run. Trials that were RUNNING when the
        previous driver died are marked FAILED (reason ``"interrupted"``) and re-queued
        with the same config. The scheduler and searcher are rebuilt from the history.

        Args:
            storage: The study's file (or storage object).
            objective: The objective; by default re-imported from the stored reference.
            scheduler, searcher, executor, workers, trial_timeout: Override stored settings.
            executor_options: Update the stored executor options (e.g. a new ``address``).
        """
        store = open_storage(storage)
        try:
            spec = store.load_study()
            if spec is None:
                raise HPOError(f"no study in {storage!r} to load")
            if objective is None:
                if spec.objective is None:
                    raise HPOError(
                        f"study {spec.name!r} has no importable objective recorded; pass objective=..."
                    )
                objective = load_objective(spec.objective)
            s = spec.settings
            options = {**(s.get("executor_options") or {}), **(executor_options or {})}
            tuned_resources = getattr(getattr(objective, "settings", None), "resources", None)
            if "resources" not in options and tuned_resources is not None:
                options["resources"] = tuned_resources  # @hpo.tune(resources=f): a function is not stored
            return cls._attach(
                objective,
                store,
                spec,
                scheduler if scheduler is not None else s.get("scheduler", "fifo"),
                searcher if searcher is not None else s.get("searcher", "bo"),
                executor if executor is not None else s.get("executor", "local"),
                workers if workers is not None else s.get("workers"),
                trial_timeout if trial_timeout is not None else s.get("trial_timeout"),
                options,
            )
        except BaseException:
            if store is not storage:
                store.close()
            raise

    @classmethod
    def _attach(
        cls,
        objective: Callable[..., Any],
        store: BaseStorage,
        spec: StudySpec,
        scheduler: Any,
        searcher: Any,
        executor: Any,
        workers: int | None,
        trial_timeout: float | None,
        executor_options: Mapping[str, Any] | None = None,
    ) -> Study:
        from hpo._registry import SCHEDULERS
        from hpo.execution import make_executor
        from hpo.schedulers import BaseScheduler
        from hpo.searchers import make_searcher

        space = SearchSpace(spec.space)
        seed = spec.settings.get("seed")
        if not isinstance(scheduler, BaseScheduler):
            if searcher == "bo" and isinstance(scheduler, str) and scheduler.lower() == "asha":
                searcher = "bo-ts"  # ASHA asks for configs often: Thompson sampling (see hpo.searchers.bo.thompson_bo)
            search = make_searcher(searcher, space, seed)
            scheduler = SCHEDULERS.build(scheduler, searcher=search)
        if not isinstance(executor, BaseExecutor):
            options = dict(executor_options or {})
            if workers is not None:
                options["n_workers"] = workers
            executor = make_executor(executor, trial_timeout=trial_timeout, **options)
        return cls(objective, store, spec, scheduler, executor)

    # ------------------------------------------------------------------ state
    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def trials(self) -> list[Trial]:
        return [self._trials[k] for k in sorted(self._trials)]

    @property
    def incumbent(self) -> Trial | None:
        return None if self._best_id is None else self._trials[self._best_id]

    def _artifact_root(self) -> str:
        """``<study file>.artifacts`` (trial folders, checkpoints); a temporary folder in memory."""
        loc = self.storage.location
        if loc:
            return f"{os.path.splitext(loc)[0]}.artifacts"
        if self._tmp_artifacts is None:
            import tempfile

            self._tmp_artifacts = tempfile.TemporaryDirectory(prefix="hpo-artifacts-")
        return str(self._tmp_artifacts.name)

    def _track(self, trial: Trial) -> None:
        """Replace the in-memory copy of a trial and update the running totals."""
        old = self._trials.get(trial.trial_id)
        for t, k in ((old, -1), (trial, 1)):
            if t is None:
                continue
            if t.counts_toward_limit:
                self._n_counted += k
                if t.status.is_finished:
                    self._n_counted_finished += k
            self._budget_total += k * t.budget
        self._trials[trial.trial_id] = trial
        if trial.status is TrialStatus.RUNNING:
            return  # ranked as of its last job's end until this job ends
        key = rank_key(trial, self.mode)
        if key is not None and (self._best_key is None or key > self._best_key):
            self._best_id, self._best_key = trial.trial_id, key
        elif key is None and trial.trial_id == self._best_id:  # the incumbent failed: re-rank
            best = best_trial(self._trials.values(), self.mode)
            self._best_id = None if best is None else best.trial_id
            self._best_key = None if best is None else rank_key(best, self.mode)

    def _record(self, trial: Trial) -> Trial:
        self.storage.update_trial(trial)
        self._track(trial)
        return trial

    def _recover_interrupted(self) -> None:
        """Mark trials left RUNNING by a dead driver FAILED('interrupted') and re-queue them."""
        for trial in self.trials:
            if trial.status is TrialStatus.RUNNING:
                self._interrupt(trial)

    def _interrupt(self, trial: Trial) -> None:
        self._record(trial.evolve(status=TrialStatus.FAILED, reason=INTERRUPTED, finished_at=time.time()))
        again = self.storage.create_trial(trial.config, requeued_from=trial.trial_id)
        self._track(again)
        self._enqueued.append(again.trial_id)
        logger.info("trial %d was interrupted; re-queued as trial %d", trial.trial_id, again.trial_id)

    def enqueue(self, config: Mapping[str, Any]) -> Trial:
        """Queue a config to be evaluated before the searcher's suggestions (validated first)."""
        self.space.validate(config)
        trial = self.storage.create_trial(config)
        self._track(trial)
        self._enqueued.append(trial.trial_id)
        return trial

    def _counted(self) -> int:
        return self._n_counted

    def _counted_finished(self) -> int:
        return self._n_counted_finished

    def _budget_used(self) -> float:
        return self._budget_total

    def _can_start_trial(self) -> bool:
        if self._stop_reason() is not None:
            return False
        if self._n_trials is None:
            return True
        # enqueued trials already count; a new one may start only below the limit
        return self._counted() < self._n_trials or bool(self._enqueued)

    def _take_enqueued(self) -> Trial | None:
        while self._enqueued:
            trial = self._trials[self._enqueued.popleft()]
            if trial.status is TrialStatus.PENDING:
                return trial
        return None

    def _new_trial(self, config: Mapping[str, Any], notes: Mapping[str, Any] | None = None) -> Trial:
        self.space.validate(config)
        trial = self.storage.create_trial(config)
        if notes:
            trial = trial.evolve(notes=dict(notes))
            self.storage.update_trial(trial)
        self._track(trial)
        return trial

    def _trial_dir(self, trial_id: int) -> str:
        return os.path.join(self._artifact_root(), f"trial_{trial_id}")

    def _stop_reason(self) -> str | None:
        if self._n_trials is not None and self._counted_finished() >= self._n_trials:
            return "n_trials"
        if self._deadline is not None and self.executor.clock.time() >= self._deadline:
            return "timeout"
        if self._max_budget is not None and self._budget_used() >= self._max_budget:
            return "max_budget"
        return None

    # ------------------------------------------------------------------ the loop
    def optimize(
        self,
        n_trials: int | None = None,
        *,
        timeout: float | None = None,
        max_budget: float | None = None,
        callbacks: Sequence[Any] = (),
    ) -> StudyResult:
        """Run until a stopping rule holds, then return the result.

        Args:
            n_trials: Stop once this many trials of the study have finished (COMPLETED,
                PRUNED or FAILED; interrupted runs that were re-queued do not count). It is
                the study's total, so a resumed study runs only what is missing.
            timeout: Stop starting trials after this many seconds (executor clock) and
                return when the running ones end.
            max_budget: Stop starting trials once the trials together consumed this much
                budget (e.g. epochs).
            callbacks: Objects with optional ``on_trial_end(study, trial)``.

        Ctrl-C stops at once: running trials are recorded FAILED ('interrupted') and
        re-queued, so ``Study.load`` / ``hpo resume`` continue where it stopped.
        """
        for label, value in (("n_trials", n_trials), ("timeout", timeout), ("max_budget", max_budget)):
            if value is not None and (isinstance(value, bool) or not value > 0):
                raise HPOError(f"{label} must be positive, got {value!r}")
        self._n_trials = n_trials
        self._deadline = None if timeout is None else self.executor.clock.time() + timeout
        self._max_budget = max_budget
        self._callbacks = list(callbacks)
        if n_trials is not None:
            self.storage.update_settings({**self.spec.settings, "n_trials": n_trials})
        self.executor.wait_for_decisions = self.scheduler.judges_reports
        self.executor.start(self.objective, self._artifact_root())
        stop_reason: str | None = None
        try:
            while True:
                stop_reason = self._stop_reason()
                if stop_reason is None:
                    self._fill()
                if not self.executor.running():
                    stop_reason = stop_reason or "exhausted"
                    break
                for event in self.executor.events(timeout=0.5):
                    self._handle(event)
        except KeyboardInterrupt:
            stop_reason = "interrupted"
            logger.warning("interrupted: recording running trials as interrupted; resume to continue")
        finally:
            for trial_id in self.executor.shutdown():
                self._jobs.pop(trial_id, None)
                self._interrupt(self._trials[trial_id])
        return self.result(stop_reason)

    def result(self, stop_reason: str | None = None) -> StudyResult:
        return StudyResult(
            self.incumbent, self.trials, self.metric, self.mode, self.storage.location, stop_reason
        )

    def _fill(self) -> None:
        while self.executor.capacity() > 0:
            job = self.scheduler.next_job(self.view)
            if job is None:
                return
            trial = self._trials[job.trial.trial_id]
            budget, notes = self._resume_budget(trial, job.budget)
            trial = self._record(
                trial.evolve(status=TrialStatus.RUNNING, started_at=time.time(), reason=None, notes=notes)
            )
            self._jobs[trial.trial_id] = Job(trial, budget)
            self._reports[trial.trial_id] = []
            self.executor.submit(self._jobs[trial.trial_id])
            where = self._where(trial.trial_id)
            if where:
                self._record(trial.evolve(worker=where))

    def _where(self, trial_id: int) -> str:
        """Where the executor runs a trial, as stored in ``trial.worker`` (e.g. ``node=10.0.0.2, gpu=1``)."""
        return ", ".join(f"{k}={v}" for k, v in self.executor.placement(trial_id).items())

    def _resume_budget(self, trial: Trial, budget: JobBudget) -> tuple[JobBudget, Mapping[str, Any]]:
        """Where a continued trial really starts: its checkpoint's step, or 0 without one.

        Executors that replay benchmarks (``resumes_for_free``) continue any trial where it
        stopped. Otherwise a job that starts above 0 needs the trial's checkpoint; without
        one the trial runs again from 0, ``notes["restarts"]`` counts it, and the budget it
        consumes again is added to ``trial.budget``.
        """
        from hpo import checkpoint

        notes = dict(trial.notes)
        if budget.start == 0 or getattr(self.executor, "resumes_for_free", False):
            return budget, notes
        saved = checkpoint.saved_step(self._trial_dir(trial.trial_id))
        if saved is None or saved <= 0:
            notes["restarts"] = int(notes.get("restarts", 0)) + 1
            logger.info("trial %d has no checkpoint: it runs again from 0 up to %s", trial.trial_id, budget.stop)
            return JobBudget(0, budget.stop, budget.max), notes
        if saved < budget.start:
            return JobBudget(saved, budget.stop, budget.max), notes
        return budget, notes

    def _handle(self, event: Event) -> None:
        trial_id = event.trial_id
        if trial_id not in self._jobs:
            return
        if isinstance(event, Reported):
            self.storage.add_report(trial_id, event.report)
            self._reports[trial_id].append(event.report)
            trial = self._trials[trial_id]
            value = event.report.value(self.metric)
            if value is not None:
                trial = self._trials[trial_id] = trial.evolve(value=value, last_step=event.report.step)
            decision = self.scheduler.on_report(trial, event.report)
            self.executor.respond(trial_id, decision)
            return
        if isinstance(event, Retrying):
            self._retrying(event)
            return
        job = self._jobs.pop(trial_id)
        reports = self._reports.pop(trial_id, [])
        trial = self._trials[trial_id]
        consumed = self._consumed(job, reports, completed=isinstance(event, Finished))
        common = {
            "finished_at": time.time() if not isinstance(event, Stopped) or event.decision is Decision.STOP else None,
            "budget": trial.budget + consumed,
            "last_step": reports[-1].step if reports else trial.last_step,
            "cost": trial.cost + event.elapsed,  # type: ignore[attr-defined]
            # the budget position reached (below `budget` when a restart ran steps twice)
            "notes": {**trial.notes, "reached": job.budget.start + consumed},
        }
        if isinstance(event, Finished):
            try:
                value, metrics = extract_value(event.result, self.metric, reports)
            except ObjectiveError as exc:
                trial = trial.evolve(status=TrialStatus.FAILED, value=None, reason=f"ObjectiveError: {exc}", **common)
            else:
                # A job that ended below the full budget leaves the trial PAUSED at that
                # budget (a rung): the scheduler may promote it later.
                status = TrialStatus.COMPLETED if job.budget.stop >= self.budget.max else TrialStatus.PAUSED
                trial = trial.evolve(status=status, value=value, metrics=metrics, **common)
        elif isinstance(event, Stopped):
            status = TrialStatus.PAUSED if event.decision is Decision.PAUSE else TrialStatus.PRUNED
            reason = "paused by the scheduler" if status is TrialStatus.PAUSED else "stopped by the scheduler"
            metrics = dict(reports[-1].metrics) if reports else {}
            trial = trial.evolve(status=status, reason=reason, metrics=metrics, **common)
        elif isinstance(event, Failed):
            trial = trial.evolve(
                status=TrialStatus.FAILED, value=None, reason=event.reason, traceback=event.traceback, **common
            )
        self._record(trial)
        self._log_end(trial)
        self.scheduler.on_complete(trial)
        for callback in self._callbacks:
            hook = getattr(callback, "on_trial_end", None)
            if hook is not None:
                hook(self, trial)

    def _retrying(self, event: Retrying) -> None:
        """The executor runs a job again after its worker died: book what the lost attempt used."""
        trial_id = event.trial_id
        job = self._jobs[trial_id]
        trial = self._trials[trial_id]
        # what the lost attempt used: up to its last report, or its last checkpoint when
        # its last reports had not reached us (streamed reports travel in batches)
        lost = max(self._consumed(job, self._reports[trial_id], completed=False), event.budget.start - job.budget.start)
        notes = {**trial.notes, "retries": event.attempt, "retry_reason": event.reason}
        trial = self._record(
            trial.evolve(budget=trial.budget + lost, notes=notes, worker=self._where(trial_id) or trial.worker)
        )
        self._jobs[trial_id] = Job(trial, event.budget)
        self._reports[trial_id] = []
        logger.warning(
            "trial %d: %s; retry %d from budget %s", trial_id, event.reason, event.attempt, event.budget.start
        )

    @staticmethod
    def _consumed(job: Job, reports: Sequence[Report], completed: bool) -> float:
        """Budget a job used: its whole slice if it completed, else up to its last reported step."""
        if completed:
            return job.budget.size
        if not reports:
            return 0.0
        return max(min(job.budget.stop, reports[-1].step + 1) - job.budget.start, 0)

    def _log_end(self, trial: Trial) -> None:
        if trial.status is TrialStatus.FAILED:
            logger.warning("trial %d FAILED: %s", trial.trial_id, trial.reason)
        else:
            best = self.incumbent
            logger.info(
                "trial %d %s: %s=%s (best %s)",
                trial.trial_id,
                trial.status.value,
                self.metric,
                trial.value,
                None if best is None else best.value,
            )

    def close(self) -> None:
        """Release the storage (and its driver lock) and any temporary artifact folder."""
        self.storage.close()
        if self._tmp_artifacts is not None:
            self._tmp_artifacts.cleanup()
            self._tmp_artifacts = None

    def __enter__(self) -> Study:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _check_same_study(
    existing: StudySpec, name: str, metric: str, mode: str, space: SearchSpace, budget: Budget, where: str | None
) -> None:
    """Refuse to continue a stored study that is not the one asked for."""
    wanted = {"name": name, "metric": metric, "mode": mode, "space": space.to_dict(), "budget": budget.to_dict()}
    stored = {
        "name": existing.name,
        "metric": existing.metric,
        "mode": existing.mode,
        "space": SearchSpace(existing.space).to_dict(),
        "budget": Budget(**existing.budget).to_dict(),
    }
    diff = [k for k in wanted if wanted[k] != stored[k]]
    if diff:
        raise StudyMismatchError(
            f"{where or 'the storage'} holds study {existing.name!r} with a different {', '.join(diff)} "
            f"(stored {', '.join(f'{k}={stored[k]!r}' for k in diff)}); use another file or name"
        )


def _storable(options: Mapping[str, Any] | None) -> dict[str, Any]:
    """The executor options JSON can hold (a ``resources`` function cannot be stored)."""
    out: dict[str, Any] = {}
    for key, value in (options or {}).items():
        try:
            json.dumps(value)
        except (TypeError, ValueError):
            logger.info("executor option %r is not stored (pass it again when you resume)", key)
            continue
        out[key] = value
    return out


def _qualname(obj: Any) -> str:
    cls = type(obj)
    return f"{cls.__module__}:{cls.__qualname__}"

