"""Predictor batches as the Encoder does (token budget, length sorting) and loses nothing by it."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from train_helpers import synthetic

from hiddenpool.train import Predictor, TrainConfig, train
from hiddenpool.train.metrics import predictions_from_logits
from hiddenpool.train.model import PooledModel


@pytest.fixture(scope="module")
def trained(tiny_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    config = TrainConfig(
        data="synthetic",
        model=str(tiny_dir("roberta")),
        out=str(out / "model"),
        pooling="mean",
        batch_size=8,
        max_steps=3,
        valid_fraction=0.0,
        extra={"disable_tqdm": True},
    )
    return train(config, data=synthetic(24), verbose=False).out


def _one_at_a_time(folder, texts):
    model = PooledModel.from_pretrained(folder, torch.device("cpu")).eval()
    rows = []
    with torch.no_grad():
        for text in texts:  # no padding, no batching: the reference
            rows.append(model(**model.tokenize([text])).logits.float().numpy()[0])
    return predictions_from_logits(model.pooled_config.task, np.stack(rows))


@pytest.mark.parametrize("limits", [{}, {"batch_size": 3}, {"batch_tokens": 20}])
def test_batched_predictions_equal_one_text_at_a_time(trained, limits):
    texts = [*synthetic(24).texts[:11], "a much longer text " * 6, "short"]
    expected = _one_at_a_time(trained, texts)
    got = Predictor(trained, device="cpu").predict(texts, **limits)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)


def test_rows_keep_input_order_whatever_the_lengths(trained):
    texts = ["z " * n for n in (1, 9, 3, 7, 5)]
    predictor = Predictor(trained, device="cpu")
    forward = predictor.predict(texts, batch_tokens=16)
    backward = predictor.predict(texts[::-1], batch_tokens=16)
    np.testing.assert_allclose(forward, backward[::-1], rtol=1e-5, atol=1e-6)
