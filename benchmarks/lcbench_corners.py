"""How much of LCBench's best values lie at the corners of its box, where the surrogate extrapolates.

The LCBench benchmark here is a surrogate (an ONNX network, ``benchmarks/data``) fitted on
LCBench's learning curves, which were recorded for 2,000 configs per task drawn at random
inside the box (Zimmer, Lindauer & Hutter, "Auto-PyTorch Tabular", TPAMI 2021; the
surrogate as in YAHPO Gym, Pfisterer et al., AutoML 2022). No recorded config sits on a
bound (almost surely), so the surrogate's value at a corner (every parameter at its lower or
upper bound) is an extrapolation; we cannot check it against real training runs here. An
optimizer whose acquisition optimizer runs into the bounds (a gradient method under box
constraints, as Syne Tune's GP searchers use) can reach values there that
no random config comes near, which may say more about the surrogate than about the
optimizer.

For each task this prints the best epoch-52 ``val_accuracy`` of the 2^7 = 128 corners, the best of
20,000 uniformly random configs (seed 12345: the reference of
:func:`benchmarks.multifidelity.reference_best`), and how many corners beat it.

Usage::

    python -m benchmarks.lcbench_corners > benchmarks/results/lcbench_corners.md
"""

from __future__ import annotations

import itertools
import sys
from typing import Any


def corners() -> list[dict[str, Any]]:
    """The 128 configs with every LCBench parameter at its lower or upper bound."""
    from benchmarks.lcbench import PARAM_ORDER, PARAMS

    return [
        {name: (PARAMS[name][2] if bit else PARAMS[name][1]) for name, bit in zip(PARAM_ORDER, bits, strict=True)}
        for bits in itertools.product((0, 1), repeat=len(PARAM_ORDER))
    ]


def task_row(task: str, random_best: float | None = None) -> tuple[float, float, int, dict[str, Any]]:
    """``(best corner value, best random value, corners above it, the best corner)`` at epoch 52.

    ``random_best``: the task's :func:`~benchmarks.multifidelity.reference_best` when the
    caller has it already (it costs 20,000 surrogate evaluations).
    """
    import numpy as np

    from benchmarks.lcbench import EPOCHS, LCBench
    from benchmarks.multifidelity import reference_best

    configs = corners()
    acc = np.asarray(LCBench(task).evaluate(configs, [EPOCHS])[0]).reshape(-1)
    random_best = reference_best(task) if random_best is None else random_best
    i = int(np.argmax(acc))
    return float(acc[i]), random_best, int((acc > random_best).sum()), configs[i]


def main() -> None:
    from benchmarks.lcbench import TASKS

    lines = [
        "# LCBench: values at the corners of the box (surrogate extrapolation)",
        "",
        "Command: `python -m benchmarks.lcbench_corners > benchmarks/results/lcbench_corners.md` "
        "(see the module docstring for why).",
        "",
        "| task | best of the 128 corners (epoch 52) | best of 20,000 random configs | corners above it | best corner |",
        "|---|---|---|---|---|",
    ]
    above = 0
    for task in TASKS:
        corner, random_best, n_above, config = task_row(task)
        above += n_above > 0
        cfg = ", ".join(f"{k}={v:g}" for k, v in config.items())
        lines.append(f"| {task} | {corner:.2f} | {random_best:.2f} | {n_above} | {cfg} |")
    lines += ["", f"On {above} of {len(TASKS)} tasks some corner beats every one of 20,000 random configs.", ""]
    sys.stdout.write("\n".join(lines))


if __name__ == "__main__":
    main()
