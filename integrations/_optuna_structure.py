"""A define-by-run space's conditional structure, read off the trials, as our ``Choice`` space.

An Optuna objective such as::

    learner = trial.suggest_categorical("learner", ["svm", "forest"])
    if learner == "svm":
        C = trial.suggest_float("C", 1e-3, 1e3, log=True)
        kernel = trial.suggest_categorical("kernel", ["rbf", "linear"])
        if kernel == "rbf":
            gamma = trial.suggest_float("gamma", 1e-4, 1.0, log=True)
    else:
        n_estimators = trial.suggest_int("n_estimators", 10, 500)

never states its tree, but the trials show it: ``C`` and ``kernel`` occur exactly in the
trials whose ``learner`` is ``"svm"``, ``gamma`` exactly in those whose ``kernel`` is
``"rbf"``. :func:`infer_choice_space` recovers that tree as a :class:`~hpo.search_spaces.SearchSpace`
with nested ``Choice`` parameters (the issue's "map the observed structure onto our
``Choice`` encoding"), so that ``HPOSampler`` can hand define-by-run studies to the same
decomposed conditional BO as ``BOSearcher`` (:mod:`hpo.searchers._bo_branches`: one model
per option, the option chosen by its own model's acquisition value, an exploration floor per
option).

The rule, applied recursively: within a set of trials, the parameters every trial has are
the level's own; each remaining parameter must be present in exactly the trials whose value
of one categorical parameter of the level (or an integer one with at most
:data:`MAX_INT_OPTIONS` values, such as ``n_layers`` in Optuna's PyTorch example, where
``n_units_l2`` exists when ``n_layers >= 3``) lies in some set (its *selector*). One selector
per level; options never observed get an empty sub-space (their parameters are unknown
until a trial takes them, and then the structure is read again). Anything else (a parameter
that occurs at random, two selectors at one level) is not a tree: :func:`infer_choice_space`
returns None and the sampler keeps its groups.

Inside the space, an option's parameters are renamed ``"<name>|<selector>=<option>"`` so the
same Optuna name may occur under two options (``max_depth`` for a forest and for boosting);
:class:`ChoiceMapping` translates both ways. :func:`group_parameters` is the coarser reading
(groups of parameters that always co-occur, TPE's ``group=True``) the sampler falls back on.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from optuna.distributions import BaseDistribution, CategoricalDistribution, IntDistribution

__all__ = ["ChoiceMapping", "group_parameters", "infer_choice_space"]


def group_parameters(trials_params: Sequence[dict[str, BaseDistribution]]) -> list[dict[str, BaseDistribution]]:
    """Split parameters into groups that always occur together (Optuna TPE's ``group=True``).

    Each trial's parameter set splits every group it cuts into the part inside and the
    part outside, and its new parameters form a group. A parameter whose distribution
    differs between trials, or that has one value only, is left out (the independent
    sampler handles it).

    Args:
        trials_params: Each trial's ``{name: distribution}``.

    Returns:
        The groups, each ``{name: distribution}``, in order of first appearance.
    """
    groups: list[list[str]] = []
    dists: dict[str, BaseDistribution] = {}
    dropped: set[str] = set()
    for params in trials_params:
        keys = set(params)
        for n, d in params.items():
            if n in dists and dists[n] != d:
                dropped.add(n)
            dists.setdefault(n, d)
        split: list[list[str]] = []
        for g in groups:
            inside = [n for n in g if n in keys]
            outside = [n for n in g if n not in keys]
            split += [part for part in (inside, outside) if part]
        known = {n for g in groups for n in g}
        new = [n for n in params if n not in known]
        groups = split + ([new] if new else [])
    out = []
    for g in groups:
        group = {n: dists[n] for n in g if n not in dropped and not dists[n].single()}
        if group:
            out.append(group)
    return out


@dataclass(frozen=True)
class ChoiceMapping:
    """A tree-structured ``SearchSpace`` and the names that link it to the Optuna trials.

    Attributes:
        space: The space, with a top-level ``Choice``.
        names: Internal name -> Optuna parameter name, for every value-bearing parameter.
        options: Selector's internal name -> ``{option name: the Optuna value}``.
    """

    space: Any
    names: Mapping[str, str]
    options: Mapping[str, Mapping[str, Any]]

    def to_config(self, params: Mapping[str, Any]) -> dict[str, Any] | None:
        """The space's config of one trial's ``params`` (Optuna names), or None if it does not fit.

        Walks the tree from the top: a parameter is read where it is active, and a trial
        missing one (a RUNNING trial whose objective has not suggested it yet) gives None.
        """
        config: dict[str, Any] = {}
        for dim in self.space.dims:
            if dim.condition is not None and config.get(dim.condition[0]) != dim.condition[1]:
                continue
            name = self.names[dim.name]
            if name not in params:
                return None
            value = params[name]
            if dim.name in self.options:
                keys = [k for k, v in self.options[dim.name].items() if _same(v, value)]
                if not keys:
                    return None
                value = keys[0]
            config[dim.name] = value
        return config

    def to_params(self, config: Mapping[str, Any]) -> dict[str, Any]:
        """Optuna ``{name: value}`` of a config of :attr:`space`."""
        out = {}
        for name, value in config.items():
            out[self.names[name]] = self.options[name][value] if name in self.options else value
        return out


def infer_choice_space(
    trials_params: Sequence[Mapping[str, Any]],
    distributions: Mapping[str, BaseDistribution],
    to_param: Any,
) -> ChoiceMapping | None:
    """The conditional tree of a define-by-run space, read off its trials (module docstring).

    Args:
        trials_params: Each trial's ``{name: value}`` (complete and pruned trials).
        distributions: ``{name: distribution}`` of the parameters to place (one distribution
            per name; others are left to the independent sampler).
        to_param: Maps an Optuna distribution to one of our parameters.

    Returns:
        The mapping, or None when the parameters form no tree with a top-level selector
        (a flat space, or presence that no categorical explains).
    """
    from hpo.search_spaces import Choice, SearchSpace

    names: dict[str, str] = {}
    options: dict[str, dict[str, Any]] = {}
    rows = [{n: v for n, v in p.items() if n in distributions} for p in trials_params]
    if not rows:
        return None

    def level(trials: list[dict[str, Any]], suffix: str) -> dict[str, Any] | None:
        present = {n for t in trials for n in t}
        own = sorted(n for n in present if all(n in t for t in trials))
        rest = present - set(own)
        space: dict[str, Any] = {}
        for n in own:
            names[n + suffix] = n
            space[n + suffix] = to_param(distributions[n])
        if not rest:
            return space
        for selector in _selectors(trials, own, rest, distributions):
            choices = _choices(distributions[selector])
            assert choices is not None
            keys = _option_keys(choices)
            sub: dict[str, dict[str, Any]] = {}
            for key, value in zip(keys, choices, strict=True):
                inside = [{n: v for n, v in t.items() if n in rest} for t in trials if _same(t[selector], value)]
                branch = level(inside, f"{suffix}|{selector}={key}") if inside else {}
                if branch is None:
                    break
                sub[key] = branch
            else:
                space[selector + suffix] = Choice(sub)
                options[selector + suffix] = dict(zip(keys, choices, strict=True))
                return space
        return None

    tree = level(rows, "")
    if tree is None or not options:
        return None
    space = SearchSpace(tree)
    kept = {dim.name for dim in space.dims}  # not the leftovers of a selector tried and rejected
    return ChoiceMapping(space, {k: v for k, v in names.items() if k in kept}, {k: v for k, v in options.items() if k in kept})


def _selectors(
    trials: list[dict[str, Any]], own: list[str], rest: set[str], distributions: Mapping[str, BaseDistribution]
) -> list[str]:
    """Categoricals of ``own`` that could select ``rest``, the likeliest first.

    A categorical *decides* a parameter when its value alone tells whether a trial has it
    (the option's own parameters; a nested one is decided further down). Candidates decide
    at least one parameter of ``rest`` and are ordered by how many they decide; the caller
    keeps the first whose options all form trees.
    """
    scores = []
    for s in own:
        if _choices(distributions[s]) is None:
            continue
        decided = sum(
            1 for n in rest
            if not {_key(t[s]) for t in trials if n in t} & {_key(t[s]) for t in trials if n not in t}
        )
        if decided:
            scores.append((-decided, own.index(s), s))
    return [s for *_, s in sorted(scores)]


#: Most values an integer parameter may take to serve as a selector (``n_layers``); wider ones
#: are ordinary parameters, whose value rarely decides which others exist.
MAX_INT_OPTIONS = 16


def _choices(dist: BaseDistribution) -> list[Any] | None:
    """The values a selector candidate can take: a categorical's choices, or a small integer range."""
    if isinstance(dist, CategoricalDistribution):
        return list(dist.choices)
    if isinstance(dist, IntDistribution) and (dist.high - dist.low) // dist.step + 1 <= MAX_INT_OPTIONS:
        return list(range(dist.low, dist.high + 1, dist.step))
    return None


def _key(value: Any) -> tuple[str, Any]:
    """Hashable, type-aware identity of a categorical value (``1``, ``1.0`` and ``True`` differ)."""
    return (type(value).__name__, value)


def _same(a: Any, b: Any) -> bool:
    return _key(a) == _key(b)


def _option_keys(choices: Sequence[Any]) -> list[str]:
    """Option names for categorical values: ``str(value)`` when unique and non-empty, else ``"#<index>"``."""
    keys = [str(c) for c in choices]
    if len(set(keys)) == len(keys) and all(keys) and not any("|" in k or "=" in k for k in keys):
        return keys
    return [f"#{i}" for i in range(len(choices))]
