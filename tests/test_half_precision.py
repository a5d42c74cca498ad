"""A model run in bf16/fp16 really runs in that dtype and pools to finite vectors close to float32.

Both half dtypes run on this CPU build of torch (2.13: every op the tiny decoders and XLNet use
has a Half and a BFloat16 kernel), so neither is skipped.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import pytest
import torch

from hiddenpool import Encoder, load_backbone
from hiddenpool.pooling import list_poolers
from tiny_models import SENTENCES

# pooler reads a pooler_output decoders do not have; mask reads a template's mask token
# (tests/encode/test_templates_encode.py covers it)
PARAMETER_FREE = [p for p in list_poolers(learned=False) if p not in ("pooler", "mask")]
SPECS = [
    *PARAMETER_FREE,
    "mean(skip_special=true)",
    "cls@concat(-2:)",
    "mean@concat(1,-1)",
    "max@concat(0,-1)",
    "attn@concat(-2:)",
    "gem@mean(-2:)",
]
TEXTS = [*SENTENCES, "the movie " * 40]  # the last one is cut at the tiny models' 64 tokens
HALF = [torch.bfloat16, torch.float16]


def _cosines(got: np.ndarray, expected: np.ndarray) -> np.ndarray:
    """Per-row cosine; 1 where both rows are zero (a text with no token pools to zeros)."""
    dot = (got * expected).sum(1)
    norms = np.linalg.norm(got, axis=1) * np.linalg.norm(expected, axis=1)
    both_zero = ~got.any(1) & ~expected.any(1)
    return np.where(both_zero, 1.0, dot / np.where(norms == 0, 1.0, norms))


@contextmanager
def _state_dtypes(encoder: Encoder) -> Iterator[set[torch.dtype]]:
    """The dtypes of every captured layer and attention map while the block runs."""
    seen: set[torch.dtype] = set()
    backbone = encoder.backbone
    capture = backbone.capture

    def spy(*args, **kwargs):
        states = capture(*args, **kwargs)
        seen.update(t.dtype for t in states.layers.values())
        seen.update(t.dtype for t in states.attentions.values())
        return states

    backbone.capture = spy  # type: ignore[method-assign]
    try:
        yield seen
    finally:
        del backbone.capture  # the instance attribute goes; the method shows through again


def _assert_close_to_float32(got: dict, expected: dict, where: str) -> None:
    for spec in SPECS:
        assert got[spec].dtype == np.float32, (where, spec)
        assert np.isfinite(got[spec]).all(), (where, spec)
        cosine = _cosines(got[spec], expected[spec])
        assert cosine.min() >= 0.999, (where, spec, cosine.round(5))


@pytest.mark.parametrize("dtype", HALF, ids=str)
@pytest.mark.parametrize("family", ["gpt2", "llama", "xlnet"])
def test_left_padded_decoders_run_in_half_and_pool_close_to_float32(
    family, dtype, tiny_dir, one_thread
):
    half = Encoder(tiny_dir(family), dtype=str(dtype).removeprefix("torch."), normalize=False)
    full = Encoder(tiny_dir(family), normalize=False)
    params = {p.dtype for p in half.backbone.model.parameters() if p.is_floating_point()}
    assert params == {dtype}
    for encoder in (half, full):
        encoder.backbone.tokenizer.padding_side = "left"
    mask = half.backbone.tokenize(TEXTS)["attention_mask"].bool()
    assert mask[mask.any(1), -1].all() and not mask[:, 0].all()  # left padded
    with _state_dtypes(half) as seen:
        got = half.encode_many(TEXTS, SPECS, batch_size=len(TEXTS))
    assert seen == {dtype}
    expected = full.encode_many(TEXTS, SPECS, batch_size=len(TEXTS))
    _assert_close_to_float32(got, expected, f"{family} {dtype}")


@pytest.mark.slow
@pytest.mark.parametrize("dtype", HALF, ids=str)
def test_half_precision_minilm_is_finite_and_close_to_float32(dtype):
    half = Encoder(load_backbone(dtype=dtype), normalize=False)
    full = Encoder(load_backbone(), normalize=False)
    texts = ["A gripping, beautifully shot film.", "Wooden acting.", "", "ok " * 200]
    with _state_dtypes(half) as seen:
        got = half.encode_many(texts, SPECS)
    assert seen == {dtype}
    _assert_close_to_float32(got, full.encode_many(texts, SPECS), f"minilm {dtype}")


def test_attention_stays_fused_unless_attn_is_asked_for(tiny_dir):
    backbone = load_backbone(tiny_dir("bert"))
    fused = backbone.model.config._attn_implementation
    assert fused != "eager"
    Encoder(backbone).encode_many(["a text"], ["mean", "cls@concat(-2:)"])
    assert backbone.model.config._attn_implementation == fused
    Encoder(backbone).encode_many(["a text"], ["attn"])
    assert backbone.model.config._attn_implementation == "eager"
