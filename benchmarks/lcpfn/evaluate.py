"""LC-PFN against Domhan et al.'s MCMC model and a last-value baseline, on prior and real curves.

For each curve and cutoff ``c`` (the first ``c`` points observed): the mean log
predictive density of the later points, the squared error of the predicted final value
(the predictive mean), and the inference time per curve.

* Prior curves: held-out draws from the prior (another seed than training), 100 epochs,
  cutoffs 10/20/40/80.
* Real curves: every curve in ``benchdata/curves/*.npz`` (NaN padding removed), cutoffs at
  10/20/40/80 % of each curve's length, epochs re-indexed 1..T.
* Last value: ``N(last observed value, s_c^2)``, with ``s_c`` fitted per cutoff on other
  prior curves (never on the test curves).
* MCMC runs on a subset (``--mcmc-curves``) for time; the table says how many.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np

CUTOFFS = (10, 20, 40, 80)


def last_value_sigmas(rng: np.random.Generator, n: int = 2000) -> dict[int, float]:
    """Per-cutoff spread of the later points around the last observed value, on prior curves."""
    from hpo.surrogates.lcpfn.prior import CurvePrior

    curves = CurvePrior().sample(n, rng)
    return {c: float(np.sqrt(np.mean((curves[:, c:] - curves[:, c - 1 : c]) ** 2))) for c in CUTOFFS}


def cut_points(curves: list[np.ndarray], percent: float) -> list[int]:
    """Each curve's cutoff: ``percent`` of its length, rounded, at least one observed epoch."""
    return [max(1, int(round(len(curve) * percent / 100))) for curve in curves]


def _normal_logpdf(y: np.ndarray, mu: np.ndarray, sigma: float) -> np.ndarray:
    return -0.5 * ((y - mu) / sigma) ** 2 - np.log(sigma) - 0.5 * np.log(2 * np.pi)


def evaluate_set(
    curves: list[np.ndarray], cut_points: list[list[int]], pfn: Any, sigmas: list[float], mcmc_index: set[int],
    mcmc_settings: dict[str, int], reuse: dict[str, dict[str, list[float]]] | None = None,
) -> dict[str, dict[str, list[float]]]:  # fmt: skip
    """Metrics per method for one cutoff level (``cut_points[i]`` is curve i's cutoff).

    ``reuse``: this cutoff's results of an earlier run, whose MCMC numbers are kept (MCMC is
    deterministic given its seed and settings, and takes half an hour); LC-PFN is measured anew.
    """
    from benchmarks.lcpfn.mcmc import MCMCCurveModel

    names = ("lcpfn", "mcmc", "lcpfn on the MCMC curves", "last")
    out: dict[str, dict[str, list[float]]] = {m: {"ll": [], "se": [], "seconds": []} for m in names}
    x_obs = [np.arange(1, c + 1, dtype=float) for c in cut_points]
    y_obs = [curve[:c] for curve, c in zip(curves, cut_points, strict=True)]
    x_q = [np.arange(c + 1, len(curve) + 1, dtype=float) for curve, c in zip(curves, cut_points, strict=True)]
    y_q = [curve[c:] for curve, c in zip(curves, cut_points, strict=True)]
    t0 = time.perf_counter()
    ll, mean_paths = pfn.score(x_obs, y_obs, x_q, y_q)  # one forward pass: the whole predictive after the cutoff
    means = [m[-1:] for m in mean_paths]  # the last query epoch is the curve's final one
    per_curve = (time.perf_counter() - t0) / len(curves)
    for i, curve in enumerate(curves):
        out["lcpfn"]["ll"].append(float(np.mean(ll[i])))
        out["lcpfn"]["se"].append(float((means[i][0] - curve[-1]) ** 2))
        out["lcpfn"]["seconds"].append(per_curve)
        out["last"]["ll"].append(float(np.mean(_normal_logpdf(y_q[i], y_obs[i][-1], sigmas[i]))))
        out["last"]["se"].append(float((y_obs[i][-1] - curve[-1]) ** 2))
        out["last"]["seconds"].append(0.0)
        if reuse is not None and i in mcmc_index:
            continue
        if i in mcmc_index:
            t1 = time.perf_counter()
            model = MCMCCurveModel(seed=i, **mcmc_settings).fit(x_obs[i], y_obs[i], len(curve))
            out["mcmc"]["ll"].append(float(np.mean(model.log_likelihood(x_q[i], y_q[i]))))
            out["mcmc"]["se"].append(float((model.mean([float(len(curve))])[0] - curve[-1]) ** 2))
            out["mcmc"]["seconds"].append(time.perf_counter() - t1)
            for key in ("ll", "se", "seconds"):
                out["lcpfn on the MCMC curves"][key].append(out["lcpfn"][key][-1])
    if reuse is not None:
        out["mcmc"] = reuse["mcmc"]
        order = sorted(mcmc_index)
        for key in ("ll", "se", "seconds"):
            out["lcpfn on the MCMC curves"][key] = [out["lcpfn"][key][i] for i in order]
    return out


