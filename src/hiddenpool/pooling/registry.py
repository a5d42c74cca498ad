"""The one registry of token poolers and layer combiners, filled explicitly below.

Poolers and combiners are separate namespaces: in ``mean@mean(-4:)`` the first ``mean`` pools
tokens and the second averages layers. An entry says everything the rest of the package needs to
know about its pooler: its options, its width factor, what capture must keep for it (``reads``)
and how its output merges across the windows of a long text (``merge``). Adding a pooler is one
entry here. Importing this module does not import torch: factories load their module on first
use, so ``hiddenpool strategies`` answers at once.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from hiddenpool.pooling.layers import LayerCombiner
    from hiddenpool.pooling.token import TokenPooler

__all__ = [
    "COMBINERS",
    "MERGE_RULES",
    "POOLERS",
    "CombinerEntry",
    "PoolerEntry",
    "Reads",
    "list_combiners",
    "list_poolers",
    "register_combiner",
    "register_pooler",
]

# A pooler factory receives the input width and the spec's keyword arguments.
PoolerFactory = Callable[..., "TokenPooler"]
CombinerFactory = Callable[[int, int], "LayerCombiner"]  # (number of layers, width per layer)

# What a pooler reads besides the layer's token states: nothing more, the attention maps of that
# layer's block, or the model's own pooler_output (which then stands alone: no layers, no partner).
Reads = Literal["tokens", "attentions", "pooler_output"]

# Window-merge rules (see hiddenpool.encode.merge): how one reduction of a pooler's output is
# rebuilt for a text from its windows. "summary_window" is the first or the last window,
# depending on where the family's summary token sits.
MERGE_RULES = (
    "mean",
    "sum",
    "max",
    "min",
    "mean_sqrt_len",
    "gem",
    "weighted_mean",
    "first_window",
    "last_window",
    "summary_window",
)


@dataclass(frozen=True)
class PoolerEntry:
    """A token pooler: its name in specs, what it does, its options with defaults, its factory.

    Attributes:
        factor: its output width over its input width.
        learned: it has parameters (needs fine-tuning to mean anything).
        reads: what capture must keep for it besides the layers' token states.
        merge: one window-merge rule per ``hidden_size`` slice of its output, in order; empty
            when its output cannot be rebuilt from a long text's windows.
    """

    name: str
    description: str
    factory: PoolerFactory
    options: Mapping[str, Any] = field(default_factory=dict)
    factor: int = 1
    learned: bool = False
    reads: Reads = "tokens"
    merge: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        unknown = [rule for rule in self.merge if rule not in MERGE_RULES]
        if unknown:
            raise ValueError(f"pooler {self.name!r}: unknown merge rules {unknown}")
        if self.merge and len(self.merge) != self.factor:
            raise ValueError(f"pooler {self.name!r}: one merge rule per factor, got {self.merge}")


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
# Token reductions under a template pool the inserted text only, unless include_prompt=true
# (sentence-transformers' Pooling(include_prompt=...)); without a template the option is refused.
_SPAN = {**_SKIP, "include_prompt": False}


def _lazy(module: str, name: str) -> Callable[..., Any]:
    """``hiddenpool.pooling.<module>.<name>``, imported when first called (keeps torch out)."""

    def make(*args: Any, **kwargs: Any) -> Any:
        return getattr(importlib.import_module(f"hiddenpool.pooling.{module}"), name)(
            *args, **kwargs
        )

    return make


def _plain(name: str) -> PoolerFactory:
    """A parameter-free pooler class of token.py that takes no option."""
    return lambda width: _lazy("token", name)()


def _masked(*reduce: str) -> PoolerFactory:
    """MaskedPool over the named functions of functional.py, concatenated."""

    def make(width: int, skip_special: bool = False, include_prompt: bool = False) -> TokenPooler:
        functional = importlib.import_module("hiddenpool.pooling.functional")
        functions = [getattr(functional, f) for f in reduce]
        return _lazy("token", "MaskedPool")(
            *functions, skip_special=skip_special, include_prompt=include_prompt
        )

    return make


def _combiner(name: str, *extra: Any, wide: bool = False) -> CombinerFactory:
    """A combiner class of layers.py built from the number of layers (and the width if ``wide``)."""
    if wide:
        return lambda n, w: _lazy("layers", name)(n, w, *extra)
    return lambda n, w: _lazy("layers", name)(n)


for _entry in (
    PoolerEntry(
        "cls",
        "the family's summary token ([CLS]/<s> first; XLNet and decoders last)",
        _plain("CLSPool"),
        merge=("summary_window",),
    ),
    PoolerEntry("first", "the first real token", _plain("FirstPool"), merge=("first_window",)),
    PoolerEntry(
        "last",
        "the last real token (decoders' usual sentence vector)",
        _plain("LastPool"),
        merge=("last_window",),
    ),
    PoolerEntry(
        "pooler",
        "the model's pooler_output (BERT: tanh(dense(CLS)); often untrained)",
        _plain("PoolerOutput"),
        reads="pooler_output",
        merge=("first_window",),
    ),
    PoolerEntry(
        "mean", "masked mean over real tokens", _masked("masked_mean"), _SPAN, merge=("mean",)
    ),
    PoolerEntry(
        "max",
        "masked element-wise max over real tokens",
        _masked("masked_max"),
        _SPAN,
        merge=("max",),
    ),
    PoolerEntry(
        "min",
        "masked element-wise min over real tokens",
        _masked("masked_min"),
        _SPAN,
        merge=("min",),
    ),
    PoolerEntry("sum", "masked sum over real tokens", _masked("masked_sum"), _SPAN, merge=("sum",)),
    PoolerEntry(
        "mean_sqrt_len",
        "masked sum divided by sqrt(token count)",
        _masked("masked_mean_sqrt_len"),
        _SPAN,
        merge=("mean_sqrt_len",),
    ),
    PoolerEntry(
        "weighted_mean",
        "position-weighted mean, later tokens weigh more (SGPT)",
        _masked("masked_weighted_mean"),
        _SPAN,
        merge=("weighted_mean",),
    ),
    PoolerEntry(
        "meanmax",
        "masked mean concatenated with masked max (2x width)",
        _masked("masked_mean", "masked_max"),
        _SPAN,
        factor=2,
        merge=("mean", "max"),
    ),
    PoolerEntry(
        "gem",
        "generalised mean (mean of x^p)^(1/p), p=3 by default",
        lambda width, p=3.0, skip_special=False, include_prompt=False: _lazy("token", "GeMPool")(
            p, skip_special, include_prompt
        ),
        {"p": 3.0, **_SPAN},
        merge=("gem",),
    ),
    PoolerEntry(
        "attn",
        "tokens weighted by the summary token's attention (heads averaged)",
        lambda width, skip_special=False: _lazy("token", "ModelAttentionPool")(skip_special),
        _SKIP,
        reads="attentions",
    ),
    PoolerEntry(
        "mask",
        "the template's mask token (PromptBERT: promptbert:mask); one token of one window",
        _plain("MaskTokenPool"),
    ),
    PoolerEntry(
        "attention",
        "learned: MLP token scores + masked softmax over tokens",
        lambda width, skip_special=False: _lazy("learned", "AttentionPool")(width, skip_special),
        _SKIP,
        learned=True,
    ),
    PoolerEntry(
        "conv1d",
        "learned: two masked 1-D convolutions over tokens, then masked max",
        lambda width, kernel=3, skip_special=False: _lazy("learned", "Conv1dPool")(
            width, kernel, skip_special
        ),
        {"kernel": 3, **_SKIP},
        learned=True,
    ),
    PoolerEntry(
        "gem_learned",
        "learned: GeM whose exponent p is trained (starts at p=3)",
        lambda width, p=3.0, skip_special=False: _lazy("learned", "LearnedGeMPool")(
            p, skip_special
        ),
        {"p": 3.0, **_SKIP},
        learned=True,
    ),
):
    register_pooler(_entry)

for _combiner_entry in (
    CombinerEntry("mean", "average the layers, then pool tokens", _combiner("MeanLayers")),
    CombinerEntry("sum", "sum the layers, then pool tokens", _combiner("SumLayers")),
    CombinerEntry(
        "concat", "concatenate the layers' features (width x layers)", _combiner("ConcatLayers")
    ),
    CombinerEntry(
        "weighted",
        "learned: softmax-weighted layer average (weighted layer pooling)",
        _combiner("WeightedLayers"),
        learned=True,
    ),
    CombinerEntry(
        "layer_attention",
        "learned: attention over per-layer pooled vectors",
        _combiner("LayerAttention", wide=True),
        learned=True,
    ),
    CombinerEntry(
        "lstm",
        "learned: LSTM over per-layer pooled vectors, last state",
        _combiner("LayerRNN", "lstm", wide=True),
        learned=True,
    ),
    CombinerEntry(
        "gru",
        "learned: GRU over per-layer pooled vectors, last state",
        _combiner("LayerRNN", "gru", wide=True),
        learned=True,
    ),
):
    register_combiner(_combiner_entry)
