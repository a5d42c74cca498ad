"""Training glue around the shared metrics: logits -> predictions, and the checkpoint metric.

Scoring itself is :func:`hiddenpool.evaluate.metrics.score_predictions` (re-exported here as
``score``), so a fine-tuned score and a frozen-probe score mean the same thing.
"""

from __future__ import annotations

import numpy as np

from hiddenpool.evaluate.metrics import score_predictions as score

__all__ = ["default_metric", "predictions_from_logits", "score"]


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
