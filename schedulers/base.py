"""The scheduler interface: "how much budget, continue or stop".

A scheduler hands out jobs (a trial plus a budget slice) and judges each report. It
owns a searcher for new configs. It sees the study only through
:class:`hpo.trial.StudyView`; the study imports schedulers, never the reverse.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import ClassVar

from hpo.searchers.base import BaseSearcher
from hpo.trial import Decision, Job, Report, StudyView, Trial

__all__ = ["BaseScheduler"]


class BaseScheduler(ABC):
    """Decides which job runs next and whether running trials go on.

    Args:
        searcher: Where new configs come from.

    Capabilities (class attributes; the study and executors read them, nobody tests types):

    Attributes:
        needs_intermediate_reports: The scheduler acts on ``hpo.report()`` calls, so an
            objective that never reports cannot be scheduled well.
        pauses_trials: The scheduler may answer ``Decision.PAUSE`` and later resume trials.
    """

    needs_intermediate_reports: ClassVar[bool] = False
    pauses_trials: ClassVar[bool] = False

    def __init__(self, searcher: BaseSearcher) -> None:
        self.searcher = searcher

    @property
    def judges_reports(self) -> bool:
        """Whether :meth:`on_report` may answer anything but CONTINUE (it is overridden).

        Schedulers that act only between jobs (FIFO, and our SH/Hyperband/ASHA/PBT, which
        size each job to a rung) do not, so executors may stream reports without waiting.
        """
        return type(self).on_report is not BaseScheduler.on_report

    @abstractmethod
    def next_job(self, view: StudyView) -> Job | None:
        """The next job to run on a free worker, or None if there is nothing to run now."""

    def on_report(self, trial: Trial, report: Report) -> Decision:
        """Judge an intermediate report of a running trial. The default lets it run."""
        return Decision.CONTINUE

    def on_complete(self, trial: Trial) -> None:
        """A job ended (trial COMPLETED, PRUNED, PAUSED or FAILED). The default informs the searcher."""
        if trial.status.is_finished:
            self.searcher.observe([trial])

    def restore(self, trials: Sequence[Trial]) -> None:
        """Rebuild state from a stored history when a study is resumed."""
        finished = [t for t in trials if t.status.is_finished and t.counts_toward_limit]
        if finished:
            self.searcher.observe(finished)

    # ----------------------------------------------------------------- helpers
    def _own_rng(self, seed: int | None = None):  # type: ignore[no-untyped-def]
        """A generator for the scheduler's own random choices.

        Seeded from ``seed`` (default: the searcher's seed) but on a different stream, so
        that its draws never repeat the searcher's (with one stream, PBT's resampled
        configs were the very configs the searcher had proposed).
        """
        import numpy as np

        base = self.searcher.seed if seed is None else seed
        return np.random.default_rng(None if base is None else [int(base), 0x5C4ED])

    def _new_trial(self, view: StudyView) -> Trial | None:
        """Claim an enqueued trial, or create one from the searcher; None if none may start."""
        if not view.can_start_trial():
            return None
        queued = view.take_enqueued()
        if queued is not None:
            return queued
        pending = [t.config for t in view.running()]
        (config,) = self.searcher.suggest(1, pending=pending)
        return view.new_trial(config)
