"""Storage: SQLite (embedded default) and in-memory."""

from __future__ import annotations

import os

from hpo.storage.base import BaseStorage, StudySpec
from hpo.storage.memory import MemoryStorage

__all__ = ["BaseStorage", "StudySpec", "MemoryStorage", "SQLiteStorage", "open_storage"]


def open_storage(storage: str | os.PathLike[str] | BaseStorage | None, *, readonly: bool = False) -> BaseStorage:
    """``None`` or ``":memory:"`` -> MemoryStorage; a path or ``sqlite:///`` URL -> SQLiteStorage."""
    if isinstance(storage, BaseStorage):
        return storage
    if storage is None or os.fspath(storage) == ":memory:":
        return MemoryStorage()
    from hpo.storage.sqlite import SQLiteStorage

    return SQLiteStorage(storage, readonly=readonly)


def __getattr__(name: str):  # type: ignore[no-untyped-def]
    if name == "SQLiteStorage":
        from hpo.storage.sqlite import SQLiteStorage

        return SQLiteStorage
    raise AttributeError(name)
