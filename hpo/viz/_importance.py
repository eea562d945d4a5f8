"""The report's parameter-importance section: fANOVA over the COMPLETED trials.

fANOVA (Hutter, Hoos & Leyton-Brown, "An Efficient Approach for Assessing Hyperparameter
Importance", ICML 2014) fits a random forest to the first objective and splits its variance
into each parameter's main effect, under the uniform measure on the search space. Here the
forest and the decomposition are :mod:`hpo.viz._fanova` (NumPy only: a report imports
neither scikit-learn nor Optuna, which took about 2 s of CPU on first use when the section
used Optuna's ``FanovaImportanceEvaluator``). The configs are placed in the search space's
unit cube (:meth:`hpo.search_spaces.Param.to_unit`: log-scaled parameters on their log
scale, each choice of a categorical an equal slice, the cube the random searcher samples
uniformly); without a stored space, numbers are scaled to their range and other values are
categories. The bars are the main effects normalized to sum to 1, as Optuna's
``get_param_importances(normalize=True)`` did, and the page says how much of the variance
the main effects explain (the rest is interactions).

Past :data:`MAX_TRIALS` COMPLETED trials the forest is fitted on a uniform random sample of
that many (seed 0), and the page says so: the decomposition is an average over the space,
which a uniform sample estimates without bias, and the forest's cost grows with the trials.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial
from typing import TYPE_CHECKING, Any

from hpo.errors import HPOError
from hpo.trial import Trial, TrialStatus, finite
from hpo.viz._data import Section, StudyData
from hpo.viz._figures import layout

if TYPE_CHECKING:
    from hpo.search_spaces import SearchSpace

__all__ = ["importance_section", "MIN_TRIALS", "MAX_TRIALS"]

#: COMPLETED trials needed before importances are computed.
MIN_TRIALS = 5
#: Most trials the forest is fitted on; beyond, a uniform random sample (seed 0).
MAX_TRIALS = 100

METHOD = (  # the tree count is hpo.viz._fanova.N_TREES (not imported here: it loads NumPy)
    "fANOVA (Hutter, Hoos & Leyton-Brown, ICML 2014): each parameter's main effect in a random forest "
    "of 64 trees (seed 0), over the search space's unit cube (log-scaled parameters on their log scale)"
)

#: ``value -> position in [0, 1]``; raises for a value outside the space.
_Encode = Callable[[Any], float]


def _space_columns(space: SearchSpace) -> tuple[dict[str, _Encode], list[str]]:
    """The varying parameters of ``space`` with their encoders, and every parameter's name."""
    columns: dict[str, _Encode] = {}
    for dim in space.dims:
        param = dim.param
        if dim.n_choices == 1 or (dim.kind != "categorical" and param.high <= param.low):  # type: ignore[attr-defined]
            continue  # a single value explains nothing

        def encode(value: Any, name: str = dim.name, param: Any = param) -> float:
            param.check(name, value)
            return float(param.to_unit(value))

        columns[dim.name] = encode
    return columns, [dim.name for dim in space.dims]


def _inferred_columns(data: StudyData, trials: Sequence[Trial]) -> tuple[dict[str, _Encode], list[str]]:
    """Columns read off the configs, for a result without its search space: numbers scaled
    to their range, any other values as categories (sorted by ``repr``)."""
    columns: dict[str, _Encode] = {}
    names = data.param_names()
    for name in names:
        values = [t.config[name] for t in trials if name in t.config]
        numbers = [finite(v) for v in values]
        present = [v for v in numbers if v is not None]
        if present and len(present) == len(numbers):
            lo, hi = min(present), max(present)
            if hi > lo:
                columns[name] = partial(_scaled, low=lo, high=hi)
        elif all(isinstance(v, (str, int, float, bool)) or v is None for v in values):
            choices = {repr(v): i for i, v in enumerate(sorted(set(values), key=repr))}
            if len(choices) > 1:
                columns[name] = partial(_coded, choices=choices)
    return columns, names


def _scaled(value: Any, low: float, high: float) -> float:
    return (float(value) - low) / (high - low)


def _coded(value: Any, choices: dict[str, int]) -> float:
    return (choices[repr(value)] + 0.5) / len(choices)


