"""What a report shows, read once: a study's trials, reports, search space and settings.

:func:`collect` reads a study file with the read-only loader (:func:`hpo.load_study`, no
lock, so it never blocks a running driver), or takes a :class:`~hpo.result.StudyResult` or
a :class:`~hpo.study.Study` as they are. Every section builder then sees one
:class:`StudyData` snapshot and returns a :class:`Section`.
"""

from __future__ import annotations

import math
import os
import re
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from hpo.errors import HPOError
from hpo.trial import Report, Trial, TrialStatus, finite

if TYPE_CHECKING:
    from hpo.result import StudyResult
    from hpo.search_spaces import SearchSpace

__all__ = ["Section", "StudyData", "collect", "best_so_far", "fmt", "values_of", "sample_trials", "STATUS_COLOURS",
           "MAX_SHOWN"]

#: Most trials one figure (or the table) draws; past it, :func:`sample_trials` picks them.
MAX_SHOWN = 2000

#: One colour per trial status, shared by every figure.
STATUS_COLOURS = {
    "COMPLETED": "#2ca02c",
    "PAUSED": "#1f77b4",
    "RUNNING": "#9467bd",
    "PRUNED": "#ff7f0e",
    "FAILED": "#d62728",
    "PENDING": "#7f7f7f",
}

# the in-process executor names one thread per trial; the lane is the process
_PER_TRIAL_THREAD = re.compile(r",?\s*thread=hpo-trial-\d+")


@dataclass(frozen=True)
class Section:
    """One section of the page.

    Attributes:
        key: The anchor (``id``) of the section.
        title: Its heading.
        figures: Plotly figures as ``{"data": [...], "layout": {...}}`` dicts.
        notes: Plain-text paragraphs (escaped when rendered): what is shown, how, and why
            something is missing.
        html: Extra markup (a table), already escaped.
    """

    key: str
    title: str
    figures: tuple[dict[str, Any], ...] = ()
    notes: tuple[str, ...] = ()
    html: str = ""


@dataclass(frozen=True)
class StudyData:
    """A snapshot of a study for the report.

    Attributes:
        result: The trials, objectives and incumbent.
        name: The study's name.
        space: Its search space, or None when unknown (an in-memory result).
        budget_max: The full fidelity budget, or None when unknown.
        settings: The stored settings (scheduler, searcher, ...), or ``{}``.
        reports: Trial id to its intermediate reports, in arrival order.
        now: Unix time of the snapshot (the end of RUNNING trials' bars).
        source: The study file, or None.
    """

    result: StudyResult
    name: str
    space: SearchSpace | None
    budget_max: float | None
    settings: Mapping[str, Any] = field(default_factory=dict)
    reports: Mapping[int, Sequence[Report]] = field(default_factory=dict)
    now: float = 0.0
    source: str | None = None

    @property
    def trials(self) -> list[Trial]:
        return self.result.trials

    @property
    def metric(self) -> str:
        """The first objective's metric (the one history, importance and curves show)."""
        return self.result.metrics[0]

    @property
    def mode(self) -> str:
        return self.result.modes[0]

    @property
    def t0(self) -> float | None:
        """The study's first time stamp (a trial created or started), or None."""
        times = [x for t in self.trials for x in (t.created_at, t.started_at) if x is not None]
        return min(times) if times else None

    def ended_at(self, trial: Trial) -> float | None:
        """When a trial's last job ended: ``finished_at``, ``now`` while it runs, else its
        start plus its last report's elapsed time (a paused trial); None if unknown."""
        if trial.finished_at is not None:
            return trial.finished_at
        if trial.status is TrialStatus.RUNNING and trial.started_at is not None:
            return self.now
        reports = self.reports.get(trial.trial_id)
        if trial.started_at is not None and reports:
            return trial.started_at + reports[-1].elapsed
        return None

    def param_names(self) -> list[str]:
        """Parameter names: the space's columns in order, then any other config key."""
        names = [d.name for d in self.space.dims] if self.space is not None else []
        for t in self.trials:
            names += [k for k in t.config if k not in names]
        return names

    def lane(self, trial: Trial) -> str:
        """The worker a trial ran on, as a timeline lane ("local" when unknown)."""
        worker = _PER_TRIAL_THREAD.sub("", trial.worker or "").strip(", ")
        return worker or "local"


def fmt(value: Any) -> str:
    """A cell's text: numbers with 4 significant digits, None as empty."""
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def best_so_far(trials: Sequence[Trial], mode: str) -> list[float | None]:
    """The incumbent's value after each trial in ``trials``' order (None before any).

    Uses the study's own rule (:func:`hpo.result.rank_key`): a COMPLETED trial beats any
    other, then the larger budget reached, then the better value.
    """
    from hpo.result import rank_key

    out: list[float | None] = []
    best_key: tuple[int, float, float, int] | None = None
    best: float | None = None
    for t in trials:
        key = rank_key(t, mode)
        if key is not None and (best_key is None or key > best_key):
            best_key, best = key, t.value
        out.append(best)
    return out