def real_curves(folder: Path) -> dict[str, list[np.ndarray]]:
    sets: dict[str, list[np.ndarray]] = {}
    for path in sorted(folder.glob("*.npz")):
        data = np.load(path, allow_pickle=False)
        ys = []
        for row in data["y"]:
            row = row[np.isfinite(row)]
            if len(row) >= 10:
                ys.append(row.astype(float)[:100])
        sets[path.stem] = ys
    return sets


def run(args: Any) -> dict[str, Any]:
    """Every variant (``args.variants``, or the one folder ``args.weights``) on the same curves.

    Returns ``{"mcmc": settings, "variants": {name: {"weights", "prior", "prior_mixture", "real",
    "calibration"}}}``. MCMC is fitted once per curve and cutoff (the first variant) and shared.
    """
    import torch

    from hpo.surrogates.lcpfn import LCPFN
    from hpo.surrogates.lcpfn.prior import PRIORS

    torch.set_num_threads(getattr(args, "threads", 1))  # MCMC runs on one core; so does LC-PFN here
    settings = {"steps": args.mcmc_steps, "burn": args.mcmc_burn, "walkers": args.mcmc_walkers}
    sig = last_value_sigmas(np.random.default_rng(777))
    old = json.loads(Path(args.reuse_mcmc).read_text()) if getattr(args, "reuse_mcmc", None) else None
    results: dict[str, Any] = {"mcmc": {**settings, "curves": args.mcmc_curves}, "variants": {}}
    if old is not None:
        results["mcmc"] = {**old["mcmc"], "reused_from": str(args.reuse_mcmc)}
        settings = {k: old["mcmc"][k] for k in ("steps", "burn", "walkers")}
    names = [None] if getattr(args, "weights", None) else list(getattr(args, "variants", None) or ["mixture", "paper"])
    real = real_curves(Path(args.curves))
    for name in names:
        pfn = LCPFN.load(args.weights) if name is None else LCPFN.load(variant=name)
        label = name or str(args.weights)
        res: dict[str, Any] = {"weights": pfn.meta, "real": {}, "calibration": {}}
        for prior in ("paper", "mixture"):
            key = "prior" if prior == "paper" else "prior_mixture"
            rng = np.random.default_rng(12345 if prior == "paper" else 54321)  # training used other seeds
            curves = list(PRIORS[prior]().sample(args.prior_curves, rng))
            res[key] = {}
            for c in CUTOFFS:
                reuse = _earlier(old, key, c)
                res[key][c] = evaluate_set(curves, [c] * len(curves), pfn, [sig[c]] * len(curves),
                                           set(range(min(args.mcmc_curves, len(curves)))), settings, reuse)  # fmt: skip
                print(f"[lcpfn-eval] {label} {key} cutoff {c}: lcpfn ll {np.mean(res[key][c]['lcpfn']['ll']):.3f}", flush=True)
        for set_name, curves in real.items():
            res["real"][set_name] = {}
            pick = set(np.random.default_rng(1).choice(len(curves), min(args.mcmc_real, len(curves)), replace=False).tolist())
            for c in CUTOFFS:
                cuts = cut_points(curves, c)
                res["real"][set_name][c] = evaluate_set(curves, cuts, pfn, [sig[c]] * len(curves), pick, settings,
                                                        _earlier(old, "real", c, set_name))  # fmt: skip
            res["calibration"][set_name] = calibration(pfn, curves, CALIBRATION_CUTOFF)
            res.setdefault("decisions", {})[set_name] = decisions(pfn, curves)
            print(f"[lcpfn-eval] {label} {set_name}: done", flush=True)
        results["variants"][label] = res
        # later variants reuse the MCMC fits made so far (same curves, same settings)
        old = _flat(old) if old is not None else {"mcmc": results["mcmc"]}
        for key in ("prior", "prior_mixture", "real"):
            old.setdefault(key, res[key])
    return results


def _flat(raw: dict[str, Any]) -> dict[str, Any]:
    """A raw file in either format as ``{"mcmc", "prior", "prior_mixture"?, "real"}`` (its first variant)."""
    if "variants" not in raw:
        return dict(raw)
    first = next(iter(raw["variants"].values()))
    return {"mcmc": raw["mcmc"], **{k: v for k, v in first.items() if k in ("prior", "prior_mixture", "real")}}


#: Quantile levels of the calibration check, and the cutoff (% of each curve) it is made at.
CALIBRATION_LEVELS = (0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95)
CALIBRATION_CUTOFF = 40


