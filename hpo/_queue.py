"""The queue of trials that run before the searcher's suggestions.

Enqueued configs (:meth:`hpo.study.Study.enqueue`), interrupted trials re-queued on resume,
PENDING trials found in the file, and jobs an executor still held at shutdown all wait
here, each trial id at most once: the recovery and the loader may both offer the same
re-queued trial, and a second entry would count as work waiting after the first had run
(at the trial limit it let a free worker start trial n + 1).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable

__all__ = ["TrialQueue"]


class TrialQueue:
    """Trial ids in the order they run; an id already queued is not queued again."""

    def __init__(self) -> None:
        self._ids: deque[int] = deque()

    def append(self, trial_id: int) -> None:
        if trial_id not in self._ids:
            self._ids.append(trial_id)

    def appendleft(self, trial_id: int) -> None:
        if trial_id not in self._ids:
            self._ids.appendleft(trial_id)

    def extend(self, trial_ids: Iterable[int]) -> None:
        for trial_id in trial_ids:
            self.append(trial_id)

    def peek(self, waiting: Callable[[int], bool]) -> int | None:
        """The first id for which ``waiting(id)`` holds, dropping the entries before it that no longer wait.

        An entry stops waiting when its trial was started by another path (a job queued
        ahead on an executor stays PENDING while the executor holds it).
        """
        while self._ids and not waiting(self._ids[0]):
            self._ids.popleft()
        return self._ids[0] if self._ids else None

    def take(self, waiting: Callable[[int], bool]) -> int | None:
        """:meth:`peek`, and remove the id it returns."""
        trial_id = self.peek(waiting)
        if trial_id is not None:
            self._ids.popleft()
        return trial_id
