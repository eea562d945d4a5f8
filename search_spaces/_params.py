"""Parameter types and their one-dimensional unit-interval codecs.

Each value-bearing parameter maps to exactly one coordinate ``u`` in ``[0, 1]``:

* ``Float``: linear (or log) position between ``low`` and ``high``; with ``step``, the
  value grid is split into equal cells and a value sits at its cell's centre.
* ``Int``: the integers are cells of equal width in ``[low - 0.5, high + 0.5]`` (in log
  space for ``log=True``), so a uniform ``u`` gives every integer its fair share.
* ``Categorical`` and the selector of a :class:`Choice`: ``k`` equal cells, one a choice.
* ``Fixed``: no coordinate at all.

Parameters are validated when a :class:`~hpo.search_spaces.SearchSpace` is built from
them, because only then is their name known and every error names its parameter.
"""

from __future__ import annotations

import math
import numbers
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from hpo.errors import ConfigError, SearchSpaceError

__all__ = ["Param", "Float", "Int", "Categorical", "Fixed", "Choice", "JSON_SCALARS"]

JSON_SCALARS = (str, int, float, bool, type(None))

#: Largest magnitude of an ``Int`` bound: beyond it, float unit coordinates cannot tell
#: neighbouring integers apart, so ``decode(encode(config))`` would not give them back.
MAX_INT_MAGNITUDE = 2**44


def _is_real(x: Any) -> bool:
    return isinstance(x, numbers.Real) and not isinstance(x, bool)


def _is_integer(x: Any) -> bool:
    return isinstance(x, numbers.Integral) and not isinstance(x, bool)


def _is_finite(x: Any) -> bool:
    """``math.isfinite`` that answers False for an int too large for a float."""
    try:
        return math.isfinite(x)
    except OverflowError:
        return False


def _grid_index(u: float, n: int) -> int:
    return min(max(int(math.floor(u * n)), 0), n - 1)


class Param(ABC):
    """A search-space parameter. Subclasses are small immutable value objects."""

    type_name: ClassVar[str]
    #: Number of unit-cube coordinates the parameter itself takes (its sub-spaces aside).
    n_dims: ClassVar[int] = 1

    @abstractmethod
    def validate(self, name: str) -> None:
        """Raise :class:`SearchSpaceError` naming ``name`` if the parameter is invalid."""

    @abstractmethod
    def to_dict(self) -> dict[str, Any]:
        """JSON-ready description, the inverse of :func:`~hpo.search_spaces._dicts.param_from_dict`."""

    def from_unit(self, u: float) -> Any:
        """Value for unit coordinate ``u`` in ``[0, 1]``."""
        raise NotImplementedError

    def to_unit(self, value: Any) -> float:
        """Unit coordinate of ``value`` (the inverse of :meth:`from_unit` on the value set)."""
        raise NotImplementedError

    @abstractmethod
    def check(self, name: str, value: Any) -> None:
        """Raise :class:`ConfigError` naming ``name`` if ``value`` is not in the domain."""

    def __eq__(self, other: object) -> bool:
        return type(self) is type(other) and self.to_dict() == other.to_dict()  # type: ignore[union-attr]

    def __hash__(self) -> int:
        return hash(repr(self))

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.to_dict().items() if k != "type")
        return f"{type(self).__name__}({args})"


class _Numeric(Param):
    """Shared validation of Float and Int bounds."""

    def __init__(self, low: Any, high: Any, log: bool = False, step: Any = None) -> None:
        self.low = low
        self.high = high
        self.log = log
        self.step = step

    def _validate_bounds(self, name: str) -> None:
        for attr in ("low", "high"):
            v = getattr(self, attr)
            if not _is_real(v):
                raise SearchSpaceError(name, f"{attr}={v!r} is not a number")
            if not _is_finite(v):
                raise SearchSpaceError(name, f"{attr}={v!r:.40} is not finite")
        if self.low > self.high:
            raise SearchSpaceError(name, f"inverted range: low={self.low} > high={self.high}")
        if not isinstance(self.log, bool):
            raise SearchSpaceError(name, f"log must be True or False, got {self.log!r}")
        if self.log and self.low <= 0:
            raise SearchSpaceError(name, f"log=True needs low > 0, got low={self.low}")
        if not _is_finite(self.high - self.low):
            raise SearchSpaceError(name, f"range [{self.low}, {self.high}] is too wide: high - low overflows")
        if self.step is not None:
            if not _is_real(self.step) or not _is_finite(self.step) or self.step <= 0:
                raise SearchSpaceError(name, f"step must be a positive number, got {self.step!r}")
            if not _is_finite((self.high - self.low) / self.step):
                raise SearchSpaceError(name, f"step={self.step!r} is too small for [{self.low}, {self.high}]")

    def _n_grid(self) -> int:
        return int(math.floor((self.high - self.low) / self.step + 1e-9)) + 1

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.type_name, "low": self.low, "high": self.high, "log": self.log, "step": self.step}


