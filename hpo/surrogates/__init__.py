"""Surrogate models: ``fit(X, y)`` and ``predict(X) -> Predictive`` (heavy imports are lazy)."""

from __future__ import annotations

from typing import Any

from hpo.surrogates.base import BaseSurrogate, Predictive

_LAZY = {
    "GPSurrogate": "hpo.surrogates.gp",
    "DeepEnsembleSurrogate": "hpo.surrogates.bnn",
    "HMCBNNSurrogate": "hpo.surrogates.hmc",
    "DKLSurrogate": "hpo.surrogates.dkl",
    "InfiniteWidthBNNSurrogate": "hpo.surrogates.ibnn",
    "RandomForestSurrogate": "hpo.surrogates.forest",
    "AutoSurrogate": "hpo.surrogates.auto",
}

__all__ = ["BaseSurrogate", "Predictive", *_LAZY, "make_surrogate"]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(name)
    import importlib

    return getattr(importlib.import_module(module), name)


def make_surrogate(name: str | BaseSurrogate, **kwargs: Any) -> BaseSurrogate:
    """A surrogate from its registered name (``"gp"``, ``"ensemble"``) or pass one through."""
    from hpo._registry import SURROGATES

    if isinstance(name, BaseSurrogate):
        return name
    return SURROGATES.build(name, **kwargs)
