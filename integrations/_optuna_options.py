"""``HPOSampler`` on define-by-run conditional spaces: a selector's value by per-option models.

In a define-by-run space such as ``learner = trial.suggest_categorical(...)`` followed by
that learner's own parameters, the group that holds ``learner`` decides which other
parameters a trial has. Modelling that group on its own (a GP over one categorical)
predicts each learner's *mean* config; on the live CASH task our ``BOSearcher`` did that
and sent 58-61 of 100 diabetes evaluations to ridge regression, flat at 0.4896, because ridge
had the best mean (``benchmarks/results/cash.md``). So, as in
:mod:`hpo.searchers._bo_branches`, each value of such a *selector* gets its own model of
the trials that took it (on the parameters every one of them has), the targets are warped
together, and the value whose model has the best LogEI against the global incumbent (a
posterior draw for ``acquisition="ts"``) is chosen. A value tried fewer than
``min(d_option + 1, n_startup)`` times is chosen first. Running trials are not used here.

Reference: Jenatton et al., "Bayesian Optimization with Tree-structured Dependencies",
ICML 2017 (a model per leaf); Optuna's TPE ``group=True`` (the groups).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from optuna.distributions import BaseDistribution, CategoricalDistribution

__all__ = ["find_selector", "pick_option"]


def find_selector(params: Sequence[Mapping[str, Any]], group: Sequence[str],
                  dists: Mapping[str, BaseDistribution]) -> str | None:
    """The categorical parameter of ``group`` whose value decides which other parameters a trial has.

    Args:
        params: Each observed trial's ``{name: value}``.
        group: The names of one group of co-occurring parameters.
        dists: ``{name: distribution}`` of the group's parameters.

    Returns:
        The first categorical of the group for which trials with different values hold
        different sets of parameters outside the group, or None.
    """
    for name in group:
        if not isinstance(dists.get(name), CategoricalDistribution):
            continue
        rest: dict[Any, set[str]] = {}
        for p in params:
            if all(n in p for n in group):
                rest.setdefault(p[name], set()).update(set(p) - set(group))
        if len({frozenset(names) for names in rest.values()}) >= 2:
            return name
    return None


def pick_option(
    observed: Sequence[tuple[Mapping[str, Any], Mapping[str, BaseDistribution], float]],
    selector: str,
    choices: Sequence[Any],
    n_startup: int,
    models: dict[Any, Any],
    make_model: Any,
    rng: Any,
    acquisition: str,
) -> Any:
    """The selector's value for the next trial (module docstring).

    Args:
        observed: ``(params, distributions, target)`` of every observed trial holding the
            selector; targets are maximized.
        selector: The selector's name.
        choices: Its possible values.
        n_startup: Most observations a value needs before its model is used.
        models: Value -> surrogate, kept between calls (warm starts); filled here.
        make_model: Callable returning a fresh surrogate for a value.
        rng: The sampler's generator.
        acquisition: ``"ts"`` or an EI-type acquisition.
    """
    import numpy as np

    from hpo.integrations.optuna import _to_param
    from hpo.search_spaces import SearchSpace
    from hpo.searchers._bo_branches import score_option
    from hpo.searchers._bo_propose import cat_dims
    from hpo.searchers._warp import warp_targets

    z = warp_targets(np.asarray([y for _, _, y in observed], dtype=float), "auto")[0]
    best = float(z.max())
    rows: dict[Any, list[int]] = {v: [i for i, (p, _, _) in enumerate(observed) if p[selector] == v] for v in choices}
    names: dict[Any, list[str]] = {}
    short: dict[Any, int] = {}
    for v, idx in rows.items():
        common = set.intersection(*(set(observed[i][0]) for i in idx)) - {selector} if idx else set()
        names[v] = sorted(n for n in common if n in observed[idx[0]][1] and not observed[idx[0]][1][n].single())
        need = max(2, min(len(names[v]) + 1, n_startup)) if names[v] or not idx else 1
        short[v] = need - len(idx)
    if max(short.values()) > 0:  # a value too little known to be modelled is tried first
        return max(choices, key=lambda v: short[v])
    scores = {}
    for v, idx in rows.items():
        if not names[v]:  # no parameter of its own left to search: its one config is known
            scores[v] = float("-inf")
            continue
        dists = observed[idx[0]][1]
        space = SearchSpace({n: _to_param(dists[n]) for n in names[v]})
        x = space.encode([{n: observed[i][0][n] for n in names[v]} for i in idx])
        z_v = z[idx]
        model = models.setdefault(v, make_model())
        scores[v] = score_option(model, x, z_v, cat_dims(space), x[int(np.argmax(z_v))], np.ones(space.d, dtype=bool),
                                 best, rng, acquisition)
    return max(choices, key=lambda v: scores[v])
