"""Parameters from their dict form (as read from JSON or YAML): :func:`param_from_dict`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hpo.errors import SearchSpaceError
from hpo.search_spaces._params import Categorical, Choice, Fixed, Float, Int, Param

__all__ = ["param_from_dict"]

_TYPES: dict[str, type[Param]] = {c.type_name: c for c in (Float, Int, Categorical, Fixed, Choice)}


def _number(name: str, key: str, raw: Any) -> Any:
    # YAML 1.1 reads "1e-5" as a string; accept numeric strings for bounds.
    if isinstance(raw, str):
        try:
            return float(raw) if any(ch in raw for ch in ".eE") else int(raw)
        except ValueError:
            raise SearchSpaceError(name, f"{key}={raw!r} is not a number") from None
    return raw


def param_from_dict(name: str, spec: Any) -> Param:
    """Build a parameter from its :meth:`Param.to_dict` form (as read from JSON or YAML)."""
    if isinstance(spec, Param):
        return spec
    if not isinstance(spec, Mapping) or "type" not in spec:
        raise SearchSpaceError(name, f"expected a mapping with a 'type' key, got {spec!r}")
    kind = spec["type"]
    cls = _TYPES.get(kind) if isinstance(kind, str) else None
    if cls is None:
        raise SearchSpaceError(name, f"unknown type {kind!r}; known types: {sorted(_TYPES)}")
    args = {k: v for k, v in spec.items() if k != "type"}
    try:
        if cls is Float or cls is Int:
            for key in ("low", "high", "step"):
                if key in args and args[key] is not None:
                    args[key] = _number(name, key, args[key])
            if cls is Int and args.get("step") is None:
                args.pop("step", None)
            return cls(**args)
        if cls is Choice:
            options = args.get("options")
            if not isinstance(options, Mapping):
                raise SearchSpaceError(name, "a choice needs 'options': a mapping of option name to sub-space")
            subs = {}
            for opt, sub in options.items():
                if sub is not None and not isinstance(sub, Mapping):
                    raise SearchSpaceError(
                        name, f"option {opt!r} must map to a dict of parameters, got {type(sub).__name__}"
                    )
                subs[opt] = {n: param_from_dict(n, p) for n, p in (sub or {}).items()}
            return Choice(subs)
        return cls(**args)
    except TypeError as exc:
        raise SearchSpaceError(name, f"bad fields for type {kind!r}: {exc}") from None
