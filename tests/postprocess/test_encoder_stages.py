"""The Encoder applies fitted stages after pooling, from the same forward pass."""

from __future__ import annotations

import numpy as np
import pytest

from hiddenpool import Encoder
from hiddenpool.postprocess import fit_stages
from tiny_models import WORDS

_RNG = np.random.default_rng(0)
TEXTS = [" ".join(_RNG.choice(WORDS, size=3 + i % 7)) for i in range(48)]


@pytest.fixture(scope="module")
def encoder(tiny_backbone):
    return Encoder(tiny_backbone("bert"), normalize=True)


def test_stages_apply_to_the_pooled_and_normalised_vectors(encoder):
    fitted = encoder.fit_stages(TEXTS, ["mean | whiten(8) | int8", "cls | truncate(5)"])
    out = encoder.encode_many(
        TEXTS, ["mean", "mean | whiten(8) | int8", "cls", "cls | truncate(5)"]
    )
    reference = fit_stages("mean | whiten(8) | int8", out["mean"], out["mean"].shape[1])
    np.testing.assert_array_equal(out["mean | whiten(8) | int8"], reference.transform(out["mean"]))
    np.testing.assert_array_equal(out["cls | truncate(5)"], out["cls"][:, :5])
    assert out["mean | whiten(8) | int8"].dtype == np.int8
    assert fitted["mean | whiten(8) | int8"].rows == len(TEXTS)
    assert encoder.width("mean | whiten(8) | int8") == 8
    assert encoder.width("cls | truncate(5)") == 5


def test_a_stage_costs_no_extra_pooler_or_pass(encoder):
    encoder.fit_stages(TEXTS, ["mean | pca(4)"])
    assert encoder.pooler("mean | pca(4)") is encoder.pooler("mean")


def test_unfitted_stages_are_refused_before_any_work(encoder):
    with pytest.raises(ValueError, match=r"mean \| center: its stages are not fitted"):
        encoder.encode_many(TEXTS, ["mean | center"])
