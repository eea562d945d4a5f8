"""The LCBench surrogate (YAHPO Gym v1.0.2) run directly with onnxruntime.

Data: ``$HPO_BENCHDATA/yahpo_lcbench``; by default the copy committed in ``benchmarks/data``
(format and licences in ``benchmarks/data/README.md``), so a fresh clone runs the benchmarks. One call evaluates a config's whole 52-epoch curve
(``time`` in seconds up to each epoch, ``val_accuracy`` in percent).

Pfisterer, Schneider, Moosbauer, Binder & Bischl, "YAHPO Gym - An Efficient
Multi-Objective Multi-Fidelity Benchmark for Hyperparameter Optimization", AutoML 2022;
Zimmer, Lindauer & Hutter, "Auto-PyTorch Tabular", TPAMI 2021 (LCBench).
"""

from __future__ import annotations

import functools
import json
import os
from pathlib import Path
from typing import Any

__all__ = ["benchdata_dir", "LCBench", "TASKS", "EPOCHS", "PARAM_ORDER", "PARAMS"]

EPOCHS = 52
PARAM_ORDER = ("batch_size", "learning_rate", "momentum", "weight_decay", "num_layers", "max_units", "max_dropout")
#: The search space as plain data, ``name: (kind, low, high, log)`` with inclusive bounds, for
#: libraries that cannot import ``hpo`` (the peers' environment builds its spaces from this).
PARAMS: dict[str, tuple[str, float, float, bool]] = {
    "batch_size": ("int", 16, 512, True),
    "learning_rate": ("float", 1e-4, 1e-1, True),
    "momentum": ("float", 0.1, 0.99, False),
    "weight_decay": ("float", 1e-5, 0.1, False),
    "num_layers": ("int", 1, 5, False),
    "max_units": ("int", 64, 1024, True),
    "max_dropout": ("float", 0.0, 1.0, False),
}
#: The tasks benchmarked (8 of 34): the four from the peers' notes plus four more.
TASKS = ("3945", "7593", "34539", "126025", "126026", "146212", "167104", "189906")


def benchdata_dir() -> Path:
    """``$HPO_BENCHDATA`` when set (an override), else the committed ``benchmarks/data``."""
    env = os.environ.get("HPO_BENCHDATA")
    return Path(env) if env else Path(__file__).resolve().parent / "data"


@functools.lru_cache(maxsize=1)
def _session() -> tuple[Any, dict[str, int]]:
    import onnxruntime as ort

    folder = benchdata_dir() / "yahpo_lcbench"
    if not (folder / "model.onnx").exists():
        raise FileNotFoundError(f"LCBench surrogate not found in {folder} (set HPO_BENCHDATA)")
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(str(folder / "model.onnx"), options, providers=["CPUExecutionProvider"])
    codes = json.loads((folder / "encoding.json").read_text())["OpenML_task_id"]
    return session, codes


class LCBench:
    """One LCBench task: the search space and whole learning curves of configs.

    Args:
        task: OpenML task id as a string, e.g. ``"3945"``.
    """

    epochs = EPOCHS

    def __init__(self, task: str) -> None:
        session, codes = _session()
        if task not in codes:
            raise KeyError(f"unknown LCBench task {task!r}")
        self.task = task
        self._code = codes[task]
        self._session = session
        self._cache: dict[tuple[Any, ...], tuple[dict[int, float], dict[int, float]]] = {}

    @staticmethod
    def space() -> dict[str, Any]:
        from hpo.search_spaces import Float, Int

        return {name: (Int if kind == "int" else Float)(low, high, log=log) for name, (kind, low, high, log) in PARAMS.items()}

    @staticmethod
    def configspace(seed: int | None = None) -> Any:
        """The same space as a ``ConfigSpace.ConfigurationSpace`` (SMAC3, DEHB)."""
        from ConfigSpace import ConfigurationSpace, Float, Integer

        return ConfigurationSpace(seed=seed, space=[
            (Integer if kind == "int" else Float)(name, (int(low), int(high)) if kind == "int" else (low, high), log=log)
            for name, (kind, low, high, log) in PARAMS.items()
        ])

    @staticmethod
    def optuna_config(trial: Any) -> dict[str, Any]:
        """The same space, suggested through an Optuna trial."""
        from benchmarks._spaces import optuna_config

        return optuna_config(trial, LCBench.space())

    @staticmethod
    def ray_space() -> dict[str, Any]:
        """The same space as a Ray Tune ``param_space``."""
        from benchmarks._spaces import ray_domains

        return ray_domains(LCBench.space())

    @staticmethod
    def tune_domains(tune: Any) -> dict[str, Any]:
        """The space in the domains of ``tune``: ``ray.tune`` or ``flaml.tune`` (same API)."""
        from benchmarks._spaces import ray_domains

        return ray_domains(LCBench.space(), tune)

    def evaluate(self, configs: list[dict[str, Any]], epochs: Any) -> tuple[Any, Any]:
        """`n x len(epochs)` val_accuracy (percent) and cumulative time (s) at 1-based ``epochs``."""
        import numpy as np

        epochs = np.asarray(epochs, dtype=np.float32)
        n, m = len(configs), len(epochs)
        x = np.zeros((n * m, 8), dtype=np.float32)
        x[:, 0] = np.tile(epochs, n)
        for j, name in enumerate(PARAM_ORDER):
            x[:, j + 1] = np.repeat(np.array([float(c[name]) for c in configs], dtype=np.float32), m)
        cat = np.full((n * m, 1), self._code, dtype=np.int32)
        out = self._session.run(None, {"x_cat": cat, "x_cont": x})[0].reshape(n, m, 6)
        return out[:, :, 1].astype(float), out[:, :, 0].astype(float)

    def curves(self, configs: list[dict[str, Any]]) -> tuple[Any, Any]:
        """`n x 52` val_accuracy (percent) and cumulative time (s) of ``n`` configs."""
        import numpy as np

        return self.evaluate(configs, np.arange(1, EPOCHS + 1))

    def segment(self, config: dict[str, Any], start: int, stop: int) -> tuple[list[float], list[float]]:
        """val_accuracy and cumulative time at 0-based epoch indices ``start..stop-1`` (cached)."""
        import numpy as np

        key = tuple(float(config[k]) for k in PARAM_ORDER)
        acc, tm = self._cache.setdefault(key, ({}, {}))
        missing = [e for e in range(start, stop) if e not in acc]
        if missing:
            a, t = self.evaluate([config], np.asarray(missing) + 1)
            for e, av, tv in zip(missing, a[0], t[0], strict=True):
                acc[e], tm[e] = float(av), float(tv)
        return [acc[e] for e in range(start, stop)], [tm[e] for e in range(start, stop)]
