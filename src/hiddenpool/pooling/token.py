"""Parameter-free token poolers: (B, T, H) states of one layer -> (B, F) vectors.

Each pooler is a thin module over a pure function of :mod:`hiddenpool.pooling.functional`, with
the same call ``pooler(hidden, states, layer)``: ``hidden`` the (possibly layer-combined) states,
``states`` the captured batch (masks, summary rule, pooler_output, attentions) and ``layer`` the
hidden_states index ``hidden`` came from (only ``attn`` reads it).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn

from hiddenpool.pooling import functional as F
from hiddenpool.states import HiddenStates

__all__ = [
    "CLSPool",
    "FirstPool",
    "GeMPool",
    "LastPool",
    "MaskTokenPool",
    "MaskedPool",
    "ModelAttentionPool",
    "PoolerOutput",
    "TokenPooler",
]


class TokenPooler(nn.Module):
    """Base of every token pooler; ``factor`` times the input width is the output width."""

    factor: int = 1
    per_layer: bool = False  # True when it must see each layer alone (it reads that layer's extras)

    def forward(self, hidden: Tensor, states: HiddenStates, layer: int) -> Tensor:
        raise NotImplementedError


class MaskedPool(TokenPooler):
    """A masked reduction over real tokens, optionally without special tokens.

    Args:
        reduce: one function of :mod:`functional` taking (hidden, mask), or several whose outputs
            are concatenated (mean‖max).
        skip_special: leave [CLS]/[SEP]/<s>/</s> and the like out of the reduction.
        include_prompt: under a template, reduce over every real token instead of the text's.
    """

    def __init__(
        self,
        *reduce: Callable[[Tensor, Tensor], Tensor],
        skip_special: bool = False,
        include_prompt: bool = False,
    ) -> None:
        super().__init__()
        self.reduce = reduce
        self.skip_special = skip_special
        self.include_prompt = include_prompt
        self.factor = len(reduce)

    def forward(self, hidden: Tensor, states: HiddenStates, layer: int) -> Tensor:
        mask = states.token_mask(self.skip_special, self.include_prompt)
        return torch.cat([fn(hidden, mask) for fn in self.reduce], dim=-1)


class GeMPool(TokenPooler):
    """Generalised mean with a fixed exponent ``p`` (https://arxiv.org/abs/1711.02512)."""

    def __init__(
        self, p: float = 3.0, skip_special: bool = False, include_prompt: bool = False
    ) -> None:
        super().__init__()
        if p <= 0:
            raise ValueError(f"gem: p must be > 0, got {p}")
        self.p = p
        self.skip_special = skip_special
        self.include_prompt = include_prompt

    def forward(self, hidden: Tensor, states: HiddenStates, layer: int) -> Tensor:
        mask = states.token_mask(self.skip_special, self.include_prompt)
        return F.masked_gem(hidden, mask, self.p)


class FirstPool(TokenPooler):
    """The first real token, wherever padding puts it."""

    def forward(self, hidden: Tensor, states: HiddenStates, layer: int) -> Tensor:
        return F.gather_tokens(hidden, F.first_index(states.attention_mask))


class LastPool(TokenPooler):
    """The last real token, wherever padding puts it."""

    def forward(self, hidden: Tensor, states: HiddenStates, layer: int) -> Tensor:
        return F.gather_tokens(hidden, F.last_index(states.attention_mask))


class CLSPool(TokenPooler):
    """The family's summary token: first real token for BERT-likes, last for XLNet and decoders."""

    def forward(self, hidden: Tensor, states: HiddenStates, layer: int) -> Tensor:
        mask = states.attention_mask
        index = F.first_index(mask) if states.summary == "first" else F.last_index(mask)
        return F.gather_tokens(hidden, index)


class MaskTokenPool(TokenPooler):
    """The hidden state at the prompt template's mask token (PromptBERT,
    https://arxiv.org/abs/2201.04337): ``promptbert:mask``."""

    def forward(self, hidden: Tensor, states: HiddenStates, layer: int) -> Tensor:
        if states.mask_token_mask is None:
            raise ValueError("mask: this batch has no template mask token (use TEMPLATE:mask)")
        return F.gather_tokens(hidden, F.first_index(states.mask_token_mask))


class PoolerOutput(TokenPooler):
    """The model's own ``pooler_output`` (BERT: tanh(dense(CLS of the last layer)))."""

    def forward(self, hidden: Tensor, states: HiddenStates, layer: int) -> Tensor:
        if states.pooler_output is None:
            raise ValueError("pooler: pooler_output was not captured")
        return states.pooler_output.to(torch.float32)


class ModelAttentionPool(TokenPooler):
    """Tokens weighted by the attention the summary token pays them in that layer's block,
    averaged over heads, padding excluded and the weights renormalised."""

    per_layer = True

    def __init__(self, skip_special: bool = False) -> None:
        super().__init__()
        self.skip_special = skip_special

    def forward(self, hidden: Tensor, states: HiddenStates, layer: int) -> Tensor:
        if layer not in states.attentions:
            raise ValueError(f"attn: attention probabilities of layer {layer} were not captured")
        mask = states.attention_mask
        summary = F.first_index(mask) if states.summary == "first" else F.last_index(mask)
        probs = states.attentions[layer].to(torch.float32).mean(dim=1)  # (B, T, T)
        rows = torch.arange(probs.shape[0], device=probs.device)
        weights = probs[rows, summary] * states.token_mask(self.skip_special)  # (B, T)
        return F.weighted_tokens(hidden, weights)
