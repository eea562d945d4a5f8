"""``lcpfn.md`` from the raw results of :func:`benchmarks.lcpfn.evaluate.run`, and the calibration plot.

The acceptance section comes first: the default variant against last value on real curves,
both variants on the paper's prior curves (and MCMC), and the calibration of the 90%
predictive interval. Each variant then gets the full tables.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

CUTOFF_FLOOR = 20  # acceptance: better than last value at every cutoff >= 20%


def _mse(m: dict[str, Any], method: str = "lcpfn") -> float:
    return float(np.mean(m[method]["se"]))


def _ll(m: dict[str, Any], method: str = "lcpfn") -> float:
    """Mean log-likelihood over the curves where it is finite (MCMC can give -inf on a clipped curve)."""
    values = np.asarray(m[method]["ll"], dtype=float)
    return float(np.mean(values[np.isfinite(values)])) if np.isfinite(values).any() else float("nan")


def _bad(m: dict[str, Any], method: str) -> str:
    n = int(np.sum(~np.isfinite(np.asarray(m[method]["ll"], dtype=float))))
    return f" ({n} non-finite left out)" if n else ""


def acceptance(results: dict[str, Any], default: str = "mixture", baseline: str = "paper") -> list[str]:
    """The issue's checks, as tables with a verdict column."""
    variants = results["variants"]
    if default not in variants or baseline not in variants:
        return []
    new, old = variants[default], variants[baseline]
    lines = ["## Acceptance: the default (`mixture`) against last value, the `paper` weights and MCMC", "",
             "### Real curves: final-value MSE", "",
             "| curves | cutoff | n | mixture | paper | last value | mixture < last value | mixture <= paper | check |",
             "|---|---|---|---|---|---|---|---|---|"]  # fmt: skip
    for name, cuts in new["real"].items():
        for c in cuts:
            a, b = cuts[c], old["real"][name][c]  # both variants come from one raw file: same keys
            mn, mp, ml = _mse(a), _mse(b), _mse(a, "last")
            need = "beat last value" if int(c) >= CUTOFF_FLOOR else "no worse than paper"
            ok = mn < ml if int(c) >= CUTOFF_FLOOR else mn <= mp
            lines.append(f"| {name} | {c}% | {len(a['lcpfn']['se'])} | {mn:.2e} | {mp:.2e} | {ml:.2e} | "
                         f"{'yes' if mn < ml else 'no'} | {'yes' if mn <= mp else 'no'} | {need}: **{'met' if ok else 'missed'}** |")  # fmt: skip
    lines += ["", "### Prior curves of the paper's prior: mean log-likelihood per later point", "",
              "| cutoff | n | mixture | paper | mixture - paper (>= -0.1) | MCMC n | mixture on MCMC curves | MCMC | mixture > MCMC |",
              "|---|---|---|---|---|---|---|---|---|"]  # fmt: skip
    for c in new["prior"]:
        a, b = new["prior"][c], old["prior"][c]
        d = _ll(a) - _ll(b)
        sub, mc = _ll(a, "lcpfn on the MCMC curves"), _ll(a, "mcmc")
        lines.append(f"| {c} | {len(a['lcpfn']['ll'])} | {_ll(a):.3f} | {_ll(b):.3f} | {d:+.3f} **{'met' if d >= -0.1 else 'missed'}** | "
                     f"{len(a['mcmc']['ll'])} | {sub:.3f} | {mc:.3f} | {'yes' if sub > mc else 'no'} |")  # fmt: skip
    lines += ["", "### Calibration: the 90% predictive interval of the final value at the "
              f"{_first(new['calibration'])['cutoff']}% cutoff (target: covers 80-95%)", "",
              "`recalibrated`: the default as the stopping rule uses it (`hpo.surrogates.lcpfn.calibration`), recalibrated on "
              "20 other finished curves of the same set (as a study does on its finished runs), checked on the remaining curves; "
              "median [Q1, Q3] over 30 random draws of the 20. The check is made on it; the raw model is shown beside it.", "",
              "| curves | n | mixture recalibrated | mixture raw | paper raw | check (recalibrated median) |", "|---|---|---|---|---|---|"]  # fmt: skip
    for name, cal in new["calibration"].items():
        cov, cov_p = cal["coverage_90"], old["calibration"][name]["coverage_90"]
        rec = cal.get("recalibrated")
        if rec is None:  # a raw file from before recalibration
            lines.append(f"| {name} | {cal['n']} | - | {cov:.1%} | {cov_p:.1%} | **{'met' if 0.8 <= cov <= 0.95 else 'missed'}** (raw) |")
            continue
        ok = 0.8 <= rec["median"] <= 0.95
        lines.append(f"| {name} | {cal['n']} | {rec['median']:.1%} [{rec['q1']:.1%}, {rec['q3']:.1%}] | {cov:.1%} | {cov_p:.1%} | "
                     f"**{'met' if ok else 'missed'}** |")  # fmt: skip
    return [*lines, ""]


