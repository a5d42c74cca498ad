"""Fixtures for fine-tuning tests: one torch thread, a synthetic sentiment task."""

from __future__ import annotations

import pytest
from train_helpers import synthetic

from hiddenpool.data import LabelledData


@pytest.fixture(autouse=True, scope="module")
def _one_thread(one_thread: None) -> None:
    """Every fine-tuning test runs tiny models on one torch thread (tests/conftest.py)."""


@pytest.fixture(scope="session")
def regression_data() -> LabelledData:
    return synthetic()
