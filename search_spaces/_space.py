"""The search space: flattening, sampling, unit-cube encoding and validation.

Encoding (``encode`` / ``decode``) maps a config to a row ``x_unit`` of a
`n x d`-dim array in ``[0, 1]^d``, one column per value-bearing parameter (Fixed
parameters take none), in :attr:`SearchSpace.dims` order; see
:mod:`hpo.search_spaces._params` for each type's codec.

**Inactive conditional parameters** (those under a :class:`Choice` option that was not
chosen) are encoded as ``0.5``, the centre of the cube, and :meth:`SearchSpace.active_mask`
tells which entries are real. Models must not read an inactive coordinate as a value:
they can use the mask, or rely on the selector column that decides it. Decoding ignores
inactive columns altogether, so any value there decodes to the same config.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from hpo.errors import ConfigError, SearchSpaceError
from hpo.search_spaces._dicts import param_from_dict
from hpo.search_spaces._params import Categorical, Choice, Fixed, Float, Int, Param

if TYPE_CHECKING:
    import numpy as np

__all__ = ["SearchSpace", "Dim", "INACTIVE_VALUE"]

#: Encoding of an inactive conditional parameter.
INACTIVE_VALUE = 0.5


@dataclass(frozen=True)
class Dim:
    """One column of the unit-cube encoding.

    Attributes:
        name: Parameter name.
        param: The parameter.
        kind: ``"float"``, ``"int"`` or ``"categorical"`` (Categorical and Choice selectors).
        n_choices: Number of categories for categorical columns, else 0.
        condition: ``(selector_name, option)`` that must hold for this column to be active,
            or None for top-level parameters. Conditions chain through nested selectors.
    """

    name: str
    param: Param
    kind: str
    n_choices: int
    condition: tuple[str, str] | None


def _kind(param: Param) -> tuple[str, int]:
    if isinstance(param, Float):
        return "float", 0
    if isinstance(param, Int):
        return "int", 0
    if isinstance(param, Categorical):
        return "categorical", len(param.choices)
    if isinstance(param, Choice):
        return "categorical", len(param.options)
    raise SearchSpaceError(None, f"unknown parameter type {type(param).__name__}")


class SearchSpace:
    """An immutable, validated search space.

    Args:
        params: Parameter name to :class:`Param` (or its dict form, as read from JSON/YAML).

    Raises:
        SearchSpaceError: naming the parameter, for any invalid parameter, duplicate name
            (sub-spaces included), or value that is not a parameter.

    Example:
        >>> import numpy as np
        >>> from hpo.search_spaces import SearchSpace, Float, Categorical
        >>> space = SearchSpace({"lr": Float(1e-4, 1e-1, log=True), "opt": Categorical(["adam", "sgd"])})
        >>> config = space.sample(np.random.default_rng(0))
        >>> space.contains(config)
        True
        >>> space.encode([config]).shape
        (1, 2)
    """

    def __init__(self, params: Mapping[str, Any] | SearchSpace) -> None:
        if isinstance(params, SearchSpace):
            params = params.params
        if not isinstance(params, Mapping):
            raise SearchSpaceError(None, f"a search space is a dict of parameters, got {type(params).__name__}")
        if len(params) == 0:
            raise SearchSpaceError(None, "the search space is empty")
        self.params: dict[str, Param] = {}
        self._dims: list[Dim] = []
        self._fixed: list[tuple[str, Fixed, tuple[str, str] | None]] = []
        self._selectors: dict[str, tuple[Choice, tuple[str, str] | None]] = {}
        self._all_names: set[str] = set()
        self._add(params, None, self.params)

    def _add(self, params: Mapping[str, Any], condition: tuple[str, str] | None, into: dict[str, Param]) -> None:
        for name, raw in params.items():
            if not isinstance(name, str) or not name:
                raise SearchSpaceError(repr(name), "parameter names must be non-empty strings")
            if name in self._all_names:
                raise SearchSpaceError(name, "duplicate parameter name (names must be unique across all sub-spaces)")
            if isinstance(raw, Mapping):
                param = param_from_dict(name, raw)
            elif isinstance(raw, Param):
                param = raw
            else:
                raise SearchSpaceError(
                    name,
                    f"unknown parameter type {type(raw).__name__} ({raw!r}); use Float, Int, "
                    "Categorical, Fixed or Choice (wrap constants in Fixed(...))",
                )
            param.validate(name)
            self._all_names.add(name)
            if isinstance(param, Choice):
                index = len(self._dims)
                self._dims.append(None)  # type: ignore[arg-type]  # keeps the selector before its children
                subs: dict[str, dict[str, Param]] = {}
                for opt, sub in param.options.items():
                    subs[opt] = {}
                    self._add(sub, (name, opt), subs[opt])
                choice = Choice(subs)
                into[name] = choice
                self._selectors[name] = (choice, condition)
                self._dims[index] = Dim(name, choice, "categorical", len(subs), condition)
            elif isinstance(param, Fixed):
                into[name] = param
                self._fixed.append((name, param, condition))
            else:
                into[name] = param
                kind, n = _kind(param)
                self._dims.append(Dim(name, param, kind, n, condition))

    # ------------------------------------------------------------------ structure
    @property
    def dims(self) -> tuple[Dim, ...]:
        """The encoding's columns, in order."""
        return tuple(self._dims)

    @property
    def d(self) -> int:
        """Number of unit-cube dimensions."""
        return len(self._dims)

    @property
    def names(self) -> tuple[str, ...]:
        """Every parameter name, sub-spaces and Fixed included."""
        return tuple(sorted(self._all_names))

    @property
    def is_conditional(self) -> bool:
        return bool(self._selectors)

    def __iter__(self) -> Iterator[str]:
        return iter(self.params)

    def __len__(self) -> int:
        return len(self._all_names)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SearchSpace) and self.to_dict() == other.to_dict()

    def __hash__(self) -> int:
        return hash(self.to_json())

    def __repr__(self) -> str:
        return f"SearchSpace({self.params!r})"

    def _is_active(self, condition: tuple[str, str] | None, config: Mapping[str, Any]) -> bool:
        while condition is not None:
            selector, option = condition
            if config.get(selector) != option:
                return False
            condition = self._selectors[selector][1]
        return True

    # ------------------------------------------------------------------ codec
    def decode(self, x_unit: Any) -> list[dict[str, Any]]:
        """Configs for the rows of an `n x d`-dim array in ``[0, 1]`` (inactive columns ignored)."""
        import numpy as np

        x = np.atleast_2d(np.asarray(x_unit, dtype=float))
        if x.shape[1] != self.d:
            raise ConfigError(None, f"expected {self.d} columns, got array of shape {x.shape}")
        x = np.clip(x, 0.0, 1.0)
        configs = []
        for row in x:
            config: dict[str, Any] = {}
            for j, dim in enumerate(self._dims):  # parents precede their children
                if self._is_active(dim.condition, config):
                    config[dim.name] = dim.param.from_unit(float(row[j]))
            for name, fixed, condition in self._fixed:
                if self._is_active(condition, config):
                    config[name] = fixed.value
            configs.append(config)
        return configs

    def encode(self, configs: Sequence[Mapping[str, Any]]) -> np.ndarray:
        """`n x d`-dim array in ``[0, 1]`` for ``configs``; inactive entries are ``INACTIVE_VALUE``."""
        import numpy as np

        x = np.full((len(configs), self.d), INACTIVE_VALUE, dtype=float)
        for i, config in enumerate(configs):
            for j, dim in enumerate(self._dims):
                if self._is_active(dim.condition, config):
                    if dim.name not in config:
                        raise ConfigError(dim.name, "missing from config")
                    x[i, j] = dim.param.to_unit(config[dim.name])
        return x

    def active_mask(self, configs: Sequence[Mapping[str, Any]]) -> np.ndarray:
        """Boolean `n x d`-dim array: True where a column is active for that config."""
        import numpy as np

        return np.array(
            [[self._is_active(dim.condition, c) for dim in self._dims] for c in configs], dtype=bool
        ).reshape(len(configs), self.d)

    def sample(self, rng: np.random.Generator, n: int | None = None) -> Any:
        """Draw uniformly (log-uniformly for ``log=True``) with the given generator.

        Returns:
            One config if ``n`` is None, else a list of ``n`` configs.
        """
        configs = self.decode(rng.random((1 if n is None else n, self.d)))
        return configs[0] if n is None else configs

    # ------------------------------------------------------------------ validation
    def validate(self, config: Mapping[str, Any]) -> None:
        """Raise :class:`ConfigError` naming the first parameter that is wrong, missing or extra."""
        if not isinstance(config, Mapping):
            raise ConfigError(None, f"a config is a dict, got {type(config).__name__}")
        expected: set[str] = set()
        for dim in self._dims:
            if self._is_active(dim.condition, config):
                expected.add(dim.name)
                if dim.name not in config:
                    raise ConfigError(dim.name, "missing from config")
                dim.param.check(dim.name, config[dim.name])
        for name, fixed, condition in self._fixed:
            if self._is_active(condition, config):
                expected.add(name)
                if name not in config:
                    raise ConfigError(name, "missing from config")
                fixed.check(name, config[name])
        extra = sorted(set(config) - expected, key=repr)  # keys of any type
        if extra:
            raise ConfigError(extra[0], "not an active parameter of this space")

    def contains(self, config: Mapping[str, Any]) -> bool:
        """True if ``config`` is a valid, complete config of this space."""
        try:
            self.validate(config)
        except ConfigError:
            return False
        return True

    # ------------------------------------------------------------------ serialisation
    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict; ``SearchSpace.from_dict(space.to_dict()) == space``."""
        return {name: p.to_dict() for name, p in self.params.items()}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SearchSpace:
        return cls(data)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> SearchSpace:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise SearchSpaceError(None, f"not valid JSON: {exc}") from None
        return cls(data)
