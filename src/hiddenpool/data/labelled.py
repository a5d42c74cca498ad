"""The container every dataset loader and file reader returns: texts plus their labels."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

__all__ = ["TASKS", "LabelledData", "check_task"]

TASKS: tuple[str, ...] = ("regression", "classification", "similarity")


def check_task(task: str) -> str:
    """Return ``task`` unchanged if it is a known task.

    Args:
        task: one of :data:`TASKS`.

    Returns:
        The same string.

    Raises:
        ValueError: the task is not one of :data:`TASKS`.
    """
    if task not in TASKS:
        raise ValueError(f"unknown task {task!r}; expected one of {', '.join(TASKS)}")
    return task


@dataclass(frozen=True)
class LabelledData:
    """Texts with gold labels, ready to embed and probe.

    Attributes:
        texts: the strings to embed. For ``regression`` and ``classification`` one per row
            (length n). For ``similarity`` the first sentences of all pairs followed by the
            second sentences (length 2n), so one encoding call covers both sides:
            ``emb[:n]`` and ``emb[n:]`` are the two halves of the pairs.
        labels: (n,) float64 for one regression target, (n, k) float64 for k targets,
            (n,) str or int64 class labels for classification, (n,) float64 gold scores
            for similarity.
        label_names: the label column names, e.g. ``("sentiment",)``.
        task: ``"regression"``, ``"classification"`` or ``"similarity"``.
        name: dataset name or file name, used in reports.
        pairs: the (a, b) sentence pairs for ``similarity``, otherwise None.
        splits: (n,) str, the official split of each row (``"train"``, ``"dev"``,
            ``"test"``) for datasets that have them, otherwise None.
    """

    texts: list[str]
    labels: np.ndarray
    label_names: tuple[str, ...]
    task: str
    name: str
    pairs: list[tuple[str, str]] | None = None
    splits: np.ndarray | None = None

    def __post_init__(self) -> None:
        check_task(self.task)
        n = len(self.labels)
        expected = 2 * n if self.task == "similarity" else n
        if len(self.texts) != expected:
            raise ValueError(
                f"{self.name}: {len(self.texts)} texts for {n} labels; expected {expected}"
            )
        if self.task == "similarity" and (self.pairs is None or len(self.pairs) != n):
            raise ValueError(f"{self.name}: similarity data needs one (a, b) pair per label")
        if self.splits is not None and len(self.splits) != n:
            raise ValueError(f"{self.name}: {len(self.splits)} split names for {n} labels")

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def split_names(self) -> tuple[str, ...]:
        """The official splits present, in order of first appearance (empty without any)."""
        if self.splits is None:
            return ()
        return tuple(dict.fromkeys(str(s) for s in self.splits))

    def take(self, rows: Sequence[int] | np.ndarray) -> LabelledData:
        """The given rows, in the given order; similarity keeps its two-halves layout.

        Args:
            rows: row indices into the labels (pair indices for similarity).

        Returns:
            A new :class:`LabelledData` of ``len(rows)`` rows.
        """
        index = np.asarray(rows, dtype=np.int64)
        n = len(self.labels)
        if index.size and (index.min() < 0 or index.max() >= n):
            raise ValueError(f"{self.name}: row index out of range for {n} rows")
        if self.task == "similarity":
            texts = [self.texts[i] for i in index] + [self.texts[n + i] for i in index]
        else:
            texts = [self.texts[i] for i in index]
        return replace(
            self,
            texts=texts,
            labels=self.labels[index],
            pairs=[self.pairs[i] for i in index] if self.pairs is not None else None,
            splits=self.splits[index] if self.splits is not None else None,
        )

    def in_split(self, split: str) -> LabelledData:
        """The rows of one official split.

        Args:
            split: a name from :attr:`split_names`.

        Returns:
            Those rows, in file order.

        Raises:
            ValueError: the data has no official splits, or not this one.
        """
        if self.splits is None:
            raise ValueError(f"split {split!r}: {self.name} has no official splits")
        if split not in self.split_names:
            raise ValueError(
                f"unknown split {split!r} of {self.name}; "
                f"expected one of {', '.join(self.split_names)}"
            )
        return self.take(np.flatnonzero(self.splits == split))

    @property
    def classes(self) -> tuple[str, ...]:
        """Sorted distinct class labels as strings (empty unless ``task`` is classification)."""
        if self.task != "classification":
            return ()
        return tuple(str(c) for c in np.unique(self.labels))
