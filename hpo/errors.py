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
    "StorageError",
    "StorageLockedError",
    "StorageCorruptError",
    "StudyMismatchError",
    "ObjectiveError",
    "UnknownPluginError",
]


class HPOError(Exception):
    """Base class of every error hyperbandit raises on purpose."""


class SearchSpaceError(HPOError, ValueError):
    """A search space is invalid. The message names the parameter and the problem."""

    def __init__(self, param: str | None, problem: str) -> None:
        self.param = param
        self.problem = problem
        where = f"parameter {param!r}: " if param is not None else ""
        super().__init__(f"invalid search space: {where}{problem}")


class ConfigError(HPOError, ValueError):
    """A configuration does not belong to its search space."""

    def __init__(self, param: str | None, problem: str) -> None:
        self.param = param
        self.problem = problem
        where = f"parameter {param!r}: " if param is not None else ""
        super().__init__(f"config not in search space: {where}{problem}")


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


class UnknownPluginError(HPOError, ValueError):
    """A scheduler, searcher or executor was asked for by a name nobody registered."""
