"""Resume and recovery: what a study does about interruptions, restarts and dead workers.

* **Interrupted trials.** Trials left RUNNING by a dead driver (or cut short by Ctrl-C)
  are recorded FAILED with reason ``"interrupted"`` and re-queued under a new id with the
  same config; they do not count toward ``n_trials``.
* **Replay.** On resume the scheduler rebuilds its own state from the stored trials, and
  the stored observations are replayed to the searcher explicitly
  (:meth:`hpo.schedulers.BaseScheduler.replay`). Files written before observations were
  stored get them derived from their trials.
* **Continuing without a checkpoint.** A job that starts above 0 needs the trial's
  checkpoint; without one the trial runs again from 0 and ``trial.restarts`` counts it.
* **Shutdown.** Jobs the executor still held when a run ends: running ones are
  interrupted (above); queued ones that never started stay PENDING and run first next time.
* **Retries.** A job whose worker died is run again by the executor; the study books the
  budget the lost attempt used and counts ``trial.retries``.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from hpo._accounting import consumed
from hpo.budget import JobBudget
from hpo.execution.base import Retrying
from hpo.trial import INTERRUPTED, Job, Observation, Trial, TrialStatus

if TYPE_CHECKING:
    from hpo.study import Study

__all__ = ["recover_interrupted", "interrupt", "release", "replay_history", "resume_budget", "book_retry"]

logger = logging.getLogger("hpo.study")


def recover_interrupted(study: Study) -> None:
    """Mark trials left RUNNING by a dead driver FAILED('interrupted') and re-queue them.

    An interrupted trial that has no re-queued copy yet (its driver died between the two
    writes of :func:`interrupt`: found by ``tests/test_chaos.py``) is re-queued now, so
    each interrupted trial is re-queued exactly once, however often the driver dies.
    """
    requeued = {t.requeued_from for t in study.trials if t.requeued_from is not None}
    for trial in study.trials:
        if trial.status is TrialStatus.RUNNING:
            interrupt(study, trial)
        elif trial.status is TrialStatus.FAILED and trial.reason == INTERRUPTED and trial.trial_id not in requeued:
            _requeue(study, trial, study.executor.clock.timestamp())


def interrupt(study: Study, trial: Trial) -> None:
    """Record a cut-short trial as interrupted and queue its config again under a new id.

    Two writes, in this order: a driver killed between them leaves an interrupted trial
    without its copy, which :func:`recover_interrupted` re-queues on the next resume (the
    other order could re-queue a config twice).
    """
    now = study.executor.clock.timestamp()
    study._record(trial.evolve(status=TrialStatus.FAILED, reason=INTERRUPTED, finished_at=now))
    _requeue(study, trial, now)


def _requeue(study: Study, trial: Trial, now: float) -> None:
    again = study.storage.create_trial(trial.config, requeued_from=trial.trial_id, created_at=now)
    study.ledger.track(again)
    study._enqueued.append(again.trial_id)
    logger.info("trial %d was interrupted; re-queued as trial %d", trial.trial_id, again.trial_id)


def release(study: Study, trial_ids: list[int]) -> None:
    """The trials of the jobs the executor held at shutdown (see the module docstring, "Shutdown")."""
    for trial_id in trial_ids:
        study._jobs.pop(trial_id, None)
        trial = study.ledger[trial_id]
        if trial.status is TrialStatus.RUNNING:
            interrupt(study, trial)
        elif trial.status is TrialStatus.PENDING:
            study._enqueued.appendleft(trial_id)


def replay_history(study: Study) -> None:
    """Rebuild the scheduler from the stored trials and replay the stored observations."""
    trials = study.trials
    study.scheduler.restore(trials)
    observations = study.storage.observations()
    if not observations:  # a file from before observations were stored
        observations = [
            Observation.of(t, study.metrics)
            for t in trials
            if t.counts_toward_limit and (t.status.is_finished or t.status is TrialStatus.PAUSED)
        ]
    if observations:
        study.scheduler.replay(observations)


def resume_budget(study: Study, trial: Trial, budget: JobBudget) -> tuple[JobBudget, Trial]:
    """Where a continued trial really starts: its checkpoint's step, or 0 without one.

    Executors that replay benchmarks (``resumes_for_free``) continue any trial where it
    stopped. Otherwise a job that starts above 0 needs the trial's checkpoint; without
    one the trial runs again from 0, ``trial.restarts`` counts it, and the budget it
    consumes again is added to ``trial.budget``.
    """
    from hpo import checkpoint

    if budget.start == 0 or study.executor.resumes_for_free:
        return budget, trial
    saved = checkpoint.saved_step(study._trial_dir(trial.trial_id))
    if saved is None or saved <= 0:
        logger.info("trial %d has no checkpoint: it runs again from 0 up to %s", trial.trial_id, budget.stop)
        return JobBudget(0, budget.stop, budget.max), trial.evolve(restarts=trial.restarts + 1)
    if saved < budget.start:
        return JobBudget(saved, budget.stop, budget.max), trial
    return budget, trial


def book_retry(study: Study, event: Retrying) -> None:
    """The executor runs a job again after its worker died: book what the lost attempt used."""
    trial_id = event.trial_id
    job = study._jobs[trial_id]
    trial = study.ledger[trial_id]
    # what the lost attempt used: up to its last report, or its last checkpoint when its
    # last reports had not reached us (streamed reports travel in batches)
    lost = max(consumed(job, study._reports[trial_id], completed=False), event.budget.start - job.budget.start)
    trial = study._record(
        trial.evolve(
            budget=trial.budget + lost,
            retries=event.attempt,
            notes={**trial.notes, "retry_reason": event.reason},
            worker=study._where(trial_id) or trial.worker,
        )
    )
    study._jobs[trial_id] = Job(trial, event.budget)
    study._reports[trial_id] = []
    logger.warning("trial %d: %s; retry %d from budget %s", trial_id, event.reason, event.attempt, event.budget.start)
