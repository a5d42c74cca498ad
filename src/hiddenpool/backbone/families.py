"""What differs between model families, kept as data.

Everything family-specific that pooling needs lives in :data:`FAMILIES` and nowhere else: which
token summarises the sequence, which side pads, who computes padding-aware positions, where the
blocks live and whether a final norm follows them.

Layer convention (the same for every family): index 0 is the embedding output (the input to the
first block), index ``i`` is the output of block ``i``, index ``num_layers`` is the model's
``last_hidden_state`` (after the final norm in decoders that have one). This is Hugging Face's
``hidden_states`` tuple; SimCSE's "first-last" average read index 0 instead of 1 by mistake and
lost 5 points of STS-B.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from hiddenpool.states import Summary

__all__ = ["FAMILIES", "FamilyFacts", "family_facts"]

Positions = Literal["from_mask", "model", "none"]


@dataclass(frozen=True)
class FamilyFacts:
    """Facts about one model family.

    Attributes:
        name: the family, as Hugging Face's ``config.model_type``.
        summary: ``"first"`` when the summary token opens the sequence ([CLS], <s>), ``"last"``
            when it closes it (XLNet's <cls>, the last real token of a decoder).
        padding_side: the side its tokenizer pads on by default.
        positions: ``"from_mask"``: the model numbers positions 0..T-1 whatever the padding, so we
            pass ``cumsum(mask) - 1`` to make left padding harmless; ``"model"``: the model already
            derives positions from the padding id (RoBERTa, MPNet); ``"none"``: relative positions.
        layers: attribute path of the block list inside the base model.
        seq_first: blocks see (T, B, H) instead of (B, T, H) (XLNet).
        final_norm: attribute path of a norm applied after the last block, or None.
    """

    name: str
    summary: Summary = "first"
    padding_side: Literal["left", "right"] = "right"
    positions: Positions = "from_mask"
    layers: str = "encoder.layer"
    seq_first: bool = False
    final_norm: str | None = None


def _decoder(name: str, layers: str = "layers", final_norm: str | None = "norm") -> FamilyFacts:
    return FamilyFacts(name=name, summary="last", layers=layers, final_norm=final_norm)


FAMILIES: dict[str, FamilyFacts] = {
    facts.name: facts
    for facts in (
        FamilyFacts("bert"),
        FamilyFacts("electra"),
        FamilyFacts("roberta", positions="model"),
        FamilyFacts("xlm-roberta", positions="model"),
        FamilyFacts("camembert", positions="model"),
        FamilyFacts("mpnet", positions="model"),
        FamilyFacts("deberta"),
        FamilyFacts("deberta-v2"),
        FamilyFacts("distilbert", positions="none", layers="transformer.layer"),
        FamilyFacts(
            "xlnet",
            summary="last",
            padding_side="left",
            positions="none",
            layers="layer",
            seq_first=True,
        ),
        _decoder("gpt2", layers="h", final_norm="ln_f"),
        _decoder("gpt_neox", final_norm="final_layer_norm"),
        _decoder("opt", layers="decoder.layers", final_norm="decoder.final_layer_norm"),
        _decoder("llama"),
        _decoder("mistral"),
        _decoder("qwen2"),
        _decoder("qwen3"),
        _decoder("gemma"),
        _decoder("phi3"),
    )
}


def family_facts(model_type: str, is_decoder: bool = False) -> FamilyFacts:
    """Facts for ``config.model_type``; unknown families get encoder or decoder defaults.

    >>> family_facts("xlnet").summary
    'last'
    """
    known = FAMILIES.get(model_type)
    if known is not None:
        return known
    return _decoder(model_type) if is_decoder else FamilyFacts(model_type)
