"""Pure masked reductions over token states.

Shape key: B batch, T tokens, H hidden, L layers.

Every function takes ``hidden`` (B, T, H) in any float dtype and a boolean ``mask`` (B, T) that is
True for tokens to pool. Reductions run in float32 whatever the input dtype and return float32
(B, H). Inputs are never modified. A row with no True in its mask pools to zeros, never NaN.
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = [
    "first_index",
    "gather_tokens",
    "last_index",
    "masked_gem",
    "masked_max",
    "masked_mean",
    "masked_mean_sqrt_len",
    "masked_min",
    "masked_sum",
    "masked_weighted_mean",
    "weighted_tokens",
]


def _counts(mask: Tensor) -> Tensor:
    """Number of pooled tokens per row, (B, 1) float32."""
    return mask.sum(dim=1, keepdim=True).to(torch.float32)


def masked_sum(hidden: Tensor, mask: Tensor) -> Tensor:
    """Sum of the masked tokens: (B, T, H), (B, T) -> (B, H)."""
    h = hidden.to(torch.float32)
    return (h * mask.unsqueeze(-1).to(torch.float32)).sum(dim=1)


def masked_mean(hidden: Tensor, mask: Tensor) -> Tensor:
    """Mean of the masked tokens; zeros where a row has none."""
    return masked_sum(hidden, mask) / _counts(mask).clamp(min=1.0)


def masked_mean_sqrt_len(hidden: Tensor, mask: Tensor) -> Tensor:
    """Sum divided by the square root of the token count (sentence-transformers' mean_sqrt_len)."""
    return masked_sum(hidden, mask) / _counts(mask).clamp(min=1.0).sqrt()


def _extreme(hidden: Tensor, mask: Tensor, largest: bool) -> Tensor:
    h = hidden.to(torch.float32)
    # Fill with the finite extreme of float32: -1e9 literals overflow fp16, and -inf times a zero
    # weight elsewhere gives NaN. masked_fill returns a copy, so the caller's tensor is untouched.
    fill = torch.finfo(torch.float32).min if largest else torch.finfo(torch.float32).max
    filled = h.masked_fill(~mask.unsqueeze(-1), fill)
    out = filled.amax(dim=1) if largest else filled.amin(dim=1)
    empty = ~mask.any(dim=1, keepdim=True)
    return out.masked_fill(empty, 0.0)


def masked_max(hidden: Tensor, mask: Tensor) -> Tensor:
    """Element-wise maximum over the masked tokens; zeros where a row has none."""
    return _extreme(hidden, mask, largest=True)


def masked_min(hidden: Tensor, mask: Tensor) -> Tensor:
    """Element-wise minimum over the masked tokens; zeros where a row has none."""
    return _extreme(hidden, mask, largest=False)


def masked_gem(hidden: Tensor, mask: Tensor, p: float | Tensor = 3.0, eps: float = 1e-6) -> Tensor:
    """Generalised mean ``(mean(clamp(x, eps) ** p)) ** (1/p)`` over the masked tokens.

    GeM is defined on positive activations (Radenović et al., https://arxiv.org/abs/1711.02512);
    values below ``eps`` are clamped, as in the image-retrieval original. ``p=1`` is a clamped
    mean; large ``p`` approaches the max.
    """
    h = hidden.to(torch.float32).clamp(min=eps)
    # (mean(x^p))^(1/p) = s * (mean((x/s)^p))^(1/p) for any s > 0. With s the largest x (the
    # smallest for p < 0) every (x/s)^p is at most 1, so a large |p| cannot overflow float32
    # to inf (gem(p=1000) pooled to nan); s is detached: the identity holds whatever s is.
    positive = torch.as_tensor(p, dtype=torch.float32) > 0
    scale = torch.where(positive, masked_max(h, mask), masked_min(h, mask)).clamp(min=eps)
    scale = scale.detach().unsqueeze(1)
    # Padding may lie beyond s: its ratio is set to 1 (finite under any p), then masked out.
    ratio = (h / scale).masked_fill(~mask.unsqueeze(-1), 1.0)
    powered = ratio.pow(p)
    # The clamp keeps the root's gradient finite on empty rows; it never binds on real ones.
    pooled = masked_mean(powered, mask).clamp(min=torch.finfo(torch.float32).tiny)
    out = scale.squeeze(1) * pooled.pow(1.0 / p)
    return out.masked_fill(~mask.any(dim=1, keepdim=True), 0.0)


def masked_weighted_mean(hidden: Tensor, mask: Tensor) -> Tensor:
    """Position-weighted mean (SGPT, https://arxiv.org/abs/2202.08904): the i-th pooled token
    weighs i, counted over pooled tokens only, so left padding does not shift the weights."""
    weights = mask.to(torch.float32).cumsum(dim=1) * mask.to(torch.float32)
    return weighted_tokens(hidden, weights)


def weighted_tokens(hidden: Tensor, weights: Tensor) -> Tensor:
    """Weighted average of tokens with non-negative weights (B, T); zero-weight rows give zeros."""
    w = weights.to(torch.float32)
    total = w.sum(dim=1, keepdim=True)
    summed = (hidden.to(torch.float32) * w.unsqueeze(-1)).sum(dim=1)
    return summed / total.clamp(min=torch.finfo(torch.float32).tiny)


def first_index(mask: Tensor) -> Tensor:
    """Index of the first True position per row, (B,) int64; 0 for an empty row."""
    return mask.to(torch.int64).argmax(dim=1)


def last_index(mask: Tensor) -> Tensor:
    """Index of the last True position per row, (B,) int64; correct under left and right padding."""
    t = mask.shape[1]
    return (t - 1) - mask.flip(dims=[1]).to(torch.int64).argmax(dim=1)


def gather_tokens(hidden: Tensor, index: Tensor) -> Tensor:
    """Pick one token per row: (B, T, H), (B,) -> (B, H) float32."""
    rows = torch.arange(hidden.shape[0], device=hidden.device)
    return hidden[rows, index].to(torch.float32)
