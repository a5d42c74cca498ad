"""Padding never changes a vector: alone, in a padded batch, left or right padded, every family."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from hiddenpool import Encoder
from hiddenpool.pooling import list_poolers
from hiddenpool.states import CaptureRequest
from tiny_models import ALL_FAMILIES, SENTENCES

# mask reads a template's mask token: tests/encode/test_templates_encode.py covers it
PARAMETER_FREE = [p for p in list_poolers(learned=False) if p not in ("pooler", "mask")]
SPECS = [
    *PARAMETER_FREE,
    "mean(skip_special=true)",
    "mean@1,-1",
    "cls@concat(-2:)",
    "max@0",
    "gem(p=2)@-2",
]


def _encode(encoder: Encoder, texts, side: str, batch_size: int) -> dict[str, np.ndarray]:
    tokenizer = encoder.backbone.tokenizer
    old = tokenizer.padding_side
    tokenizer.padding_side = side
    try:
        return encoder.encode_many(texts, SPECS, batch_size=batch_size)
    finally:
        tokenizer.padding_side = old


@pytest.mark.parametrize("family", ALL_FAMILIES)
def test_alone_batched_left_and_right_padding_agree(family, tiny_backbone):
    encoder = Encoder(tiny_backbone(family), normalize=False)
    alone = [_encode(encoder, [text], "right", 1) for text in SENTENCES]
    for side in ("right", "left"):
        batched = _encode(encoder, SENTENCES, side, batch_size=len(SENTENCES))
        for spec in SPECS:
            expected = np.stack([a[spec][0] for a in alone])
            np.testing.assert_allclose(
                batched[spec], expected, atol=1e-5, rtol=1e-5, err_msg=f"{family} {spec} {side}"
            )


@pytest.mark.parametrize(
    ("family", "summary_token"),
    [
        ("bert", "[CLS]"),
        ("roberta", "<s>"),
        ("mpnet", "<s>"),
        ("electra", "[CLS]"),
        ("deberta-v2", "[CLS]"),
        ("xlnet", "<cls>"),
    ],
)
@pytest.mark.parametrize("side", ["left", "right"])
def test_cls_is_the_family_summary_token_under_either_padding(
    family, summary_token, side, tiny_backbone
):
    backbone = tiny_backbone(family)
    backbone.tokenizer.padding_side, old = side, backbone.tokenizer.padding_side
    try:
        batch = backbone.tokenize(SENTENCES)
    finally:
        backbone.tokenizer.padding_side = old
    with torch.no_grad():
        states = backbone.capture(batch, CaptureRequest(frozenset({-1})))
    pooled = Encoder(backbone).pooler("cls")(states)
    summary_id = backbone.tokenizer.convert_tokens_to_ids(summary_token)
    rows, cols = (batch["input_ids"] == summary_id).nonzero(as_tuple=True)
    assert rows.tolist() == list(range(len(SENTENCES)))
    torch.testing.assert_close(pooled, states.layers[backbone.num_layers][rows, cols])


@pytest.mark.parametrize("family", ["gpt2", "llama"])
def test_decoder_cls_is_the_last_real_token(family, tiny_backbone):
    backbone = tiny_backbone(family)
    encoder = Encoder(backbone, normalize=False)
    out = encoder.encode_many(SENTENCES, ["cls", "last"])
    np.testing.assert_array_equal(out["cls"], out["last"])
    assert backbone.facts.summary == "last"


def test_skip_special_leaves_cls_and_sep_out_of_the_mean(tiny_backbone):
    backbone = tiny_backbone("bert")
    batch = backbone.tokenize(SENTENCES[:2])
    with torch.no_grad():
        states = backbone.capture(batch, CaptureRequest(frozenset({-1})))
    encoder = Encoder(backbone, normalize=False)
    got = encoder.pooler("mean(skip_special=true)")(states)
    hidden = states.layers[backbone.num_layers]
    keep = batch["attention_mask"].bool() & ~batch["special_tokens_mask"].bool()
    expected = torch.stack([hidden[i][keep[i]].mean(0) for i in range(2)])
    torch.testing.assert_close(got, expected)
    tokens = backbone.tokenizer.convert_ids_to_tokens(batch["input_ids"][0][keep[0]])
    assert "[CLS]" not in tokens and "[SEP]" not in tokens
