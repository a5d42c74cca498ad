"""A lone surrogate reaching the tokenizer outside the encoder's windows (Backbone.tokenize, a
trained PooledModel without a template) is named in one line, not a fast tokenizer's bare
TypeError; a batch UTF-8 can encode tokenises as before."""

from __future__ import annotations

import pytest

from hiddenpool.backbone.unicode import check_texts, unicode_problem
from hiddenpool.train import PooledModel, PooledModelConfig

BAD = ["fine", "bad \ud800 text"]
NAMED = r"texts\[1\] is not valid Unicode: a lone surrogate '\\ud800' at character 4"


def test_backbone_tokenize_names_the_text_a_tokenizer_refused(tiny_backbone):
    backbone = tiny_backbone("bert")
    with pytest.raises(TypeError):  # what the tokenizer alone gives: no text, no reason
        backbone.tokenizer(BAD, padding=True)
    with pytest.raises(ValueError, match=NAMED):
        backbone.tokenize(BAD)
    batch = backbone.tokenize(["fine", "good text"])
    assert batch["input_ids"].shape[0] == 2


def test_a_trained_model_without_template_names_it_too(tiny_backbone):
    config = PooledModelConfig("mean", "regression", labels=("y",), targets=("y",))
    model = PooledModel(tiny_backbone("bert"), config)
    with pytest.raises(ValueError, match=NAMED):
        model.tokenize(BAD)


def test_the_check_passes_text_utf8_can_encode_and_ignores_non_strings():
    check_texts(["é", "日本", "\U0001f600", 3])  # a surrogate *pair* is one valid character
    assert unicode_problem("\udc80") == "a lone surrogate '\\udc80' at character 0"
