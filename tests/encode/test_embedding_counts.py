"""Embedding's per-text counts: tokens each text ran through the model, and which were cut."""

from __future__ import annotations

import numpy as np

from hiddenpool.encode import Encoder
from tiny_models import SENTENCES


def test_per_text_tokens_and_truncation_against_the_tokenizer(tiny_backbone, one_thread):
    backbone = tiny_backbone("bert")
    encoder = Encoder(backbone, "mean", max_length=8)
    result = encoder.embed(SENTENCES, ["mean", "cls@-2"], batch_tokens=64)
    # independent count: the tokenizer's own ids for each text alone, cut at max_length
    full = [len(backbone.tokenizer(text)["input_ids"]) for text in SENTENCES]
    np.testing.assert_array_equal(result.text_tokens, np.minimum(full, 8))
    np.testing.assert_array_equal(result.truncated, np.array(full) > 8)
    assert result.text_tokens.sum() == result.num_tokens
    assert result.truncated.sum() == result.num_truncated


def test_a_template_pass_adds_its_tokens_to_each_text(tiny_backbone, one_thread):
    backbone = tiny_backbone("bert")
    encoder = Encoder(backbone, "mean", max_length=64)
    plain = encoder.embed(SENTENCES, ["mean"], batch_tokens=256)
    both = encoder.embed(SENTENCES, ["mean", "query:mean"], batch_tokens=256)
    templated = encoder.embed(SENTENCES, ["query:mean"], batch_tokens=256)
    np.testing.assert_array_equal(both.text_tokens, plain.text_tokens + templated.text_tokens)
    assert (templated.text_tokens > plain.text_tokens).all()  # the template's own tokens
    assert both.num_passes == 2
