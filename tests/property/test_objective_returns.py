"""Random objective returns: every trial ends COMPLETED or FAILED with a reason, and the
driver never crashes; the study file, reloaded, shows the same."""

from __future__ import annotations

import math
import numbers
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from _strategies import scaled
from hypothesis import given, settings
from hypothesis import strategies as st

import hpo
from hpo.search_spaces import Float
from hpo.trial import TrialStatus

numbers_ = st.one_of(
    st.floats(),
    st.integers(),
    st.sampled_from([10**400, -(10**400), 2**63, -0.0]),
    st.booleans(),
    st.floats().map(np.float64),
    st.floats(width=32).map(np.float32),
    st.integers(-(2**31), 2**31 - 1).map(np.int32),
    st.floats().map(np.array),  # 0-d arrays
    st.sampled_from([np.array(True), np.array("0.5"), np.array(1 + 2j), np.array([1.0])]),
)


class BrokenRepr:
    """An object whose ``repr`` raises, as a half-built user object may."""

    def __repr__(self) -> str:
        raise RuntimeError("no repr")


def _cycle() -> list[Any]:
    cycle: list[Any] = [1.0]
    cycle.append(cycle)
    return cycle


others = st.one_of(
    st.none(),
    st.text(max_size=4),
    st.binary(max_size=3),
    st.lists(numbers_, max_size=2),
    st.lists(st.dictionaries(st.one_of(st.integers(-2, 2), st.text(max_size=2)), numbers_, max_size=3), max_size=2),
    st.builds(BrokenRepr),
    st.builds(_cycle),
    st.builds(object),
)
values = st.one_of(numbers_, others, st.dictionaries(st.text(max_size=3), numbers_, max_size=2))
keys = st.one_of(st.sampled_from(["loss", "acc", "cost"]), st.text(max_size=3), st.integers(-3, 3))
dicts = st.dictionaries(keys, values, max_size=4)
returns = st.one_of(
    numbers_,
    others,
    dicts,  # often missing the metric
    st.builds(lambda d, v: {**d, "loss": v}, dicts, values),
    st.builds(lambda d, v, w: {**d, "loss": v, "acc": w}, dicts, numbers_, numbers_),
)


def _number(raw: Any) -> float | None:
    """What the study should record for one metric value, or None if the trial must fail."""
    if isinstance(raw, np.ndarray) and raw.ndim == 0:
        raw = raw.item()
    elif isinstance(raw, np.generic):
        raw = raw.item()
    if isinstance(raw, bool) or not isinstance(raw, numbers.Real):
        return None
    try:
        value = float(raw)
    except OverflowError:
        return None
    return value if math.isfinite(value) else None


def expected_value(result: Any, metrics: tuple[str, ...]) -> float | None:
    """The trial's value (its first metric) if it must complete, else None."""
    if isinstance(result, dict):
        plain = {str(k): v for k, v in result.items()}
        found = [_number(plain[m]) if m in plain else None for m in metrics]
        return found[0] if all(v is not None for v in found) else None
    if result is None or len(metrics) > 1:
        return None
    return _number(result)


def _objective(results: list[Any]) -> Any:
    calls = iter(results)

    def objective(config: dict[str, Any]) -> Any:
        return next(calls)

    return objective


@settings(max_examples=scaled(60))
@given(st.lists(returns, min_size=1, max_size=3), st.sampled_from([("loss",), ("loss", "acc")]))
def test_every_trial_completes_or_fails_with_a_reason_and_reloads_the_same(results, metrics):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "study.db"
        study = hpo.Study.create(
            _objective(results), {"x": Float(0.0, 1.0)}, metric=metrics if len(metrics) > 1 else metrics[0],
            mode="min" if len(metrics) == 1 else ("min", "max"), storage=path, searcher="random",
            executor="inprocess", seed=0,
        )
        try:
            result = study.optimize(len(results))
        finally:
            study.close()
        assert result.stop_reason == "n_trials"
        assert len(result.trials) == len(results)
        for trial, returned in zip(result.trials, results, strict=True):
            want = expected_value(returned, metrics)
            if want is None:
                assert trial.status is TrialStatus.FAILED, (returned, trial)
                assert trial.reason and trial.value is None
            else:
                assert trial.status is TrialStatus.COMPLETED, (returned, trial)
                assert trial.value == want
        reloaded = hpo.load_study(path)
        assert [(t.status, t.value, t.reason) for t in reloaded.trials] == [
            (t.status, t.value, t.reason) for t in result.trials
        ]


@pytest.mark.parametrize(
    "returned",
    [
        10**400,  # float(10**400) raised OverflowError in the driver
        {"loss": 0.5, "cost": 10**400},  # so did the cost of a huge reported cost
        {"loss": 0.5, "extra": [{1: 2, "a": 3}]},  # keys of mixed types could not be sorted into JSON
        {"loss": 0.5, "extra": BrokenRepr()},  # repr() raised while storing the metrics
        {"loss": 0.5, "extra": _cycle()},  # a cycle JSON refused
        {"loss": 0.5, "extra": [10**5000]},  # an int too long to print
        [10**5000],  # ... also in the error message
    ],
)
def test_returns_that_used_to_crash_the_driver(tmp_path, returned):
    study = hpo.Study.create(
        _objective([returned]), {"x": Float(0.0, 1.0)}, metric="loss", storage=tmp_path / "s.db",
        searcher="random", executor="inprocess", seed=0,
    )
    try:
        trial = study.optimize(1).trials[0]
    finally:
        study.close()
    want = expected_value(returned, ("loss",))
    assert (trial.status, trial.value) == (
        (TrialStatus.FAILED, None) if want is None else (TrialStatus.COMPLETED, want)
    )
    assert hpo.load_study(tmp_path / "s.db").trials[0].status is trial.status