def calibration(pfn: Any, curves: list[np.ndarray], cutoff: int) -> dict[str, Any]:
    """Observed fraction of final values at or below each predicted quantile of the final value."""
    cuts = cut_points(curves, cutoff)
    x = [np.arange(1, c + 1, dtype=float) for c in cuts]
    q = pfn.predict_quantiles(x, [curve[:c] for curve, c in zip(curves, cuts, strict=True)],
                              [[float(len(curve))] for curve in curves], qs=CALIBRATION_LEVELS)  # fmt: skip
    q = np.stack([row[0] for row in q])  # (n_curves, n_levels): the final epoch's quantiles
    finals = np.array([curve[-1] for curve in curves])
    observed = [float(np.mean(finals <= q[:, j])) for j in range(len(CALIBRATION_LEVELS))]
    inside = float(np.mean((finals >= q[:, 0]) & (finals <= q[:, -1])))
    return {"cutoff": cutoff, "levels": list(CALIBRATION_LEVELS), "observed": observed, "coverage_90": inside, "n": len(curves),
            "recalibrated": recalibrated_coverage(pfn, curves, cuts)}  # fmt: skip


#: The recalibration check: finished curves of the same set the map learns from, and random draws of them.
RECAL_CURVES = 20
RECAL_DRAWS = 30


def recalibrated_coverage(pfn: Any, curves: list[np.ndarray], cuts: list[int]) -> dict[str, Any]:
    """Coverage of the 90% interval after recalibrating on ``RECAL_CURVES`` other curves of the set.

    As a study would (``hpo.surrogates.lcpfn.calibration``): the map learns from finished
    curves of the task and is checked on the others, at the cutoff. Per draw, the final is
    inside the recalibrated interval exactly when its PIT ``u = F(final | prefix)`` lies
    between the recalibrated levels ``R^-1(0.05)`` and ``R^-1(0.95)`` (the interval's ends
    are the model's quantiles at those levels), so the model runs once per curve.

    Returns:
        ``{"n_cal", "draws", "coverage": [per draw], "median", "q1", "q3"}``.
    """
    from hpo.surrogates.lcpfn.calibration import Recalibration

    recorded = [Recalibration().observe(pfn, list(zip(range(1, len(c) + 1), c, strict=True)), x_final=len(c)) for c in curves]
    u = np.concatenate([1.0 - pfn.prob_improvement([np.arange(1, k + 1)], [c[:k]], x_final=len(c), threshold=c[-1])
                        for c, k in zip(curves, cuts, strict=True)])  # fmt: skip
    coverage = []
    for draw in range(RECAL_DRAWS):
        order = np.random.default_rng(draw).permutation(len(curves))
        cal = Recalibration()
        for i in order[:RECAL_CURVES]:
            cal.add(recorded[i])
        lo, hi = cal.level([0.05, 0.95])
        rest = u[order[RECAL_CURVES:]]
        coverage.append(float(np.mean((rest >= lo) & (rest <= hi))))
    q1, med, q3 = (float(v) for v in np.quantile(coverage, [0.25, 0.5, 0.75]))
    return {"n_cal": RECAL_CURVES, "draws": RECAL_DRAWS, "coverage": coverage, "median": med, "q1": q1, "q3": q3}


#: Thresholds on P(final beats the bar) below which a run would be stopped, and the bar's quantile.
THRESHOLDS = (0.01, 0.05, 0.1, 0.2)
BAR_QUANTILE = 0.75


def decisions(pfn: Any, curves: list[np.ndarray], cutoffs: tuple[int, ...] = (20, 40)) -> dict[str, Any]:
    """What stopping at ``prob_improvement < threshold`` would do on real curves.

    The bar is the set's 75th percentile of final values (a run worth keeping beats it).
    For each cutoff and threshold: the share of runs stopped, and the share of the runs that
    end above the bar ("winners") that would have been stopped by mistake.
    """
    finals = np.array([curve[-1] for curve in curves])
    bar = float(np.quantile(finals, BAR_QUANTILE))
    winners = finals > bar
    out: dict[str, Any] = {"bar_quantile": BAR_QUANTILE, "bar": bar, "n": len(curves), "n_winners": int(winners.sum()), "rows": []}
    for c in cutoffs:
        cuts = cut_points(curves, c)
        p = np.concatenate([pfn.prob_improvement([np.arange(1, k + 1)], [curve[:k]], x_final=len(curve), threshold=bar)
                            for curve, k in zip(curves, cuts, strict=True)])  # fmt: skip
        for t in THRESHOLDS:
            stop = p < t
            out["rows"].append({"cutoff": c, "threshold": t, "stopped": float(stop.mean()),
                                "winners_stopped": float(stop[winners].mean()) if winners.any() else 0.0})  # fmt: skip
    return out


def _earlier(old: dict[str, Any] | None, key: str, c: int, name: str | None = None) -> Any:
    """This cutoff's block of an earlier run or variant, whose MCMC numbers are kept; None when there is none."""
    if old is None:
        return None
    block = _flat(old).get(key)
    if block is None:
        return None
    if name is not None:
        block = block.get(name)
        if block is None:
            return None
    return block.get(c, block.get(str(c)))
