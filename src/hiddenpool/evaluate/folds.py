"""Seeded folds: the one builder of ``compare`` (every strategy on the same folds, so their
scores are paired) and ``train`` (K-fold or one held-out split)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["Fold", "check_folds", "make_folds", "make_holdout"]

Fold = tuple[np.ndarray, np.ndarray]  # (train indices, test indices)


def _stratify_on(
    n: int, labels: np.ndarray | Sequence[object] | None, minimum: int, what: str, advice: str
) -> np.ndarray:
    """Class labels as an array, checked to have ``n`` rows and ``minimum`` rows per class."""
    if labels is None:
        raise ValueError("task='classification' needs labels to stratify on")
    y = np.asarray(labels)
    if len(y) != n:
        raise ValueError(f"labels has {len(y)} rows; expected n={n}")
    classes, counts = np.unique(y, return_counts=True)
    if counts.min() < minimum:
        rare = classes[int(np.argmin(counts))]
        raise ValueError(
            f"class {str(rare)!r} has {int(counts.min())} rows, fewer than the {minimum} "
            f"{what}; {advice}"
        )
    return y


def make_folds(
    n: int,
    k: int = 5,
    seed: int = 0,
    labels: np.ndarray | Sequence[object] | None = None,
    task: str = "regression",
) -> list[Fold]:
    """Split ``n`` rows into ``k`` shuffled folds; stratified by class for classification.

    The one fold builder of hiddenpool: ``compare`` and ``train`` both call it, so the same
    rows, seed, ``k`` and task give the same folds in both. Classification uses sklearn's
    ``StratifiedKFold`` (which encodes classes by first appearance, so class indices and the
    raw labels they stand for give the same folds); every other task ``KFold``; both
    shuffled with ``random_state=seed``.

    Args:
        n: number of rows.
        k: number of folds (at least 2).
        seed: shuffling seed; the same seed gives the same folds.
        labels: (n,) class labels, required when ``task`` is ``"classification"``; ignored
            otherwise.
        task: ``"regression"``, ``"classification"``, ``"similarity"`` or ``"multilabel"``.

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
    y = _stratify_on(n, labels, k, "folds", "use fewer folds or drop the class")
    stratified = StratifiedKFold(n_splits=k, shuffle=True, random_state=seed)
    return [(np.sort(a), np.sort(b)) for a, b in stratified.split(rows, y)]


def make_holdout(
    n: int,
    fraction: float,
    seed: int = 0,
    labels: np.ndarray | Sequence[object] | None = None,
    task: str = "regression",
) -> Fold:
    """One shuffled (train, held-out) split, stratified by class for classification.

    ``train --folds 1`` validates on it. sklearn's ``train_test_split``: the held-out set has
    ``ceil(fraction * n)`` rows.

    Args:
        n: number of rows.
        fraction: share of rows held out, in [0, 1); 0 holds out none.
        seed: shuffling seed.
        labels: (n,) class labels, required when ``task`` is ``"classification"``.
        task: as for :func:`make_folds`.

    Returns:
        Sorted (train indices, held-out indices).

    Raises:
        ValueError: ``fraction`` outside [0, 1), or (classification) missing labels or a
            class with a single row.

    >>> train, held = make_holdout(20, 0.25, seed=0)
    >>> len(train), len(held)
    (15, 5)
    """
    from sklearn.model_selection import train_test_split

    if not 0.0 <= fraction < 1.0:
        raise ValueError(f"the held-out fraction must be in [0, 1), got {fraction}")
    rows = np.arange(n)
    if fraction == 0.0:
        return rows, np.array([], dtype=np.int64)
    strata = (
        _stratify_on(n, labels, 2, "rows a stratified held-out split needs", "drop the class")
        if task == "classification"
        else None
    )
    train, held = train_test_split(
        rows, test_size=fraction, random_state=seed, shuffle=True, stratify=strata
    )
    return np.sort(train), np.sort(held)


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
