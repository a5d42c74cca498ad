"""The metrics of ``compare`` and ``train``, their direction, and which one ranks each task.

One definition of each score, shared by the frozen probes and by fine-tuning, so a score means
the same thing in both. The formulas are scipy's and scikit-learn's; the choices they leave
open are made here:

* **Spearman** is ``scipy.stats.spearmanr``, except that a constant side (every prediction
  equal, or every gold value) scores 0.0 rather than scipy's NaN: a constant prediction carries
  no ranking information, which is what a correlation of zero says, and a NaN would poison the
  fold mean, its interval, the ranking and the ensemble's choice. NaN *inputs* (a diverged
  model) still give NaN, as they do for RMSE.
* **Macro-F1** is ``sklearn.metrics.f1_score(average="macro", zero_division=0)`` over the
  union of the labels present in the gold and the predicted labels: a class with neither a
  true nor a predicted member in the set being scored is left out (it says nothing about this
  set), a class with only one of the two scores 0. For multilabel 0/1 matrices a "label" is a
  column and the same rule applies. Nothing present at all scores 0.0.
* **RMSE** is ``sklearn.metrics.root_mean_squared_error``; **MCRMSE** (Feedback Prize 3) is
  its mean over columns.
* **Accuracy** is ``sklearn.metrics.accuracy_score``; for multilabel it is per entry (one
  minus the Hamming loss), not the exact-match subset accuracy.
"""

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
    # search and clustering (hiddenpool.evaluate.tasks)
    "ndcg@10": True,
    "recall@10": True,
    "recall@100": True,
    "mrr@10": True,
    "map@100": True,
    "map": True,
    "v_measure": True,
}

_TASKS = "regression, classification, similarity, multilabel"


