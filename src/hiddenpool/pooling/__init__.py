"""Pooling strategies over captured hidden states.

Shape key: B batch, T tokens, H hidden, L layers, F pooled features per layer.
A strategy = which layers -> how to combine them -> how to pool tokens; see :mod:`.spec`.
"""

from hiddenpool.pooling.pooler import Pooler, create_pooler
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
