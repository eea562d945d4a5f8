"""Ablation (issue 16): how ``BOSearcher``'s decomposed conditional BO picks the top-level option.

Until 2026-12-04 the default scored each option by the best LogEI inside it against the
global incumbent (``branch_choice="ei"``,
:meth:`hpo.searchers._bo_branches.Branches._option_score`); now it is ``top-ts``. This
script picks the rule for one run of ``benchmarks.bo.run_one`` on a problem, and prints one
JSON line per seed (the ``benchmarks.run bo`` raw format):

* ``ei``: ``branch_choice="ei"``;
* ``ts``: the maximum of one joint posterior draw over the option's candidates (Thompson
  sampling over the tree, as Nguyen et al., "Bayesian Optimization for Categorical and
  Category-Specific Continuous Inputs", AAAI 2020, choose a category);
* ``ucb``: the best ``mu + sqrt(beta_t) sigma`` with ``beta_t = 0.2 d log(2t)`` (Kandasamy
  et al., "High Dimensional Bayesian Optimisation and Bandits via Additive Models", ICML
  2015; ``d``: the option's parameters, ``t``: observations so far).

* ``uniform-floor``: the ``ei`` score, but every trial the floor forces into a starved
  option is drawn uniformly inside it instead of by BO there (a random fraction where the
  stuck seeds fail).

* ``top-ts`` (the default now, ``branch_choice="top-ts"``): once every option can be modelled,
  pick the option by Thompson sampling on
  how often it lands among the best trials: Beta(1 + a, 1 + b), with ``a`` of the option's
  trials among the top ``gamma(n) = min(ceil(0.1 n), 25)`` of all ``n`` (Optuna's TPE
  split) and ``b`` the rest of its trials. A rank-based choice, as TPE's categorical
  ``l(x) / g(x)`` is (Bergstra et al., NeurIPS 2011), not one on the options' GP scales;
  the search inside the option stays the GP's. (The session of 2026-12-04 first ran it as a
  stand-alone patch here, which drew each option's uniform config twice when an option was
  short: the same rule on another random stream; raw ``robustness/conditional_top_ts_patch_raw.json``.)

``FLOOR`` (optional) sets ``BOSearcher(branch_floor=...)`` for the run (default 0.5): how much
a larger exploration floor per option changes the sticking. ``EVALS`` (optional, default 100):
evaluations per run.

Usage::

    python -m benchmarks.option_rule_ablation RULE[,METHOD[,FLOOR[,EVALS]]] SEED... > raw.jsonl
"""

from __future__ import annotations

import json
import math
import sys
import time
from typing import Any


def _patch(rule: str) -> None:
    import hpo.acquisition as acquisition
    from hpo.searchers import _bo_branches

    original = _bo_branches.Branches._option_score

    def score(self: Any, branch: Any, x_b: Any, z_b: Any, best: float, inc_b: Any) -> float:
        if rule == "ts":
            saved, self.acquisition = self.acquisition, "ts"
            try:
                return original(self, branch, x_b, z_b, best, inc_b)
            finally:
                self.acquisition = saved
        n = sum(len(r) for r in self._by_fidelity.values())
        d = max(1, int(self.space.active_mask(self.decode_from_model(x_b)).any(axis=0).sum()) - 1)
        log_ei = acquisition.LogEI
        acquisition.LogEI = lambda model, best_f: acquisition.UCB(model, beta=0.2 * d * math.log(2 * max(n, 1)))
        try:
            return original(self, branch, x_b, z_b, best, inc_b)
        finally:
            acquisition.LogEI = log_ei

    _bo_branches.Branches._option_score = score


def _uniform_floor() -> None:
    """Draw every floor-forced trial uniformly inside its starved option (``uniform-floor``)."""
    from hpo.searchers import _bo_branches

    starved, in_branch = _bo_branches.Branches.starved_branch, _bo_branches.Branches._suggest_in_branch

    def record(self: Any, extra: Any = ()) -> Any:
        self._forced = starved(self, extra)
        return self._forced

    def suggest(self: Any, branch: Any, *args: Any, **kwargs: Any) -> Any:
        if getattr(self, "_forced", None) == branch:
            return self.draw_in_branch(branch)
        return in_branch(self, branch, *args, **kwargs)

    _bo_branches.Branches.starved_branch = record
    _bo_branches.Branches._suggest_in_branch = suggest


def _set_defaults(**settings: Any) -> None:
    """Make every ``BOSearcher`` and ``HPOSampler`` built from here on default to ``settings``.

    Both, since ``HPOSampler`` passes ``branch_floor`` and ``branch_choice`` to its searcher
    explicitly (a default set on ``BOSearcher`` alone would not reach the sampler's runs).
    """
    import functools

    from hpo.integrations.optuna import HPOSampler
    from hpo.searchers import bo

    bo.BOSearcher.__init__ = functools.partialmethod(bo.BOSearcher.__init__, **settings)  # type: ignore[method-assign]
    HPOSampler.__init__ = functools.partialmethod(HPOSampler.__init__, **settings)  # type: ignore[method-assign]


def main(argv: list[str]) -> None:
    from benchmarks.bo import run_one

    rule, method, floor, evals = (argv[0].split(",") + ["", "", ""])[:4]
    method = method or "hpo-gp-logei"
    if rule not in ("ei", "ts", "ucb", "uniform-floor", "top-ts"):
        raise SystemExit(f"unknown rule {rule!r}: ei, ts, ucb, uniform-floor or top-ts")
    if rule == "uniform-floor":
        _uniform_floor()
    if rule != "top-ts":  # the other rules replace or change the option score of "ei"
        _set_defaults(branch_choice="ei")
    elif rule != "ei":
        _patch(rule)
    if floor:
        _set_defaults(branch_floor=float(floor))
    for seed in map(int, argv[1:]):
        t0 = time.time()
        run = run_one("conditional", method, seed, int(evals or 100))
        run["method"] = f"{method} (option by {rule}" + (f", branch_floor {float(floor)})" if floor else ")")
        print(json.dumps(run), flush=True)
        print(seed, run["regret"][min(59, len(run["regret"]) - 1)], run["regret"][-1], round(time.time() - t0), file=sys.stderr, flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
