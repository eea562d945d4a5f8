"""Sequential black-box optimization runs: ours (GP-LogEI) against Optuna, SMAC3, HEBO, Syne Tune and random search.

Peers: SMAC3's HPO facade (Lindauer et al., JMLR 2022) runs in-process
(:mod:`benchmarks.peers.smac_hpo`); HEBO (Cowen-Rivers et al., JAIR 2022) and Syne Tune's GP
BO (Salinas et al., AutoML 2022) need ``numpy<1.27`` and run in ``.venv-peers`` behind an
ask/tell pipe (:mod:`benchmarks.peers._pipe`).
"""

from __future__ import annotations

import time
import warnings
from typing import Any

METHODS = ("hpo-gp-logei", "optuna-gp", "optuna-tpe", "random", "smac-hpo", "hebo", "synetune-bo")
#: Methods that run in the peers' environment, and the module each needs there.
PEER_MODULES = {"hebo": "hebo", "synetune-bo": "syne_tune"}


def unavailable(method: str) -> str | None:
    """Why ``method`` cannot run here (its library is missing), or None."""
    if method == "smac-hpo":
        import importlib.util

        return None if importlib.util.find_spec("smac") else "`smac` is not installed (`pip install smac`)"
    if method in PEER_MODULES:
        from benchmarks.peers import peer_unavailable

        return peer_unavailable(PEER_MODULES[method])
    return None


def _done(trial_id: int, config: dict[str, Any], value: float) -> Any:
    """A COMPLETED observation of ``value`` (the benchmark's metric, minimized)."""
    from hpo.trial import Observation, TrialStatus

    return Observation(trial_id, config, TrialStatus.COMPLETED, 1.0, {"value": value}, 0.0, (value,))


def optuna_run(problem: Any, method: str, seed: int, evals: int) -> tuple[list[float], list[float]]:
    """An ask-and-tell Optuna run on the problem's define-by-run ``suggest``: values and seconds per ask.

    ``"optuna-gp"``: GPSampler; ``"optuna-tpe"``: multivariate TPE; ``"optuna-tpe-group"``:
    multivariate TPE with ``group=True`` (conditional spaces); ``"optuna-random"``:
    RandomSampler; ``"hpo-sampler"``: our :class:`hpo.integrations.optuna.HPOSampler`.
    """
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    if method == "hpo-sampler":
        from hpo.integrations.optuna import HPOSampler

        sampler: Any = HPOSampler(seed=seed)
    elif method == "optuna-gp":
        sampler = optuna.samplers.GPSampler(seed=seed)
    elif method == "optuna-tpe-group":
        sampler = optuna.samplers.TPESampler(seed=seed, multivariate=True, group=True)
    elif method == "optuna-random":
        sampler = optuna.samplers.RandomSampler(seed=seed)
    elif method == "optuna-tpe":
        sampler = optuna.samplers.TPESampler(seed=seed, multivariate=True)
    else:
        raise ValueError(f"unknown Optuna method {method!r}")
    study = optuna.create_study(sampler=sampler)
    values: list[float] = []
    times: list[float] = []
    for _ in range(evals):
        t0 = time.perf_counter()
        trial = study.ask()
        config = problem.suggest(trial)
        times.append(time.perf_counter() - t0)
        value = problem.evaluate(config)
        values.append(value)
        study.tell(trial, value)
    return values, times