def _first(d: dict[str, Any]) -> Any:
    return next(iter(d.values()))


def report(results: dict[str, Any], command: str, plot: str | None = None) -> str:
    m = results["mcmc"]
    lines = [
        "# LC-PFN: learning-curve extrapolation against MCMC (Domhan et al. 2015) and last value",
        "",
        f"Command: `{command}`  ",
        f"MCMC: {m['walkers']} walkers, {m['steps']} steps, {m['burn']} burn-in, on the first {m['curves']} prior curves "
        "of each prior and a random subset of the real curves (see the n column)."
        + (f" MCMC numbers reused from `{Path(m['reused_from']).name}` where it has them (same curves and settings); "
           "LC-PFN measured anew." if m.get("reused_from") else ""),
        "LC-PFN time: one batched forward pass over all curves of a cutoff (1 thread) that gives the whole predictive "
        "distribution after the cutoff (log densities and means); MCMC time: fit plus the same predictions, per curve.",
        "",
        "Mean log-likelihood per later point (higher is better); MSE of the final value (lower is better); "
        "inference seconds per curve. Prior curves: held out, other seeds than training; `paper` = Adriaensen et al.'s "
        "prior, `mixture` = the extended prior (`hpo.surrogates.lcpfn.prior.MixturePrior`).",
        "",
    ]
    lines += acceptance(results)
    if plot:
        lines += [f"![calibration of the final-value quantiles on real curves]({plot})", ""]
    for label, res in results["variants"].items():
        w = res["weights"]
        lines += [
            f"## Variant `{label}`", "",
            f"Weights `{w.get('version')}`, {w.get('parameters', 0):,} parameters, trained {w.get('train_seconds', 0) / 60:.0f} min "
            f"on {w.get('curves_seen', 0):,} curves ({_by_prior(w)}), final training loss {w.get('final_loss')}.  ",
            f"Training command: `{w.get('command')}`", "",
        ]  # fmt: skip
        lines += _summary(res)
        lines += _details(res)
    return "\n".join(lines)


def _by_prior(w: dict[str, Any]) -> str:
    counts = w.get("curves_by_prior") or {"paper": w.get("curves_seen", 0)}
    return ", ".join(f"{n:,} from the {k} prior" for k, n in counts.items())


