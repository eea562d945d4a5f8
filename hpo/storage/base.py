"""The storage interface: every trial, report and state change, kept as it happens.

A storage holds exactly one study. Writes are durable when the method returns (for
durable storages), so a driver killed at any moment loses nothing it had recorded.
"""

from __future__ import annotations

import json
import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from hpo._reevaluation import ReevalRecord
from hpo.errors import HPOError, StorageCorruptError, StorageError
from hpo.trial import Observation, Report, Trial, TrialStatus, as_objectives

__all__ = [
    "StudySpec", "BaseStorage", "trial_to_row", "trial_from_row", "report_from_row", "decoded", "dumps", "loads",
    "SCHEMA_VERSION",
]

SCHEMA_VERSION = 3  # 2 added trials.notes; 3 typed fields (reached, restarts, retries, parent) and observations


def dumps(value: Any) -> str:
    """JSON with NaN/inf allowed (they round-trip through Python's json).

    What JSON cannot hold (objects, keys that are not strings, cycles, ints too long to
    print) is written as a repr, so recording what an objective returned never fails.
    """
    try:
        return json.dumps(value, sort_keys=True, default=_safe_repr)
    except (TypeError, ValueError, RecursionError):
        return json.dumps(_jsonable(value, 0), sort_keys=True)


def _safe_repr(value: Any) -> str:
    if isinstance(value, int) and value.bit_length() > 10_000:  # Python refuses to print it
        return f"<int of {value.bit_length()} bits>"
    try:
        return repr(value)
    except Exception:  # noqa: BLE001 - whatever a user's __repr__ raises
        return f"<{type(value).__name__} object>"


def _jsonable(value: Any, depth: int) -> Any:
    """``value`` with string keys, no cycles (cut at depth 32) and reprs for the rest."""
    if depth > 32:
        return _safe_repr(value)
    if isinstance(value, Mapping):
        return {k if isinstance(k, str) else _safe_repr(k): _jsonable(v, depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v, depth + 1) for v in value]
    if isinstance(value, (str, float, bool, type(None))) or (isinstance(value, int) and value.bit_length() <= 10_000):
        return value
    return _safe_repr(value)


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
        """The spec that :meth:`to_json` wrote.

        Raises:
            ValueError, TypeError: for text that is not a study record (not JSON, unknown
                or missing fields, or fields of the wrong type), naming the field.
        """
        spec = cls(**json.loads(text))
        for name, kind in (("name", str), ("space", Mapping), ("budget", Mapping), ("settings", Mapping)):
            if not isinstance(getattr(spec, name), kind):
                raise ValueError(f"field {name!r} is {type(getattr(spec, name)).__name__}, not {kind.__name__}")
        if spec.objective is not None and not isinstance(spec.objective, str):
            raise ValueError(f"field 'objective' is {type(spec.objective).__name__}, not str")
        if isinstance(spec.created_at, bool) or not isinstance(spec.created_at, (int, float)):
            raise ValueError(f"field 'created_at' is {type(spec.created_at).__name__}, not a number")
        try:
            as_objectives(spec.metric, spec.mode)
        except (HPOError, TypeError) as exc:
            raise ValueError(f"fields 'metric'/'mode': {exc}") from None
        return spec

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


_REAL = (int, float)
#: The type each decoded trial field must have (None is allowed for the optional ones).
_ROW_TYPES: dict[str, tuple[Any, bool]] = {
    "trial_id": (int, False), "config": (Mapping, False), "metrics": (Mapping, False),
    "budget": (_REAL, False), "cost": (_REAL, False), "value": (_REAL, True), "reason": (str, True),
    "traceback": (str, True), "requeued_from": (int, True), "created_at": (_REAL, True),
    "started_at": (_REAL, True), "finished_at": (_REAL, True), "last_step": (_REAL, True),
    "worker": (str, True), "reached": (_REAL, True), "parent": (int, True),
}  # fmt: skip
#: ``(field, type, optional, exact types that pass)`` of :data:`_ROW_TYPES`; the exact types
#: are a fast path (never ``bool``).
_CHECKS = tuple(
    (name, kind, optional, frozenset({dict} if kind is Mapping else {int, float} if kind is _REAL else {kind}))
    for name, (kind, optional) in _ROW_TYPES.items()
)
_FIELDS = frozenset(_TRIAL_FIELDS)


