"""The one registry of token poolers and layer combiners, filled explicitly below.

Poolers and combiners are separate namespaces: in ``mean@mean(-4:)`` the first ``mean`` pools
tokens and the second averages layers.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from hiddenpool.pooling import functional as F
from hiddenpool.pooling.layers import (
    ConcatLayers,
    LayerAttention,
    LayerCombiner,
    LayerRNN,
    MeanLayers,
    SumLayers,
    WeightedLayers,
)
from hiddenpool.pooling.learned import AttentionPool, Conv1dPool, LearnedGeMPool
from hiddenpool.pooling.token import (
    CLSPool,
    FirstPool,
    GeMPool,
    LastPool,
    MaskedPool,
    ModelAttentionPool,
    PoolerOutput,
    TokenPooler,
)

__all__ = [
    "COMBINERS",
    "POOLERS",
    "CombinerEntry",
    "PoolerEntry",
    "list_combiners",
    "list_poolers",
    "register_combiner",
    "register_pooler",
]

# A pooler factory receives the input width and the spec's keyword arguments.
PoolerFactory = Callable[..., TokenPooler]
CombinerFactory = Callable[[int, int], LayerCombiner]  # (number of layers, width per layer)


@dataclass(frozen=True)
class PoolerEntry:
    """A token pooler: its name in specs, what it does, its options with defaults, its factory.

    ``factor`` is its output width over its input width; ``learned`` poolers have parameters.
    """

    name: str
    description: str
    factory: PoolerFactory
    options: Mapping[str, Any] = field(default_factory=dict)
    factor: int = 1
    learned: bool = False


@dataclass(frozen=True)
class CombinerEntry:
    """A layer combiner: its name in specs, what it does, its factory."""

    name: str
    description: str
    factory: CombinerFactory
    learned: bool = False


_POOLERS: dict[str, PoolerEntry] = {}
_COMBINERS: dict[str, CombinerEntry] = {}
POOLERS: Mapping[str, PoolerEntry] = MappingProxyType(_POOLERS)
COMBINERS: Mapping[str, CombinerEntry] = MappingProxyType(_COMBINERS)


def register_pooler(entry: PoolerEntry) -> PoolerEntry:
    """Add a token pooler under ``entry.name``; names are unique."""
    if entry.name in _POOLERS:
        raise ValueError(f"a pooler named {entry.name!r} is already registered")
    _POOLERS[entry.name] = entry
    return entry


def register_combiner(entry: CombinerEntry) -> CombinerEntry:
    """Add a layer combiner under ``entry.name``; names are unique."""
    if entry.name in _COMBINERS:
        raise ValueError(f"a combiner named {entry.name!r} is already registered")
    _COMBINERS[entry.name] = entry
    return entry


def list_poolers(learned: bool | None = None) -> list[str]:
    """Registered token pooler names, optionally only the learned or parameter-free ones."""
    return [n for n, e in _POOLERS.items() if learned is None or e.learned == learned]


def list_combiners(learned: bool | None = None) -> list[str]:
    """Registered layer combiner names, optionally only the learned or parameter-free ones."""
    return [n for n, e in _COMBINERS.items() if learned is None or e.learned == learned]


_SKIP = {"skip_special": False}


def _masked(*reduce: Callable[..., Any]) -> PoolerFactory:
    return lambda width, skip_special=False: MaskedPool(*reduce, skip_special=skip_special)


for _entry in (
    PoolerEntry(
        "cls",
        "the family's summary token ([CLS]/<s> first; XLNet and decoders last)",
        lambda width: CLSPool(),
    ),
    PoolerEntry("first", "the first real token", lambda width: FirstPool()),
    PoolerEntry(
        "last", "the last real token (decoders' usual sentence vector)", lambda width: LastPool()
    ),
    PoolerEntry(
        "pooler",
        "the model's pooler_output (BERT: tanh(dense(CLS)); often untrained)",
        lambda width: PoolerOutput(),
    ),
    PoolerEntry("mean", "masked mean over real tokens", _masked(F.masked_mean), _SKIP),
    PoolerEntry("max", "masked element-wise max over real tokens", _masked(F.masked_max), _SKIP),
    PoolerEntry("min", "masked element-wise min over real tokens", _masked(F.masked_min), _SKIP),
    PoolerEntry("sum", "masked sum over real tokens", _masked(F.masked_sum), _SKIP),
    PoolerEntry(
        "mean_sqrt_len",
        "masked sum divided by sqrt(token count)",
        _masked(F.masked_mean_sqrt_len),
        _SKIP,
    ),
    PoolerEntry(
        "weighted_mean",
        "position-weighted mean, later tokens weigh more (SGPT)",
        _masked(F.masked_weighted_mean),
        _SKIP,
    ),
    PoolerEntry(
        "meanmax",
        "masked mean concatenated with masked max (2x width)",
        _masked(F.masked_mean, F.masked_max),
        _SKIP,
        factor=2,
    ),
    PoolerEntry(
        "gem",
        "generalised mean (mean of x^p)^(1/p), p=3 by default",
        lambda width, p=3.0, skip_special=False: GeMPool(p, skip_special),
        {"p": 3.0, **_SKIP},
    ),
    PoolerEntry(
        "attn",
        "tokens weighted by the summary token's attention (heads averaged)",
        lambda width, skip_special=False: ModelAttentionPool(skip_special),
        _SKIP,
    ),
    PoolerEntry(
        "attention",
        "learned: MLP token scores + masked softmax (seed 002)",
        lambda width, skip_special=False: AttentionPool(width, skip_special),
        _SKIP,
        learned=True,
    ),
    PoolerEntry(
        "conv1d",
        "learned: two masked 1-D convolutions over tokens, then masked max",
        lambda width, kernel=3, skip_special=False: Conv1dPool(width, kernel, skip_special),
        {"kernel": 3, **_SKIP},
        learned=True,
    ),
    PoolerEntry(
        "gem_learned",
        "learned: GeM whose exponent p is trained (starts at p=3)",
        lambda width, p=3.0, skip_special=False: LearnedGeMPool(p, skip_special),
        {"p": 3.0, **_SKIP},
        learned=True,
    ),
):
    register_pooler(_entry)

for _combiner in (
    CombinerEntry("mean", "average the layers, then pool tokens", lambda n, w: MeanLayers(n)),
    CombinerEntry("sum", "sum the layers, then pool tokens", lambda n, w: SumLayers(n)),
    CombinerEntry(
        "concat", "concatenate the layers' features (width x layers)", lambda n, w: ConcatLayers(n)
    ),
    CombinerEntry(
        "weighted",
        "learned: softmax-weighted layer average (weighted layer pooling)",
        lambda n, w: WeightedLayers(n),
        learned=True,
    ),
    CombinerEntry(
        "layer_attention",
        "learned: attention over per-layer pooled vectors",
        lambda n, w: LayerAttention(n, w),
        learned=True,
    ),
    CombinerEntry(
        "lstm",
        "learned: LSTM over per-layer pooled vectors, last state",
        lambda n, w: LayerRNN(n, w, "lstm"),
        learned=True,
    ),
    CombinerEntry(
        "gru",
        "learned: GRU over per-layer pooled vectors, last state",
        lambda n, w: LayerRNN(n, w, "gru"),
        learned=True,
    ),
):
    register_combiner(_combiner)
