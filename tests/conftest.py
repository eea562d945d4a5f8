"""Shared test settings."""

from __future__ import annotations

import os

import pytest


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if os.environ.get("HPO_RUN_SLOW") == "1":
        return
    skip = pytest.mark.skip(reason="slow: set HPO_RUN_SLOW=1 (make test-slow) to run")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)
