"""Fine-tuning scores and splits are compare's: the same folds from the same seed, one macro-F1."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.metrics import f1_score
from train_helpers import synthetic

from hiddenpool.evaluate import make_folds
from hiddenpool.evaluate.metrics import macro_f1
from hiddenpool.train import TrainConfig, train
from hiddenpool.train.metrics import predictions_from_logits, score


@pytest.mark.parametrize("task", ["classification", "regression"])
def test_train_validates_on_the_folds_compare_builds(tiny_dir, tmp_path, task):
    # The bug: train dealt rows round-robin from its own generator, compare used sklearn's
    # (Stratified)KFold, so "the same seed" meant different folds in the two commands.
    data = synthetic(30, task=task)
    config = TrainConfig(
        data="synthetic",
        model=str(tiny_dir("bert")),
        out=str(tmp_path / "run"),
        folds=3,
        seed=11,
        max_steps=1,
        batch_size=8,
        logging_steps=100,
        extra={"disable_tqdm": True},
    )
    result = train(config, data=data, verbose=False)
    valid = json.loads((result.out / "folds.json").read_text())["valid"]
    # What `hiddenpool compare --folds 3 --seed 11` builds (hiddenpool.compare.run_compare).
    expected = make_folds(30, k=3, seed=11, labels=data.labels, task=data.task)
    assert valid == [test.tolist() for _, test in expected]


def test_multilabel_macro_f1_leaves_out_a_label_nobody_has():
    # The bug: train scored a label with no true and no predicted member as F1 = 1.0, while
    # compare's macro-F1 leaves such a class out; now both are sklearn's f1_score over the
    # labels present.
    truth = np.array([[1, 0, 0], [0, 1, 0], [1, 1, 0], [0, 0, 0]])
    logits = np.array([[2.0, -1.0, -3.0], [-1.0, -2.0, -3.0], [1.0, 1.0, -3.0], [1.0, -1.0, -3.0]])
    got = score("multilabel", truth, predictions_from_logits("multilabel", logits))
    chosen = (logits >= 0).astype(int)
    # Label 0: tp 2, fp 1, fn 0 -> 0.8; label 1: tp 1, fn 1 -> 2/3; label 2: absent, left out.
    assert got["macro_f1"] == pytest.approx((0.8 + 2 / 3) / 2)
    assert got["macro_f1"] == pytest.approx(
        f1_score(truth, chosen, labels=[0, 1], average="macro", zero_division=0)
    )
    assert got["accuracy"] == pytest.approx(np.mean(truth == chosen))
    # The same rule as a single-label task in which class 2 never occurs.
    assert macro_f1(np.array([0, 1, 0]), np.array([0, 1, 1])) == pytest.approx(
        f1_score([0, 1, 0], [0, 1, 1], labels=[0, 1], average="macro", zero_division=0)
    )
