"""Shared helpers of the fine-tuning tests: a synthetic sentiment task and tiny-model builders."""

from __future__ import annotations

import numpy as np

from hiddenpool.data import LabelledData

POSITIVE = ("good", "great", "fun", "love")
NEGATIVE = ("bad", "terrible", "boring", "hate")
FILLER = ("the", "movie", "film", "story", "plot", "actors", "was", "very")


def synthetic(n: int = 64, seed: int = 0, task: str = "regression") -> LabelledData:
    """Texts of 6 words; the label is (#positive - #negative) words, or its sign as a class."""
    rng = np.random.default_rng(seed)
    texts, scores = [], []
    vocab = POSITIVE + NEGATIVE + FILLER
    for _ in range(n):
        words = list(rng.choice(vocab, size=6))
        texts.append(" ".join(words))
        scores.append(sum(w in POSITIVE for w in words) - sum(w in NEGATIVE for w in words))
    y = np.asarray(scores, dtype=np.float64)
    if task == "classification":
        labels = np.where(y > 0, "pos", np.where(y < 0, "neg", "mixed"))
        return LabelledData(texts, labels, ("sentiment",), "classification", "synthetic")
    if task == "multi":
        pos = np.asarray([sum(w in POSITIVE for w in t.split()) for t in texts], dtype=np.float64)
        return LabelledData(
            texts, np.stack([y, pos], axis=1), ("score", "positives"), "regression", "synthetic"
        )
    return LabelledData(texts, y, ("score",), "regression", "synthetic")
