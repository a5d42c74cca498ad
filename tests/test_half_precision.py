"""A model run in bf16/fp16 pools to finite vectors close to its float32 ones."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from hiddenpool import Encoder, load_backbone

TEXTS = ["A gripping, beautifully shot film.", "Wooden acting.", "", "ok " * 200]
SPECS = ["mean", "max", "min", "cls", "meanmax@-2", "gem", "mean@1,-1", "weighted_mean", "attn"]


@pytest.mark.slow
@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_half_precision_minilm_is_finite_and_close_to_float32(dtype):
    half = Encoder(load_backbone(dtype=dtype), normalize=False)
    full = Encoder(load_backbone(), normalize=False)
    got = half.encode_many(TEXTS, SPECS)
    expected = full.encode_many(TEXTS, SPECS)
    for spec in SPECS:
        assert got[spec].dtype == np.float32
        assert np.isfinite(got[spec]).all(), spec
        cosine = (got[spec] * expected[spec]).sum(1) / (
            np.linalg.norm(got[spec], axis=1) * np.linalg.norm(expected[spec], axis=1)
        )
        assert cosine.min() > 0.99, (spec, cosine)


def test_attention_stays_fused_unless_attn_is_asked_for(tiny_dir):
    backbone = load_backbone(tiny_dir("bert"))
    fused = backbone.model.config._attn_implementation
    assert fused != "eager"
    Encoder(backbone).encode_many(["a text"], ["mean", "cls@concat(-2:)"])
    assert backbone.model.config._attn_implementation == fused
    Encoder(backbone).encode_many(["a text"], ["attn"])
    assert backbone.model.config._attn_implementation == "eager"
