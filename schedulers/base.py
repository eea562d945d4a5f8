"""The scheduler interface: "how much budget, continue or stop".

A scheduler hands out jobs (a trial plus a budget slice) and judges each report. It
owns a searcher for new configs. It sees the study only through
:class:`hpo.trial.StudyView`; the study imports schedulers, never the reverse.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any, ClassVar

from hpo.searchers.base import BaseSearcher
from hpo.trial import Decision, Job, Observation, Report, StudyView, Trial

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
        judges_reports: :meth:`on_report` may answer something other than CONTINUE, so a
            reporting job waits for the answer. Schedulers that act only between jobs
            (FIFO, and our SH/Hyperband/ASHA/PBT, which size each job to a rung) declare
            False and executors stream their reports. A subclass that overrides
            :meth:`on_report` without declaring it judges reports.
        next_job_uses_results: Which job :meth:`next_job` hands out depends on the results
            of ended jobs (promotions, PBT's exploit, brackets). FIFO declares False: what
            runs next is its searcher's call alone. Only when this is False and the
            searcher does not use history may the study ask for a job before a worker is
            free (``BaseExecutor.queue_ahead``).
    """

    needs_intermediate_reports: ClassVar[bool] = False
    pauses_trials: ClassVar[bool] = False
    judges_reports: ClassVar[bool] = True
    next_job_uses_results: ClassVar[bool] = True

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "on_report" in cls.__dict__ and "judges_reports" not in cls.__dict__:
            cls.judges_reports = True

    def __init__(self, searcher: BaseSearcher) -> None:
        self.searcher = searcher

    @abstractmethod
    def next_job(self, view: StudyView) -> Job | None:
        """The next job to run on a free worker, or None if there is nothing to run now."""

    def on_report(self, trial: Trial, report: Report) -> Decision:
        """Judge an intermediate report of a running trial. The default lets it run."""
        return Decision.CONTINUE

    def on_complete(self, trial: Trial) -> None:
        """A job ended (trial COMPLETED, PRUNED, PAUSED or FAILED): update the scheduler's own state.

        The searcher learns of it separately, through :meth:`observe`.
        """

    def set_objective(self, metric: str | Sequence[str], mode: str | Sequence[str]) -> None:
        """Tell every searcher the scheduler owns what the study optimizes (the study calls this)."""
        self.searcher.set_objective(metric, mode)

    def set_cost_budget(self, total: float | None) -> None:
        """Tell every searcher the scheduler owns the study's total cost budget (``max_cost``)."""
        self.searcher.set_cost_budget(total)

    def observe(self, observation: Observation) -> None:
        """Route an ended job's observation to the searcher that proposed its config."""
        self.searcher.observe([observation])

    def restore(self, trials: Sequence[Trial]) -> None:
        """Rebuild the scheduler's own state from the stored trials when a study is resumed."""

    def replay(self, observations: Sequence[Observation]) -> None:
        """Replay the stored observations to the searcher when a study is resumed."""
        self.searcher.replay(observations)

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

    def _pending(self, view: StudyView) -> list[Any]:
        """Configs of running trials, for searchers that take them into account."""
        return [t.config for t in view.running()] if self.searcher.supports_pending else []

    def _new_trial(self, view: StudyView) -> Trial | None:
        """Claim an enqueued trial, or create one from the searcher; None if none may start."""
        if not view.can_start_trial():
            return None
        queued = view.take_enqueued()
        if queued is not None:
            return queued
        (config,) = self.searcher.suggest(1, pending=self._pending(view))
        return view.new_trial(config)
