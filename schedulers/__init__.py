"""Schedulers: how much budget a trial gets, and whether it goes on.

Installed as ``hpo.schedulers``; always import it under that name.
"""

from hpo.schedulers.base import BaseScheduler
from hpo.schedulers.fifo import FIFOScheduler

__all__ = ["BaseScheduler", "FIFOScheduler"]
