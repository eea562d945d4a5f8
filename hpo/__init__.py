"""hyperbandit: Bayesian and bandit hyperparameter optimization.

The public API is small and loads lazily: ``import hpo`` imports neither torch, ray nor
optuna (nor numpy). Modules are imported on first attribute access.

Example:
    >>> import hpo
    >>> from hpo.search_spaces import Float
    >>> @hpo.tune(space={"x": Float(0.0, 1.0)}, metric="y", mode="max")
    ... def f(config):
    ...     return {"y": config["x"]}
    >>> f.run(n_trials=4, executor="inprocess", seed=1).incumbent.value > 0
    True
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

# ``hpo.tune`` must be the decorator, not the submodule of the same name, so it is bound
# eagerly (the module is light: no numpy, torch, ray or optuna).
from hpo.tune import tune as tune  # noqa: E402

_LAZY = {
    "TunedFunction": "hpo.tune",
    "report": "hpo._runtime",
    "trial_context": "hpo._runtime",
    "TrialContext": "hpo._runtime",
    "TrialStopped": "hpo._runtime",
    "Study": "hpo.study",
    "StudyResult": "hpo.result",
    "load_study": "hpo.result",
    "Reevaluation": "hpo._reevaluation",
    "ReevalRow": "hpo._reevaluation",
    "Observation": "hpo.trial",
    "Budget": "hpo.budget",
    "JobBudget": "hpo.budget",
    "Trial": "hpo.trial",
    "TrialStatus": "hpo.trial",
    "Decision": "hpo.trial",
    "Report": "hpo.trial",
    "Job": "hpo.trial",
    "HPOError": "hpo.errors",
    "SearchSpaceError": "hpo.errors",
    "ConfigError": "hpo.errors",
    "StorageError": "hpo.errors",
    "StorageLockedError": "hpo.errors",
    "StorageCorruptError": "hpo.errors",
    "StudyMismatchError": "hpo.errors",
    "ObjectiveError": "hpo.errors",
    "ObjectivePicklingError": "hpo.errors",
    "UnknownPluginError": "hpo.errors",
}

_SUBMODULES = ("checkpoint",)  # ``hpo.checkpoint.save(...)`` / ``.load()``

__all__ = sorted([*_LAZY, *_SUBMODULES, "tune"]) + ["__version__"]


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        return importlib.import_module(f"hpo.{name}")
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'hpo' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
