"""Adapters to other frameworks (Optuna, Ray Tune).

Installed as ``hpo.integrations``; always import it under that name. Each adapter lives
in its own module and imports its framework lazily.
"""

__all__: list[str] = []  # import the adapters from their modules, e.g. hpo.integrations.optuna
