"""First-in first-out: every trial runs to the full budget."""

from __future__ import annotations

from typing import ClassVar

from hpo.schedulers.base import BaseScheduler
from hpo.trial import Job, StudyView

__all__ = ["FIFOScheduler"]


class FIFOScheduler(BaseScheduler):
    """Runs each new config to ``budget.max`` and never stops a trial early.

    This is plain (possibly parallel) black-box optimization: the searcher alone decides
    what to try. Multi-fidelity schedulers replace it to spend less on bad configs.
    """

    judges_reports: ClassVar[bool] = False
    next_job_uses_results: ClassVar[bool] = False

    def next_job(self, view: StudyView) -> Job | None:
        trial = self._new_trial(view)
        if trial is None:
            return None
        return Job(trial, view.budget.full())
