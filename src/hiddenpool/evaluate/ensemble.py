"""Top-k averaging of strategies, with k and the members chosen without test-fold labels.

How leakage is avoided, for each outer fold f:

1. Every strategy's probe for fold f is fitted on fold f's training rows only. Besides its
   test predictions it returns *inner* predictions for those training rows, each made by a
   model that did not see that row: exact leave-one-out predictions for ridge, inner
   k-fold out-of-fold probabilities for logistic regression, and the (parameter-free)
   cosine for similarity.
2. :func:`choose_members` ranks the strategies by the primary metric of their inner
   predictions against the training rows' labels, then scores the average of the top k
   inner predictions for k = 1 .. max_k and keeps the best k (the smallest on ties).
3. The ensemble's prediction for fold f's test rows is the mean of the chosen strategies'
   test predictions, which were themselves made without fold f's labels.

Test-fold labels enter only at the end, when the ensemble's test predictions are scored,
so permuting them cannot change which strategies fold f chooses (tests check this).
The "best single strategy" it is compared against is picked with all folds' scores, which
favours the single strategy: the comparison is conservative for the ensemble.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from hiddenpool.evaluate.metrics import HIGHER_IS_BETTER, score_predictions

__all__ = ["average_predictions", "choose_members"]


def average_predictions(predictions: list[np.ndarray]) -> np.ndarray:
    """Element-wise mean of several predictions of the same shape.

    Args:
        predictions: arrays (n,), (n, k) targets or (n, K) probabilities.

    Returns:
        Their mean.
    """
    return np.mean(np.stack(predictions), axis=0)


def choose_members(
    inner_predictions: Mapping[str, np.ndarray],
    y_train: np.ndarray,
    task: str,
    metric: str,
    max_k: int = 10,
) -> tuple[str, ...]:
    """Pick the ensemble for one fold from training-row predictions only.

    Args:
        inner_predictions: per strategy, predictions for the fold's training rows made
            without each row's own label (see the module docstring).
        y_train: the training rows' labels (class indices for classification).
        task: ``"regression"``, ``"classification"`` or ``"similarity"``.
        metric: the metric to optimise (a key of ``HIGHER_IS_BETTER``).
        max_k: largest ensemble considered.

    Returns:
        The chosen strategies, best first; ties in score keep input order.
    """
    sign = 1.0 if HIGHER_IS_BETTER[metric] else -1.0
    names = list(inner_predictions)
    scores = [
        sign * score_predictions(task, y_train, inner_predictions[name])[metric] for name in names
    ]
    order = [names[i] for i in np.argsort(-np.asarray(scores), kind="stable")]
    best_k, best_score = 1, -np.inf
    running = np.zeros_like(np.asarray(inner_predictions[order[0]], dtype=np.float64))
    for k, name in enumerate(order[: max(1, max_k)], start=1):
        running = running + inner_predictions[name]
        score = sign * score_predictions(task, y_train, running / k)[metric]
        if score > best_score + 1e-12:
            best_k, best_score = k, score
    return tuple(order[:best_k])
