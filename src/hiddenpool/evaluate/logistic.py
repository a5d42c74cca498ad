"""Logistic-regression probe for one fold, with C chosen by inner CV on the training fold.

The model is sklearn's ``LogisticRegression`` objective, ``sum_i CE_i + ||W||^2 / (2 C)``
with an unpenalised intercept: binomial (one weight vector) for two classes, multinomial
(softmax) for more. It is solved with L-BFGS directly, so the whole C path of each inner
fold can be warm-started, which is what keeps forty strategies affordable.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["DEFAULT_CS", "LogisticFold", "fit_logistic", "logistic_fold", "predict_proba"]

DEFAULT_CS: tuple[float, ...] = tuple(float(c) for c in np.logspace(-4, 2, 7))

Params = tuple[np.ndarray, np.ndarray]  # W (d, K') and b (K'); K' = 1 for two classes


@dataclass(frozen=True)
class LogisticFold:
    """What one fold of the logistic probe produced.

    Attributes:
        C: inverse regularisation chosen by inner CV log-loss on the training rows.
        test_proba: (n_test, K) class probabilities for the test rows.
        inner_proba: (n_train, K) inner-CV out-of-fold probabilities of the training rows
            at the chosen C; they never saw a test-fold label.
    """

    C: float
    test_proba: np.ndarray
    inner_proba: np.ndarray


def _logits(x: np.ndarray, w: np.ndarray, b: np.ndarray) -> np.ndarray:
    z = x @ w + b
    return np.hstack([np.zeros((len(z), 1)), z]) if w.shape[1] == 1 else z


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def predict_proba(x: np.ndarray, params: Params) -> np.ndarray:
    """Class probabilities.

    Args:
        x: (n, d) standardised features.
        params: ``(W, b)`` from :func:`fit_logistic`.

    Returns:
        (n, K) probabilities.
    """
    return _softmax(_logits(x, *params))


def fit_logistic(
    x: np.ndarray,
    y: np.ndarray,
    n_classes: int,
    C: float,
    max_iter: int = 200,
    tol: float = 1e-4,
    init: Params | None = None,
) -> Params:
    """Minimise ``sum_i CE_i + ||W||^2 / (2 C)`` with L-BFGS.

    Args:
        x: (n, d) features.
        y: (n,) class indices in ``[0, n_classes)``; classes may be absent.
        n_classes: K, at least 2.
        C: inverse regularisation strength, as in sklearn.
        max_iter: L-BFGS iteration cap.
        tol: gradient tolerance (of the objective divided by n).
        init: warm start ``(W, b)``.

    Returns:
        ``(W, b)`` with W (d, K') and b (K'), K' = 1 when K = 2 else K.
    """
    from scipy.optimize import minimize

    n, d = x.shape
    width = 1 if n_classes == 2 else n_classes
    onehot = np.zeros((n, n_classes))
    onehot[np.arange(n), y] = 1.0

    def objective(theta: np.ndarray) -> tuple[float, np.ndarray]:
        w, b = theta[: d * width].reshape(d, width), theta[d * width :]
        z = _logits(x, w, b)
        z = z - z.max(axis=1, keepdims=True)
        log_norm = np.log(np.exp(z).sum(axis=1))
        loss = float(np.sum(log_norm - np.sum(onehot * z, axis=1)))
        residual = np.exp(z - log_norm[:, None]) - onehot  # (n, K) dLoss/dlogits
        if width == 1:
            residual = residual[:, 1:]
        grad_w = x.T @ residual + w / C
        grad_b = residual.sum(axis=0)
        value = (loss + 0.5 * float(np.sum(w * w)) / C) / n
        return value, np.concatenate([grad_w.ravel(), grad_b]) / n

    theta0 = (
        np.zeros(d * width + width) if init is None else np.concatenate([init[0].ravel(), init[1]])
    )
    result = minimize(
        objective,
        theta0,
        jac=True,
        method="L-BFGS-B",
        options={"maxiter": max_iter, "gtol": tol, "ftol": 64 * np.finfo(float).eps, "maxls": 50},
    )
    theta = result.x
    return theta[: d * width].reshape(d, width), theta[d * width :]


def _log_loss(proba: np.ndarray, y: np.ndarray) -> float:
    return float(-np.mean(np.log(np.clip(proba[np.arange(len(y)), y], 1e-15, None))))


def _inner_splits(y: np.ndarray, k: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    from sklearn.model_selection import KFold, StratifiedKFold

    rows = np.arange(len(y))
    if np.unique(y, return_counts=True)[1].min() >= k:
        return list(StratifiedKFold(k, shuffle=True, random_state=seed).split(rows, y))
    return list(KFold(k, shuffle=True, random_state=seed).split(rows))


def logistic_fold(
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_test: np.ndarray,
    n_classes: int,
    Cs: Sequence[float] = DEFAULT_CS,
    inner_folds: int = 3,
    seed: int = 0,
    max_iter: int = 200,
) -> LogisticFold:
    """Choose C by inner CV on the training rows, refit on all of them, predict the test rows.

    The C path runs from strong to weak regularisation, warm-starting each inner fold from
    its previous solution, and stops once the inner log-loss has not improved for two
    steps (weaker regularisation only costs more iterations from there on).

    Args:
        x_train: (n_train, d) features.
        y_train: (n_train,) class indices.
        x_test: (n_test, d) features.
        n_classes: K.
        Cs: candidate C values, tried in increasing order.
        inner_folds: inner CV folds on the training rows.
        seed: inner split seed.
        max_iter: L-BFGS iteration cap per fit.

    Returns:
        The chosen C, test probabilities and inner out-of-fold training probabilities.
    """
    grid = sorted(float(c) for c in Cs)
    if not grid:
        raise ValueError("Cs is empty; give at least one C value")
    from sklearn.preprocessing import StandardScaler

    scaler = StandardScaler().fit(np.asarray(x_train, dtype=np.float64))
    xs = scaler.transform(np.asarray(x_train, dtype=np.float64))
    xt = scaler.transform(np.asarray(x_test, dtype=np.float64))
    y = np.asarray(y_train, dtype=np.int64)
    splits = _inner_splits(y, inner_folds, seed)
    warm: list[Params | None] = [None] * len(splits)
    best_loss, best_c = np.inf, grid[0]
    best_oof = np.full((len(y), n_classes), 1.0 / n_classes)
    best_warm: list[Params] = []
    stale = 0
    for C in grid:
        oof = np.zeros((len(y), n_classes))
        fitted: list[Params] = []
        for i, (fit_rows, val_rows) in enumerate(splits):
            params = fit_logistic(
                xs[fit_rows], y[fit_rows], n_classes, C, max_iter=max_iter, init=warm[i]
            )
            warm[i] = params
            fitted.append(params)
            oof[val_rows] = predict_proba(xs[val_rows], params)
        loss = _log_loss(oof, y)
        if loss < best_loss:
            best_loss, best_c, best_oof, best_warm, stale = loss, C, oof, fitted, 0
        else:
            stale += 1
            if stale >= 2:
                break
    init = (
        np.mean([p[0] for p in best_warm], axis=0),
        np.mean([p[1] for p in best_warm], axis=0),
    )
    final = fit_logistic(xs, y, n_classes, best_c, max_iter=max_iter, init=init)
    return LogisticFold(C=best_c, test_proba=predict_proba(xt, final), inner_proba=best_oof)
