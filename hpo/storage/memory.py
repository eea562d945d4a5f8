"""In-memory storage: fast, for tests and throw-away studies; gone with the process."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from hpo._reevaluation import ReevalRecord
from hpo.errors import StorageError, StudyMismatchError
from hpo.storage.base import BaseStorage, StudySpec
from hpo.trial import Observation, Report, Trial

__all__ = ["MemoryStorage"]


class MemoryStorage(BaseStorage):
    """Keeps one study in dictionaries."""

    def __init__(self) -> None:
        self._spec: StudySpec | None = None
        self._trials: dict[int, Trial] = {}
        self._reports: dict[int, list[Report]] = {}
        self._observations: list[Observation] = []
        self._reevaluations: dict[tuple[int, int], ReevalRecord] = {}

    def create_study(self, spec: StudySpec) -> None:
        if self._spec is not None:
            raise StudyMismatchError(f"this in-memory storage already holds study {self._spec.name!r}")
        self._spec = spec

    def load_study(self) -> StudySpec | None:
        return self._spec

    def update_settings(self, settings: Mapping[str, Any]) -> None:
        if self._spec is None:
            raise StorageError("no study in this storage")
        self._spec = StudySpec(**{**self._spec.__dict__, "settings": dict(settings)})

    def create_trial(
        self, config: Mapping[str, Any], *, requeued_from: int | None = None, created_at: float | None = None
    ) -> Trial:
        trial_id = len(self._trials) + 1
        trial = Trial(trial_id, dict(config), requeued_from=requeued_from, created_at=time.time() if created_at is None else created_at)
        self._trials[trial_id] = trial
        self._reports[trial_id] = []
        return trial

    def update_trial(self, trial: Trial) -> None:
        if trial.trial_id not in self._trials:
            raise StorageError(f"trial {trial.trial_id} does not exist")
        self._trials[trial.trial_id] = trial

    def add_report(self, trial_id: int, report: Report) -> None:
        if trial_id not in self._reports:
            raise StorageError(f"trial {trial_id} does not exist")
        self._reports[trial_id].append(report)

    def trials(self) -> list[Trial]:
        return [self._trials[k] for k in sorted(self._trials)]

    def reports(self, trial_id: int) -> list[Report]:
        return list(self._reports.get(trial_id, []))

    def add_observation(self, observation: Observation) -> None:
        self._observations.append(observation)

    def observations(self) -> list[Observation]:
        return list(self._observations)

    def add_reevaluation(self, record: ReevalRecord) -> None:
        if record.trial_id not in self._trials:
            raise StorageError(f"trial {record.trial_id} does not exist")
        self._reevaluations[(record.trial_id, record.seed)] = record

    def reevaluations(self) -> list[ReevalRecord]:
        return [self._reevaluations[k] for k in sorted(self._reevaluations)]