def decoded(location: str | None, what: str, decode: Callable[[Any], Any], row: Any) -> Any:
    """``decode(row)``, or :class:`StorageCorruptError` naming the file and what was damaged."""
    try:
        return decode(row)
    except (ValueError, TypeError, KeyError, AttributeError) as exc:  # JSONDecodeError is a ValueError
        raise StorageCorruptError(
            f"study file {location!r} is corrupt: {what} is unreadable ({type(exc).__name__}: {exc})"
        ) from exc


def report_from_row(row: Mapping[str, Any]) -> Report:
    """A report from its row (``step``, ``metrics`` as JSON, ``elapsed``).

    Raises:
        ValueError: naming the field, for a damaged row.
    """
    metrics = loads(row["metrics"])
    if type(metrics) is not dict and not isinstance(metrics, Mapping):
        raise ValueError(f"its metrics are {type(metrics).__name__}, not a dict")
    step, elapsed = row["step"], row["elapsed"]
    for name, value in (("step", step), ("elapsed", elapsed)):
        if type(value) is not float and (isinstance(value, bool) or not isinstance(value, _REAL)):
            raise ValueError(f"its {name} is {type(value).__name__}, not a number")
    return Report(step, metrics, elapsed)


def trial_from_row(row: Mapping[str, Any]) -> Trial:
    """A trial from a row; a row of schema version 2 has its typed fields in ``notes``.

    Raises:
        ValueError, TypeError, KeyError: naming the field, for a damaged row.
    """
    # by position: a name lookup in a sqlite3.Row scans its columns (10,000 trials: ~0.2 s)
    data = {k: row[k] for k in row.keys()} if isinstance(row, Mapping) else dict(zip(row.keys(), row, strict=True))
    if not _FIELDS.issuperset(data):
        data = {name: data[name] for name in _TRIAL_FIELDS if name in data}
    data["config"] = loads(data["config"])
    data["metrics"] = {} if data["metrics"] == "{}" else (loads(data["metrics"]) or {})
    notes = {} if data["notes"] == "{}" else dict(loads(data["notes"]) or {})
    for name, kind in _FROM_NOTES.items():
        if name in notes:
            raw = notes.pop(name)
            if data.get(name) in (None, 0) and raw is not None:
                data[name] = kind(raw)
    data["notes"] = notes
    data["restarts"] = int(data.get("restarts") or 0)
    data["retries"] = int(data.get("retries") or 0)
    data["status"] = TrialStatus(data["status"])
    for name, kind, optional, exact in _CHECKS:
        value = data.get(name)
        if type(value) in exact or (optional and value is None):  # the common cases, without ABC checks
            continue
        if isinstance(value, bool) or not isinstance(value, kind):
            raise ValueError(f"field {name!r} holds {type(value).__name__} {value!r:.40}")
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

    def all_reports(self) -> dict[int, list[Report]]:
        """Trial id -> its reports in arrival order, for every trial with reports.

        The default asks :meth:`reports` once per trial; storages that can read them in
        one go (SQLite: one query) override it, so readers of a large study
        (:func:`hpo.load_study`, ``hpo report``) do not issue one query per trial.
        """
        return {t.trial_id: found for t in self.trials() if (found := self.reports(t.trial_id))}

    @abstractmethod
    def add_observation(self, observation: Observation) -> None:
        """Record what the searcher was told when a job ended (replayed on resume)."""

    @abstractmethod
    def observations(self) -> list[Observation]:
        """Every recorded observation, in the order they were made."""

    def add_reevaluation(self, record: ReevalRecord) -> None:
        """Record one held-out re-evaluation run (:mod:`hpo.reevaluate`).

        A record for the same ``(trial_id, seed)`` replaces the earlier one. The default
        raises: a storage that does not override it cannot keep re-evaluations.

        Raises:
            StorageError: naming the storage class.
        """
        raise StorageError(f"{type(self).__name__} cannot store re-evaluations (it does not implement add_reevaluation)")

    def reevaluations(self) -> list[ReevalRecord]:
        """Every stored re-evaluation record, ordered by trial id and seed. The default: none."""
        return []

    def close(self) -> None:
        """Release files and locks. The default does nothing."""

    def __enter__(self) -> BaseStorage:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
