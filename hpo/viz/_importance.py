"""The report's parameter-importance section: fANOVA over the COMPLETED trials.

The trials go into an in-memory Optuna study (``optuna.trial.create_trial``, with the
distributions of :func:`hpo.integrations.optuna.to_distributions`), and
``optuna.importance.FanovaImportanceEvaluator`` (Hutter, Hoos & Leyton-Brown, "An Efficient
Approach for Assessing Hyperparameter Importance", ICML 2014) splits the variance of the
first objective among the parameters. Optuna is imported here only, when a report is made.

fANOVA's cost grows faster than linearly with the trials (Optuna's 64 trees took about 1 s
of CPU for 100 trials, 4.4 s for 300 and 100 s for 1,000 here), so past
:data:`MAX_TRIALS` it is fitted on a uniform random sample of that many trials (seed 0),
and the page says so: the variance decomposition is an average over the space, which a
uniform sample estimates without bias.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

from hpo.trial import Trial, TrialStatus, finite
from hpo.viz._data import Section, StudyData
from hpo.viz._figures import layout

__all__ = ["importance_section", "MIN_TRIALS", "MAX_TRIALS"]

#: COMPLETED trials needed before importances are computed.
MIN_TRIALS = 5
#: Most trials fANOVA is fitted on; beyond, a uniform random sample (seed 0).
MAX_TRIALS = 100

METHOD = (
    "fANOVA (optuna.importance.FanovaImportanceEvaluator, a random forest of 64 trees, seed 0; "
    "Hutter et al., ICML 2014)"
)


def _inferred(trials: Sequence[Trial]) -> dict[str, Any]:
    """Distributions read off the configs, for a result without its search space."""
    from optuna.distributions import CategoricalDistribution, FloatDistribution

    out: dict[str, Any] = {}
    for name in {k for t in trials for k in t.config}:
        values = [t.config[name] for t in trials if name in t.config]
        numbers = [finite(v) for v in values]
        if all(v is not None for v in numbers):
            lo, hi = min(numbers), max(numbers)  # type: ignore[type-var]
            if hi > lo:  # type: ignore[operator]
                out[name] = FloatDistribution(float(lo), float(hi))  # type: ignore[arg-type]
        elif all(isinstance(v, (str, int, float, bool)) or v is None for v in values):
            out[name] = CategoricalDistribution(sorted(set(values), key=repr))
    return out


def _distributions(data: StudyData, trials: Sequence[Trial]) -> dict[str, Any]:
    if data.space is None:
        return _inferred(trials)
    from hpo.integrations.optuna import to_distributions

    return to_distributions(data.space)


def _importances(data: StudyData, done: Sequence[Trial]) -> tuple[dict[str, float], list[str]]:
    """``({param: importance}, notes)`` for the first objective."""
    import optuna
    from optuna.importance import FanovaImportanceEvaluator, get_param_importances

    notes = []
    dists = _distributions(data, done)
    common = set.intersection(*(set(t.config) for t in done))
    used = {n: d for n, d in dists.items() if n in common and not d.single()}
    dropped = sorted(n for n in dists if n not in common)
    if dropped:
        notes.append(
            "Conditional space: only the parameters present in every COMPLETED trial are used; left out: "
            + ", ".join(dropped) + "."
        )
    if not used:
        return {}, [*notes, "No parameter varies across every COMPLETED trial."]
    frozen, skipped = [], 0
    for t in done:
        params = {n: (int(t.config[n]) if isinstance(d, optuna.distributions.IntDistribution) else t.config[n])
                  for n, d in used.items()}
        try:
            frozen.append(optuna.trial.create_trial(params=params, distributions=used, value=float(t.value)))  # type: ignore[arg-type]
        except (ValueError, TypeError):
            skipped += 1  # a config outside the stored space
    if skipped:
        notes.append(f"{skipped} trial(s) whose config lies outside the search space were left out.")
    if len(frozen) < MIN_TRIALS:
        return {}, [*notes, _not_enough(len(frozen))]
    old = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)  # no "study created" line; restored below
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            study = optuna.create_study(direction="maximize" if data.mode == "max" else "minimize")
            study.add_trials(frozen)
            found = get_param_importances(study, evaluator=FanovaImportanceEvaluator(seed=0), normalize=True)
    finally:
        optuna.logging.set_verbosity(old)
    return {k: float(v) for k, v in found.items()}, notes


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
        head += (f" fANOVA is fitted on a uniform random sample of {MAX_TRIALS} of these {len(done)} trials "
                 "(seed 0): its cost grows faster than linearly with the trials.")
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
