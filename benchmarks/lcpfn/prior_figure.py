"""Sample curves of each component of the LC-PFN mixture prior, one panel per component.

    python -m benchmarks.lcpfn.prior_figure [--out benchmarks/results/lcpfn_prior_samples.png] [--per 30]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np


def figure(out: Path, per: int = 30, seed: int = 0) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from hpo.surrogates.lcpfn.prior import MixturePrior

    prior, rng = MixturePrior(), np.random.default_rng(seed)
    cols = 4
    rows = -(-len(prior.weights) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.3 * cols, 3.5 * rows), sharex=True, sharey=True, squeeze=False)
    for ax in axes.ravel()[len(prior.weights):]:
        ax.set_visible(False)
    x = np.arange(1, prior.n_epochs + 1)
    for ax, (name, weight) in zip(axes.ravel(), prior.weights, strict=False):
        for curve in prior.component(name, per, rng):
            ax.plot(x, curve, lw=0.8, alpha=0.7)
        ax.set_title(f"{name} (weight {weight:.2f})")
        ax.set_ylim(-0.05, 1.05)
    for ax in axes[-1]:
        ax.set_xlabel("epoch")
    for ax in axes[:, 0]:
        ax.set_ylabel("normalised metric (rising)")
    fig.suptitle(f"LC-PFN mixture prior: {per} draws per component (hpo.surrogates.lcpfn.prior.MixturePrior, seed {seed})")
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default="benchmarks/results/lcpfn_prior_samples.png")
    p.add_argument("--per", type=int, default=30)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    print(figure(Path(args.out), args.per, args.seed))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
