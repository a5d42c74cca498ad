"""Ridge probe for one fold: standardise on the training rows, pick alpha by leave-one-out.

A scikit-learn pipeline, ``StandardScaler`` (fitted on the fold's training rows only) then
``RidgeCV`` with its efficient leave-one-out (``cv=None``): one eigendecomposition of the
smaller Gram matrix of the standardised training rows, after which every alpha costs
O(n r), with an unpenalised intercept and an alpha per target (``alpha_per_target=True``).
Choosing alpha is an inner cross-validation on the training fold alone.

The leave-one-out predictions at the chosen alphas are kept for the ensemble: scoring with
sklearn's MSE scorer (the same criterion as ``RidgeCV``'s default) makes
``store_cv_results`` hold the predictions themselves rather than squared errors.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["DEFAULT_ALPHAS", "RidgeFold", "ridge_fold"]

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


def ridge_fold(
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_test: np.ndarray,
    alphas: Sequence[float] = DEFAULT_ALPHAS,
) -> RidgeFold:
    """Fit ridge with an intercept on one training fold and predict its test fold.

    Args:
        x_train: (n_train, d) features of the training rows.
        y_train: (n_train, k) targets; each target gets its own alpha (the smallest of the
            best on ties).
        x_test: (n_test, d) features of the test rows.
        alphas: candidate regularisation strengths.

    Returns:
        The chosen alphas, test predictions and leave-one-out training predictions.
    """
    from sklearn.linear_model import RidgeCV
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    grid = [float(a) for a in alphas]
    x = np.asarray(x_train, dtype=np.float64)  # float32 features would be scaled in float32
    y = np.asarray(y_train, dtype=np.float64).reshape(len(x), -1)  # (n, k), even for k = 1
    probe = make_pipeline(
        StandardScaler(),
        RidgeCV(
            alphas=grid,
            alpha_per_target=True,
            scoring="neg_mean_squared_error",
            store_cv_results=True,
            gcv_mode="svd" if x.shape[0] > x.shape[1] else "eigen",
        ),
    ).fit(x, y)
    ridge = probe[-1]
    chosen = np.atleast_1d(np.asarray(ridge.alpha_, dtype=np.float64))  # (k,)
    test_pred = probe.predict(np.asarray(x_test, dtype=np.float64)).reshape(len(x_test), -1)
    loo = ridge.cv_results_.reshape(len(y), y.shape[1], len(grid))  # (n, k, alphas)
    at = [grid.index(float(a)) for a in chosen]
    inner_pred = loo[:, np.arange(y.shape[1]), at]  # (n, k)
    return RidgeFold(alphas=chosen, test_pred=test_pred, inner_pred=inner_pred)