class Float(_Numeric):
    """A real parameter in ``[low, high]``.

    Args:
        low, high: Bounds, ``low < high``.
        log: Sample and model on a log scale (needs ``low > 0``).
        step: If given, only ``low + k * step`` values (``k = 0, 1, ...``) up to ``high``.
    """

    type_name = "float"

    def __init__(self, low: float, high: float, log: bool = False, step: float | None = None) -> None:
        super().__init__(low, high, log, step)

    def validate(self, name: str) -> None:
        self._validate_bounds(name)
        if self.low == self.high:
            raise SearchSpaceError(
                name, f"empty range: low == high == {self.low} (use Fixed({self.low}) for a constant)"
            )
        if self.log and self.step is not None:
            raise SearchSpaceError(name, "log=True cannot be combined with step")

    def from_unit(self, u: float) -> float:
        if self.step is not None:
            return float(min(self.low + _grid_index(u, self._n_grid()) * self.step, self.high))
        if self.log:
            lo, hi = math.log(self.low), math.log(self.high)
            value = math.exp(lo + u * (hi - lo))
        else:
            value = self.low + u * (self.high - self.low)
        return float(min(max(value, self.low), self.high))

    def to_unit(self, value: Any) -> float:
        v = float(value)
        if self.step is not None:
            n = self._n_grid()
            return (min(max(round((v - self.low) / self.step), 0), n - 1) + 0.5) / n
        if self.log:
            lo, hi = math.log(self.low), math.log(self.high)
            return min(max((math.log(v) - lo) / (hi - lo), 0.0), 1.0)
        return min(max((v - self.low) / (self.high - self.low), 0.0), 1.0)

    def check(self, name: str, value: Any) -> None:
        if not _is_real(value) or not _is_finite(value):
            raise ConfigError(name, f"{value!r:.40} is not a finite real number")
        tol = 1e-9 * max(1.0, abs(self.high - self.low))
        if not self.low - tol <= value <= self.high + tol:
            raise ConfigError(name, f"{value!r} is outside [{self.low}, {self.high}]")
        if self.step is not None:
            k = (value - self.low) / self.step
            if abs(k - round(k)) > 1e-6:
                raise ConfigError(name, f"{value!r} is not on the grid low + k*{self.step}")


