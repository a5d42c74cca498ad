"""The ridge and logistic probes against scikit-learn fitted the naive way."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression, Ridge, RidgeCV
from sklearn.metrics import log_loss
from sklearn.model_selection import StratifiedKFold
from sklearn.preprocessing import StandardScaler

from hiddenpool.evaluate import DEFAULT_ALPHAS
from hiddenpool.evaluate.logistic import DEFAULT_CS, logistic_fold
from hiddenpool.evaluate.ridge import ridge_fold


@pytest.mark.parametrize(("n", "d"), [(120, 15), (40, 90)])  # primal and dual (d > n) paths
def test_ridge_fold_matches_sklearn(n: int, d: int) -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, d)) * rng.uniform(0.1, 5.0, size=d) + rng.uniform(-3, 3, size=d)
    y = np.c_[x[:, :3] @ [1.0, -2.0, 0.5], x[:, 4]] + rng.normal(size=(n, 2))
    train, test = np.arange(0, n - 20), np.arange(n - 20, n)
    fit = ridge_fold(x[train], y[train], x[test])
    scaler = StandardScaler().fit(x[train])
    xs, xt = scaler.transform(x[train]), scaler.transform(x[test])
    reference = RidgeCV(alphas=DEFAULT_ALPHAS, alpha_per_target=True).fit(xs, y[train])
    np.testing.assert_allclose(fit.alphas, reference.alpha_)
    for j in range(2):
        naive = Ridge(alpha=fit.alphas[j]).fit(xs, y[train, j])
        np.testing.assert_allclose(fit.test_pred[:, j], naive.predict(xt), atol=1e-8)
        # Inner predictions are exact leave-one-out refits at the chosen alpha.
        for row in (0, 7):
            keep = np.arange(len(train)) != row
            loo = Ridge(alpha=fit.alphas[j]).fit(xs[keep], y[train][keep, j])
            assert fit.inner_pred[row, j] == pytest.approx(loo.predict(xs[row : row + 1])[0])


def test_ridge_handles_constant_feature() -> None:
    rng = np.random.default_rng(1)
    x = np.c_[rng.normal(size=(60, 4)), np.full(60, 3.0)]
    y = x[:, 0] + 0.1 * rng.normal(size=60)
    fit = ridge_fold(x[:50], y[:50, None], x[50:])
    assert np.all(np.isfinite(fit.test_pred))
    assert np.corrcoef(fit.test_pred[:, 0], y[50:])[0, 1] > 0.9


@pytest.mark.parametrize("k", [2, 3])  # binomial and multinomial
def test_logistic_fold_matches_a_naive_inner_cv_loop(k: int) -> None:
    rng = np.random.default_rng(2)
    x = rng.normal(size=(240, 6)) * rng.uniform(0.5, 3.0, size=6) + 1.0
    y = np.argmax(x[:, :k] / x[:, :k].std(axis=0) + 1.5 * rng.normal(size=(240, k)), axis=1)
    train, test = np.arange(200), np.arange(200, 240)
    fold = logistic_fold(x[train], y[train], x[test], k, seed=4)
    scaler = StandardScaler().fit(x[train])
    xs, ys = scaler.transform(x[train]), y[train]
    splits = list(StratifiedKFold(3, shuffle=True, random_state=4).split(xs, ys))
    losses, inner = [], {}
    for c in DEFAULT_CS:
        oof, per_fold = np.zeros((200, k)), []
        for fit, val in splits:
            model = LogisticRegression(C=c, tol=1e-10, max_iter=10_000).fit(xs[fit], ys[fit])
            oof[val] = model.predict_proba(xs[val])
            per_fold.append(log_loss(ys[val], oof[val], labels=range(k)))
        losses.append(np.mean(per_fold))
        inner[c] = oof
    assert DEFAULT_CS[int(np.argmin(losses))] == fold.C
    np.testing.assert_allclose(fold.inner_proba, inner[fold.C], atol=2e-3)
    final = LogisticRegression(C=fold.C, tol=1e-10, max_iter=10_000).fit(xs, ys)
    expected = final.predict_proba(scaler.transform(x[test]))
    np.testing.assert_allclose(fold.test_proba, expected, atol=2e-3)


def test_logistic_fold_gives_a_class_absent_from_training_probability_zero() -> None:
    rng = np.random.default_rng(5)
    x = rng.normal(size=(90, 4))
    y = (x[:, 0] > 0).astype(int)  # classes 0 and 1 of a 3-class task
    fold = logistic_fold(x[:60], y[:60], x[60:], 3)
    assert fold.test_proba.shape == (30, 3) and fold.inner_proba.shape == (60, 3)
    assert np.all(fold.test_proba[:, 2] == 0) and np.all(fold.inner_proba[:, 2] == 0)
    np.testing.assert_allclose(fold.test_proba.sum(axis=1), 1.0)
    assert np.mean(fold.test_proba.argmax(axis=1) == y[60:]) > 0.8


def test_logistic_fold_chooses_c_on_training_rows_only() -> None:
    rng = np.random.default_rng(3)
    x = rng.normal(size=(150, 10))
    y = (x[:, 0] + 0.5 * rng.normal(size=150) > 0).astype(int)
    train, test = np.arange(120), np.arange(120, 150)
    fold = logistic_fold(x[train], y[train], x[test], 2, seed=0)
    scrambled = y.copy()
    scrambled[test] = rng.permutation(scrambled[test])
    again = logistic_fold(x[train], scrambled[train], x[test], 2, seed=0)
    assert fold.C == again.C
    np.testing.assert_array_equal(fold.test_proba, again.test_proba)
    assert fold.inner_proba.shape == (120, 2)
    np.testing.assert_allclose(fold.inner_proba.sum(axis=1), 1.0)
    scaler = StandardScaler().fit(x[train])
    naive = LogisticRegression(C=fold.C, tol=1e-8, max_iter=5000).fit(
        scaler.transform(x[train]), y[train]
    )
    np.testing.assert_allclose(
        fold.test_proba, naive.predict_proba(scaler.transform(x[test])), atol=2e-3
    )
