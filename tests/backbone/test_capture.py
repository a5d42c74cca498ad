"""Captured layers equal Hugging Face's own hidden_states; only what is needed is computed."""

from __future__ import annotations

import pytest
import torch
from transformers import AutoModel

from hiddenpool.states import CaptureRequest
from tiny_models import ALL_FAMILIES, SENTENCES, reference_model


def _plain_batch(backbone, texts, padding_side=None):
    tokenizer = backbone.tokenizer
    old = tokenizer.padding_side
    tokenizer.padding_side = padding_side or old
    try:
        return backbone.tokenize(texts)
    finally:
        tokenizer.padding_side = old


@pytest.mark.parametrize("family", ALL_FAMILIES)
def test_every_layer_equals_output_hidden_states(family, tiny_dir, tiny_backbone):
    backbone = tiny_backbone(family)
    batch = _plain_batch(backbone, SENTENCES)
    reference = reference_model(tiny_dir(family))
    plain = {k: v for k, v in batch.items() if k != "special_tokens_mask"}
    with torch.no_grad():
        expected = reference(**plain, output_hidden_states=True).hidden_states
        states = backbone.capture(batch, CaptureRequest(frozenset(range(backbone.num_layers + 1))))
    assert len(expected) == backbone.num_layers + 1
    real = batch["attention_mask"].bool()
    for index, hidden in enumerate(expected):
        # Padding positions may differ (we give them clamped positions); real tokens may not.
        torch.testing.assert_close(states.layers[index][real], hidden[real], atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("family", ["bert", "gpt2", "xlnet", "llama"])
@pytest.mark.parametrize("index", [0, 1, -2, -1])
def test_capture_keeps_only_requested_layers_and_stops_early(family, index, tiny_backbone):
    backbone = tiny_backbone(family)
    blocks = backbone.blocks
    calls: list[int] = []
    handles = [
        b.register_forward_hook(lambda m, a, o, i=i: calls.append(i)) for i, b in enumerate(blocks)
    ]
    try:
        with torch.no_grad():
            states = backbone.capture(
                backbone.tokenize(SENTENCES[:2]), CaptureRequest(frozenset({index}))
            )
    finally:
        for handle in handles:
            handle.remove()
    resolved = index % (backbone.num_layers + 1)
    assert set(states.layers) == {resolved}
    expected_blocks = max(resolved, 1) if resolved < backbone.num_layers else backbone.num_layers
    # Layer 0 is the first block's input: the pre-hook stops it before it runs.
    assert len(calls) == (0 if resolved == 0 else expected_blocks)


def test_minilm_mean_at_minus_2_runs_five_of_six_blocks(minilm):
    blocks = minilm.blocks
    calls: list[int] = []
    handles = [b.register_forward_hook(lambda m, a, o: calls.append(1)) for b in blocks]
    try:
        with torch.no_grad():
            minilm.capture(minilm.tokenize(["one sentence"]), CaptureRequest(frozenset({-2})))
    finally:
        for handle in handles:
            handle.remove()
    assert len(blocks) == 6
    assert len(calls) == 5


@pytest.mark.parametrize("family", ["bert", "gpt2", "llama", "deberta-v2"])
def test_left_padding_gives_the_same_real_token_states(family, tiny_backbone):
    backbone = tiny_backbone(family)
    right = _plain_batch(backbone, SENTENCES, "right")
    left = _plain_batch(backbone, SENTENCES, "left")
    with torch.no_grad():
        a = backbone.capture(right, CaptureRequest(frozenset({1, -1})))
        b = backbone.capture(left, CaptureRequest(frozenset({1, -1})))
    for index in a.layers:
        torch.testing.assert_close(
            a.layers[index][right["attention_mask"].bool()],
            b.layers[index][left["attention_mask"].bool()],
            atol=1e-5,
            rtol=1e-5,
        )


def test_attentions_are_captured_from_the_block_of_that_layer(tiny_dir, tiny_backbone):
    backbone = tiny_backbone("bert")
    batch = backbone.tokenize(SENTENCES[:3])
    reference = AutoModel.from_pretrained(tiny_dir("bert"), attn_implementation="eager").eval()
    plain = {k: v for k, v in batch.items() if k != "special_tokens_mask"}
    with torch.no_grad():
        expected = reference(**plain, output_attentions=True).attentions
        states = backbone.capture(batch, CaptureRequest(frozenset({2}), frozenset({2})))
    real = batch["attention_mask"].bool()  # rows of padding queries differ by their positions
    torch.testing.assert_close(
        states.attentions[2].transpose(1, 2)[real], expected[1].transpose(1, 2)[real]
    )


def test_layer_out_of_range_names_the_valid_range(tiny_backbone):
    backbone = tiny_backbone("bert")
    with pytest.raises(ValueError, match=r"layer 9 is out of range.*0 = embedding output"):
        backbone.capture(backbone.tokenize(["x"]), CaptureRequest(frozenset({9})))
