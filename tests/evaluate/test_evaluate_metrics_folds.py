"""Metrics against outside references, and the fold maker."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import spearmanr
from sklearn.metrics import f1_score

from hiddenpool.evaluate import make_folds, mcrmse, primary_metric, spearman
from hiddenpool.evaluate.folds import check_folds
from hiddenpool.evaluate.metrics import accuracy, macro_f1, rmse, score_predictions
from hiddenpool.evaluate.stats import MetricSummary, PairedDifference


def test_spearman_matches_scipy_with_ties() -> None:
    rng = np.random.default_rng(0)
    for _ in range(5):
        a = rng.integers(0, 6, size=50).astype(float)  # many ties
        b = a + rng.normal(size=50)
        assert spearman(a, b) == pytest.approx(spearmanr(a, b).statistic, abs=1e-12)
    assert spearman(np.ones(5), np.arange(5.0)) == 0.0  # constant: no information


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
