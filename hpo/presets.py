"""Presets: how names become a scheduler with its searcher, and how they are stored.

Thin compositions, as Syne Tune's ``baselines.py``: ASHA, BOHB-style Hyperband and
model-based ASHA are one scheduler given different searchers. Every default that pairs
a scheduler with a searcher lives here, and nowhere else:

* ``searcher="bo"`` under ``scheduler="asha"`` becomes ``"bo-ts"`` (Thompson sampling:
  ASHA asks for a config often; see :func:`hpo.searchers.bo.thompson_bo`);
* ``surrogate=NAME`` means ``BOSearcher(surrogate=NAME)`` (the names are
  :func:`surrogate_names`; acquisitions are :data:`ACQUISITIONS`).

A scheduler or searcher *object* is stored as its class and constructor arguments (the
arguments it keeps as attributes of the same name, as scikit-learn's ``get_params``), so
``Study.load`` and ``hpo resume`` rebuild it. One that cannot be rebuilt (a class defined
in a script, an argument JSON cannot hold) raises :class:`~hpo.errors.HPOError` on resume,
saying what to pass.
"""

from __future__ import annotations

import importlib
import inspect
import json
from collections.abc import Mapping
from typing import Any

from hpo.errors import HPOError

__all__ = [
    "ACQUISITIONS",
    "DEFAULT_SEARCHER",
    "searcher_for",
    "searcher_like",
    "surrogate_names",
    "build",
    "describe",
]

#: Acquisition names of ``BOSearcher``.
ACQUISITIONS = ("logei", "ucb", "ts", "qlognei", "ei_per_cost", "ei_cool")
#: The searcher used when none is named.
DEFAULT_SEARCHER = "bo"
#: (scheduler name, searcher name) -> the searcher that preset uses instead.
_SEARCHER_BY_SCHEDULER = {("asha", "bo"): "bo-ts", ("async_hyperband", "bo"): "bo-ts"}


def surrogate_names() -> list[str]:
    """Registered surrogate names (``surrogate=`` of ``@tune``, ``--surrogate``, ``HPOSampler``)."""
    from hpo._registry import SURROGATES

    return SURROGATES.names()


def searcher_for(scheduler: Any, searcher: Any) -> Any:
    """The searcher a scheduler name pairs with a searcher name (``asha`` + ``bo`` -> ``bo-ts``)."""
    if isinstance(scheduler, str) and isinstance(searcher, str):
        return _SEARCHER_BY_SCHEDULER.get((scheduler.lower(), searcher.lower()), searcher)
    return searcher


def build(scheduler: Any, searcher: Any, space: Any, seed: int | None, surrogate: Any = None) -> Any:
    """The scheduler object for stored or given settings.

    Args:
        scheduler: A registered name, a stored description (:func:`describe`) or a
            :class:`~hpo.schedulers.BaseScheduler` (returned as it is).
        searcher: Likewise for the searcher (ignored when ``scheduler`` is an object).
        space: The study's :class:`~hpo.search_spaces.SearchSpace`.
        seed: The study's seed.
        surrogate: A surrogate name or object for the BO searcher, or None.

    Raises:
        HPOError: naming what to pass, when a stored object cannot be rebuilt.
        UnknownPluginError: for an unknown name.
    """
    from hpo._registry import SCHEDULERS
    from hpo.schedulers import BaseScheduler

    if isinstance(scheduler, BaseScheduler):
        return scheduler
    search = _searcher(searcher_for(scheduler, searcher), space, seed, surrogate)
    if isinstance(scheduler, str):
        if ":" in scheduler:  # stored by an older version as its class name only
            raise _unrebuildable("scheduler", scheduler)
        return SCHEDULERS.build(scheduler, searcher=search)
    return _rebuild(scheduler, "scheduler", {"searcher": search})


def searcher_like(template: Any, space: Any, seed: int | None) -> Any:
    """A fresh searcher of ``template``'s kind and settings over another ``space``.

    Schedulers that own several searchers (one per arm of :class:`~hpo.schedulers.RisingBandits`)
    build them from the study's searcher this way, so what the user chose (``surrogate=``,
    ``acquisition``, ...) reaches every one of them; nested surrogates are rebuilt fresh.

    Args:
        template: A searcher object, or a registered searcher name.
        space: The new searcher's space.
        seed: Its seed.

    Raises:
        HPOError: when ``template`` cannot be rebuilt (a class defined in a script, or an
            argument JSON cannot hold), naming what to pass instead.
    """
    if isinstance(template, str):
        return _searcher(template, space, seed, None)
    spec = describe(template)
    # settings the template derived from its own space (e.g. BO's n_init = d + 1) are derived again
    derived = set(getattr(template, "space_derived", ())) | {"seed"}
    spec = {**spec, "params": {k: v for k, v in (spec.get("params") or {}).items() if k not in derived}}
    return _rebuild(spec, "searcher", {"space": space, "seed": seed})


