"""Prediction heads over a pooled vector: regression, single-label and multi-label classification.

Shape key: B batch, W pooled width, K outputs (targets, classes or labels), S dropout samples.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn import functional as F

__all__ = ["Head", "head_loss"]


def head_loss(logits: Tensor, labels: Tensor, loss: str) -> Tensor:
    """The loss of (B, K) float32 ``logits`` against ``labels``.

    Args:
        logits: (B, K).
        labels: (B, K) or (B,) floats for ``mse``/``smooth_l1``/``bce``; (B,) class indices for
            ``cross_entropy``.
        loss: ``mse``, ``smooth_l1``, ``cross_entropy`` or ``bce``.

    Returns:
        A scalar, averaged over the batch (and the targets).
    """
    if loss == "cross_entropy":
        return F.cross_entropy(logits, labels.long().view(-1))
    target = labels.to(logits.dtype).view_as(logits)
    if loss == "mse":
        return F.mse_loss(logits, target)
    if loss == "smooth_l1":
        return F.smooth_l1_loss(logits, target)
    if loss == "bce":
        return F.binary_cross_entropy_with_logits(logits, target)
    raise ValueError(f"unknown loss {loss!r}; choose from mse, smooth_l1, cross_entropy, bce")


class Head(nn.Module):
    """Dropout then one linear layer, with optional multi-sample dropout.

    Multi-sample dropout (Inoue 2019, https://arxiv.org/abs/1905.09788; used by Feedback Prize 3
    teams) draws ``msd`` dropout masks on the pooled vector while training, applies the linear
    layer to each, and averages both the logits and the losses. In eval mode dropout is the
    identity, so every sample is the same and one is computed.

    Args:
        in_features: pooled width W.
        num_outputs: K.
        loss: ``mse``, ``smooth_l1``, ``cross_entropy`` or ``bce``.
        dropout: drop probability on the pooled vector.
        msd: number of dropout samples S (1 = ordinary dropout).
        init_std: std of the normal init of the weights (the backbone's initializer_range).
    """

    def __init__(
        self,
        in_features: int,
        num_outputs: int,
        loss: str,
        dropout: float = 0.1,
        msd: int = 1,
        init_std: float = 0.02,
    ) -> None:
        super().__init__()
        self.loss = loss
        self.msd = msd
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(in_features, num_outputs)
        nn.init.normal_(self.fc.weight, std=init_std)
        nn.init.zeros_(self.fc.bias)

    def init_bias(self, value: Tensor) -> None:
        """Start the outputs at ``value`` (K,), e.g. the training targets' mean, not at zero."""
        with torch.no_grad():
            self.fc.bias.copy_(value.to(self.fc.bias))

    def forward(self, pooled: Tensor, labels: Tensor | None = None) -> tuple[Tensor, Tensor | None]:
        """(B, W) pooled vectors -> ((B, K) float32 logits, scalar loss or None)."""
        pooled = pooled.to(self.fc.weight.dtype)
        samples = self.msd if self.training and self.dropout.p > 0 else 1
        logits = [self.fc(self.dropout(pooled)).float() for _ in range(samples)]  # S x (B, K)
        mean_logits = torch.stack(logits).mean(dim=0)
        if labels is None:
            return mean_logits, None
        loss = torch.stack([head_loss(z, labels, self.loss) for z in logits]).mean()
        return mean_logits, loss
