"""Pooling strategies over captured hidden states.

Shape key: B batch, T tokens, H hidden, L layers, F pooled features per layer.
A strategy = which layers -> how to combine them -> how to pool tokens; see :mod:`.spec`.

The spec language and the registry import without torch (so listing strategies is instant);
the modules that run (:class:`Pooler`) load torch when first used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from hiddenpool.pooling.registry import (
    COMBINERS,
    POOLERS,
    CombinerEntry,
    PoolerEntry,
    list_combiners,
    list_poolers,
    register_combiner,
    register_pooler,
)
from hiddenpool.pooling.spec import LayerSelection, PoolerSpec, Strategy, parse_strategy

if TYPE_CHECKING:
    from hiddenpool.pooling.pooler import Pooler, create_pooler

__all__ = [
    "COMBINERS",
    "POOLERS",
    "CombinerEntry",
    "LayerSelection",
    "Pooler",
    "PoolerEntry",
    "PoolerSpec",
    "Strategy",
    "create_pooler",
    "list_combiners",
    "list_poolers",
    "parse_strategy",
    "register_combiner",
    "register_pooler",
]


def __getattr__(name: str) -> Any:
    if name in ("Pooler", "create_pooler"):
        from hiddenpool.pooling import pooler

        return getattr(pooler, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
