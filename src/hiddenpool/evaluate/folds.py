"""Seeded cross-validation folds, shared by every strategy so their scores are paired."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["Fold", "check_folds", "make_folds"]

Fold = tuple[np.ndarray, np.ndarray]  # (train indices, test indices)


def make_folds(
    n: int,
    k: int = 5,
    seed: int = 0,
    labels: np.ndarray | Sequence[object] | None = None,
    task: str = "regression",
) -> list[Fold]:
    """Split ``n`` rows into ``k`` shuffled folds; stratified by class for classification.

    Args:
        n: number of rows.
        k: number of folds (at least 2).
        seed: shuffling seed; the same seed gives the same folds.
        labels: (n,) class labels, required when ``task`` is ``"classification"``.
        task: ``"regression"``, ``"classification"`` or ``"similarity"``.

    Returns:
        ``k`` pairs of sorted (train indices, test indices); test sets partition the rows.

    Raises:
        ValueError: ``k < 2``, fewer rows than folds, missing labels for classification, or
            a class with fewer rows than folds.

    >>> [len(test) for _, test in make_folds(10, 3, seed=0)]
    [4, 3, 3]
    """
    from sklearn.model_selection import KFold, StratifiedKFold

    if k < 2:
        raise ValueError(f"cross-validation needs at least 2 folds, got k={k}")
    if n < k:
        raise ValueError(f"cannot make {k} folds from {n} rows; need at least {k} rows")
    rows = np.arange(n)
    if task != "classification":
        splitter = KFold(n_splits=k, shuffle=True, random_state=seed)
        return [(np.sort(a), np.sort(b)) for a, b in splitter.split(rows)]
    if labels is None:
        raise ValueError("make_folds(task='classification') needs labels to stratify on")
    y = np.asarray(labels)
    if len(y) != n:
        raise ValueError(f"labels has {len(y)} rows; expected n={n}")
    classes, counts = np.unique(y, return_counts=True)
    if counts.min() < k:
        rare = classes[int(np.argmin(counts))]
        raise ValueError(
            f"class {str(rare)!r} has {int(counts.min())} rows, fewer than the {k} folds; "
            "use fewer folds or drop the class"
        )
    stratified = StratifiedKFold(n_splits=k, shuffle=True, random_state=seed)
    return [(np.sort(a), np.sort(b)) for a, b in stratified.split(rows, y)]


def check_folds(folds: Sequence[Fold], n: int) -> list[Fold]:
    """Check that the test sets of ``folds`` partition ``range(n)`` and trains are disjoint.

    Args:
        folds: (train, test) index pairs.
        n: number of rows.

    Returns:
        The folds as integer arrays.

    Raises:
        ValueError: fewer than 2 folds, or the test sets are not a partition, or a train set
            overlaps its test set.
    """
    if len(folds) < 2:
        raise ValueError(f"need at least 2 folds to estimate fold noise, got {len(folds)}")
    out: list[Fold] = []
    for number, (train, test) in enumerate(folds, start=1):
        train_idx, test_idx = np.asarray(train, dtype=np.int64), np.asarray(test, dtype=np.int64)
        if len(train_idx) == 0 or len(test_idx) == 0:
            raise ValueError(f"fold {number} has an empty train or test set")
        if np.intersect1d(train_idx, test_idx).size:
            raise ValueError(f"fold {number}: train and test rows overlap")
        out.append((train_idx, test_idx))
    every = np.sort(np.concatenate([test for _, test in out]))
    if len(every) != n or not np.array_equal(every, np.arange(n)):
        raise ValueError(f"the folds' test sets must cover each of the {n} rows exactly once")
    return out
