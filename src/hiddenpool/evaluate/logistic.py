"""Logistic-regression probe for one fold, with C chosen by inner CV on the training fold.

scikit-learn's ``LogisticRegressionCV``: the objective ``sum_i CE_i + ||W||^2 / (2 C)`` with an
unpenalised intercept, binomial for two classes and multinomial (softmax) for more, solved by
L-BFGS along the C path with warm starts; C is chosen by the inner folds' log-loss and the
final model is refitted on all training rows from the folds' mean solution. Features are
standardised by a ``StandardScaler`` fitted on the training rows only.

It replaced a hand-written L-BFGS path once it cost at most 1.5x as much on the default
compare's classification problem (``bench/probe_solvers.py``; the figure is in
``bench/README.md``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from hiddenpool.evaluate.folds import Fold, make_folds

__all__ = ["DEFAULT_CS", "LogisticFold", "inner_splits", "logistic_fold"]

DEFAULT_CS: tuple[float, ...] = tuple(float(c) for c in np.logspace(-4, 2, 7))


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


def inner_splits(y: np.ndarray, k: int, seed: int) -> list[Fold]:
    """The inner folds that choose C: stratified when every class has ``k`` rows, else plain.

    Args:
        y: (n,) class indices of the training rows.
        k: number of inner folds.
        seed: shuffling seed.

    Returns:
        ``k`` (fit rows, validation rows) pairs from :func:`~hiddenpool.evaluate.make_folds`.
    """
    if np.unique(y, return_counts=True)[1].min() >= k:
        return make_folds(len(y), k, seed, labels=y, task="classification")
    return make_folds(len(y), k, seed)  # plain shuffled KFold


def _proba(z: np.ndarray) -> np.ndarray:
    """(n, K') decision values -> (n, K) probabilities; K' = 1 is the binomial model."""
    from scipy.special import expit, softmax

    if z.shape[1] == 1:
        p = expit(z[:, 0])
        return np.c_[1.0 - p, p]
    return softmax(z, axis=1)


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

    Args:
        x_train: (n_train, d) features.
        y_train: (n_train,) class indices in ``[0, n_classes)``; at least two present.
        x_test: (n_test, d) features.
        n_classes: K; a class absent from the training rows gets probability 0.
        Cs: candidate C values (the smallest of the best on ties).
        inner_folds: inner CV folds on the training rows.
        seed: inner split seed.
        max_iter: L-BFGS iteration cap per fit.

    Returns:
        The chosen C, test probabilities and inner out-of-fold training probabilities.
    """
    from sklearn.linear_model import LogisticRegressionCV
    from sklearn.preprocessing import StandardScaler

    grid = sorted(float(c) for c in Cs)
    if not grid:
        raise ValueError("Cs is empty; give at least one C value")
    x = np.asarray(x_train, dtype=np.float64)
    scaler = StandardScaler().fit(x)
    xs, xt = scaler.transform(x), scaler.transform(np.asarray(x_test, dtype=np.float64))
    y = np.asarray(y_train, dtype=np.int64)
    splits = inner_splits(y, inner_folds, seed)
    model = LogisticRegressionCV(
        Cs=grid,
        cv=splits,
        scoring="neg_log_loss",
        l1_ratios=(0.0,),  # plain L2
        max_iter=max_iter,
        use_legacy_attributes=False,
    ).fit(xs, y)
    best = grid.index(float(model.C_))
    classes = model.classes_
    inner = np.zeros((len(y), n_classes))
    # coefs_paths_: (folds, l1_ratios, Cs, K', d + 1), the intercept last.
    for (_, rows), coef in zip(splits, model.coefs_paths_[:, 0, best], strict=True):
        inner[np.ix_(rows, classes)] = _proba(xs[rows] @ coef[:, :-1].T + coef[:, -1])
    test = np.zeros((len(xt), n_classes))
    test[:, classes] = model.predict_proba(xt)
    return LogisticFold(C=float(model.C_), test_proba=test, inner_proba=inner)