def spearman(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Spearman rank correlation of two 1-D arrays (``scipy.stats.spearmanr``).

    Args:
        y_true: (n,) gold values.
        y_pred: (n,) predictions.

    Returns:
        The correlation; 0.0 when either side is constant or has fewer than 2 values (no
        ranking information), NaN when either side holds a NaN.

    >>> spearman(np.array([1.0, 2.0, 3.0]), np.array([10.0, 30.0, 20.0]))
    0.5
    >>> spearman(np.array([1.0, 2.0, 3.0]), np.array([5.0, 5.0, 5.0]))
    0.0
    """
    from scipy.stats import spearmanr

    a = np.asarray(y_true, dtype=np.float64).ravel()
    b = np.asarray(y_pred, dtype=np.float64).ravel()
    if len(a) != len(b):
        raise ValueError(f"spearman: {len(a)} gold values but {len(b)} predictions")
    if np.isnan(a).any() or np.isnan(b).any():
        return float("nan")
    if len(a) < 2 or np.all(a == a[0]) or np.all(b == b[0]):
        return 0.0
    return float(spearmanr(a, b).statistic)


def rmse(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Root mean squared error over all entries.

    Args:
        y_true: (n,) or (n, k) gold values.
        y_pred: predictions of the same shape.

    Returns:
        The RMSE of the flattened arrays.
    """
    from sklearn.metrics import root_mean_squared_error

    return float(root_mean_squared_error(np.ravel(y_true), np.ravel(y_pred)))


def mcrmse(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Mean column-wise RMSE, the Feedback Prize 3 metric.

    Args:
        y_true: (n, k) gold values.
        y_pred: (n, k) predictions.

    Returns:
        The mean over the k columns of each column's RMSE.
    """
    from sklearn.metrics import root_mean_squared_error

    y = np.asarray(y_true, dtype=np.float64)
    p = np.asarray(y_pred, dtype=np.float64)
    return float(root_mean_squared_error(y.reshape(len(y), -1), p.reshape(len(p), -1)))


def accuracy(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Fraction of exact matches, per entry (so per label for (n, K) multilabel matrices).

    Args:
        y_true: (n,) class indices, or (n, K) 0/1 labels.
        y_pred: predictions of the same shape.

    Returns:
        The accuracy.
    """
    from sklearn.metrics import accuracy_score

    return float(accuracy_score(np.ravel(y_true), np.ravel(y_pred)))


def macro_f1(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Unweighted mean of per-class F1 over the classes present in ``y_true`` or ``y_pred``.

    ``sklearn.metrics.f1_score(average="macro", zero_division=0)``; see the module docstring
    for why a class with no true and no predicted member is left out rather than scored.

    Args:
        y_true: (n,) class labels, or (n, K) 0/1 multilabel matrix.
        y_pred: predictions of the same shape.

    Returns:
        The macro-F1 (0.0 when no class is present at all).

    >>> macro_f1(np.array([0, 0, 1]), np.array([0, 1, 1]))  # class 2 of a 3-class task absent
    0.6666666666666666
    """
    from sklearn.metrics import f1_score

    truth, pred = np.asarray(y_true), np.asarray(y_pred)
    if truth.shape != pred.shape:
        raise ValueError(f"macro_f1: labels {truth.shape} and predictions {pred.shape} differ")
    if truth.ndim == 2:  # multilabel: a label is present when a row has it, true or predicted
        present = np.flatnonzero(truth.astype(bool).any(axis=0) | pred.astype(bool).any(axis=0))
    else:
        present = np.union1d(truth, pred)
    if len(present) == 0:
        return 0.0
    return float(f1_score(truth, pred, labels=present, average="macro", zero_division=0))


def metric_names(task: str, n_targets: int = 1) -> tuple[str, ...]:
    """The metrics reported for a task, primary first.

    Args:
        task: ``"regression"``, ``"classification"``, ``"similarity"`` or ``"multilabel"``.
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
    if task == "multilabel":
        return ("macro_f1", "accuracy")
    raise ValueError(f"unknown task {task!r}; expected one of {_TASKS}")


def primary_metric(task: str, n_targets: int = 1) -> str:
    """The metric that ranks strategies: Spearman, MCRMSE (k > 1 targets) or accuracy.

    Args:
        task: ``"regression"``, ``"classification"``, ``"similarity"`` or ``"multilabel"``.
        n_targets: number of regression targets.

    Returns:
        The metric name.
    """
    return metric_names(task, n_targets)[0]


def score_predictions(task: str, y_true: np.ndarray, pred: np.ndarray) -> dict[str, float]:
    """All metrics of one set of predictions.

    Args:
        task: ``"regression"``, ``"classification"``, ``"similarity"`` or ``"multilabel"``.
        y_true: (n,) or (n, k) regression targets, (n,) class indices, (n,) gold scores, or
            (n, K) 0/1 labels.
        pred: same shape as ``y_true`` for regression and similarity ((n, 1) is taken for
            (n,)); (n, K) class probabilities for classification; (n, K) per-label
            probabilities for multilabel, thresholded at 0.5.

    Returns:
        ``{metric: value}`` for :func:`metric_names` of the task, primary first. For several
        regression targets, ``spearman`` is the mean of the per-column correlations.
    """
    if task == "classification":
        labels = np.argmax(pred, axis=1)
        classes = np.asarray(y_true).ravel()
        return {"accuracy": accuracy(classes, labels), "macro_f1": macro_f1(classes, labels)}
    if task == "multilabel":
        truth = np.asarray(y_true).astype(np.int64)
        chosen = (np.asarray(pred, dtype=np.float64) >= 0.5).astype(np.int64)
        truth, chosen = truth.reshape(len(truth), -1), chosen.reshape(len(chosen), -1)
        return {"macro_f1": macro_f1(truth, chosen), "accuracy": accuracy(truth, chosen)}
    if task == "similarity":
        return {"spearman": spearman(y_true, pred)}
    if task != "regression":
        raise ValueError(f"unknown task {task!r}; expected one of {_TASKS}")
    y_true, pred = np.asarray(y_true), np.asarray(pred)
    if y_true.ndim == 2 and y_true.shape[1] > 1:
        rhos = [spearman(y_true[:, j], pred[:, j]) for j in range(y_true.shape[1])]
        return {"mcrmse": mcrmse(y_true, pred), "spearman": float(np.mean(rhos))}
    y_true, pred = y_true.ravel(), pred.ravel()
    return {"spearman": spearman(y_true, pred), "rmse": rmse(y_true, pred)}
