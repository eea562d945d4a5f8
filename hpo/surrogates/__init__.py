"""Surrogate models: ``fit(X, y)`` and ``predict(X) -> Predictive`` (heavy imports are lazy)."""

from __future__ import annotations

from typing import Any

from hpo.surrogates.base import BaseSurrogate, Predictive

__all__ = ["BaseSurrogate", "Predictive", "GPSurrogate", "DeepEnsembleSurrogate", "make_surrogate"]


def __getattr__(name: str) -> Any:
    if name == "GPSurrogate":
        from hpo.surrogates.gp import GPSurrogate

        return GPSurrogate
    if name == "DeepEnsembleSurrogate":
        from hpo.surrogates.bnn import DeepEnsembleSurrogate

        return DeepEnsembleSurrogate
    raise AttributeError(name)


def make_surrogate(name: str | BaseSurrogate, **kwargs: Any) -> BaseSurrogate:
    """A surrogate from its registered name (``"gp"``, ``"ensemble"``) or pass one through."""
    from hpo._registry import SURROGATES

    if isinstance(name, BaseSurrogate):
        return name
    return SURROGATES.build(name, **kwargs)
