"""Schedulers: how much budget a trial gets, and whether it goes on.

Installed as ``hpo.schedulers``; always import it under that name.

* :class:`FIFOScheduler`: every trial runs to the full budget;
* :class:`SuccessiveHalving`, :class:`Hyperband`: synchronous brackets (Li et al., JMLR 2018);
* :class:`ASHA`: asynchronous successive halving with promotions (Li et al., MLSys 2020);
  :class:`AsyncHyperband`: ASHA with one bracket per rung, new configs starting at the
  lowest rung whose ranks agree with a higher rung's;
* :class:`PBT`: population based training (Jaderberg et al., 2017);
* :class:`RisingBandits`: algorithm selection over a ``Choice``'s options, each an arm
  searched by its own searcher, weak arms eliminated (Li et al., AAAI 2020);
* :class:`LCStopping`: stop trials whose LC-PFN-extrapolated curve will not beat the
  incumbent (Adriaensen et al., NeurIPS 2023), alone or around any of the above.

Given a searcher that learns (``BOSearcher``), the bracket schedulers are model-based
(BOHB-style): see :mod:`hpo.schedulers._fidelity`.
"""

from hpo.schedulers.asha import ASHA, AsyncHyperband
from hpo.schedulers.base import BaseScheduler
from hpo.schedulers.fifo import FIFOScheduler
from hpo.schedulers.hyperband import Hyperband, SuccessiveHalving, hyperband_brackets
from hpo.schedulers.lcstopping import LCStopping
from hpo.schedulers.pbt import PBT
from hpo.schedulers.rising_bandits import RisingBandits

__all__ = [
    "BaseScheduler",
    "FIFOScheduler",
    "SuccessiveHalving",
    "Hyperband",
    "ASHA",
    "AsyncHyperband",
    "PBT",
    "LCStopping",
    "RisingBandits",
    "hyperband_brackets",
]
