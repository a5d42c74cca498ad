"""A server in a thread on a free loopback port, and plain HTTP helpers (no client library)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from serve_helpers import running, st_folder

from hiddenpool.serve import ServeSettings, create_app, load_served_model


@pytest.fixture(scope="session")
def tiny_st(tiny_dir, tmp_path_factory) -> Path:
    """The tiny BERT as a sentence-transformers folder: mean pooling, then Normalize."""
    target = tmp_path_factory.mktemp("st") / "tiny-st"
    return st_folder(tiny_dir("bert"), target, {"pooling_mode_mean_tokens": True}, True)


@pytest.fixture(scope="module")
def tiny_served(tiny_st, one_thread):
    """The tiny ST folder served with its own pooling plus cls@-2 and mean@1,-1."""
    return load_served_model(tiny_st, ["mean", "cls@-2", "mean@1,-1"], served_name="tiny")


@pytest.fixture(scope="module")
def tiny_server(tiny_served) -> Iterator[int]:
    settings = ServeSettings(max_inputs=64, max_input_chars=2000, max_body_bytes=1024 * 1024)
    with running(create_app(tiny_served, settings)) as port:
        yield port
