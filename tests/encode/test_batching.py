"""Token-budget batches: within budget, every window once, same vectors as one text at a time."""

from __future__ import annotations

import numpy as np
import pytest

from hiddenpool import Encoder
from hiddenpool.encode import length_sorted_batches, pad_windows
from tiny_models import FAMILIES, SENTENCES, WORDS

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.mark.parametrize("budget", [1, 7, 40, 10_000])
def test_batches_respect_the_budget_and_cover_every_window_once(budget):
    lengths = np.random.default_rng(0).integers(0, 30, size=200)
    batches = length_sorted_batches(lengths, batch_tokens=budget)
    seen = np.concatenate(batches)
    assert sorted(seen.tolist()) == np.flatnonzero(lengths > 0).tolist()
    for batch in batches:
        padded = len(batch) * lengths[batch].max()
        assert padded <= budget or len(batch) == 1
        assert (np.diff(lengths[batch]) <= 0).all()  # longest first
    longest = [int(lengths[b[0]]) for b in batches]
    assert longest == sorted(longest, reverse=True)


def test_batch_size_and_budget_together_take_the_smaller():
    lengths = np.full(10, 4)
    assert [len(b) for b in length_sorted_batches(lengths, batch_size=3, batch_tokens=100)] == [
        3,
        3,
        3,
        1,
    ]
    assert [len(b) for b in length_sorted_batches(lengths, batch_size=8, batch_tokens=8)] == [2] * 5
    with pytest.raises(ValueError, match="batch_tokens must be >= 1"):
        length_sorted_batches(lengths, batch_tokens=0)


@pytest.mark.parametrize("left", [False, True])
def test_padding_puts_tokens_and_pool_mask_on_the_right_side(left):
    features = {
        "input_ids": [[5, 6, 7], [8]],
        "attention_mask": [[1, 1, 1], [1]],
        "special_tokens_mask": [[1, 0, 1], [1]],
    }
    out = pad_windows(
        features,
        np.array([0, 1]),
        {"input_ids": 0, "attention_mask": 0, "special_tokens_mask": 1},
        left=left,
        pool_start=np.array([1, 0]),
        pool_stop=np.array([3, 1]),
    )
    if left:
        assert out["input_ids"].tolist() == [[5, 6, 7], [0, 0, 8]]
        assert out["pool_mask"].tolist() == [[0, 1, 1], [0, 0, 1]]
        assert out["special_tokens_mask"].tolist() == [[1, 0, 1], [1, 1, 1]]
    else:
        assert out["input_ids"].tolist() == [[5, 6, 7], [8, 0, 0]]
        assert out["pool_mask"].tolist() == [[0, 1, 1], [1, 0, 0]]
    assert out["attention_mask"].sum(1).tolist() == [3, 1]


SPECS = ["mean", "cls", "last", "max@-2", "weighted_mean@concat(1,-1)"]


@pytest.mark.parametrize("family", list(FAMILIES))
def test_token_budget_gives_the_vectors_of_one_text_at_a_time(family, tiny_backbone):
    rng = np.random.default_rng(1)
    texts = [*SENTENCES, *(" ".join(rng.choice(WORDS, rng.integers(1, 40))) for _ in range(15))]
    encoder = Encoder(tiny_backbone(family), normalize=False)
    alone = encoder.encode_many(texts, SPECS, batch_size=1)
    for budget in (16, 2048):
        together = encoder.encode_many(texts, SPECS, batch_tokens=budget)
        for spec in SPECS:
            np.testing.assert_allclose(
                together[spec],
                alone[spec],
                atol=1e-5,
                rtol=1e-5,
                err_msg=f"{family} {spec} budget={budget}",
            )


def test_rows_come_back_in_input_order(tiny_backbone):
    encoder = Encoder(tiny_backbone("bert"))
    texts = [
        "good",
        "a very long and boring film with bad acting",
        "",
        "the movie was good",
        "good",
    ]
    out = encoder.encode(texts, batch_tokens=12)
    for i, text in enumerate(texts):
        np.testing.assert_allclose(out[i], encoder.encode([text])[0], atol=1e-6)
    np.testing.assert_array_equal(out[0], out[4])
    assert not np.allclose(out[0], out[1])
