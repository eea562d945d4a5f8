"""The storage interface: every trial, report and state change, kept as it happens.

A storage holds exactly one study. Writes are durable when the method returns (for
durable storages), so a driver killed at any moment loses nothing it had recorded.
"""

from __future__ import annotations

import json
import math
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from hpo.trial import Observation, Report, Trial, TrialStatus

__all__ = ["StudySpec", "BaseStorage", "trial_to_row", "trial_from_row", "dumps", "loads", "SCHEMA_VERSION"]

SCHEMA_VERSION = 3  # 2 added trials.notes; 3 typed fields (reached, restarts, retries, parent) and observations


def dumps(value: Any) -> str:
    """JSON with NaN/inf allowed (they round-trip through Python's json)."""
    return json.dumps(value, sort_keys=True, default=repr)


def loads(text: str | None) -> Any:
    return None if text is None else json.loads(text)


@dataclass(frozen=True)
class StudySpec:
    """What defines a study, stored once at creation.

    Attributes:
        name: Study name.
        metric: Name of the optimized metric, or a list of names for several objectives.
        mode: ``"min"`` or ``"max"``, or a list of them (one per metric).
        space: The search space in dict form (``SearchSpace.to_dict()``).
        budget: The fidelity range, ``{"min": ..., "max": ...}``.
        objective: Importable reference to the objective (``"file.py:func"`` or
            ``"pkg.module:func"``) for ``hpo resume``; None if unknown.
        settings: Everything else needed to resume (scheduler, searcher, seed, limits, ...).
        created_at: Unix time of creation.
    """

    name: str
    metric: Any
    mode: Any
    space: Mapping[str, Any]
    budget: Mapping[str, float]
    objective: str | None = None
    settings: Mapping[str, Any] = field(default_factory=dict)
    created_at: float = 0.0

    def to_json(self) -> str:
        return dumps(
            {
                "name": self.name,
                "metric": self.metric,
                "mode": self.mode,
                "space": self.space,
                "budget": self.budget,
                "objective": self.objective,
                "settings": self.settings,
                "created_at": self.created_at,
            }
        )

    @classmethod
    def from_json(cls, text: str) -> StudySpec:
        return cls(**json.loads(text))

    @property
    def metrics(self) -> tuple[str, ...]:
        """Every objective's metric name, in order."""
        return (self.metric,) if isinstance(self.metric, str) else tuple(self.metric)

    @property
    def modes(self) -> tuple[str, ...]:
        """Every objective's direction, in order."""
        return (self.mode,) * len(self.metrics) if isinstance(self.mode, str) else tuple(self.mode)


_TRIAL_FIELDS = (
    "trial_id",
    "config",
    "status",
    "value",
    "metrics",
    "budget",
    "cost",
    "reason",
    "traceback",
    "requeued_from",
    "created_at",
    "started_at",
    "finished_at",
    "last_step",
    "worker",
    "reached",
    "restarts",
    "retries",
    "parent",
    "notes",
)
#: Typed fields that schema version 2 kept in ``notes``.
_FROM_NOTES = {"reached": float, "restarts": int, "retries": int, "parent": int}


def trial_to_row(trial: Trial) -> dict[str, Any]:
    """A flat, SQL-ready dict of a trial (JSON for config and metrics)."""
    row = {name: getattr(trial, name) for name in _TRIAL_FIELDS}
    row["config"] = dumps(dict(trial.config))
    row["metrics"] = dumps(dict(trial.metrics))
    row["notes"] = dumps(dict(trial.notes))
    row["status"] = trial.status.value
    if row["value"] is not None and not math.isfinite(row["value"]):
        row["value"] = None
    return row


def trial_from_row(row: Mapping[str, Any]) -> Trial:
    """A trial from a row; a row of schema version 2 has its typed fields in ``notes``."""
    keys = set(row.keys())
    data = {name: row[name] for name in _TRIAL_FIELDS if name in keys}
    data["config"] = loads(data["config"])
    data["metrics"] = loads(data["metrics"]) or {}
    notes = dict(loads(data["notes"]) or {})
    for name, kind in _FROM_NOTES.items():
        if name in notes:
            raw = notes.pop(name)
            if data.get(name) in (None, 0) and raw is not None:
                data[name] = kind(raw)
    data["notes"] = notes
    data["restarts"] = int(data.get("restarts") or 0)
    data["retries"] = int(data.get("retries") or 0)
    data["status"] = TrialStatus(data["status"])
    return Trial(**data)


class BaseStorage(ABC):
    """Durable record of one study.

    Attributes:
        durable: Whether the record survives the process (SQLite yes, memory no).
        location: Where the record lives (a file path), or None.
    """

    durable: ClassVar[bool] = False
    location: str | None = None

    @abstractmethod
    def create_study(self, spec: StudySpec) -> None:
        """Record a new study. Raises StudyMismatchError if the storage already holds one."""

    @abstractmethod
    def load_study(self) -> StudySpec | None:
        """The stored study's spec, or None for an empty storage."""

    @abstractmethod
    def update_settings(self, settings: Mapping[str, Any]) -> None:
        """Replace the study's settings (e.g. a new ``n_trials`` given on resume)."""

    @abstractmethod
    def create_trial(
        self, config: Mapping[str, Any], *, requeued_from: int | None = None, created_at: float | None = None
    ) -> Trial:
        """Record a new PENDING trial and return it with its id."""

    @abstractmethod
    def update_trial(self, trial: Trial) -> None:
        """Record a trial's new state (status, value, budget, ...)."""

    @abstractmethod
    def add_report(self, trial_id: int, report: Report) -> None:
        """Record one intermediate report."""

    @abstractmethod
    def trials(self) -> list[Trial]:
        """Every trial, in id order."""

    @abstractmethod
    def reports(self, trial_id: int) -> list[Report]:
        """A trial's reports, in the order they arrived."""

    @abstractmethod
    def add_observation(self, observation: Observation) -> None:
        """Record what the searcher was told when a job ended (replayed on resume)."""

    @abstractmethod
    def observations(self) -> list[Observation]:
        """Every recorded observation, in the order they were made."""

    def close(self) -> None:
        """Release files and locks. The default does nothing."""

    def __enter__(self) -> BaseStorage:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