class Int(_Numeric):
    """An integer parameter in ``[low, high]`` (both included).

    Args:
        low, high: Integer bounds, ``low <= high``, within ``+-2**44`` (beyond it the
            unit-cube encoding cannot tell neighbouring integers apart).
        log: Sample and model on a log scale (needs ``low >= 1`` and ``step == 1``).
        step: Only ``low + k * step`` values.
    """

    type_name = "int"

    def __init__(self, low: int, high: int, log: bool = False, step: int = 1) -> None:
        super().__init__(low, high, log, step)

    def validate(self, name: str) -> None:
        for attr in ("low", "high", "step"):
            v = getattr(self, attr)
            if not _is_integer(v):
                raise SearchSpaceError(name, f"{attr}={v!r} is not an integer")
        for attr in ("low", "high"):
            if abs(getattr(self, attr)) > MAX_INT_MAGNITUDE:
                raise SearchSpaceError(
                    name, f"{attr}={getattr(self, attr)!r:.40} is beyond +-2**44, where the unit-cube "
                    "encoding cannot tell integers apart (use Float for such ranges)"
                )
        self._validate_bounds(name)
        if self.log and self.step != 1:
            raise SearchSpaceError(name, f"log=True cannot be combined with step={self.step}")

    def _n_grid(self) -> int:
        return (self.high - self.low) // self.step + 1  # exact in integers

    def from_unit(self, u: float) -> int:
        if self.log:
            lo, hi = math.log(self.low - 0.5), math.log(self.high + 0.5)
            value = int(round(math.exp(lo + u * (hi - lo))))
            return int(min(max(value, self.low), self.high))
        return int(self.low + _grid_index(u, self._n_grid()) * self.step)

    def to_unit(self, value: Any) -> float:
        v = int(value)
        if self.log:
            lo, hi = math.log(self.low - 0.5), math.log(self.high + 0.5)
            return min(max((math.log(v) - lo) / (hi - lo), 0.0), 1.0)
        n = self._n_grid()
        return (min(max((v - self.low) // self.step, 0), n - 1) + 0.5) / n

    def check(self, name: str, value: Any) -> None:
        if not _is_integer(value):
            raise ConfigError(name, f"{value!r} is not an integer")
        if not self.low <= value <= self.high:
            raise ConfigError(name, f"{value!r} is outside [{self.low}, {self.high}]")
        if (value - self.low) % self.step:
            raise ConfigError(name, f"{value!r} is not on the grid low + k*{self.step}")


def _validate_choices(name: str, choices: Any, what: str) -> None:
    if isinstance(choices, (str, bytes)) or not isinstance(choices, Sequence):
        raise SearchSpaceError(name, f"{what} must be a list or tuple, got {type(choices).__name__}")
    if len(choices) == 0:
        raise SearchSpaceError(name, f"empty {what}")
    seen: set[Any] = set()
    for c in choices:
        try:
            key = (type(c), c)
            hash(key)
        except TypeError:
            raise SearchSpaceError(name, f"choice {c!r} is unhashable ({type(c).__name__})") from None
        if not isinstance(c, JSON_SCALARS):
            raise SearchSpaceError(
                name,
                f"choice {c!r} of type {type(c).__name__} is not a str, int, float, bool or None",
            )
        if isinstance(c, float) and not math.isfinite(c):
            raise SearchSpaceError(name, f"choice {c!r} is not finite")
        if key in seen:
            raise SearchSpaceError(name, f"duplicate choice {c!r}")
        seen.add(key)


def _index_of(choices: Sequence[Any], value: Any) -> int | None:
    for i, c in enumerate(choices):
        if type(c) is type(value) and c == value:
            return i
    return None


class Categorical(Param):
    """One of a list of unordered choices (str, int, float, bool or None)."""

    type_name = "categorical"

    def __init__(self, choices: Sequence[Any]) -> None:
        self.choices = tuple(choices) if isinstance(choices, (list, tuple)) else choices

    def validate(self, name: str) -> None:
        _validate_choices(name, self.choices, "choices")

    def from_unit(self, u: float) -> Any:
        return self.choices[_grid_index(u, len(self.choices))]

    def to_unit(self, value: Any) -> float:
        i = _index_of(self.choices, value)
        if i is None:
            raise ConfigError(None, f"{value!r} is not one of {list(self.choices)}")
        return (i + 0.5) / len(self.choices)

    def check(self, name: str, value: Any) -> None:
        if _index_of(self.choices, value) is None:
            raise ConfigError(name, f"{value!r} is not one of {list(self.choices)}")

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.type_name, "choices": list(self.choices)}


class Fixed(Param):
    """A constant: always in the config, never searched, takes no coordinate."""

    type_name = "fixed"
    n_dims = 0

    def __init__(self, value: Any) -> None:
        self.value = value

    def validate(self, name: str) -> None:
        if not isinstance(self.value, JSON_SCALARS):
            raise SearchSpaceError(
                name, f"fixed value {self.value!r} is not a str, int, float, bool or None"
            )
        if isinstance(self.value, float) and not math.isfinite(self.value):
            raise SearchSpaceError(name, f"fixed value {self.value!r} is not finite")

    def check(self, name: str, value: Any) -> None:
        if type(value) is not type(self.value) or value != self.value:
            raise ConfigError(name, f"{value!r} differs from the fixed value {self.value!r}")

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.type_name, "value": self.value}


class Choice(Param):
    """A conditional parameter: the chosen option selects its own sub-space.

    The config holds the option's name under this parameter's name, plus the
    parameters of the chosen option's sub-space (and only those)::

        Choice({"svm": {"C": Float(1e-3, 1e3, log=True)}, "rf": {"n_estimators": Int(10, 500)}})
        # -> {"model": "svm", "C": 3.2}  or  {"model": "rf", "n_estimators": 120}

    Parameter names must be unique across the whole space, sub-spaces included.
    """

    type_name = "choice"

    def __init__(self, options: Mapping[str, Mapping[str, Param]]) -> None:
        self.options = options

    def validate(self, name: str) -> None:
        if not isinstance(self.options, Mapping):
            raise SearchSpaceError(name, f"Choice options must be a dict of sub-spaces, got {type(self.options).__name__}")
        if len(self.options) == 0:
            raise SearchSpaceError(name, "empty choices: Choice needs at least one option")
        for key, sub in self.options.items():
            if not isinstance(key, str) or not key:
                raise SearchSpaceError(name, f"option name {key!r} must be a non-empty string")
            if not isinstance(sub, Mapping):
                raise SearchSpaceError(name, f"option {key!r} must map to a dict of parameters, got {type(sub).__name__}")

    @property
    def option_names(self) -> tuple[str, ...]:
        return tuple(self.options)

    def from_unit(self, u: float) -> str:
        names = self.option_names
        return names[_grid_index(u, len(names))]

    def to_unit(self, value: Any) -> float:
        names = self.option_names
        if not isinstance(value, str) or value not in names:
            raise ConfigError(None, f"{value!r} is not one of the options {list(names)}")
        return (names.index(value) + 0.5) / len(names)

    def check(self, name: str, value: Any) -> None:
        if not isinstance(value, str) or value not in self.options:
            raise ConfigError(name, f"{value!r} is not one of the options {list(self.options)}")

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": self.type_name,
            "options": {k: {n: p.to_dict() for n, p in sub.items()} for k, sub in self.options.items()},
        }