def run_one(problem_key: str, method: str, seed: int, evals: int) -> dict[str, Any]:
    """One optimization run; returns per-evaluation values, regrets and suggestion times."""
    import torch

    from benchmarks.problems import problems

    torch.set_num_threads(1)
    warnings.simplefilter("ignore")
    problem = problems()[problem_key]()
    values: list[float] = []
    times: list[float] = []
    # variants for ablations: "hpo-gp-logei:<warp>[:<min_noise>[:<lengthscale prior>]]", e.g.
    # "hpo-gp-logei:none" or "hpo-gp-logei:auto::dimscaled"
    base, _, variant = method.partition(":")
    warp, _, rest = variant.partition(":")
    min_noise, _, ls_prior = rest.partition(":")
    if base in ("hpo-gp-logei", "random"):
        from hpo.searchers import BOSearcher, RandomSearcher
        from hpo.surrogates.gp import GPSurrogate

        searcher = (
            BOSearcher(
                problem.space,
                seed=seed,
                warp=warp or "auto",
                surrogate=GPSurrogate(seed=seed, **({"min_noise": float(min_noise)} if min_noise else {}),
                                      **({"lengthscale_prior": ls_prior} if ls_prior else {})),
            )
            if base == "hpo-gp-logei"
            else RandomSearcher(problem.space, seed)
        )
        searcher.set_objective("value", "min")
        for i in range(evals):
            t0 = time.perf_counter()
            (config,) = searcher.suggest(1)
            times.append(time.perf_counter() - t0)
            value = problem.evaluate(config)
            values.append(value)
            searcher.observe([_done(i + 1, config, value)])
    elif method == "smac-hpo":
        from benchmarks.peers.smac_hpo import smac_run

        values, times = smac_run(problem, seed, evals)
    elif method in PEER_MODULES:
        from benchmarks.peers._pipe import peer_bo_run

        values, times = peer_bo_run(problem, method, seed, evals)
    else:
        values, times = optuna_run(problem, method, seed, evals)
    best = float("inf")
    regret = []
    for v in values:
        best = min(best, v)
        regret.append(best - problem.optimum)
    return {"problem": problem_key, "name": problem.name, "kind": problem.kind, "method": method, "seed": seed,
            "regret": regret, "times": times}


def _optuna_distributions(space: Any) -> dict[str, Any] | None:
    """Optuna distributions of a flat space (None for a conditional one: GPSampler is skipped)."""
    import optuna

    from hpo.search_spaces import Categorical, Float, Int

    out: dict[str, Any] = {}
    for name, p in space.params.items():
        if isinstance(p, Float):
            out[name] = optuna.distributions.FloatDistribution(p.low, p.high, log=p.log)
        elif isinstance(p, Int):
            out[name] = optuna.distributions.IntDistribution(p.low, p.high, log=p.log)
        elif isinstance(p, Categorical):
            out[name] = optuna.distributions.CategoricalDistribution(list(p.choices))
        else:
            return None
    return out


def overhead(sizes: list[int], repeats: int = 5, seed: int = 0, problem: str = "hartmann6") -> list[dict[str, Any]]:
    """Time per suggestion with ``n`` observations already made, ours (default BO) vs GPSampler.

    For each ``n``: load ``n`` random observations of ``problem`` (a key of
    :func:`benchmarks.problems.problems`), make one suggestion (``first``: includes the cold
    hyperparameter fit), then ``repeats`` more suggestions, each after one new observation
    (``steady``: the median of those). GPSampler is timed on flat spaces only.
    """
    import numpy as np
    import optuna

    from benchmarks.problems import problems
    from hpo.searchers import BOSearcher

    warnings.simplefilter("ignore")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    prob = problems()[problem]()
    space = prob.space
    dists = _optuna_distributions(space)
    out = []
    for n in sizes:
        rng = np.random.default_rng(seed)
        configs = space.sample(rng, n)
        values = [prob.evaluate(c) for c in configs]
        # ours
        searcher = BOSearcher(space, seed=seed)
        searcher.set_objective("value", "min")
        # replayed as a resumed study's history: the initial design counts as handed out
        searcher.replay([_done(i + 1, c, v) for i, (c, v) in enumerate(zip(configs, values, strict=True))])
        ours = []
        for r in range(repeats + 1):
            t0 = time.perf_counter()
            (config,) = searcher.suggest(1)
            ours.append(time.perf_counter() - t0)
            searcher.observe([_done(n + r + 1, config, prob.evaluate(config))])
        row: dict[str, Any] = {"n": n, "problem": problem, "hpo_first": ours[0], "hpo_steady": float(np.median(ours[1:])),
                               "hpo_all": ours}
        if dists is not None:  # Optuna GPSampler (with greenlet)
            study = optuna.create_study(sampler=optuna.samplers.GPSampler(seed=seed))
            study.add_trials([optuna.trial.create_trial(params=dict(c), distributions=dists, value=v)
                              for c, v in zip(configs, values, strict=True)])
            theirs = []
            for _ in range(repeats + 1):
                t0 = time.perf_counter()
                trial = study.ask(dists)
                theirs.append(time.perf_counter() - t0)
                study.tell(trial, prob.evaluate(trial.params))
            row.update({"gp_first": theirs[0], "gp_steady": float(np.median(theirs[1:])), "gp_all": theirs})
        out.append(row)
    return out
