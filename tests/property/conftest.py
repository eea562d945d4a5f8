"""Hypothesis profiles for the property suites.

``default`` (``make test``): few examples, derandomized, so a run is quick and repeatable.
``ci`` (``HPO_HYPOTHESIS_PROFILE=ci``, set by ``make test-slow``): five times as many
examples, freshly random each run. Each suite sizes its examples with
``_strategies.scaled(n)``: ``n`` under ``default``, ``5 n`` under ``ci``.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

_COMMON = {"deadline": None, "suppress_health_check": [HealthCheck.too_slow]}
settings.register_profile("default", max_examples=100, derandomize=True, database=None, **_COMMON)
settings.register_profile("ci", max_examples=500, database=None, print_blob=True, **_COMMON)
settings.load_profile(os.environ.get("HPO_HYPOTHESIS_PROFILE", "default"))
