"""Fixtures for fine-tuning tests: one torch thread, a synthetic sentiment task."""

from __future__ import annotations

import pytest
import torch
from train_helpers import synthetic

from hiddenpool.data import LabelledData


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    # Tiny models are dominated by thread synchronisation; on a shared 2-core machine two
    # threads make each step ~100x slower than one.
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def regression_data() -> LabelledData:
    return synthetic()
