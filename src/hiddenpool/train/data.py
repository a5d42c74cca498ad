"""Training data: DATA (a registered dataset or a file) -> texts and label arrays, batches.

Folds come from :mod:`hiddenpool.evaluate.folds`, the builder ``compare`` uses.

Labels are checked here so that a bad file fails in one line before any model is loaded: label
columns missing or non-numeric, NaN labels, multilabel values other than 0/1.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from hiddenpool.data import (
    SUPPORTED_EXTENSIONS,
    LabelledData,
    list_datasets,
    load_dataset,
    read_labelled,
)
from hiddenpool.encode.batching import pad_windows, tokenizer_pad_values
from hiddenpool.encode.windows import Windows
from hiddenpool.train.config import Task, TrainConfig, check_task

__all__ = ["Collator", "TextDataset", "TrainingData", "load_training_data", "prepare"]


@dataclass(frozen=True)
class TrainingData:
    """Texts with labels encoded for a head.

    Attributes:
        texts: n strings.
        y: (n, K) float32 for regression and multilabel; (n,) int64 class indices.
        labels: one name per output (targets, or the sorted classes).
        targets: the columns the labels came from.
        task: regression, classification or multilabel.
        text_column: the column the texts came from.
        name: dataset or file name.
    """

    texts: list[str]
    y: np.ndarray
    labels: tuple[str, ...]
    targets: tuple[str, ...]
    task: Task
    text_column: str
    name: str

    def __len__(self) -> int:
        return len(self.texts)


def _check_finite(name: str, targets: Sequence[str], values: np.ndarray) -> None:
    bad = ~np.isfinite(values)
    if bad.any():
        matrix = values.reshape(len(values), -1)
        row, col = np.argwhere(bad.reshape(len(values), -1))[0]
        raise ValueError(
            f"{name}: row {row + 1}, label column {targets[int(col)]!r} is {matrix[row, col]}: "
            "labels must be finite numbers (drop or fill the missing ones)"
        )


def prepare(data: LabelledData, task: str | None = None) -> TrainingData:
    """Encode a :class:`~hiddenpool.data.LabelledData` for training.

    Args:
        data: texts and labels (from ``load_dataset`` or ``read_labelled``).
        task: regression, classification or multilabel; None takes ``data.task``. Multilabel
            data is read as numeric columns of 0/1.
    """
    resolved = check_task(task or data.task)
    targets = tuple(data.label_names)
    if resolved == "classification":
        if data.task != "classification":
            raise ValueError(
                f"{data.name} is {data.task} data; it cannot train task classification"
            )
        raw = np.asarray([str(v) for v in np.asarray(data.labels).ravel()])
        classes = tuple(str(c) for c in np.unique(raw))
        if len(classes) < 2:
            raise ValueError(
                f"{data.name}: classification needs at least 2 classes, found {classes}"
            )
        index = {c: i for i, c in enumerate(classes)}
        y = np.asarray([index[v] for v in raw], dtype=np.int64)
        return TrainingData(
            list(data.texts), y, classes, targets, "classification", "text", data.name
        )
    try:
        values = np.asarray(data.labels, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(
            f"{data.name}: labels of {', '.join(targets)} are not numbers; "
            f"task {resolved} needs numeric label columns (use task='classification' for classes)"
        ) from None
    values = values.reshape(len(values), -1)
    _check_finite(data.name, targets, values)
    if values.shape[1] != len(targets):
        targets = tuple(f"label_{j}" for j in range(values.shape[1]))
    if resolved == "multilabel":
        bad = ~np.isin(values, (0.0, 1.0))
        if bad.any():
            row, col = np.argwhere(bad)[0]
            raise ValueError(
                f"{data.name}: row {row + 1}, label column {targets[col]!r} is "
                f"{values[row, col]:g}; multilabel labels must be 0 or 1"
            )
    return TrainingData(
        list(data.texts), values.astype(np.float32), targets, targets, resolved, "text", data.name
    )


def _looks_like_file(data: str) -> bool:
    return Path(data).suffix.lower() in SUPPORTED_EXTENSIONS or "/" in data or Path(data).exists()


def load_training_data(config: TrainConfig) -> TrainingData:
    """Read ``config.data``: a registered dataset name, or a .csv/.tsv/.jsonl/.parquet file."""
    if _looks_like_file(config.data):
        if config.task is None:
            raise ValueError(
                f"{config.data}: a data file needs `task` "
                "(regression, classification or multilabel)"
            )
        if not config.label_columns:
            raise ValueError(
                f"{config.data}: a data file needs `label_columns` "
                "(one, or several for multi-target)"
            )
        text_column = config.text_column or "text"
        read_as = "regression" if config.task == "multilabel" else config.task
        labelled = read_labelled(config.data, text_column, list(config.label_columns), read_as)
        prepared = prepare(labelled, config.task)
        return TrainingData(
            prepared.texts,
            prepared.y,
            prepared.labels,
            prepared.targets,
            prepared.task,
            text_column,
            prepared.name,
        )
    names = [info.name for info in list_datasets()]
    if config.data not in names:
        raise ValueError(
            f"{config.data!r} is neither a data file (.csv, .tsv, .jsonl, .parquet) nor a "
            f"registered dataset; registered: {', '.join(names)}"
        )
    labelled = load_dataset(config.data)
    if labelled.task == "similarity":
        raise ValueError(
            f"{config.data} is a sentence-pair similarity dataset; train takes single texts"
        )
    if config.label_columns and tuple(config.label_columns) != tuple(labelled.label_names):
        raise ValueError(
            f"{config.data} has label column(s) {', '.join(labelled.label_names)}, "
            f"not {', '.join(config.label_columns)}"
        )
    if config.task is not None and config.task != labelled.task:
        raise ValueError(f"{config.data} is a {labelled.task} dataset, not {config.task}")
    return prepare(labelled)


class TextDataset(torch.utils.data.Dataset):
    """Pre-tokenised rows (no padding) with their labels, for the Trainer's DataLoader.

    Args:
        windows: the texts tokenised, one window per text (``tokenize_windows``), under a prompt
            template with the spans of the text and of the mask token.
        y: labels, one row per text (None: none).
        rows: the texts of this dataset.
    """

    def __init__(self, windows: Windows, y: np.ndarray | None, rows: np.ndarray) -> None:
        if windows.num_windows != windows.num_texts:
            raise ValueError("training reads one window per text (long texts are truncated)")
        self.windows = windows
        self.y = y
        self.rows = np.asarray(rows, dtype=np.int64)

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, index: int) -> dict[str, Any]:
        row = int(self.rows[index])
        item: dict[str, Any] = {k: v[row] for k, v in self.windows.features.items()}
        for key, (start, stop) in self.windows.spans.items():  # a template's token spans
            item[key] = (int(start[row]), int(stop[row]))
        if self.y is not None:
            item["labels"] = self.y[row]
        return item


class Collator:
    """Pads token fields as the tokenizer pads (its pad ids and side), builds a template's span
    masks, stacks labels: the padding of :func:`hiddenpool.encode.batching.pad_windows`."""

    def __init__(self, tokenizer: Any) -> None:
        self.tokenizer = tokenizer
        self.pad_values = tokenizer_pad_values(tokenizer)

    def __call__(self, features: list[dict[str, Any]]) -> dict[str, Tensor]:
        labels = [f["labels"] for f in features] if "labels" in features[0] else None
        span_keys = [k for k in features[0] if isinstance(features[0][k], tuple)]
        token_keys = [k for k in features[0] if k != "labels" and k not in span_keys]
        spans = {
            key: (
                np.array([f[key][0] for f in features], dtype=np.int64),
                np.array([f[key][1] for f in features], dtype=np.int64),
            )
            for key in span_keys
        }
        padded = pad_windows(
            {k: [f[k] for f in features] for k in token_keys},
            np.arange(len(features)),
            self.pad_values,
            left=self.tokenizer.padding_side == "left",
            spans=spans,
        )
        batch = {k: torch.from_numpy(v) for k, v in padded.items()}
        if labels is not None:
            batch["labels"] = torch.as_tensor(np.stack(labels))
        return batch
