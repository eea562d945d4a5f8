"""The study loop: fill free workers from the scheduler, route reports, record, observe.

:class:`Study` is a thin coordinator. Its parts live beside it:

* :mod:`hpo._accounting` — trials, running totals and the incumbent (:class:`Ledger`);
* :mod:`hpo._recovery` — resume, interrupted trials, restarts without a checkpoint, retries;
* :mod:`hpo.presets` — which scheduler and searcher names mean, and how objects are stored;
* :mod:`hpo.result` — :class:`StudyResult`, the Pareto front and the read-only :func:`load_study`;
* :mod:`hpo._view` — the narrow view plugins see (they never import this module).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

from hpo import _recovery, _setup, presets
from hpo._accounting import Ledger, job_ended
from hpo._queue import TrialQueue
from hpo._view import View
from hpo.budget import Budget
from hpo.errors import HPOError
from hpo.execution.base import BaseExecutor, Event, Finished, Reported, Retrying, Started
from hpo.result import StudyResult, best_trial, load_study, rank_key
from hpo.search_spaces import SearchSpace
from hpo.storage import BaseStorage, StudySpec
from hpo.trial import Job, Observation, Report, Trial, TrialStatus, as_objectives

__all__ = ["Study", "StudyResult", "Callback", "best_trial", "rank_key", "load_study"]

logger = logging.getLogger("hpo.study")


class Callback(Protocol):
    """Hooks for progress bars and loggers. Every method is optional."""

    def on_trial_end(self, study: Study, trial: Trial) -> None: ...


class Study:
    """A hyperparameter search, recorded in a storage.

    Prefer :meth:`create` and :meth:`load` (or ``@hpo.tune``) to the constructor. To read
    a study while another process runs it, use :func:`hpo.load_study`.

    Args:
        objective: ``f(config)`` or ``f(config, budget)`` returning a number, a dict with
            the metric(s), or None after reporting them with ``hpo.report``.
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
        self.metrics, self.modes = as_objectives(spec.metric, spec.mode)
        self.budget = Budget(**spec.budget)
        self.scheduler = scheduler
        self.executor = executor
        self.rng = np.random.default_rng(spec.settings.get("seed"))
        self.ledger = Ledger(self.modes[0])
        for t in storage.trials():
            self.ledger.track(t)
        self._tmp_artifacts: Any = None
        self._jobs: dict[int, Job] = {}
        self._reports: dict[int, list[Report]] = {}
        self._enqueued = TrialQueue()
        self._n_trials: int | None = None
        self._deadline: float | None = None
        self._max_budget: float | None = None
        self._max_cost: float | None = None
        self._callbacks: list[Any] = []
        self._warned_no_reports = False
        self.scheduler.set_objective(spec.metric, spec.mode)
        _recovery.recover_interrupted(self)  # queues the re-queued copies it creates
        self._enqueued.extend(t.trial_id for t in self.trials if t.status is TrialStatus.PENDING)
        _recovery.replay_history(self)
        self.view = View(self)

    # ------------------------------------------------------------------ construction
    @classmethod
    def create(
        cls,
        objective: Callable[..., Any],
        space: Mapping[str, Any] | SearchSpace,
        *,
        metric: str | Sequence[str] = "loss",
        mode: str | Sequence[str] = "min",
        budget: Budget | None = None,
        storage: Any = None,
        name: str | None = None,
        scheduler: Any = "fifo",
        searcher: Any = presets.DEFAULT_SEARCHER,
        surrogate: Any = None,
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
            metric: The metric to optimize, or a tuple of metrics for several objectives
                (e.g. ``("val_loss", "latency_ms")``; the result has a Pareto front).
            mode: ``"min"`` or ``"max"``, or one per metric.
            budget: The fidelity range; ``Budget(1, 1)`` (one plain evaluation) by default.
            storage: A path, ``"sqlite:///file.db"``, ``":memory:"``/None, or a storage object.
            name: Study name (defaults to the objective's name).
            scheduler: A registered name (``"fifo"``) or a scheduler object.
            searcher: A registered name (``"bo"``, the default; ``"bo-ts"``, ``"random"``,
                ``"sobol"``) or a searcher object. :mod:`hpo.presets` says what the names
                mean with each scheduler.
            surrogate: A surrogate name or object for the BO searcher (None: the GP).
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
            HPOError: for an invalid metric or mode.
            StudyMismatchError: if ``storage`` already holds a study and not ``load_if_exists``.
            StorageLockedError, StorageCorruptError: for unusable storage files.
        """
        return _setup.create(
            cls, objective, space, metric=metric, mode=mode, budget=budget, storage=storage, name=name,
            scheduler=scheduler, searcher=searcher, surrogate=surrogate, executor=executor, workers=workers,
            trial_timeout=trial_timeout, seed=seed, load_if_exists=load_if_exists, executor_options=executor_options,
        )

    @classmethod
    def load(
        cls,
        storage: Any,
        objective: Callable[..., Any] | None = None,
        *,
        scheduler: Any = None,
        searcher: Any = None,
        surrogate: Any = None,
        executor: Any = None,
        workers: int | None = None,
        trial_timeout: float | None = None,
        executor_options: Mapping[str, Any] | None = None,
    ) -> Study:
        """Continue a stored study: this driver takes the file's lock and runs it.

        This is for *continuing* a study. To look at one, also while another process runs
        it, use :func:`hpo.load_study`, which never takes the lock.

        Finished trials are kept and never re-run. Trials that were RUNNING when the
        previous driver died are marked FAILED (reason ``"interrupted"``) and re-queued
        with the same config. The scheduler is rebuilt from the stored trials and the
        searcher from the stored observations.

        Args:
            storage: The study's file (or storage object).
            objective: The objective; by default re-imported from the stored reference,
                which imports code the study file names: load only files you trust (SECURITY.md).
            scheduler, searcher, surrogate, executor, workers, trial_timeout: Override
                the stored settings (needed when the study was created with a plugin
                object that cannot be rebuilt; the error says so).
            executor_options: Update the stored executor options (e.g. a new ``address``).

        Raises:
            StorageLockedError: when another driver runs the study (read it with
                :func:`hpo.load_study` instead).
        """
        return _setup.load(
            cls, storage, objective, scheduler=scheduler, searcher=searcher, surrogate=surrogate, executor=executor,
            workers=workers, trial_timeout=trial_timeout, executor_options=executor_options,
        )

    # ------------------------------------------------------------------ state
    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def metric(self) -> str:
        """The first (or only) objective's metric."""
        return self.metrics[0]

    @property
    def mode(self) -> str:
        return self.modes[0]

    @property
    def trials(self) -> list[Trial]:
        return self.ledger.ordered()

    @property
    def incumbent(self) -> Trial | None:
        return self.ledger.incumbent

    def _artifact_root(self) -> str:
        """``<study file>.artifacts`` (trial folders, checkpoints); a temporary folder in memory."""
        loc = self.storage.location
        if loc:
            return f"{os.path.splitext(loc)[0]}.artifacts"
        if self._tmp_artifacts is None:
            import tempfile

            self._tmp_artifacts = tempfile.TemporaryDirectory(prefix="hpo-artifacts-")
        return str(self._tmp_artifacts.name)

    def _trial_dir(self, trial_id: int) -> str:
        return os.path.join(self._artifact_root(), f"trial_{trial_id}")

    def _record(self, trial: Trial) -> Trial:
        self.storage.update_trial(trial)
        return self.ledger.track(trial)

    def enqueue(self, config: Mapping[str, Any]) -> Trial:
        """Queue a config to be evaluated before the searcher's suggestions (validated first)."""
        self.space.validate(config)
        trial = self.ledger.track(self.storage.create_trial(config, created_at=self.executor.clock.timestamp()))
        self._enqueued.append(trial.trial_id)
        return trial

    def _can_start_trial(self) -> bool:
        if self._stop_reason() is not None:
            return False
        if self._n_trials is None:
            return True
        # enqueued trials already count; a new one may start only below the limit
        return self.ledger.n_counted < self._n_trials or self._enqueued.peek(self._waits) is not None

    def _waits(self, trial_id: int) -> bool:
        """Whether a queued trial still waits to run (not finished, not held by the executor)."""
        return self.ledger[trial_id].status is TrialStatus.PENDING and trial_id not in self._jobs

    def _take_enqueued(self) -> Trial | None:
        trial_id = self._enqueued.take(self._waits)
        return None if trial_id is None else self.ledger[trial_id]

    def _new_trial(self, config: Mapping[str, Any], notes: Mapping[str, Any] | None = None, parent: int | None = None) -> Trial:
        self.space.validate(config)
        trial = self.storage.create_trial(config, created_at=self.executor.clock.timestamp())
        if notes or parent is not None:
            trial = trial.evolve(notes=dict(notes or {}), parent=parent)
            self.storage.update_trial(trial)
        return self.ledger.track(trial)

    def _stop_reason(self) -> str | None:
        if self._n_trials is not None and self.ledger.n_counted_finished >= self._n_trials:
            return "n_trials"
        if self._deadline is not None and self.executor.clock.time() >= self._deadline:
            return "timeout"
        if self._max_budget is not None and self.ledger.budget_used >= self._max_budget:
            return "max_budget"
        if self._max_cost is not None and self.ledger.cost_used >= self._max_cost:
            return "max_cost"
        return None

    # ------------------------------------------------------------------ the loop
    def optimize(
        self,
        n_trials: int | None = None,
        *,
        timeout: float | None = None,
        max_budget: float | None = None,
        max_cost: float | None = None,
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
            max_cost: Stop starting trials once the trials together cost this much: the
                sum of each trial's reported ``cost`` metric, or of its seconds of worker
                time when it reports none (:attr:`Trial.cost_used`). Cost-aware searchers
                (``acquisition="ei_cool"``) spread their cost exponent over it.
            callbacks: Objects with optional ``on_trial_end(study, trial)``.

        Ctrl-C stops at once: running trials are recorded FAILED ('interrupted') and
        re-queued, so ``Study.load`` / ``hpo resume`` continue where it stopped.
        """
        for label, value in (("n_trials", n_trials), ("timeout", timeout), ("max_budget", max_budget), ("max_cost", max_cost)):
            if value is not None and (isinstance(value, bool) or not value > 0):
                raise HPOError(f"{label} must be positive, got {value!r}")
        self._n_trials = n_trials
        self._deadline = None if timeout is None else self.executor.clock.time() + timeout
        self._max_budget = max_budget
        self._max_cost = max_cost
        self.scheduler.set_cost_budget(max_cost)
        self._callbacks = list(callbacks)
        if n_trials is not None:
            self.storage.update_settings({**self.spec.settings, "n_trials": n_trials})
        self.executor.wait_for_decisions = self.scheduler.judges_reports
        # the next job may be handed out before a worker is free only when it is the same
        # job either way (no result it could miss changes what runs next), and when no stop
        # rule but n_trials could hold it back before it starts (a queued job starts later)
        self.executor.queue_ahead = (
            self.executor.queues_jobs
            and not (self.scheduler.next_job_uses_results or self.scheduler.searcher.uses_history)
            and timeout is None and max_budget is None and max_cost is None
        )
        self.executor.start(self.objective, self._artifact_root())  # ships the objective: fails before any trial
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
            _recovery.release(self, self.executor.shutdown())
        return self.result(stop_reason)

    def result(self, stop_reason: str | None = None) -> StudyResult:
        metric: Any = self.metrics[0] if len(self.metrics) == 1 else self.metrics
        mode: Any = self.modes[0] if len(self.modes) == 1 else self.modes
        source = None if self.storage.durable else self.storage.reports
        return StudyResult(self.incumbent, self.trials, metric, mode, self.storage.location, stop_reason, source,
                           None if self.storage.durable else self.storage)

    def _fill(self) -> None:
        while self.executor.capacity() > 0:
            job = self.scheduler.next_job(self.view)
            if job is None:
                return
            budget, trial = _recovery.resume_budget(self, self.ledger[job.trial.trial_id], job.budget)
            if self.executor.queue_ahead:  # the job may wait behind another: RUNNING once it starts
                trial = self.ledger.track(trial.evolve(reason=None))
            else:
                now = self.executor.clock.timestamp()
                trial = self._record(trial.evolve(status=TrialStatus.RUNNING, started_at=now, reason=None))
            self._jobs[trial.trial_id] = Job(trial, budget)
            self._reports[trial.trial_id] = []
            self.executor.submit(self._jobs[trial.trial_id])
            if self.executor.queue_ahead:
                continue
            where = self._where(trial.trial_id)
            if where:
                self._record(trial.evolve(worker=where))

    def _where(self, trial_id: int) -> str:
        """Where the executor runs a trial, as stored in ``trial.worker`` (e.g. ``node=10.0.0.2, gpu=1``)."""
        return ", ".join(f"{k}={v}" for k, v in self.executor.placement(trial_id).items())

    def _handle(self, event: Event) -> None:
        trial_id = event.trial_id
        if trial_id not in self._jobs:
            return
        if isinstance(event, Reported):
            self._on_report(trial_id, event.report)
            return
        if isinstance(event, Retrying):
            _recovery.book_retry(self, event)
            return
        if isinstance(event, Started):
            trial = self.ledger[trial_id]
            where = self._where(trial_id) or trial.worker
            self._record(trial.evolve(status=TrialStatus.RUNNING, started_at=event.at, reason=None, worker=where))
            return
        job = self._jobs.pop(trial_id)
        reports = self._reports.pop(trial_id, [])
        if isinstance(event, Finished) and not reports and self.scheduler.needs_intermediate_reports:
            if not self._warned_no_reports:
                self._warned_no_reports = True
                logger.warning("%s acts on hpo.report() calls, but trial %d never reported", type(self.scheduler).__name__, trial_id)
        trial = job_ended(
            self.ledger[trial_id], job, reports, event, self.metrics, self.budget.max, self.executor.clock.timestamp()
        )
        self._record(trial)
        self._log_end(trial)
        observation = Observation.of(trial, self.metrics)
        self.storage.add_observation(observation)
        self.scheduler.on_complete(trial)
        self.scheduler.observe(observation)
        for callback in self._callbacks:
            hook = getattr(callback, "on_trial_end", None)
            if hook is not None:
                hook(self, trial)

    def _on_report(self, trial_id: int, report: Report) -> None:
        self.storage.add_report(trial_id, report)
        self._reports[trial_id].append(report)
        trial = self.ledger[trial_id]
        value = report.value(self.metrics[0])
        if value is not None:
            trial = self.ledger.trials[trial_id] = trial.evolve(value=value, last_step=report.step)
        self.executor.respond(trial_id, self.scheduler.on_report(trial, report))

    def _log_end(self, trial: Trial) -> None:
        if trial.status is TrialStatus.FAILED:
            logger.warning("trial %d FAILED: %s", trial.trial_id, trial.reason)
        else:
            best = self.incumbent
            logger.info(
                "trial %d %s: %s=%s (best %s)",
                trial.trial_id,
                trial.status.value,
                self.metrics[0],
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