def _summary(res: dict[str, Any]) -> list[str]:
    lines: list[str] = []
    for key, title in (("prior", "paper's prior"), ("prior_mixture", "mixture prior")):
        if key not in res:
            continue
        lines += [f"### Curves of the {title}: LC-PFN against MCMC on the same curves", "",
                  "| cutoff | n | LC-PFN log-lik | MCMC log-lik | difference | LC-PFN final MSE | MCMC final MSE | "
                  "LC-PFN s/curve | MCMC s/curve | speed-up |", "|---|---|---|---|---|---|---|---|---|---|"]  # fmt: skip
        for c, methods in res[key].items():
            a, b = methods["lcpfn on the MCMC curves"], methods["mcmc"]
            if not b["ll"]:
                continue
            la, lb = _ll(methods, "lcpfn on the MCMC curves"), _ll(methods, "mcmc")
            ta, tb = float(np.mean(a["seconds"])), float(np.mean(b["seconds"]))
            lines.append(f"| {c} | {len(b['ll'])} | {la:.3f} | {lb:.3f}{_bad(methods, 'mcmc')} | {la - lb:+.3f} {'(LC-PFN ahead)' if la >= lb else '(short)'} | "
                         f"{np.mean(a['se']):.2e} | {np.mean(b['se']):.2e} | {ta:.1e} | {tb:.2f} | {tb / max(ta, 1e-12):,.0f}x |")  # fmt: skip
        lines.append("")
    lines += ["### Real curves: final-value MSE, LC-PFN against last value (all curves) and MCMC (its subset)", "",
              "| curves | cutoff | n | LC-PFN MSE | last-value MSE | LC-PFN better | LC-PFN log-lik | last-value log-lik | "
              "MCMC n | LC-PFN MSE (MCMC subset) | MCMC MSE | LC-PFN log-lik (subset) | MCMC log-lik |",
              "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]  # fmt: skip
    for name, cuts in res["real"].items():
        for c, m in cuts.items():
            pf, lv, sub, mc = m["lcpfn"], m["last"], m["lcpfn on the MCMC curves"], m["mcmc"]
            better = np.mean(pf["se"]) < np.mean(lv["se"])
            lines.append(f"| {name} | {c}% | {len(pf['se'])} | {np.mean(pf['se']):.2e} | {np.mean(lv['se']):.2e} | "
                         f"{'yes' if better else 'no'} | {np.mean(pf['ll']):.3f} | {np.mean(lv['ll']):.3f} | {len(mc['se'])} | "
                         f"{np.mean(sub['se']):.2e} | {np.mean(mc['se']):.2e} | {np.mean(sub['ll']):.3f} | {np.mean(mc['ll']):.3f} |")  # fmt: skip
    if res.get("calibration"):
        lines += ["", "### Calibration on real curves (predicted quantile of the final value -> observed share of finals at or below it)", "",
                  "| curves | cutoff | " + " | ".join(f"q={q:g}" for q in _first(res["calibration"])["levels"]) + " | 90% interval coverage |",
                  "|---|---|" + "---|" * (len(_first(res["calibration"])["levels"]) + 1)]  # fmt: skip
        for name, cal in res["calibration"].items():
            lines.append(f"| {name} | {cal['cutoff']}% | " + " | ".join(f"{v:.2f}" for v in cal["observed"]) + f" | {cal['coverage_90']:.1%} |")
    if res.get("decisions"):
        lines += ["", "### Stopping decisions on real curves: stop when P(final > bar) < threshold", "",
                  "Bar: each set's 75th percentile of final values. `stopped`: share of all runs stopped at the cutoff; "
                  "`winners stopped`: share of the runs that end above the bar that would have been stopped (the cost of a mistake).", "",
                  "| curves | cutoff | threshold | stopped | winners stopped |", "|---|---|---|---|---|"]  # fmt: skip
        for name, dec in res["decisions"].items():
            for row in dec["rows"]:
                lines.append(f"| {name} | {row['cutoff']}% | {row['threshold']:g} | {row['stopped']:.1%} | {row['winners_stopped']:.1%} |")
    return [*lines, ""]


def _details(res: dict[str, Any]) -> list[str]:
    lines: list[str] = []
    blocks = [("Prior curves of the paper's prior (held out)", res["prior"], "")]
    if "prior_mixture" in res:
        blocks.append(("Prior curves of the mixture prior (held out)", res["prior_mixture"], ""))
    blocks += [(f"Real curves: {name}", v, "%") for name, v in res["real"].items()]
    for label, cuts, unit in blocks:
        lines += [f"#### {label}", "", "| cutoff | method | n | log-lik | final MSE | seconds/curve |", "|---|---|---|---|---|---|"]
        for c, methods in cuts.items():
            for method, v in methods.items():
                if v["ll"]:
                    lines.append(f"| {c}{unit} | {method} | {len(v['ll'])} | {np.mean(v['ll']):.3f} | "
                                 f"{np.mean(v['se']):.2e} | {np.mean(v['seconds']):.2e} |")  # fmt: skip
        lines.append("")
    return lines


def calibration_plot(results: dict[str, Any], path: Path) -> Path:
    """Predicted quantile level against the observed share of finals below it, per real set and variant."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sets = list(_first(results["variants"])["calibration"])
    fig, axes = plt.subplots(1, len(sets), figsize=(4.2 * len(sets), 4), squeeze=False)
    for ax, name in zip(axes[0], sets, strict=True):
        ax.plot([0, 1], [0, 1], color="grey", lw=1, ls="--", label="perfect")
        for label, res in results["variants"].items():
            cal = res["calibration"][name]
            ax.plot(cal["levels"], cal["observed"], marker="o", label=f"{label} (90% PI covers {cal['coverage_90']:.0%})")
        ax.set_title(f"{name}\ncutoff {cal['cutoff']}%, n={cal['n']}", fontsize=9)
        ax.set_xlabel("predicted quantile level of the final value")
        ax.set_ylabel("observed share of finals at or below it")
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
