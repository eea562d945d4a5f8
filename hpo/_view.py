"""The study as schedulers and searchers see it (:class:`hpo.trial.StudyView`).

Plugins never import :mod:`hpo.study`; they see this narrow view, so there are no
import circles between the loop and its plugins.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from hpo.budget import Budget
from hpo.search_spaces import SearchSpace
from hpo.trial import Trial

if TYPE_CHECKING:
    from hpo.study import Study

__all__ = ["View"]


class View:
    """Implements :class:`hpo.trial.StudyView` over a :class:`~hpo.study.Study`."""

    def __init__(self, study: Study) -> None:
        self._study = study

    @property
    def space(self) -> SearchSpace:
        return self._study.space

    @property
    def metric(self) -> str:
        return self._study.metrics[0]

    @property
    def mode(self) -> str:
        return self._study.modes[0]

    @property
    def metrics(self) -> tuple[str, ...]:
        return self._study.metrics

    @property
    def modes(self) -> tuple[str, ...]:
        return self._study.modes

    @property
    def budget(self) -> Budget:
        return self._study.budget

    @property
    def rng(self) -> Any:
        return self._study.rng

    def trials(self) -> Sequence[Trial]:
        return self._study.trials

    def running(self) -> Sequence[Trial]:
        return [self._study.ledger[i] for i in self._study._jobs]

    def incumbent(self) -> Trial | None:
        return self._study.incumbent

    def can_start_trial(self) -> bool:
        return self._study._can_start_trial()

    def take_enqueued(self) -> Trial | None:
        return self._study._take_enqueued()

    def new_trial(
        self, config: Mapping[str, Any], notes: Mapping[str, Any] | None = None, parent: int | None = None
    ) -> Trial:
        return self._study._new_trial(config, notes, parent)

    def artifact_dir(self, trial_id: int) -> str:
        return self._study._trial_dir(trial_id)

    def remaining(self) -> tuple[int | None, float | None]:
        study = self._study
        trials = None if study._n_trials is None else max(0, study._n_trials - study.ledger.n_counted)
        seconds = None if study._deadline is None else max(0.0, study._deadline - study.executor.clock.time())
        return trials, seconds

    def annotate(self, trial_id: int, notes: Mapping[str, Any]) -> Trial:
        trial = self._study.ledger[trial_id]
        return self._study._record(trial.evolve(notes={**trial.notes, **notes}))
