"""The captured outputs of one forward pass, as a typed container (needs torch only).

Every stage after the backbone reads :class:`HiddenStates`; nothing here knows a model family.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from torch import Tensor

__all__ = ["CaptureRequest", "HiddenStates", "Summary", "resolve_layer"]

Summary = Literal["first", "last"]  # where the summary token sits: first or last real token


def resolve_layer(index: int, num_layers: int) -> int:
    """Turn a hidden_states index (negative counts from the end) into 0..num_layers.

    >>> resolve_layer(-1, 6), resolve_layer(0, 6), resolve_layer(-7, 6)
    (6, 0, 0)
    """
    resolved = index + num_layers + 1 if index < 0 else index
    if not 0 <= resolved <= num_layers:
        raise ValueError(
            f"layer {index} is out of range: this model has {num_layers + 1} hidden_states "
            f"(0 = embedding output .. {num_layers} = last layer, or -1 .. -{num_layers + 1})"
        )
    return resolved


@dataclass(frozen=True)
class CaptureRequest:
    """What one forward pass must keep: the one description capture, backends and heads share.

    Built from strategies (:meth:`hiddenpool.pooling.Strategy.capture_request`) and merged with
    ``|`` when several strategies share a pass.

    Attributes:
        layers: hidden_states indices to keep (0 = embedding output; negative from the end).
        attentions: hidden_states indices ``i >= 1`` whose block's attention maps to keep.
        pooler_output: also keep the model's own ``pooler_output`` (runs the model to the end).

    >>> (CaptureRequest(frozenset({2})) | CaptureRequest(frozenset({6}), pooler_output=True))
    CaptureRequest(layers=frozenset({2, 6}), attentions=frozenset(), pooler_output=True)
    """

    layers: frozenset[int] = frozenset()
    attentions: frozenset[int] = frozenset()
    pooler_output: bool = False

    def __or__(self, other: CaptureRequest) -> CaptureRequest:
        return CaptureRequest(
            self.layers | other.layers,
            self.attentions | other.attentions,
            self.pooler_output or other.pooler_output,
        )

    @classmethod
    def union(cls, requests: Iterable[CaptureRequest]) -> CaptureRequest:
        """Everything any of ``requests`` needs (an empty request for none)."""
        merged = cls()
        for request in requests:
            merged = merged | request
        return merged

    def resolved(self, num_layers: int) -> CaptureRequest:
        """The same request with indices in 0..num_layers (ValueError when out of range)."""
        return CaptureRequest(
            frozenset(resolve_layer(i, num_layers) for i in self.layers),
            frozenset(resolve_layer(i, num_layers) for i in self.attentions),
            self.pooler_output,
        )


@dataclass(frozen=True)
class HiddenStates:
    """What pooling reads: the requested layers of one batch and how to find tokens in them.

    Attributes:
        layers: hidden_states index (0 = embedding output, ``num_layers`` = last layer) to the
            (B, T, H) states of that layer, in the model's dtype. Only requested layers are kept.
        attention_mask: (B, T) bool, True for real tokens.
        num_layers: number of blocks in the model (hidden_states has ``num_layers + 1`` entries).
        summary: where the family's summary token is: first or last real token.
        special_tokens_mask: (B, T) bool, True for [CLS]/[SEP]/<s>/</s>..., or None if unknown.
        pooler_output: (B, H) the model's own pooler output, when it was asked for.
        attentions: hidden_states index ``i`` (>= 1) to the (B, heads, T, T) attention
            probabilities of block ``i``, when asked for.
        text_mask: (B, T) bool, the tokens of the text when it sits inside a prompt template
            (its last copy for echo); None when the input is the text alone.
        mask_token_mask: (B, T) bool, True at the template's mask token; None without one.
    """

    layers: Mapping[int, Tensor]
    attention_mask: Tensor
    num_layers: int
    summary: Summary = "first"
    special_tokens_mask: Tensor | None = None
    pooler_output: Tensor | None = None
    attentions: Mapping[int, Tensor] = field(default_factory=dict)
    text_mask: Tensor | None = None
    mask_token_mask: Tensor | None = None

    def layer(self, index: int) -> Tensor:
        """The (B, T, H) states of hidden_states[index]; negative indices count from the end."""
        resolved = resolve_layer(index, self.num_layers)
        if resolved not in self.layers:
            raise ValueError(
                f"layer {index} was not captured (captured: {sorted(self.layers)}); "
                "ask capture() for it"
            )
        return self.layers[resolved]

    def token_mask(self, skip_special: bool = False, include_prompt: bool = False) -> Tensor:
        """(B, T) bool of tokens to pool: real tokens, minus special tokens when asked; under a
        template only the text's tokens unless ``include_prompt``."""
        mask = self.attention_mask
        if self.text_mask is not None and not include_prompt:
            mask = mask & self.text_mask
        if not skip_special:
            return mask
        if self.special_tokens_mask is None:
            raise ValueError("skip_special needs special_tokens_mask, which this batch lacks")
        return mask & ~self.special_tokens_mask

    @property
    def batch_size(self) -> int:
        return int(self.attention_mask.shape[0])
