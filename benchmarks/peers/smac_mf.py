"""SMAC3's multi-fidelity facade on an LCBench task (runs in our environment: ``smac`` is installed there).

``smac-mf`` in :mod:`benchmarks.multifidelity`: ``MultiFidelityFacade`` (random forest, log EI,
Hyperband intensifier with ``eta=3`` over budgets 1..52 epochs), driven by ask/tell. SMAC's
budgets are real numbers (``52 * 3**-k``: 1.93, 5.78, 17.3, 52); each is rounded to whole
epochs (2, 6, 17, 52). Each evaluation trains its config from scratch up to its budget, so a
config promoted from 6 to 17 epochs costs 6 + 17 epochs: that is what SMAC's Hyperband does
without a checkpointing target function, and every one of those epochs counts against the
budget (:class:`benchmarks.peers._ledger.EpochLedger`).

Lindauer, Eggensperger, Feurer, Biedenkapp, Deng, Benjamins, Ruhkopf, Sass & Hutter, "SMAC3: A
Versatile Bayesian Optimization Package for Hyperparameter Optimization", JMLR 23(54), 2022.
"""

from __future__ import annotations

import logging
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.peers._ledger import EpochLedger

__all__ = ["run_smac_mf"]


def run_smac_mf(task: str, seed: int, epochs: int) -> dict[str, Any]:
    """One SMAC3 run on LCBench ``task`` with an ``epochs`` budget; returns its trace.

    Args:
        task: LCBench task id.
        seed: SMAC's seed (and the config space's).
        epochs: Cumulative epoch budget.

    Returns:
        ``values`` (val_accuracy per epoch trained, at most ``epochs``), ``wall`` (s),
        ``n_trials`` (configs tried) and ``n_evaluations`` (config-budget pairs trained).
    """
    from smac import MultiFidelityFacade, Scenario
    from smac.runhistory.dataclasses import TrialValue

    from benchmarks.lcbench import EPOCHS, LCBench

    logging.getLogger("smac").setLevel(logging.ERROR)
    ledger = EpochLedger(LCBench(task), epochs)
    configs: set[tuple[Any, ...]] = set()
    with tempfile.TemporaryDirectory() as tmp:
        scenario = Scenario(
            LCBench.configspace(seed), deterministic=True, n_trials=epochs, min_budget=1, max_budget=EPOCHS,
            seed=seed, output_directory=Path(tmp) / "smac",
        )
        smac = MultiFidelityFacade(
            scenario, None, intensifier=MultiFidelityFacade.get_intensifier(scenario, eta=3), logging_level=False, overwrite=True,
        )
        t0 = time.perf_counter()
        while not ledger.spent:
            info = smac.ask()
            config = dict(info.config)
            configs.add(tuple(sorted(config.items())))
            acc = ledger.train_from_scratch(config, max(1, round(info.budget)))
            smac.tell(info, TrialValue(cost=100.0 - acc), save=False)
        wall = time.perf_counter() - t0
    return {"values": ledger.values, "wall": wall, "n_trials": len(configs), "n_evaluations": ledger.n_evaluations}
