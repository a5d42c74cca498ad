"""Which strategies sentence-transformers' own modules express, and how.

sentence-transformers has three modules that, chained, reproduce a large part of the spec language
exactly, so the exported folder loads with plain ``SentenceTransformer(folder)``:

- ``WeightedLayerPooling`` reads every hidden_states entry from ``layer_start`` up (the Transformer
  module returns them when its config has ``output_hidden_states``) and returns
  ``sum(w_i * h_i) / sum(w)``. Weights 1 on the selected layers (a layer written twice counts
  twice) and 0 elsewhere give the ``mean`` combiner; a trained ``weighted(...)`` combiner's
  softmax gives its convex combination.
- ``Pooling`` with one or several of its modes, concatenated in the order given: ``mean``,
  ``max``, ``cls`` (first real token), ``lasttoken``, ``mean_sqrt_len_tokens``,
  ``weightedmean``; so ``meanmax`` and ``cls+mean`` are native too.
- ``Dense`` with the weight ``n * I`` and no activation: every native pooling mode is positively
  homogeneous (``pool(n * x) = n * pool(x)``), so the ``sum`` combiner of n layers is their mean,
  pooled, times n.

Everything else (``concat``, ``min``, ``sum`` over tokens, ``gem``, ``attn``, ``pooler``,
``skip_special``, learned poolers, the vector-level combiners, prompt templates) needs
hiddenpool's module. sentence-transformers' ``prompts`` are prefixes and its
``include_prompt=False`` still pools the trailing [SEP], so no template (not even ``query:``)
is written with its modules: the vectors would differ.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import torch

from hiddenpool.backbone import Backbone
from hiddenpool.pooling import Pooler, Strategy, parse_strategy
from hiddenpool.pooling.layers import WeightedLayers

__all__ = [
    "NATIVE_COMBINERS",
    "NATIVE_POOLERS",
    "NativePlan",
    "exports_natively",
    "native_plan",
    "native_pooling_modes",
]

# hiddenpool pooler -> sentence-transformers Pooling modes (cls is resolved per family).
NATIVE_POOLERS: dict[str, tuple[str, ...]] = {
    "cls": ("cls",),
    "first": ("cls",),  # sentence-transformers' cls is the first real token
    "last": ("lasttoken",),
    "mean": ("mean",),
    "max": ("max",),
    "mean_sqrt_len": ("mean_sqrt_len_tokens",),
    "weighted_mean": ("weightedmean",),
    "meanmax": ("mean", "max"),
}
# weighted: native once trained (an untrained one is not exported at all).
NATIVE_COMBINERS = ("mean", "sum", "weighted")


@dataclass(frozen=True)
class NativePlan:
    """sentence-transformers modules that reproduce one strategy on one model.

    Attributes:
        depth: blocks the exported model keeps (the model is cut above the deepest layer read,
            when no final norm follows its blocks).
        pooling_modes: Pooling modes, concatenated in this order.
        layer_start: first hidden_states index WeightedLayerPooling reads.
        layer_weights: its weights over hidden_states ``layer_start..depth``, or None when the cut
            model's last layer alone is pooled (no WeightedLayerPooling module).
        scale: a ``Dense(scale * I)`` after pooling when not 1 (the ``sum`` combiner).
    """

    depth: int
    pooling_modes: tuple[str, ...]
    layer_start: int = 0
    layer_weights: tuple[float, ...] | None = None
    scale: float = 1.0


def exports_natively(strategy: str | Strategy) -> bool:
    """Whether ``hiddenpool export`` writes ``strategy`` with sentence-transformers' own modules.

    True for every model: a ``weighted(...)`` combiner counts as native because it is exported only
    from a trained model, whose fitted weights are then written.

    >>> [exports_natively(s) for s in ("mean@-4:", "cls+mean@sum(1,-1)", "cls@concat(-4:)")]
    [True, True, False]
    """
    strategy = parse_strategy(strategy)
    if strategy.template is not None:  # read as hiddenpool reads it: text span, mask token
        return False
    return strategy.layers.combiner in NATIVE_COMBINERS and all(
        p.name in NATIVE_POOLERS and not p.options for p in strategy.poolers
    )


def native_pooling_modes(strategy: str | Strategy, backbone: Backbone) -> tuple[str, ...] | None:
    """sentence-transformers' Pooling modes for ``strategy``'s poolers, in order, or None when
    ``strategy`` does not export natively (``cls`` is ``lasttoken`` in XLNet and decoders)."""
    strategy = parse_strategy(strategy)
    if not exports_natively(strategy):
        return None
    modes: list[str] = []
    for spec in strategy.poolers:
        if spec.name == "cls" and backbone.facts.summary == "last":
            modes.append("lasttoken")
        else:
            modes.extend(NATIVE_POOLERS[spec.name])
    return tuple(modes)


def _layer_weights(strategy: Strategy, num_layers: int, pooler: Pooler | None) -> dict[int, float]:
    """hidden_states index -> its weight in the layer combination (before any normalisation)."""
    layers = strategy.layers.resolve(num_layers)
    if strategy.layers.combiner != "weighted":
        return {index: float(count) for index, count in Counter(layers).items()}
    if pooler is None or not isinstance(pooler.combiner, WeightedLayers):
        raise ValueError(f"{strategy}: the weighted combiner is exported from a trained model only")
    softmax = torch.softmax(pooler.combiner.logits.detach().float().cpu(), dim=0).tolist()
    weights: dict[int, float] = {}
    for index, weight in zip(layers, softmax, strict=True):
        weights[index] = weights.get(index, 0.0) + weight
    return weights


def native_plan(
    strategy: str | Strategy, backbone: Backbone, pooler: Pooler | None = None
) -> NativePlan | None:
    """The modules that reproduce ``strategy`` on ``backbone``, or None when there are none.

    Args:
        strategy: the strategy to export.
        backbone: the model it runs on (its family says which token ``cls`` is, and whether the
            model can be cut above the deepest layer read).
        pooler: the trained pooler, whose fitted weights a ``weighted(...)`` combiner needs.

    Returns:
        The plan; on MiniLM-L6 (6 blocks, no final norm) ``mean@1,-1`` is depth 6, layer_start 1,
        layer_weights (1, 0, 0, 0, 0, 1); ``max@-2`` is the model cut to depth 5, pooled alone.
    """
    strategy = parse_strategy(strategy)
    modes = native_pooling_modes(strategy, backbone)
    if modes is None:
        return None
    num_layers = backbone.num_layers
    weights = _layer_weights(strategy, num_layers, pooler)
    # A copy cut after block k has hidden_states[k] as its last layer, unless a final norm follows.
    cut = backbone.blocks is not None and not backbone.facts.final_norm
    depth = max(1, *weights) if cut else num_layers
    summed = strategy.layers.combiner == "sum"
    scale = float(len(strategy.layers.resolve(num_layers))) if summed else 1.0
    if set(weights) == {depth}:
        return NativePlan(depth, modes, depth, None, scale)
    start = min(weights)
    layer_weights = tuple(weights.get(index, 0.0) for index in range(start, depth + 1))
    return NativePlan(depth, modes, start, layer_weights, scale)
