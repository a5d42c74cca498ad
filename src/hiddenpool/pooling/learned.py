"""Learned token poolers, for fine-tuning. Same call as the parameter-free ones."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from hiddenpool.pooling import functional as F
from hiddenpool.pooling.token import TokenPooler
from hiddenpool.states import HiddenStates

__all__ = ["AttentionPool", "Conv1dPool", "LearnedGeMPool"]


class AttentionPool(TokenPooler):
    """Attention over tokens: an MLP scores each token, a masked softmax weighs them
    (the attention head of Feedback Prize 3 solutions).

    The usual Kaggle code fills masked scores with -inf, which gives NaN on a row with no
    tokens; here masked scores get the float32 minimum and empty rows pool to zeros. Based on
    the pooling heads of https://www.kaggle.com/competitions/feedback-prize-english-language-learning.
    """

    def __init__(self, in_features: int, skip_special: bool = False) -> None:
        super().__init__()
        self.skip_special = skip_special
        self.score = nn.Sequential(
            nn.Linear(in_features, in_features),
            nn.LayerNorm(in_features),
            nn.GELU(),
            nn.Linear(in_features, 1),
        )

    def forward(self, hidden: Tensor, states: HiddenStates, layer: int) -> Tensor:
        h = hidden.to(torch.float32)
        mask = states.token_mask(self.skip_special)
        scores = self.score(h).squeeze(-1).masked_fill(~mask, torch.finfo(torch.float32).min)
        weights = torch.softmax(scores, dim=1) * mask  # zero weight on padding, even all-masked
        return F.weighted_tokens(h, weights)


class Conv1dPool(TokenPooler):
    """Two masked 1-D convolutions over tokens, then a masked max.

    Padding positions are zeroed before each convolution, so a real token's receptive field sees
    zeros past the text's end whether the batch pads left, right or not at all.
    """

    def __init__(self, in_features: int, kernel: int = 3, skip_special: bool = False) -> None:
        super().__init__()
        if kernel < 1 or kernel % 2 == 0:
            raise ValueError(f"conv1d: kernel must be an odd number >= 1, got {kernel}")
        self.skip_special = skip_special
        self.conv1 = nn.Conv1d(in_features, in_features, kernel, padding=kernel // 2)
        self.conv2 = nn.Conv1d(in_features, in_features, kernel, padding=kernel // 2)

    def forward(self, hidden: Tensor, states: HiddenStates, layer: int) -> Tensor:
        keep = states.attention_mask.unsqueeze(1).to(torch.float32)  # (B, 1, T)
        x = hidden.to(torch.float32).transpose(1, 2) * keep  # (B, H, T)
        x = torch.relu(self.conv1(x)) * keep
        x = self.conv2(x).transpose(1, 2)  # (B, T, H)
        return F.masked_max(x, states.token_mask(self.skip_special))


class LearnedGeMPool(TokenPooler):
    """GeM whose exponent ``p`` is learned, starting from ``p`` (https://arxiv.org/abs/1711.02512)."""

    def __init__(self, p: float = 3.0, skip_special: bool = False) -> None:
        super().__init__()
        self.skip_special = skip_special
        self.p = nn.Parameter(torch.tensor(float(p)))

    def forward(self, hidden: Tensor, states: HiddenStates, layer: int) -> Tensor:
        p = self.p.float().clamp(min=1e-2)  # keep the exponent positive while training
        return F.masked_gem(hidden, states.token_mask(self.skip_special), p)
