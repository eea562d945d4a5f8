"""What ``BOSearcher`` does beyond fitting one model: trust in a rung.

Split out of :mod:`hpo.searchers.bo` by responsibility; the rules and their references are
documented on :class:`hpo.searchers.bo.BOSearcher` ("Trusting a rung"). Conditional
spaces are in :mod:`hpo.searchers._bo_branches`. The mixin reads the searcher's state
(``_by_fidelity``, ``random_fraction``) and never keeps its own.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["RungTrust"]


class RungTrust:
    """The random share under multi-fidelity from rank agreement between rungs."""

    _by_fidelity: dict[float, dict[int, tuple[Mapping[str, Any], tuple[float, ...]]]]
    random_fraction: float | None

    _fitted_fidelity: Any  # BOSearcher's: the fidelity its model fits

    def effective_random_fraction(self) -> float:
        """``random_fraction``, or its adaptive default (see "Trusting a rung")."""
        if self.random_fraction is not None:
            return self.random_fraction
        if len(self._by_fidelity) <= 1:
            return 0.0
        from hpo._rank import trust_from_tau

        agreement = self.rung_agreement()
        trust = 1.0 if agreement is None else trust_from_tau(agreement[2])
        return 1.0 - trust

    def rung_agreement(self) -> tuple[float, float, float, int] | None:
        """``(lower fidelity, higher fidelity, Kendall tau, common trials)`` behind the trust, or None.

        The pair is the fitted fidelity and the next larger one; when no larger one has 5
        trials in common with it (e.g. the fitted rung is the largest observed), the next
        smaller one and the fitted one, as the best evidence of how far rungs predict
        their successors at this stage. None when neither pair has 5 common trials.
        """
        fitted = self._fitted_fidelity()
        if fitted is None:
            return None
        fids = sorted(self._by_fidelity)
        i = fids.index(fitted)
        for lo, hi in ((i, i + 1), (i - 1, i)):
            if lo >= 0 and hi < len(fids):
                tau = self._kendall(fids[lo], fids[hi])
                if tau is not None:
                    return fids[lo], fids[hi], tau[0], tau[1]
        return None

    def _kendall(self, low_f: float, high_f: float) -> tuple[float, int] | None:
        from hpo._rank import kendall_agreement

        low, high = self._by_fidelity[low_f], self._by_fidelity[high_f]
        return kendall_agreement({t: v[1][0] for t, v in low.items()}, {t: v[1][0] for t, v in high.items()}, 5)