def _searcher(searcher: Any, space: Any, seed: int | None, surrogate: Any) -> Any:
    from hpo._registry import SEARCHERS
    from hpo.searchers import BaseSearcher

    if isinstance(searcher, BaseSearcher):
        return searcher
    if surrogate is not None:
        from hpo.searchers.bo import BOSearcher

        if searcher not in ("bo", "bo-ts"):
            raise HPOError(f"surrogate={surrogate!r} needs searcher='bo', got searcher={searcher!r}")
        return BOSearcher(space, seed, surrogate=_surrogate(surrogate, seed),
                          acquisition="ts" if searcher == "bo-ts" else "logei")
    if isinstance(searcher, str):
        if ":" in searcher:
            raise _unrebuildable("searcher", searcher)
        return SEARCHERS.build(searcher, space=space, seed=seed)
    return _rebuild(searcher, "searcher", {"space": space, "seed": seed})


def _surrogate(surrogate: Any, seed: int | None) -> Any:
    if isinstance(surrogate, Mapping):
        return _rebuild(surrogate, "surrogate", {})
    return surrogate


# ---------------------------------------------------------------------- storing objects
def describe(obj: Any) -> Any:
    """A JSON-storable description of a name or plugin object, for the study's settings.

    Names are kept as they are. An object becomes ``{"class": "module:Qualname",
    "params": {...}, "complete": bool}``: every constructor argument it keeps as an
    attribute of the same name (nested plugins described in turn). ``complete`` is False
    when an argument could not be stored; such an object cannot be rebuilt on resume.
    """
    if obj is None or isinstance(obj, str):
        return obj
    cls = type(obj)
    params: dict[str, Any] = {}
    complete = cls.__module__ != "__main__" and "<" not in cls.__qualname__
    try:
        signature = inspect.signature(cls.__init__)
    except (TypeError, ValueError):
        return {"class": f"{cls.__module__}:{cls.__qualname__}", "params": {}, "complete": False}
    for name, p in signature.parameters.items():
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) or name in ("self", "space"):
            continue
        static = inspect.getattr_static(obj, name, None)
        if static is None or isinstance(static, property):
            complete = complete and p.default is not p.empty  # the default will do
            continue
        value = getattr(obj, name)
        if _is_plugin(value):
            params[name] = nested = describe(value)
            complete = complete and nested["complete"]
        elif storable(value):
            params[name] = value
        else:
            complete = False
    return {"class": f"{cls.__module__}:{cls.__qualname__}", "params": params, "complete": complete}


def _rebuild(spec: Mapping[str, Any], kind: str, context: Mapping[str, Any]) -> Any:
    ref = spec.get("class", "?")
    if not spec.get("complete"):
        raise _unrebuildable(kind, ref)
    try:
        module, _, qualname = ref.partition(":")
        cls: Any = importlib.import_module(module)
        for part in qualname.split("."):
            cls = getattr(cls, part)
        if not (isinstance(cls, type) and issubclass(cls, _plugin_bases())):  # a study file may be foreign
            raise HPOError(
                f"the study's settings name {ref!r} as its {kind}, which is not a scheduler, searcher or "
                "surrogate class; refusing to call it"
            )
        params = dict(spec.get("params") or {})
        for name, value in params.items():
            if not (isinstance(value, Mapping) and "class" in value):
                continue
            if name == "searcher":  # a scheduler's searcher: the one built for the study
                params[name] = context.get("searcher") or _rebuild(
                    value, "searcher", {"space": context.get("space"), "seed": context.get("seed")}
                )
            elif name == "base":  # a wrapping scheduler (LCStopping) shares its searcher
                params[name] = _rebuild(value, "scheduler", {"searcher": context.get("searcher")})
            else:
                params[name] = _rebuild(value, "surrogate", {})
        return cls(**{**params, **{k: v for k, v in context.items() if k not in params}})
    except HPOError:
        raise
    except Exception as exc:  # noqa: BLE001 - any failure to rebuild is the same user error
        raise _unrebuildable(kind, ref, exc) from exc


def _unrebuildable(kind: str, ref: str, exc: BaseException | None = None) -> HPOError:
    why = f" ({type(exc).__name__}: {exc})" if exc is not None else ""
    return HPOError(
        f"the study was created with a {kind} object of class {ref!r} that cannot be rebuilt from the "
        f"stored settings{why}; pass it again: Study.load(path, {kind}=...), or `hpo resume --{kind} NAME`"
    )


def _plugin_bases() -> tuple[type, ...]:
    from hpo.schedulers import BaseScheduler
    from hpo.searchers import BaseSearcher
    from hpo.surrogates.base import BaseSurrogate

    return (BaseScheduler, BaseSearcher, BaseSurrogate)


def _is_plugin(value: Any) -> bool:
    return isinstance(value, _plugin_bases())


def storable(value: Any) -> bool:
    """Whether JSON can hold ``value`` (the study's settings are JSON)."""
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return False
    return True
