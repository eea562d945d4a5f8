"""What a held-out re-evaluation is: stored records and their summary (value types only).

This leaf module imports nothing but :mod:`hpo.trial`, so storages can use
:class:`ReevalRecord` without importing the runner (:mod:`hpo.reevaluate`).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from hpo.trial import Trial

__all__ = ["ReevalRecord", "ReevalRow", "Reevaluation", "summarize", "NOT_RUN"]

#: The reason shown for a (trial, seed) pair that no re-evaluation ran.
NOT_RUN = "not run"


@dataclass(frozen=True)
class ReevalRecord:
    """One run of one trial's config on one held-out seed, as stored.

    Attributes:
        trial_id: The search trial whose config was run again.
        seed: The held-out seed.
        value: The metric's value, or None when the run failed.
        status: ``"COMPLETED"`` or ``"FAILED"``.
        reason: Why it failed (``"ValueError: ..."``, ``"'loss' is nan (not finite)"``), or None.
        created_at: Unix time of the run's end.
    """

    trial_id: int
    seed: int
    value: float | None
    status: str = "COMPLETED"
    reason: str | None = None
    created_at: float = 0.0

    @property
    def ok(self) -> bool:
        return self.status == "COMPLETED" and self.value is not None


@dataclass(frozen=True)
class ReevalRow:
    """One re-evaluated config.

    Attributes:
        trial_id: The search trial it comes from.
        config: Its config.
        search_value: The value the search saw (one run on the tuning seed).
        values: Its value on each of :attr:`Reevaluation.seeds`, in order; None where that
            run failed or was not run.
        mean: The mean over the seeds with a value, or None if there is none.
        sd: Their sample standard deviation (``ddof=1``), or None with fewer than two.
        reasons: Per seed, None for a value, else why there is none (:data:`NOT_RUN` when
            no run is stored).
    """

    trial_id: int
    config: Mapping[str, Any]
    search_value: float | None
    values: tuple[float | None, ...]
    mean: float | None
    sd: float | None
    reasons: tuple[str | None, ...] = ()

    @property
    def complete(self) -> bool:
        """Whether every seed has a value."""
        return all(v is not None for v in self.values)

    def describe(self) -> str:
        """``"0.153 ± 0.021"`` (the mean, and the spread when there is one)."""
        if self.mean is None:
            return "no value"
        return f"{self.mean:.6g}" + ("" if self.sd is None else f" ± {self.sd:.3g}")


@dataclass(frozen=True)
class Reevaluation:
    """The search's best configs re-run on held-out seeds, best first by held-out mean.

    Tuning picks the config that looked best on the seed it was tuned on; with noisy
    training that choice is biased upwards. Eimer, Lindauer & Raileanu, "Hyperparameters in
    Reinforcement Learning and How To Tune Them" (ICML 2023) recommend tuning on some
    seeds and reporting on separate test seeds; this is that report.

    Attributes:
        metric: The re-evaluated metric; mode: ``"min"`` or ``"max"``.
        seeds: Every held-out seed stored for the study, ascending.
        rows: One per re-evaluated config, best held-out mean first (rows without a value last).
        recommended: The final recommendation: the best held-out mean among the rows with a
            value on every seed (among those with the most values, if none is complete);
            None only if every run failed. The search incumbent stays
            :attr:`hpo.StudyResult.best_config`.
        incumbent_id: The search incumbent's trial id.
    """

    metric: str
    mode: str
    seeds: tuple[int, ...]
    rows: tuple[ReevalRow, ...]
    recommended: ReevalRow | None
    incumbent_id: int | None = None

    def row(self, trial_id: int) -> ReevalRow | None:
        """The row of one trial, or None if it was not re-evaluated."""
        return next((r for r in self.rows if r.trial_id == trial_id), None)

    def summary(self) -> str:
        """One line: the recommendation by held-out mean, and what the search picked."""
        seeds = f"{len(self.seeds)} seed(s) {_seed_list(self.seeds)}"
        if self.recommended is None:
            return f"no recommendation: every run on held-out {seeds} failed"
        rec = self.recommended
        line = f"recommended by held-out mean over {seeds}: trial {rec.trial_id} ({self.metric} {rec.describe()})"
        incumbent = self.row(self.incumbent_id) if self.incumbent_id is not None else None
        if self.incumbent_id is None:
            return line
        if self.incumbent_id == rec.trial_id:
            return f"{line}; it is also the search incumbent"
        held = "" if incumbent is None else f", held-out {incumbent.describe()}"
        return f"{line}; search incumbent was trial {self.incumbent_id}{held}"

    def table(self) -> str:
        """A plain-text table of the rows, best first."""
        head = f"{'rank':>4}  {'trial':>5}  {'search':>10}  {'held-out mean ± sd':<22} {'failed':>6}  config"
        lines = [f"held-out re-evaluation of {self.metric} ({self.mode}) on seeds {_seed_list(self.seeds)} (* recommended)", head]
        for rank, r in enumerate(self.rows, 1):
            search = "-" if r.search_value is None else f"{r.search_value:.6g}"
            failed = f"{sum(v is None for v in r.values)}/{len(r.values)}"
            mark = " *" if r is self.recommended else ""
            config = json.dumps(dict(r.config), sort_keys=True, default=repr)
            lines.append(f"{rank:>4}  {r.trial_id:>5}  {search:>10}  {r.describe():<22} {failed:>6}  {config}{mark}")
        return "\n".join(lines)

    def __str__(self) -> str:
        return f"{self.table()}\n{self.summary()}"


def _seed_list(seeds: Sequence[int]) -> str:
    if len(seeds) > 2 and list(seeds) == list(range(seeds[0], seeds[0] + len(seeds))):
        return f"[{seeds[0]}..{seeds[-1]}]"
    return "[" + ", ".join(map(str, seeds)) + "]"


def _stats(values: Sequence[float]) -> tuple[float | None, float | None]:
    if not values:
        return None, None
    mean = math.fsum(values) / len(values)
    if len(values) < 2:
        return mean, None
    return mean, math.sqrt(math.fsum((v - mean) ** 2 for v in values) / (len(values) - 1))


def summarize(
    records: Iterable[ReevalRecord], trials: Iterable[Trial], metric: str, mode: str, incumbent_id: int | None
) -> Reevaluation | None:
    """Aggregate stored records per trial over every stored seed; None without records."""
    records = list(records)
    if not records:
        return None
    by_id = {t.trial_id: t for t in trials}
    seeds = tuple(sorted({r.seed for r in records}))
    runs: dict[int, dict[int, ReevalRecord]] = {}
    for r in records:
        runs.setdefault(r.trial_id, {})[r.seed] = r
    rows = []
    for trial_id, per_seed in runs.items():
        found = [per_seed.get(s) for s in seeds]
        values = tuple(r.value if r is not None and r.ok else None for r in found)
        reasons = tuple(NOT_RUN if r is None else (None if r.ok else r.reason or r.status) for r in found)
        trial = by_id.get(trial_id)
        rows.append(ReevalRow(
            trial_id,
            dict(trial.config) if trial is not None else {},
            trial.value if trial is not None else None,
            values,
            *_stats([v for v in values if v is not None]),
            reasons,
        ))
    sign = -1.0 if mode == "max" else 1.0
    rows.sort(key=lambda r: (r.mean is None, sign * (r.mean or 0.0), r.trial_id))
    with_value = [r for r in rows if r.mean is not None]
    most = max((sum(v is not None for v in r.values) for r in with_value), default=0)
    recommended = next((r for r in with_value if sum(v is not None for v in r.values) == most), None)
    return Reevaluation(metric, mode, seeds, tuple(rows), recommended, incumbent_id)
