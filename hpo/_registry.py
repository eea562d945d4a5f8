"""Name -> plugin registries, with lazy imports so ``import hpo`` stays light.

``@tune(scheduler="asha")``, the CLI's ``--scheduler`` and friends resolve names here.
Later plugins register themselves by adding a ``"module:attr"`` entry.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from hpo.errors import UnknownPluginError

__all__ = ["Registry", "SEARCHERS", "SURROGATES", "SCHEDULERS", "EXECUTORS"]


class Registry:
    """A named set of factories, each given as ``"package.module:attribute"``."""

    def __init__(self, kind: str, entries: dict[str, str]) -> None:
        self.kind = kind
        self._entries = dict(entries)

    def names(self) -> list[str]:
        return sorted(self._entries)

    def register(self, name: str, target: str) -> None:
        self._entries[name] = target

    def resolve(self, name: str) -> Callable[..., Any]:
        if not isinstance(name, str) or name.lower() not in self._entries:
            raise UnknownPluginError(f"unknown {self.kind} {name!r}; available: {', '.join(self.names())}")
        module, attr = self._entries[name.lower()].split(":")
        return getattr(importlib.import_module(module), attr)

    def build(self, name: str, **kwargs: Any) -> Any:
        return self.resolve(name)(**kwargs)


SEARCHERS = Registry(
    "searcher",
    {
        "random": "hpo.searchers.random:RandomSearcher",
        "sobol": "hpo.searchers.sobol:SobolSearcher",
        "bo": "hpo.searchers.bo:BOSearcher",
        "bo-ts": "hpo.searchers.bo:thompson_bo",
        "cfo": "hpo.searchers.cfo:CFO",
        "carbs": "hpo.searchers.carbs:CARBS",
    },
)
SURROGATES = Registry(
    "surrogate",
    {
        "gp": "hpo.surrogates.gp:GPSurrogate",
        "ensemble": "hpo.surrogates.bnn:DeepEnsembleSurrogate",
        "hmc": "hpo.surrogates.hmc:HMCBNNSurrogate",
        "dkl": "hpo.surrogates.dkl:DKLSurrogate",
        "ibnn": "hpo.surrogates.ibnn:InfiniteWidthBNNSurrogate",
        "forest": "hpo.surrogates.forest:RandomForestSurrogate",
        "auto": "hpo.surrogates.auto:AutoSurrogate",
    },
)
SCHEDULERS = Registry(
    "scheduler",
    {
        "fifo": "hpo.schedulers.fifo:FIFOScheduler",
        "sh": "hpo.schedulers.hyperband:SuccessiveHalving",
        "successive_halving": "hpo.schedulers.hyperband:SuccessiveHalving",
        "hyperband": "hpo.schedulers.hyperband:Hyperband",
        "asha": "hpo.schedulers.asha:ASHA",
        "async_hyperband": "hpo.schedulers.asha:AsyncHyperband",
        "pbt": "hpo.schedulers.pbt:PBT",
        "lcstopping": "hpo.schedulers.lcstopping:LCStopping",
        "rising_bandits": "hpo.schedulers.rising_bandits:RisingBandits",
    },
)
EXECUTORS = Registry(
    "executor",
    {
        "local": "hpo.execution.local:LocalExecutor",
        "inprocess": "hpo.execution.local:InProcessExecutor",
        "simulated": "hpo.execution.simulated:SimulatedExecutor",
        "ray": "hpo.execution.ray:RayExecutor",
    },
)
