"""Typed exceptions for user errors.

Every error a user can cause has its own type, and its message names the culprit
(the parameter, trial, file or setting), so that ``except`` clauses and log readers
can act on it. Library code never uses ``assert`` for user input.
"""

from __future__ import annotations

__all__ = [
    "HPOError",
    "SearchSpaceError",
    "ConfigError",
    "SettingError",
    "StorageError",
    "StorageLockedError",
    "StorageCorruptError",
    "StudyMismatchError",
    "ObjectiveError",
    "ObjectivePicklingError",
    "UnknownPluginError",
]


class HPOError(Exception):
    """Base class of every error hyperbandit raises on purpose."""


class _ParamError(HPOError, ValueError):
    """An error about one parameter (or, with ``param=None``, the whole space/config)."""

    prefix = ""

    def __init__(self, param: str | None, problem: str) -> None:
        self.param = param
        self.problem = problem
        where = f"parameter {param!r}: " if param is not None else ""
        super().__init__(f"{self.prefix}: {where}{problem}")


class SearchSpaceError(_ParamError):
    """A search space is invalid. The message names the parameter and the problem."""

    prefix = "invalid search space"


class ConfigError(_ParamError):
    """A configuration does not belong to its search space."""

    prefix = "config not in search space"


class SettingError(HPOError, ValueError):
    """A scheduler's, searcher's or integration's argument is invalid; the message names it."""


class StorageError(HPOError):
    """A study's storage cannot be used."""


class StorageLockedError(StorageError):
    """The storage file is locked by another process (another driver, or a long write)."""


class StorageCorruptError(StorageError):
    """The storage file is not a readable hyperbandit study database."""


class StudyMismatchError(StorageError):
    """The storage holds a different study than the one asked for."""


class ObjectiveError(HPOError):
    """An objective returned something that is not a usable result for the study metric."""


class ObjectivePicklingError(HPOError):
    """An objective cannot be pickled to be sent to worker processes (raised before any trial runs)."""


class UnknownPluginError(HPOError, ValueError):
    """A scheduler, searcher or executor was asked for by a name nobody registered."""
