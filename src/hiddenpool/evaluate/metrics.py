"""Per-fold metrics, their direction, and which one ranks strategies for each task."""

from __future__ import annotations

import numpy as np

__all__ = [
    "HIGHER_IS_BETTER",
    "accuracy",
    "macro_f1",
    "mcrmse",
    "metric_names",
    "primary_metric",
    "rmse",
    "score_predictions",
    "spearman",
]

HIGHER_IS_BETTER: dict[str, bool] = {
    "spearman": True,
    "rmse": False,
    "mcrmse": False,
    "accuracy": True,
    "macro_f1": True,
}


def _rank(x: np.ndarray) -> np.ndarray:
    """Average ranks of a 1-D array (ties share the mean of their positions)."""
    order = np.argsort(x, kind="mergesort")
    ranks = np.empty(len(x), dtype=np.float64)
    ranks[order] = np.arange(1, len(x) + 1, dtype=np.float64)
    values = x[order]
    # Tied runs get the mean of their ranks.
    starts = np.flatnonzero(np.r_[True, values[1:] != values[:-1]])
    ends = np.r_[starts[1:], len(x)]
    for start, end in zip(starts, ends, strict=True):
        if end - start > 1:
            ranks[order[start:end]] = (start + end + 1) / 2.0
    return ranks


def spearman(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Spearman rank correlation of two 1-D arrays.

    Args:
        y_true: (n,) gold values.
        y_pred: (n,) predictions.

    Returns:
        The correlation; 0.0 when either side is constant (no ranking information), where
        scipy would return NaN.
    """
    a = _rank(np.asarray(y_true, dtype=np.float64).ravel())
    b = _rank(np.asarray(y_pred, dtype=np.float64).ravel())
    a -= a.mean()
    b -= b.mean()
    denom = float(np.sqrt((a * a).sum() * (b * b).sum()))
    return float((a * b).sum() / denom) if denom > 0 else 0.0


def rmse(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Root mean squared error over all entries.

    Args:
        y_true: (n,) gold values.
        y_pred: (n,) predictions.

    Returns:
        The RMSE.
    """
    diff = np.asarray(y_true, dtype=np.float64) - np.asarray(y_pred, dtype=np.float64)
    return float(np.sqrt(np.mean(diff**2)))


def mcrmse(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Mean column-wise RMSE, the Feedback Prize 3 metric.

    Args:
        y_true: (n, k) gold values.
        y_pred: (n, k) predictions.

    Returns:
        The mean over the k columns of each column's RMSE.
    """
    diff = np.asarray(y_true, dtype=np.float64) - np.asarray(y_pred, dtype=np.float64)
    return float(np.mean(np.sqrt(np.mean(diff**2, axis=0))))


def accuracy(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Fraction of exact matches.

    Args:
        y_true: (n,) class indices.
        y_pred: (n,) predicted class indices.

    Returns:
        The accuracy.
    """
    return float(np.mean(np.asarray(y_true) == np.asarray(y_pred)))


def macro_f1(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Unweighted mean of per-class F1 over the classes in ``y_true`` or ``y_pred``.

    Matches ``sklearn.metrics.f1_score(average="macro", zero_division=0)``.

    Args:
        y_true: (n,) class indices.
        y_pred: (n,) predicted class indices.

    Returns:
        The macro-F1.
    """
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    scores = []
    for label in np.union1d(y_true, y_pred):
        tp = float(np.sum((y_true == label) & (y_pred == label)))
        denom = float(np.sum(y_true == label) + np.sum(y_pred == label))
        scores.append(2.0 * tp / denom if denom > 0 else 0.0)
    return float(np.mean(scores))


def metric_names(task: str, n_targets: int = 1) -> tuple[str, ...]:
    """The metrics reported for a task, primary first.

    Args:
        task: ``"regression"``, ``"classification"`` or ``"similarity"``.
        n_targets: number of regression targets.

    Returns:
        Metric names, each a key of :data:`HIGHER_IS_BETTER`.
    """
    if task == "regression":
        return ("mcrmse", "spearman") if n_targets > 1 else ("spearman", "rmse")
    if task == "classification":
        return ("accuracy", "macro_f1")
    if task == "similarity":
        return ("spearman",)
    raise ValueError(
        f"unknown task {task!r}; expected one of regression, classification, similarity"
    )


def primary_metric(task: str, n_targets: int = 1) -> str:
    """The metric that ranks strategies: Spearman, MCRMSE (k > 1 targets) or accuracy.

    Args:
        task: ``"regression"``, ``"classification"`` or ``"similarity"``.
        n_targets: number of regression targets.

    Returns:
        The metric name.
    """
    return metric_names(task, n_targets)[0]


def score_predictions(task: str, y_true: np.ndarray, pred: np.ndarray) -> dict[str, float]:
    """All metrics of one set of predictions.

    Args:
        task: ``"regression"``, ``"classification"`` or ``"similarity"``.
        y_true: (n,) or (n, k) regression targets, (n,) class indices, or (n,) gold scores.
        pred: same shape as ``y_true`` for regression and similarity; (n, K) class
            probabilities for classification.

    Returns:
        ``{metric: value}`` for :func:`metric_names` of the task. For several regression
        targets, ``spearman`` is the mean of the per-column correlations.
    """
    if task == "classification":
        labels = np.argmax(pred, axis=1)
        return {"accuracy": accuracy(y_true, labels), "macro_f1": macro_f1(y_true, labels)}
    if task == "similarity":
        return {"spearman": spearman(y_true, pred)}
    y_true, pred = np.asarray(y_true), np.asarray(pred)
    if y_true.ndim == 2 and y_true.shape[1] > 1:
        rhos = [spearman(y_true[:, j], pred[:, j]) for j in range(y_true.shape[1])]
        return {"mcrmse": mcrmse(y_true, pred), "spearman": float(np.mean(rhos))}
    y_true, pred = y_true.ravel(), pred.ravel()
    return {"spearman": spearman(y_true, pred), "rmse": rmse(y_true, pred)}
