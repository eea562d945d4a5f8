"""Acquisition functions and their optimizer (heavy imports are lazy)."""

from hpo.acquisition.functions import (
    UCB,
    BaseAcquisition,
    CostWeighted,
    LogEI,
    QLogNEI,
    ThompsonSampling,
    prune_inferior_points,
)
from hpo.acquisition.optimize import optimize_acquisition

__all__ = [
    "BaseAcquisition",
    "LogEI",
    "UCB",
    "ThompsonSampling",
    "QLogNEI",
    "CostWeighted",
    "prune_inferior_points",
    "optimize_acquisition",
]