def _importances(data: StudyData, done: Sequence[Trial]) -> tuple[dict[str, float], list[str]]:
    """``({param: share}, notes)`` for the first objective."""
    import numpy as np

    from hpo.viz._fanova import fanova

    notes = []
    columns, names = _space_columns(data.space) if data.space is not None else _inferred_columns(data, done)
    common = set.intersection(*(set(t.config) for t in done))
    used = {n: encode for n, encode in columns.items() if n in common}
    dropped = sorted(n for n in names if n not in common)
    if dropped:
        notes.append(
            "Conditional space: only the parameters present in every COMPLETED trial are used; left out: "
            + ", ".join(dropped) + "."
        )
    if not used:
        return {}, [*notes, "No parameter varies across every COMPLETED trial."]
    rows, values, skipped = [], [], 0
    for t in done:
        try:
            rows.append([encode(t.config[n]) for n, encode in used.items()])
        except (HPOError, ValueError, TypeError, KeyError):
            skipped += 1  # a config outside the stored space
            continue
        values.append(float(t.value))  # type: ignore[arg-type]
    if skipped:
        notes.append(f"{skipped} trial(s) whose config lies outside the search space were left out.")
    if len(rows) < MIN_TRIALS:
        return {}, [*notes, _not_enough(len(rows))]
    found = fanova(np.clip(np.array(rows, dtype=float), 0.0, 1.0), np.array(values), np.random.default_rng(0))
    explained = float(found.fractions.sum())
    if found.n_trees == 0 or explained <= 0.0:
        why = "the values do not vary" if found.n_trees == 0 else "no parameter has a main effect"
        return {}, [*notes, f"No importances: {why}."]
    notes.append(
        f"The parameters' main effects explain {100 * explained:.0f}% of the forest's variance (the rest is "
        "interactions between parameters); the bars divide that part among them (normalized to sum to 1)."
    )
    return {n: float(v) / explained for n, v in zip(used, found.fractions, strict=True)}, notes


def _not_enough(n: int) -> str:
    return (
        f"Not enough trials: parameter importance needs at least {MIN_TRIALS} COMPLETED trials with a value "
        f"(full budget); this study has {n}."
    )


def _value_at(data: StudyData, trial: Trial, budget: float) -> float | None:
    """The trial's metric at ``budget``: its last report with ``step < budget``, else its value there."""
    at = [finite(r.metrics.get(data.metric)) for r in data.reports.get(trial.trial_id, ()) if r.step < budget]
    at = [v for v in at if v is not None]
    if at:
        return at[-1]
    return finite(trial.value) if trial.budget == budget else None


def _at_largest_budget(data: StudyData) -> tuple[list[Trial], float] | None:
    """Trials valued at the largest budget that at least MIN_TRIALS of them reached (BOHB's rule).

    Falkner, Klein & Hutter, "BOHB", ICML 2018, fit their model on the largest budget with
    enough observations; a multi-fidelity study has few full-budget trials, so the report does
    the same. None when no budget has enough.
    """
    from dataclasses import replace

    for budget in sorted({t.budget for t in data.trials if t.budget > 0}, reverse=True):
        valued = [(t, _value_at(data, t, budget)) for t in data.trials if t.budget >= budget]
        found = [replace(t, value=v) for t, v in valued if v is not None]
        if len(found) >= MIN_TRIALS:
            return found, budget
    return None


def importance_section(data: StudyData) -> Section:
    """Bar chart of each parameter's share of the first objective's variance (fANOVA)."""
    done = [t for t in data.trials if t.status is TrialStatus.COMPLETED and finite(t.value) is not None]
    head = f"Method: {METHOD}, on the {len(done)} COMPLETED trials' {data.metric} (values at the full budget)."
    if len(done) < MIN_TRIALS and (lower := _at_largest_budget(data)) is not None:
        done, budget = lower
        head = (f"Method: {METHOD}, on {len(done)} trials' {data.metric} at budget {budget:g}: fewer than "
                f"{MIN_TRIALS} trials completed the full budget, so the largest budget that {MIN_TRIALS} "
                "trials reached is used (BOHB's rule, Falkner et al., ICML 2018).")
    if len(done) < MIN_TRIALS:
        return Section("importance", "Parameter importance", notes=(head, _not_enough(len(done))))
    if len(done) > MAX_TRIALS:
        import numpy as np

        picked = np.sort(np.random.default_rng(0).choice(len(done), size=MAX_TRIALS, replace=False))
        head += (f" The forest is fitted on a uniform random sample of {MAX_TRIALS} of these {len(done)} trials "
                 "(seed 0): its cost grows with the trials.")
        done = [done[i] for i in picked]
    try:
        found, notes = _importances(data, done)
    except Exception as exc:  # noqa: BLE001 - an optional section never breaks the page
        return Section(
            "importance",
            "Parameter importance",
            notes=(head, f"Parameter importance could not be computed: {type(exc).__name__}: {exc}"),
        )
    if not found:
        return Section("importance", "Parameter importance", notes=(head, *notes))
    ranked = sorted(found.items(), key=lambda kv: kv[1])
    fig = {
        "data": [
            {
                "type": "bar",
                "orientation": "h",
                "x": [v for _, v in ranked],
                "y": [k for k, _ in ranked],
                "marker": {"color": "#1f77b4"},
                "hovertemplate": "%{y}: %{x:.3f}<extra></extra>",
            }
        ],
        "layout": layout(
            "Parameter importance (fANOVA)", "share of variance (normalized)", "parameter",
            height=max(260, 30 * len(ranked) + 140),
            yaxis={"automargin": True, "title": {"text": "parameter"}},
        ),
    }
    return Section("importance", "Parameter importance", figures=(fig,), notes=(head, *notes))
