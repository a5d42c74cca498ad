"""The one test that really downloads: vader-movies through pip, into a fresh cache."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest

from hiddenpool.data import load_dataset


@pytest.mark.slow
def test_fetch_vader_movies_for_real(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = load_dataset("vader-movies", cache_dir=tmp_path)
    assert len(data) == 10_605 and len(data.texts) == 10_605
    assert data.task == "regression" and data.labels.dtype == np.float64
    assert np.all(data.labels >= -4.0) and np.all(data.labels <= 4.0)
    assert data.texts[0].startswith("The Rock is destined to be the 21st Century's new")
    assert all(t == t.strip() and t for t in data.texts)
    assert (tmp_path / "datasets" / "vaderSentiment-3.3.2.tar.gz").is_file()

    def offline(*args: object, **kwargs: object) -> None:
        raise AssertionError("a cached dataset must load without any subprocess")

    monkeypatch.setattr(subprocess, "run", offline)
    again = load_dataset("vader-movies", cache_dir=tmp_path)
    np.testing.assert_array_equal(again.labels, data.labels)
