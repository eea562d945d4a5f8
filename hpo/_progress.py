"""A rich progress bar for studies: trials done, best value so far, running trials."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["ProgressBar"]


class ProgressBar:
    """Study callback that draws a live progress bar with ``rich``.

    Args:
        total: Expected number of trials (None for an open-ended study).
    """

    def __init__(self, total: int | None = None) -> None:
        self.total = total
        self._progress: Any = None
        self._task: Any = None

    @contextmanager
    def attach(self, study: Any) -> Iterator[ProgressBar]:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
        )

        self._progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("best {task.fields[best]}"),
            TextColumn("running {task.fields[running]}"),
            TimeElapsedColumn(),
            transient=False,
        )
        done = _ended(study)
        best = study.incumbent
        with self._progress:
            self._task = self._progress.add_task(
                study.name, total=self.total, completed=done, best=_fmt(best), running=0
            )
            yield self

    def on_trial_end(self, study: Any, trial: Any) -> None:
        if self._progress is None:
            return
        done = _ended(study)
        self._progress.update(
            self._task, completed=done, best=_fmt(study.incumbent), running=len(study.executor.running())
        )


def _fmt(trial: Any) -> str:
    return "-" if trial is None or trial.value is None else f"{trial.value:.6g}"


def _ended(study: Any) -> int:
    """Trials whose last job ended (finished, or paused at a rung by a multi-fidelity scheduler)."""
    running = set(study.executor.running())
    return sum(
        1
        for t in study.trials
        if t.counts_toward_limit and t.trial_id not in running and (t.status.is_finished or t.status.value == "PAUSED")
    )
