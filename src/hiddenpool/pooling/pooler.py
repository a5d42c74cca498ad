"""A strategy made runnable: combine the captured layers, pool tokens, return (B, width)."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from hiddenpool.pooling.registry import COMBINERS, POOLERS
from hiddenpool.pooling.spec import Strategy, parse_strategy
from hiddenpool.states import HiddenStates

__all__ = ["Pooler", "create_pooler"]


class Pooler(nn.Module):
    """``HiddenStates -> (B, width)`` float32 for one strategy.

    Token-level combiners merge the layers first and pool once ("combine layers, then pool
    tokens"). Vector-level combiners (layer_attention, lstm, gru), and poolers that must see each
    layer alone (attn), pool every layer and merge the vectors.
    """

    def __init__(self, strategy: Strategy, hidden_size: int, num_layers: int) -> None:
        super().__init__()
        if strategy.stages:  # a stage maps pooled vectors; it is no part of the module
            raise ValueError(f"{strategy}: build the pooler of {strategy.pooling}, then its stages")
        self.strategy = strategy
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.layer_indices = strategy.layers.resolve(num_layers)
        token_poolers = [POOLERS[p.name].factory(hidden_size, **p.kwargs) for p in strategy.poolers]
        self.poolers = nn.ModuleList(token_poolers)
        per_layer = sum(p.factor for p in token_poolers) * hidden_size
        entry = COMBINERS[strategy.layers.combiner]
        self.combiner = entry.factory(len(self.layer_indices), per_layer)
        self.per_layer = not self.combiner.token_level or any(p.per_layer for p in token_poolers)
        self.width = self.combiner.width(per_layer)

    def _pool(self, hidden: Tensor, states: HiddenStates, layer: int) -> Tensor:
        return torch.cat([pooler(hidden, states, layer) for pooler in self.poolers], dim=-1)

    def forward(self, states: HiddenStates) -> Tensor:
        if self.strategy.needs_pooler:
            return self._pool(states.layer(-1), states, self.num_layers)
        if self.per_layer:
            vectors = [self._pool(states.layer(i), states, i) for i in self.layer_indices]
            return self.combiner.vectors(torch.stack(vectors, dim=1))  # (B, L, F) -> (B, width)
        if len(self.layer_indices) == 1:
            index = self.layer_indices[0]
            return self._pool(states.layer(index), states, index)
        merged = self.combiner.tokens([states.layer(i) for i in self.layer_indices])
        return self._pool(merged, states, self.layer_indices[-1])

    def extra_repr(self) -> str:
        return f"{self.strategy}, width={self.width}"


def create_pooler(spec: str | Strategy, hidden_size: int, num_layers: int) -> Pooler:
    """Build the module for a spec.

    Args:
        spec: a spec string (see :mod:`hiddenpool.pooling.spec`) or a parsed Strategy.
        hidden_size: the model's hidden size H.
        num_layers: the model's number of blocks L.

    Returns:
        Pooler whose ``width`` equals ``Strategy.width(hidden_size, num_layers)``.

    >>> create_pooler("meanmax@-4:", hidden_size=384, num_layers=6).width
    768
    """
    strategy = parse_strategy(spec)
    if strategy.asymmetric:  # its template depends on the side: without one it would read none
        raise ValueError(
            f"{strategy} has a query and a document side and a pooler reads one: pick it with "
            "Strategy.for_side('query') or for_side('document') (Encoder.encode_query / "
            "encode_document do)"
        )
    return Pooler(strategy, hidden_size, num_layers)
