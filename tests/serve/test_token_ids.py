"""Token-id inputs become the windows the tokenizer makes of the texts they came from, in every
family (special tokens added as the tokenizer adds them, the ids cut, never the specials)."""

from __future__ import annotations

import numpy as np
import pytest
from transformers import AutoTokenizer

from hiddenpool.encode import tokenize_windows
from hiddenpool.serve.token_ids import id_windows
from tiny_models import ALL_FAMILIES, SENTENCES


@pytest.mark.parametrize("family", ALL_FAMILIES)
@pytest.mark.parametrize("max_length", [64, 7])
def test_id_windows_equal_the_tokenizers_windows(tiny_dir, family, max_length):
    tokenizer = AutoTokenizer.from_pretrained(tiny_dir(family))
    ids = [tokenizer(text, add_special_tokens=False)["input_ids"] for text in SENTENCES]
    got = id_windows(tokenizer, ids, max_length)
    expected = tokenize_windows(tokenizer, SENTENCES, max_length)
    assert got.features.keys() == expected.features.keys()
    for key, rows in expected.features.items():
        assert got.features[key] == rows, key
    for name in ("doc", "lengths", "pool_start", "pool_stop", "truncated"):
        np.testing.assert_array_equal(getattr(got, name), getattr(expected, name), err_msg=name)
