"""Read a user's labelled file (.csv, .tsv, .jsonl, .parquet) into :class:`LabelledData`.

The file is read by :func:`hiddenpool.io.open_table`, the reader of every command, so the
formats, the rule for empty and missing texts and the error messages are those of ``embed`` and
``predict``; this module turns the label cells into numbers or classes. Every problem is one
line naming the file, the 1-based data row (the header is not counted) and the column.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from hiddenpool.data.labelled import LabelledData, check_task
from hiddenpool.io import TABLE_FORMATS, Column, open_table

__all__ = ["SUPPORTED_EXTENSIONS", "read_labelled"]

SUPPORTED_EXTENSIONS: tuple[str, ...] = TABLE_FORMATS
_CHUNK_ROWS = 65_536


def _is_missing(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    return isinstance(value, float) and math.isnan(value)


def _number(path: Path, row: int, column: str, value: Any) -> float:
    number = math.nan
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            number = math.nan
    if not math.isfinite(number):
        raise ValueError(
            f"{path}: row {row}, column {column!r}: expected a number for regression, got {value!r}"
        )
    return number


def _class_labels(path: Path, column: str, values: list[Any]) -> np.ndarray:
    if all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in values):
        labels = np.asarray(values, dtype=np.int64)
    elif all(isinstance(v, float) and v.is_integer() for v in values):
        labels = np.asarray(values, dtype=np.int64)  # integer classes stored as floats
    else:
        labels = np.asarray([str(v).strip() for v in values], dtype=str)
    distinct = np.unique(labels)
    if len(distinct) < 2:
        raise ValueError(
            f"{path}: classification needs at least 2 classes in column {column!r}, "
            f"found only {str(distinct[0])!r}"
        )
    return labels


def _wanted(
    task: str,
    text_column: str | None,
    label_columns: str | Sequence[str],
    pair_columns: tuple[str, str] | None,
) -> list[Column]:
    """The columns to read for ``task``: its text columns, then its label columns."""
    labels = (label_columns,) if isinstance(label_columns, str) else tuple(label_columns)
    if not labels:
        raise ValueError("label_columns is empty; name at least one label column")
    if task == "similarity":
        if pair_columns is None or len(pair_columns) != 2:
            raise ValueError("task 'similarity' needs pair_columns=(first, second) text columns")
        texts = [Column(c, "text", "`pair_columns`") for c in pair_columns]
    else:
        if text_column is None:
            raise ValueError(f"task {task!r} needs text_column")
        texts = [Column(text_column, "text", "`text_column`")]
    if task != "regression" and len(labels) != 1:
        raise ValueError(f"{task} takes one label column, got {len(labels)}: {', '.join(labels)}")
    return texts + [Column(c, "value", "`label_columns`") for c in labels]


def _read(
    path: Path, task: str, columns: Sequence[Column]
) -> tuple[dict[str, list[str]], dict[str, list[Any]]]:
    """Every text column's cells, and every label column's (numbers unless classification)."""
    texts: dict[str, list[str]] = {c.name: [] for c in columns if c.kind == "text"}
    labels: dict[str, list[Any]] = {c.name: [] for c in columns if c.kind == "value"}
    for chunk in open_table(path, columns).chunks(_CHUNK_ROWS):
        for column, values in texts.items():
            values += chunk[column]
        for column, cells in labels.items():
            for row, value in enumerate(chunk[column], start=chunk.start + 1):
                if _is_missing(value):
                    raise ValueError(f"{path}: row {row}, label column {column!r} is empty")
                cells.append(
                    value if task == "classification" else _number(path, row, column, value)
                )
    return texts, labels


def read_labelled(
    path: str | Path,
    text_column: str | None,
    label_columns: str | Sequence[str],
    task: str,
    pair_columns: tuple[str, str] | None = None,
) -> LabelledData:
    """Read texts and gold labels from a .csv, .tsv, .jsonl or .parquet file.

    Args:
        path: the file; the format follows the extension.
        text_column: column with the texts (ignored for ``similarity``).
        label_columns: one column name, or several for multi-target regression.
        task: ``"regression"``, ``"classification"`` or ``"similarity"``.
        pair_columns: the two sentence columns for ``similarity``.

    Returns:
        The data; for ``similarity``, ``texts`` holds all first sentences then all second
        sentences.

    Raises:
        FileNotFoundError: the file does not exist.
        ValueError: unsupported extension, no data rows, a missing column, an empty or
            non-numeric label, a text that is not a string (null, a number), or a single class.
            An empty string is a text, as everywhere in hiddenpool.
    """
    check_task(task)
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"labelled data file not found: {path}")
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_EXTENSIONS:
        raise ValueError(
            f"unsupported file extension {suffix or '(none)'!r} for {path}; "
            f"expected one of {', '.join(SUPPORTED_EXTENSIONS)}"
        )
    wanted = _wanted(task, text_column, label_columns, pair_columns)
    texts, raw_labels = _read(path, task, wanted)
    text_columns = [c.name for c in wanted if c.kind == "text"]
    labels_wanted = tuple(c.name for c in wanted if c.kind == "value")
    if not texts[text_columns[0]]:
        raise ValueError(f"{path} is empty: it has no data rows")

    if task == "classification":
        labels = _class_labels(path, labels_wanted[0], raw_labels[labels_wanted[0]])
    else:
        stacked = np.asarray([raw_labels[c] for c in labels_wanted], dtype=np.float64).T
        labels = stacked[:, 0] if stacked.shape[1] == 1 else stacked
    if task == "similarity":
        first, second = texts[text_columns[0]], texts[text_columns[1]]
        return LabelledData(
            texts=first + second,
            labels=labels,
            label_names=labels_wanted,
            task=task,
            name=path.name,
            pairs=list(zip(first, second, strict=True)),
        )
    return LabelledData(
        texts=texts[text_columns[0]],
        labels=labels,
        label_names=labels_wanted,
        task=task,
        name=path.name,
    )
