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
    import torch

    from hpo.surrogates.lcpfn import LCPFN
    from hpo.surrogates.lcpfn.prior import CurvePrior

    torch.set_num_threads(getattr(args, "threads", 1))  # MCMC runs on one core; so does LC-PFN here
    pfn = LCPFN.load(args.weights) if args.weights else LCPFN.load()
    settings = {"steps": args.mcmc_steps, "burn": args.mcmc_burn, "walkers": args.mcmc_walkers}
    rng = np.random.default_rng(12345)  # training used another seed
    sig = last_value_sigmas(np.random.default_rng(777))
    results: dict[str, Any] = {"weights": pfn.meta, "mcmc": {**settings, "curves": args.mcmc_curves}, "prior": {}, "real": {}}
    old = json.loads(Path(args.reuse_mcmc).read_text()) if getattr(args, "reuse_mcmc", None) else None
    if old is not None:
        results["mcmc"] = {**old["mcmc"], "reused_from": str(args.reuse_mcmc)}
        settings = {k: old["mcmc"][k] for k in ("steps", "burn", "walkers")}
    prior = list(CurvePrior().sample(args.prior_curves, rng))
    for c in CUTOFFS:
        results["prior"][c] = evaluate_set(prior, [c] * len(prior), pfn, [sig[c]] * len(prior), set(range(args.mcmc_curves)),
                                           settings, old["prior"][str(c)] if old else None)  # fmt: skip
        print(f"[lcpfn-eval] prior cutoff {c}: " + json.dumps({m: float(np.mean(v['ll'])) if v['ll'] else None
                                                                for m, v in results["prior"][c].items()}), flush=True)  # fmt: skip
    for name, curves in real_curves(Path(args.curves)).items():
        results["real"][name] = {}
        pick = set(np.random.default_rng(1).choice(len(curves), min(args.mcmc_real, len(curves)), replace=False).tolist())
        for c in CUTOFFS:
            cuts = [max(1, int(round(len(curve) * c / 100))) for curve in curves]
            results["real"][name][c] = evaluate_set(curves, cuts, pfn, [sig[c]] * len(curves), pick, settings,
                                                    old["real"][name][str(c)] if old else None)  # fmt: skip
            print(f"[lcpfn-eval] {name} cutoff {c}%: done", flush=True)
    return results


def report(results: dict[str, Any], command: str) -> str:
    def stat(values: list[float], fmt: str = "{:.3f}") -> str:
        if not values:
            return "-"
        q1, med, q3 = np.percentile(values, [25, 50, 75])
        return f"{fmt.format(np.mean(values))} (median {fmt.format(med)})"

    w = results["weights"]
    m = results["mcmc"]
    lines = [
        "# LC-PFN: learning-curve extrapolation against MCMC (Domhan et al. 2015) and last value",
        "",
        f"Command: `{command}`  ",
        f"Weights: `{w.get('version')}`, {w.get('parameters', '?'):,} parameters, trained {w.get('train_seconds', 0) / 60:.0f} min "
        f"on {w.get('curves_seen', 0):,} prior curves, final training loss {w.get('final_loss')}; training command `{w.get('command')}`.  ",
        f"MCMC: {m['walkers']} walkers, {m['steps']} steps, {m['burn']} burn-in, on the first {m['curves']} prior curves "
        "and a random subset of the real curves (see the n column)."
        + (f" MCMC numbers reused from `{Path(m['reused_from']).name}` (the full run, same curves and settings); "
           "LC-PFN measured anew." if m.get("reused_from") else ""),
        "LC-PFN time: one batched forward pass over all curves of a cutoff (1 thread) that gives the whole predictive "
        "distribution after the cutoff (log densities and means); MCMC time: fit plus the same predictions, per curve.",
        "",
        "Mean log-likelihood per later point (higher is better); MSE of the final value (lower is better); "
        "inference seconds per curve.",
        "",
    ]
    lines += _summary(results)
    for label, block in [("Prior curves (held out)", {"prior": results["prior"]})] + [
        (f"Real curves: {name}", {name: v}) for name, v in results["real"].items()
    ]:
        lines += [f"## {label}", "", "| cutoff | method | n | log-lik | final MSE | seconds/curve |", "|---|---|---|---|---|---|"]
        for _, cuts in block.items():
            for c, methods in cuts.items():
                for method, v in methods.items():
                    if not v["ll"]:
                        continue
                    lines.append(
                        f"| {c}{'' if label.startswith('Prior') else '%'} | {method} | {len(v['ll'])} | {np.mean(v['ll']):.3f} | "
                        f"{np.mean(v['se']):.2e} | {np.mean(v['seconds']):.2e} |"
                    )
        lines.append("")
    return "\n".join(lines)


def _summary(results: dict[str, Any]) -> list[str]:
    """The acceptance checks: LC-PFN vs MCMC on the same prior curves; LC-PFN vs last value on real curves."""
    lines = ["## Summary", "", "### Prior curves: LC-PFN against MCMC on the same curves", "",
             "| cutoff | n | LC-PFN log-lik | MCMC log-lik | difference | LC-PFN final MSE | MCMC final MSE | "
             "LC-PFN s/curve | MCMC s/curve | speed-up |", "|---|---|---|---|---|---|---|---|---|---|"]  # fmt: skip
    for c, methods in results["prior"].items():
        a, b = methods["lcpfn on the MCMC curves"], methods["mcmc"]
        if not b["ll"]:
            continue
        la, lb = float(np.mean(a["ll"])), float(np.mean(b["ll"]))
        ta, tb = float(np.mean(a["seconds"])), float(np.mean(b["seconds"]))
        lines.append(f"| {c} | {len(b['ll'])} | {la:.3f} | {lb:.3f} | {la - lb:+.3f} {'(LC-PFN ahead)' if la >= lb else '(short)'} | "
                     f"{np.mean(a['se']):.2e} | {np.mean(b['se']):.2e} | {ta:.1e} | {tb:.2f} | {tb / ta:,.0f}x |")  # fmt: skip
    lines += ["", "### Real curves: final-value MSE, LC-PFN against last value (all curves) and MCMC (its subset)", "",
              "| curves | cutoff | n | LC-PFN MSE | last-value MSE | LC-PFN better | LC-PFN log-lik | last-value log-lik | "
              "MCMC n | LC-PFN MSE (MCMC subset) | MCMC MSE | LC-PFN log-lik (subset) | MCMC log-lik |",
              "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]  # fmt: skip
    for name, cuts in results["real"].items():
        for c, m in cuts.items():
            pf, lv, sub, mc = m["lcpfn"], m["last"], m["lcpfn on the MCMC curves"], m["mcmc"]
            better = np.mean(pf["se"]) < np.mean(lv["se"])
            lines.append(f"| {name} | {c}% | {len(pf['se'])} | {np.mean(pf['se']):.2e} | {np.mean(lv['se']):.2e} | "
                         f"{'yes' if better else 'no'} | {np.mean(pf['ll']):.3f} | {np.mean(lv['ll']):.3f} | {len(mc['se'])} | "
                         f"{np.mean(sub['se']):.2e} | {np.mean(mc['se']):.2e} | {np.mean(sub['ll']):.3f} | {np.mean(mc['ll']):.3f} |")  # fmt: skip
    return [*lines, ""]
