"""Turning logits into predictions, and scoring them: MCRMSE, RMSE/Spearman, accuracy/macro-F1.

The formulas are the evaluation package's (:mod:`hiddenpool.evaluate.metrics`), so a fine-tuned
score and a frozen-probe score mean the same thing.
"""

from __future__ import annotations

import numpy as np

from hiddenpool.evaluate.metrics import accuracy, macro_f1, mcrmse, rmse, spearman

__all__ = [
    "GREATER_IS_BETTER",
    "default_metric",
    "predictions_from_logits",
    "score",
]

GREATER_IS_BETTER: dict[str, bool] = {
    "rmse": False,
    "mcrmse": False,
    "spearman": True,
    "accuracy": True,
    "macro_f1": True,
}


def default_metric(task: str, num_targets: int) -> str:
    """The metric that picks the best checkpoint: MCRMSE for several regression targets, RMSE for
    one (the loss it trains on), accuracy for classes, macro-F1 for multilabel."""
    if task == "regression":
        return "mcrmse" if num_targets > 1 else "rmse"
    return "accuracy" if task == "classification" else "macro_f1"


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(x, -60.0, 60.0)))


def _softmax(x: np.ndarray) -> np.ndarray:
    shifted = x - x.max(axis=1, keepdims=True)
    e = np.exp(shifted)
    return e / e.sum(axis=1, keepdims=True)


def predictions_from_logits(task: str, logits: np.ndarray) -> np.ndarray:
    """(n, K) logits -> (n, K) predictions: values for regression, class probabilities (softmax)
    for classification, per-label probabilities (sigmoid) for multilabel."""
    logits = np.asarray(logits, dtype=np.float64)
    if logits.ndim == 1:
        logits = logits[:, None]
    if task == "classification":
        return _softmax(logits)
    if task == "multilabel":
        return _sigmoid(logits)
    return logits


def score(task: str, labels: np.ndarray, predictions: np.ndarray) -> dict[str, float]:
    """Every metric of the task for (n, K) ``predictions`` (see :func:`predictions_from_logits`).

    Args:
        task: regression, classification or multilabel.
        labels: (n,) or (n, K) targets; (n,) class indices; (n, K) 0/1 labels.
        predictions: (n, K).

    Returns:
        regression: ``rmse`` and ``spearman`` (one target) or ``mcrmse`` and the mean per-target
        ``spearman``; classification: ``accuracy``, ``macro_f1``; multilabel: per-label
        ``accuracy`` and ``macro_f1`` (the mean of each label's F1) at threshold 0.5.
    """
    predictions = np.asarray(predictions, dtype=np.float64).reshape(len(predictions), -1)
    if task == "classification":
        classes = np.asarray(labels).astype(np.int64).ravel()
        best = predictions.argmax(axis=1)
        return {"accuracy": accuracy(classes, best), "macro_f1": macro_f1(classes, best)}
    y: np.ndarray = np.asarray(labels, dtype=np.float64).reshape(predictions.shape)
    if task == "multilabel":
        chosen: np.ndarray = (predictions >= 0.5).astype(np.int64)
        truth: np.ndarray = y.astype(np.int64)
        f1 = []
        for j in range(truth.shape[1]):
            tp = float(np.sum((truth[:, j] == 1) & (chosen[:, j] == 1)))
            denom = float(np.sum(truth[:, j]) + np.sum(chosen[:, j]))
            f1.append(2.0 * tp / denom if denom > 0 else 1.0)
        return {"accuracy": float(np.mean(truth == chosen)), "macro_f1": float(np.mean(f1))}
    if y.shape[1] > 1:
        rhos = [spearman(y[:, j], predictions[:, j]) for j in range(y.shape[1])]
        return {"mcrmse": mcrmse(y, predictions), "spearman": float(np.mean(rhos))}
    return {
        "rmse": rmse(y.ravel(), predictions.ravel()),
        "spearman": spearman(y.ravel(), predictions.ravel()),
    }