def _read_spec(path: str | os.PathLike[str]) -> Any:
    from hpo.storage import SQLiteStorage

    with SQLiteStorage(path, readonly=True) as reader:
        return reader.load_study()


def _space_of(raw: Any) -> SearchSpace | None:
    from hpo.search_spaces import SearchSpace

    if raw is None:
        return None
    try:
        return SearchSpace(raw)
    except HPOError:
        return None  # a space this version cannot read: the report infers it from the configs


def _reports_of(result: StudyResult, from_file: bool) -> dict[int, list[Report]]:
    if from_file:  # one reader for every trial, not one per trial
        from hpo.storage import SQLiteStorage

        with SQLiteStorage(result.storage, readonly=True) as reader:  # type: ignore[arg-type]
            stored = reader.all_reports()  # one query
        return {t.trial_id: stored.get(t.trial_id, []) for t in result.trials}
    out: dict[int, list[Report]] = {}
    for t in result.trials:
        try:
            out[t.trial_id] = list(result.reports(t.trial_id))
        except HPOError:
            out[t.trial_id] = []  # an in-memory study whose reports are gone
    return out


def collect(source: Any) -> StudyData:
    """Read what the report shows.

    Args:
        source: A study file (path or ``"sqlite:///..."``), a :class:`~hpo.result.StudyResult`
            or a :class:`~hpo.study.Study`.

    Raises:
        StorageError: if there is no study file at the path.
        StorageCorruptError, StudyMismatchError: for a damaged or foreign file.
        HPOError: for anything else given as ``source``.
    """
    from hpo.result import StudyResult, load_study

    spec: Any = None
    path: str | None = None
    if isinstance(source, StudyResult):
        result = source
        stored = isinstance(result.storage, str) and os.path.isfile(result.storage)
        if stored:
            path = result.storage
            spec = _read_spec(result.storage)  # type: ignore[arg-type]
        reports = _reports_of(result, from_file=stored and not _has_cached_reports(result))
    elif hasattr(source, "spec") and callable(getattr(source, "result", None)):
        result, spec = source.result(), source.spec
        path = result.storage if isinstance(result.storage, str) else None
        reports = _reports_of(result, from_file=False)
    elif isinstance(source, (str, os.PathLike)):
        result = load_study(source)  # read-only: never blocks a running driver
        spec = _read_spec(source)
        path = os.fspath(source)
        reports = _reports_of(result, from_file=False)  # load_study keeps them in memory
    else:
        raise HPOError(
            f"cannot report on a {type(source).__name__}: give a study file, a StudyResult or a Study"
        )
    budget = (spec.budget or {}) if spec is not None else {}
    return StudyData(
        result=result,
        name=spec.name if spec is not None else "study",
        space=_space_of(spec.space) if spec is not None else None,
        budget_max=finite(budget.get("max")),
        settings=dict(spec.settings or {}) if spec is not None else {},
        reports=reports,
        now=time.time(),
        source=path,
    )


def _has_cached_reports(result: StudyResult) -> bool:
    """Whether the result holds its reports in memory (as :func:`hpo.load_study` does)."""
    return getattr(result, "_report_source", None) is not None


def values_of(data: StudyData, metric: str | None = None) -> dict[int, float]:
    """Trial id to the finite value of ``metric`` (default: the first objective's value)."""
    out: dict[int, float] = {}
    for t in data.trials:
        v = finite(t.value) if metric is None else finite(t.metrics.get(metric))
        if v is not None:
            out[t.trial_id] = v
    return out


def sample_trials(data: StudyData, trials: Sequence[Trial], keep: Iterable[int] = ()) -> tuple[list[Trial], str | None]:
    """``trials``, or at most :data:`MAX_SHOWN` of them (their order kept) and a note saying so.

    A 10,000-trial study would otherwise make a page of tens of megabytes that a browser
    opens slowly. The sample is the rule of the BO searcher's fit subset
    (:func:`hpo.searchers._bo_subset.fit_subset`): the trial ids in ``keep`` (e.g. the Pareto
    front), the best quarter by the first objective, and a uniform random draw (seed 0)
    of the rest, so the best trials are always drawn and the rest stay representative.
    """
    import numpy as np

    from hpo.searchers._bo_subset import BEST_FRACTION, fit_subset

    trials = list(trials)
    sign = 1.0 if data.mode == "max" else -1.0
    score = np.array([sign * v if (v := finite(t.value)) is not None else -np.inf for t in trials])
    wanted = set(keep)
    always = np.array([i for i, t in enumerate(trials) if t.trial_id in wanted], dtype=int)
    rows = fit_subset(score, MAX_SHOWN, np.random.default_rng(0), always=always)
    if rows is None:
        return trials, None
    n_best = min(MAX_SHOWN, math.ceil(BEST_FRACTION * MAX_SHOWN))
    note = (f"{len(trials):,} trials: {len(rows):,} are drawn, the best {n_best:,} by {data.metric} "
            "and a uniform random sample of the rest (seed 0), to keep the page light.")
    return [trials[i] for i in rows], note
