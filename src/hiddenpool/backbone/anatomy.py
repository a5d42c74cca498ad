"""A checkpoint's outputs as measured on a real forward pass (``hiddenpool inspect``)."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch

from hiddenpool.backbone.capture import model_inputs
from hiddenpool.backbone.loading import Backbone

__all__ = ["Anatomy", "describe"]

SAMPLE = ("Hello world!", "Pooling turns token states into one sentence vector.")


@dataclass(frozen=True)
class Anatomy:
    """A checkpoint's anatomy (hidden_states, pooler_output, heads) for one sample batch."""

    model: str
    family: str
    saved_as: tuple[str, ...]
    num_layers: int
    hidden_states_entries: int
    hidden_size: int
    num_heads: int | None
    sample_batch: tuple[int, int]
    last_hidden_state: tuple[int, ...]
    pooler_output: tuple[int, ...] | None
    hidden_states: str
    attentions: str
    layer_convention: str
    summary_token: str
    padding_side: str
    special_tokens: dict[str, int]
    pooler: str
    discarded_on_load: tuple[str, ...]
    final_norm: str | None
    default_pooling: str
    default_normalize: bool
    max_length: int

    def to_dict(self) -> dict:
        return asdict(self)


def _head_groups(keys: tuple[str, ...]) -> tuple[str, ...]:
    """Group unused weight names by their two leading parts: ``cls.predictions (5 tensors)``."""
    groups: dict[str, int] = {}
    for key in keys:
        prefix = ".".join(key.split(".")[:2])
        groups[prefix] = groups.get(prefix, 0) + 1
    return tuple(f"{p} ({n} tensor{'s' if n > 1 else ''})" for p, n in groups.items())


def describe(backbone: Backbone) -> Anatomy:
    """Run the sample batch through ``backbone`` and report its outputs' shapes and facts."""
    backbone._use_eager_attention()  # attentions are materialised only by eager attention
    batch = backbone.tokenize(list(SAMPLE))
    with torch.inference_mode():
        out = backbone.model(
            **model_inputs(backbone.model, backbone.facts, batch),
            output_hidden_states=True,
            output_attentions=True,
        )
    hidden = out.hidden_states
    attentions = getattr(out, "attentions", None) or ()
    pooled = getattr(out, "pooler_output", None)
    tokenizer = backbone.tokenizer
    specials = {
        tok: int(tokenizer.convert_tokens_to_ids(tok))  # type: ignore[arg-type]
        for tok in tokenizer.all_special_tokens
    }
    facts = backbone.facts
    where = "first" if facts.summary == "first" else "last"
    summary_name = (tokenizer.cls_token if facts.summary == "first" else None) or (
        "<cls>" if facts.name == "xlnet" else "last real token"
    )
    L = backbone.num_layers
    return Anatomy(
        model=backbone.name,
        family=facts.name,
        saved_as=tuple(getattr(backbone.model.config, "architectures", None) or ()),
        num_layers=L,
        hidden_states_entries=len(hidden),
        hidden_size=backbone.hidden_size,
        num_heads=getattr(backbone.model.config, "num_attention_heads", None),
        sample_batch=(int(batch["input_ids"].shape[0]), int(batch["input_ids"].shape[1])),
        last_hidden_state=tuple(out.last_hidden_state.shape),
        pooler_output=None if pooled is None else tuple(pooled.shape),
        hidden_states=f"{len(hidden)} x {tuple(hidden[0].shape)}",
        attentions=f"{len(attentions)} x {tuple(attentions[0].shape)}" if attentions else "none",
        layer_convention=(
            f"hidden_states[0] = embedding output; hidden_states[i] = output of layer i; "
            f"hidden_states[{L}] = hidden_states[-1] = last_hidden_state"
        ),
        summary_token=f"{summary_name} ({where} real token, found from the attention mask)",
        padding_side=str(tokenizer.padding_side),
        special_tokens=specials,
        pooler=backbone.pooler_note,
        discarded_on_load=_head_groups(backbone.discarded),
        final_norm=facts.final_norm,
        default_pooling=backbone.pooling,
        default_normalize=backbone.normalize,
        max_length=backbone.max_length,
    )
