"""Ridge probe for one fold: standardise on train, pick alpha by exact leave-one-out.

One eigendecomposition of the smaller Gram matrix (``X^T X`` when features are fewer than
rows, ``X X^T`` otherwise) gives the thin SVD ``X = U S V^T`` of the standardised,
train-centred matrix. From it, every alpha costs only O(n r):

* hat diagonal ``h = 1/n + (U**2) @ (s**2 / (s**2 + alpha))`` (the 1/n is the unpenalised
  intercept),
* fitted values ``U @ (s**2 / (s**2 + alpha) * U^T y)``,
* exact leave-one-out residuals ``(y - fitted) / (1 - h)`` (the generalised cross-validation
  identity sklearn's ``RidgeCV`` uses),

so choosing alpha is an inner cross-validation on the training fold alone, for free.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["DEFAULT_ALPHAS", "RidgeFold", "ridge_fold", "standardise"]

# Wider than the usual 1e-3..1e3: standardised 1,000+ dim embeddings often want alpha > 1e3.
DEFAULT_ALPHAS: tuple[float, ...] = tuple(float(a) for a in np.logspace(-3, 6, 19))


@dataclass(frozen=True)
class RidgeFold:
    """What one fold of the ridge probe produced.

    Attributes:
        alphas: (k,) alpha chosen for each target by leave-one-out on the training rows.
        test_pred: (n_test, k) predictions for the test rows.
        inner_pred: (n_train, k) leave-one-out predictions for the training rows at the
            chosen alphas; they never saw a test-fold label.
    """

    alphas: np.ndarray
    test_pred: np.ndarray
    inner_pred: np.ndarray


def standardise(train: np.ndarray, test: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Scale both matrices by the training rows' mean and standard deviation.

    Args:
        train: (n_train, d) features.
        test: (n_test, d) features.

    Returns:
        Standardised float64 copies; constant columns are centred but not scaled.
    """
    train = np.asarray(train, dtype=np.float64)
    mean = train.mean(axis=0)
    std = train.std(axis=0)
    std[std <= 1e-12] = 1.0
    return (train - mean) / std, (np.asarray(test, dtype=np.float64) - mean) / std


def _thin_svd(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(U, s**2, V) of a centred matrix via the smaller Gram; drops null directions."""
    n, d = x.shape
    if d <= n:
        lam, v = np.linalg.eigh(x.T @ x)  # (d,), (d, d)
        keep = lam > max(float(lam[-1]), 0.0) * 1e-12
        lam, v = lam[keep], v[:, keep]
        u = (x @ v) / np.sqrt(lam)
    else:
        lam, u = np.linalg.eigh(x @ x.T)  # (n,), (n, n)
        keep = lam > max(float(lam[-1]), 0.0) * 1e-12
        lam, u = lam[keep], u[:, keep]
        v = (x.T @ u) / np.sqrt(lam)
    return u, lam, v


def ridge_fold(
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_test: np.ndarray,
    alphas: Sequence[float] = DEFAULT_ALPHAS,
) -> RidgeFold:
    """Fit ridge with an intercept on one training fold and predict its test fold.

    Args:
        x_train: (n_train, d) features of the training rows.
        y_train: (n_train, k) targets; each target gets its own alpha.
        x_test: (n_test, d) features of the test rows.
        alphas: candidate regularisation strengths.

    Returns:
        The chosen alphas, test predictions and leave-one-out training predictions.
    """
    xs, xt = standardise(x_train, x_test)
    y = np.asarray(y_train, dtype=np.float64).reshape(len(xs), -1)  # (n, k)
    y_mean = y.mean(axis=0)
    yc = y - y_mean
    n = len(xs)
    u, lam, v = _thin_svd(xs)
    uy = u.T @ yc  # (r, k)
    u2 = u * u  # (n, r)
    grid = np.asarray(alphas, dtype=np.float64)
    errors = np.empty((len(grid), y.shape[1]))
    loo = np.empty((len(grid), *y.shape))
    for i, alpha in enumerate(grid):
        shrink = lam / (lam + alpha)  # (r,)
        leverage = np.minimum(1.0 / n + u2 @ shrink, 1.0 - 1e-12)  # (n,)
        resid = (yc - u @ (shrink[:, None] * uy)) / (1.0 - leverage)[:, None]
        errors[i] = np.mean(resid**2, axis=0)
        loo[i] = y - resid
    best = np.argmin(errors, axis=0)  # (k,) first (smallest) alpha on ties
    chosen = grid[best]
    projected = xt @ v  # (n_test, r)
    coef = (np.sqrt(lam)[:, None] / (lam[:, None] + chosen[None, :])) * uy  # (r, k)
    test_pred = projected @ coef + y_mean
    inner_pred = loo[best, :, np.arange(y.shape[1])].T  # (n, k)
    return RidgeFold(alphas=chosen, test_pred=test_pred, inner_pred=inner_pred)
