"""Metrics against outside references, and the fold maker."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import spearmanr
from sklearn.metrics import f1_score

from hiddenpool.evaluate import make_folds, mcrmse, primary_metric, spearman
from hiddenpool.evaluate.folds import check_folds, make_holdout
from hiddenpool.evaluate.metrics import accuracy, macro_f1, rmse, score_predictions
from hiddenpool.evaluate.stats import MetricSummary, PairedDifference


def test_spearman_matches_scipy_with_ties() -> None:
    rng = np.random.default_rng(0)
    for _ in range(5):
        a = rng.integers(0, 6, size=50).astype(float)  # many ties
        b = a + rng.normal(size=50)
        assert spearman(a, b) == pytest.approx(spearmanr(a, b).statistic, abs=1e-12)


def test_spearman_of_a_constant_side_is_zero_and_of_nan_is_nan() -> None:
    # scipy gives NaN (and a warning) for a constant side; a constant prediction has no
    # ranking information, which a correlation of 0 says without poisoning fold means.
    assert spearman(np.ones(5), np.arange(5.0)) == 0.0
    assert spearman(np.arange(5.0), np.full(5, 2.5)) == 0.0
    assert spearman(np.array([1.0]), np.array([2.0])) == 0.0
    assert np.isnan(spearman(np.array([1.0, np.nan, 3.0]), np.arange(3.0)))
    scores = score_predictions("regression", np.arange(6.0), np.full(6, 1.0))
    assert scores["spearman"] == 0.0
    assert scores["rmse"] == pytest.approx(np.sqrt((1 + 0 + 1 + 4 + 9 + 16) / 6))


def test_mcrmse_is_mean_of_column_rmse() -> None:
    rng = np.random.default_rng(1)
    y, p = rng.normal(size=(40, 6)), rng.normal(size=(40, 6))
    by_hand = np.mean([np.sqrt(np.mean((y[:, j] - p[:, j]) ** 2)) for j in range(6)])
    assert mcrmse(y, p) == pytest.approx(by_hand, rel=1e-12)
    assert rmse(y[:, 0], p[:, 0]) == pytest.approx(np.sqrt(np.mean((y[:, 0] - p[:, 0]) ** 2)))
    scores = score_predictions("regression", y, p)
    assert scores["mcrmse"] == pytest.approx(by_hand)
    assert scores["spearman"] == pytest.approx(
        np.mean([spearmanr(y[:, j], p[:, j]).statistic for j in range(6)])
    )


def test_macro_f1_and_accuracy_match_sklearn() -> None:
    rng = np.random.default_rng(2)
    y, p = rng.integers(0, 4, size=100), rng.integers(0, 3, size=100)  # class 3 never predicted
    assert macro_f1(y, p) == pytest.approx(f1_score(y, p, average="macro", zero_division=0))
    assert accuracy(y, p) == pytest.approx(np.mean(y == p))


def test_macro_f1_by_hand_leaves_out_a_class_nobody_has() -> None:
    # 4 classes in the task; class 3 appears in neither truth nor prediction.
    y, p = np.array([0, 0, 1, 1, 2]), np.array([0, 1, 1, 1, 0])
    per_class = [2 * 1 / (2 + 2), 2 * 2 / (2 + 3), 0.0]  # 2tp / (|true| + |predicted|)
    assert macro_f1(y, p) == pytest.approx(np.mean(per_class))
    truth = np.eye(4, dtype=int)[y]  # the same as a multilabel matrix with an empty column
    assert macro_f1(truth, np.eye(4, dtype=int)[p]) == pytest.approx(np.mean(per_class))
    assert macro_f1(np.zeros((3, 2), int), np.zeros((3, 2), int)) == 0.0  # nothing present
    scores = score_predictions("multilabel", truth, np.eye(4)[p] * 0.9)
    assert scores == {"macro_f1": pytest.approx(np.mean(per_class)), "accuracy": 0.8}


def test_primary_metric_per_task() -> None:
    assert primary_metric("regression") == "spearman"
    assert primary_metric("regression", 6) == "mcrmse"
    assert primary_metric("classification") == "accuracy"
    assert primary_metric("similarity") == "spearman"


def test_folds_are_reproducible_partitions() -> None:
    a = make_folds(103, 5, seed=7)
    b = make_folds(103, 5, seed=7)
    c = make_folds(103, 5, seed=8)
    assert all(np.array_equal(x[1], y[1]) for x, y in zip(a, b, strict=True))
    assert not all(np.array_equal(x[1], y[1]) for x, y in zip(a, c, strict=True))
    tests = np.sort(np.concatenate([t for _, t in a]))
    assert np.array_equal(tests, np.arange(103))
    for train, test in a:
        assert np.intersect1d(train, test).size == 0 and len(train) + len(test) == 103
    check_folds(a, 103)


def test_classification_folds_are_stratified() -> None:
    rng = np.random.default_rng(3)
    labels = rng.permutation(np.array(["a"] * 80 + ["b"] * 20))
    for _, test in make_folds(100, 5, seed=0, labels=labels, task="classification"):
        assert np.sum(labels[test] == "b") == 4


def test_fold_errors() -> None:
    with pytest.raises(ValueError, match=r"cannot make 5 folds from 3 rows; need at least 5"):
        make_folds(3, 5, seed=0)
    with pytest.raises(ValueError, match=r"at least 2 folds, got k=1"):
        make_folds(10, 1, seed=0)
    with pytest.raises(ValueError, match=r"needs labels to stratify on"):
        make_folds(10, 2, seed=0, task="classification")
    labels = np.array(["a"] * 8 + ["b"] * 2)
    with pytest.raises(ValueError, match=r"class 'b' has 2 rows, fewer than the 5 folds"):
        make_folds(10, 5, seed=0, labels=labels, task="classification")
    folds = make_folds(10, 2, seed=0)
    with pytest.raises(ValueError, match=r"must cover each of the 11 rows exactly once"):
        check_folds(folds, 11)


def test_fold_statistics_by_hand() -> None:
    values = [0.5, 0.6, 0.55, 0.65, 0.6]
    summary = MetricSummary.from_folds(values)
    half = 2.7764451051977987 * np.std(values, ddof=1) / np.sqrt(5)  # t(0.975, 4)
    assert summary.mean == pytest.approx(0.58)
    assert summary.ci_high - summary.mean == pytest.approx(half)
    diff = PairedDifference.between("a", "b", "rmse", False, [1.0, 1.1, 0.9], [1.2, 1.3, 1.1])
    assert diff.mean == pytest.approx(-0.2) and diff.a_is_better and diff.exceeds_noise


def test_holdout_is_seeded_stratified_and_sized_like_sklearn() -> None:
    labels = np.array(["a"] * 12 + ["b"] * 8)
    train, held = make_holdout(20, 0.25, seed=3, labels=labels, task="classification")
    assert len(held) == 5 and np.array_equal(np.sort(np.r_[train, held]), np.arange(20))
    assert sorted(labels[held].tolist()) == ["a", "a", "a", "b", "b"]
    again = make_holdout(20, 0.25, seed=3, labels=labels, task="classification")
    assert np.array_equal(held, again[1])
    assert not np.array_equal(held, make_holdout(20, 0.25, seed=4)[1])
    train, held = make_holdout(20, 0.0, seed=0)
    assert len(held) == 0 and np.array_equal(train, np.arange(20))
    with pytest.raises(ValueError, match=r"class 'b' has 1 rows, fewer than the 2 rows"):
        make_holdout(5, 0.4, labels=np.array(list("aaaab")), task="classification")
    with pytest.raises(ValueError, match=r"must be in \[0, 1\), got 1.0"):
        make_holdout(5, 1.0)
