"""A live multi-fidelity task: an MLP on scikit-learn's bundled ``digits``, trained epoch by epoch.

Unlike the LCBench surrogate, every epoch here is real training (``MLPClassifier.partial_fit``
over a shuffled pass of the training split), and the times are the measured seconds. The
task has the interface the multi-fidelity runners use for LCBench (``epochs``, ``space``,
``segment``, ``optuna_config``, ``ray_space``), so every method runs it unchanged.

* Data: 1,797 8x8 images, a stratified 75/25 train/validation split (``random_state=0``),
  standardised on the training split.
* Space: the demo's (``examples/digits_demo.py``). Fidelity: epochs 1..27 (``EPOCHS``);
  metric: validation accuracy in percent, maximised.
* Resuming: the model after each epoch is kept in memory per config (the in-process
  equivalent of a checkpoint), so a trial promoted from epoch 3 to 9 trains epochs 4..9 only.
  A segment that does not start where the kept state ends retrains from scratch (as a
  trial without a checkpoint would), and those epochs are trained for real.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from benchmarks._kept import KeptStates

__all__ = ["DigitsMLP", "EPOCHS"]

EPOCHS = 27


class DigitsMLP:
    """The live digits task; one instance per process (it keeps the per-config models)."""

    task = "digits"
    epochs = EPOCHS

    def __init__(self) -> None:
        from sklearn.datasets import load_digits
        from sklearn.model_selection import train_test_split
        from sklearn.preprocessing import StandardScaler

        x, y = load_digits(return_X_y=True)
        x_train, x_val, self.y_train, self.y_val = train_test_split(x, y, test_size=0.25, random_state=0, stratify=y)
        scaler = StandardScaler().fit(x_train)
        self.x_train, self.x_val = scaler.transform(x_train), scaler.transform(x_val)
        self._kept = KeptStates(EPOCHS)

    @staticmethod
    def space() -> dict[str, Any]:
        """The search space of ``make demo`` (``examples/digits_demo.py``), read from that file."""
        import importlib.util

        path = Path(__file__).resolve().parent.parent / "examples" / "digits_demo.py"
        spec = importlib.util.spec_from_file_location("_hpo_digits_demo", path)
        if spec is None or spec.loader is None:
            raise FileNotFoundError(path)
        demo = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(demo)
        return dict(demo.SPACE)

    @staticmethod
    def optuna_config(trial: Any) -> dict[str, Any]:
        """The same space, suggested through an Optuna trial."""
        from benchmarks._spaces import optuna_config

        return optuna_config(trial, DigitsMLP.space())

    @staticmethod
    def ray_space() -> dict[str, Any]:
        """The same space as a Ray Tune ``param_space``."""
        from benchmarks._spaces import ray_domains

        return ray_domains(DigitsMLP.space())

    def segment(self, config: dict[str, Any], start: int, stop: int) -> tuple[list[float], list[float]]:
        """Train 0-based epochs ``start..stop-1``: val accuracy (percent) and cumulative seconds after each."""
        import warnings

        import numpy as np
        from sklearn.neural_network import MLPClassifier

        def fresh() -> dict[str, Any]:  # no checkpoint at `start`: train from scratch
            model = MLPClassifier(
                hidden_layer_sizes=(int(config["hidden_units"]),) * int(config["layers"]),
                activation=config["activation"],
                alpha=float(config["alpha"]),
                batch_size=int(config["batch_size"]),
                learning_rate_init=float(config["learning_rate"]),
                random_state=0,
            )
            return {"model": model, "rng": np.random.default_rng(0), "epoch": 0, "seconds": 0.0}

        state = self._kept.resume(config, start, fresh)
        classes = np.arange(10)
        acc: list[float] = []
        seconds: list[float] = []
        for epoch in range(state["epoch"], stop):
            t0 = time.perf_counter()
            order = state["rng"].permutation(len(self.x_train))
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                state["model"].partial_fit(self.x_train[order], self.y_train[order], classes=classes)
            value = 100.0 * float((state["model"].predict(self.x_val) == self.y_val).mean())
            state["seconds"] += time.perf_counter() - t0
            if epoch >= start:
                acc.append(value)
                seconds.append(state["seconds"])
        self._kept.keep(config, state, stop)
        return acc, seconds
