"""The container every dataset loader and file reader returns: texts plus their labels."""

from __future__ import annotations

from dataclasses import dataclass

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
    """

    texts: list[str]
    labels: np.ndarray
    label_names: tuple[str, ...]
    task: str
    name: str
    pairs: list[tuple[str, str]] | None = None

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

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def classes(self) -> tuple[str, ...]:
        """Sorted distinct class labels as strings (empty unless ``task`` is classification)."""
        if self.task != "classification":
            return ()
        return tuple(str(c) for c in np.unique(self.labels))
