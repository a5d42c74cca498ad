"""Layer combiners: several captured layers -> one.

Token-level combiners (mean, sum, concat, weighted) merge (B, T, H) states layer by layer before
token pooling. Vector-level combiners (layer_attention, lstm, gru) read one pooled vector per layer,
(B, L, F), as the Kaggle Feedback Prize 3 heads over per-layer CLS vectors do. Every combiner can
also merge per-layer vectors, which is how poolers that must see each layer alone (``attn``) use
the token-level ones.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

__all__ = [
    "ConcatLayers",
    "LayerAttention",
    "LayerCombiner",
    "LayerRNN",
    "MeanLayers",
    "SumLayers",
    "WeightedLayers",
]


class LayerCombiner(nn.Module):
    """Base of every combiner over ``num_inputs`` layers."""

    token_level: bool = True

    def __init__(self, num_inputs: int) -> None:
        super().__init__()
        self.num_inputs = num_inputs

    def width(self, in_features: int) -> int:
        """Output width for ``in_features`` per layer."""
        return in_features

    def tokens(self, layers: list[Tensor]) -> Tensor:
        """L tensors (B, T, H) -> (B, T, width) float32."""
        return self.vectors(torch.stack([h.to(torch.float32) for h in layers], dim=1))

    def vectors(self, stacked: Tensor) -> Tensor:
        """(B, L, ...) float32 -> (B, ...) merged over L."""
        raise NotImplementedError


class MeanLayers(LayerCombiner):
    """Average of the layers (``mean@-4:``, first-last ``mean@1,-1``)."""

    def vectors(self, stacked: Tensor) -> Tensor:
        return stacked.mean(dim=1)


class SumLayers(LayerCombiner):
    """Sum of the layers."""

    def vectors(self, stacked: Tensor) -> Tensor:
        return stacked.sum(dim=1)


class ConcatLayers(LayerCombiner):
    """Concatenation along features, in the order written (``cls@concat(-4:)``)."""

    def width(self, in_features: int) -> int:
        return in_features * self.num_inputs

    def vectors(self, stacked: Tensor) -> Tensor:
        return torch.cat(stacked.unbind(dim=1), dim=-1)


class WeightedLayers(LayerCombiner):
    """Weighted layer pooling with softmax-normalised learnable weights, starting uniform.

    The common Kaggle form divides by the raw weights' sum, which can cross zero while
    training; a softmax keeps a convex combination of the layers.
    """

    def __init__(self, num_inputs: int) -> None:
        super().__init__(num_inputs)
        self.logits = nn.Parameter(torch.zeros(num_inputs))

    def vectors(self, stacked: Tensor) -> Tensor:
        weights = torch.softmax(self.logits.float(), dim=0)
        shape = (1, -1) + (1,) * (stacked.dim() - 2)
        return (stacked * weights.view(shape)).sum(dim=1)


class LayerAttention(LayerCombiner):
    """Attention over per-layer vectors with a learned query, then a linear map (Kaggle FB3)."""

    token_level = False

    def __init__(self, num_inputs: int, in_features: int) -> None:
        super().__init__(num_inputs)
        self.query = nn.Parameter(torch.randn(in_features) * 0.02)
        self.proj = nn.Linear(in_features, in_features)

    def vectors(self, stacked: Tensor) -> Tensor:  # (B, L, F)
        scores = stacked @ self.query.float() / math.sqrt(stacked.shape[-1])  # (B, L)
        weights = torch.softmax(scores, dim=1).unsqueeze(-1)
        return self.proj((weights * stacked).sum(dim=1))


class LayerRNN(LayerCombiner):
    """An LSTM or GRU over per-layer vectors, lowest layer first; the last state is the output."""

    token_level = False

    def __init__(self, num_inputs: int, in_features: int, cell: str = "lstm") -> None:
        super().__init__(num_inputs)
        rnn = nn.LSTM if cell == "lstm" else nn.GRU
        self.rnn = rnn(in_features, in_features, batch_first=True)

    def vectors(self, stacked: Tensor) -> Tensor:  # (B, L, F)
        out, _ = self.rnn(stacked)
        return out[:, -1]
