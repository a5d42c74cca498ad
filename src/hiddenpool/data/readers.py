"""Read a user's labelled file (.csv, .tsv, .jsonl, .parquet) into :class:`LabelledData`.

Every problem is reported as one line naming the file, the 1-based data row (the header
is not counted) and the column, so it can be fixed without a debugger.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from hiddenpool.data.labelled import LabelledData, check_task

__all__ = ["SUPPORTED_EXTENSIONS", "read_labelled"]

SUPPORTED_EXTENSIONS: tuple[str, ...] = (".csv", ".tsv", ".jsonl", ".parquet")

Records = list[dict[str, Any]]


def _decode(path: Path) -> str:
    raw = path.read_bytes()
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValueError(
            f"{path} is not valid UTF-8 ({exc.reason} at byte {exc.start}); save it as UTF-8"
        ) from None


def _read_delimited(path: Path, delimiter: str) -> tuple[list[str], Records]:
    reader = csv.DictReader(io.StringIO(_decode(path), newline=""), delimiter=delimiter)
    columns = [c for c in (reader.fieldnames or []) if c is not None]
    return columns, list(reader)


def _read_jsonl(path: Path) -> tuple[list[str], Records]:
    columns: dict[str, None] = {}
    records: Records = []
    for number, line in enumerate(_decode(path).splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{path}: line {number} is not valid JSON: {exc.msg}") from None
        if not isinstance(record, dict):
            raise ValueError(
                f"{path}: line {number} is a JSON {type(record).__name__}; expected an object"
            )
        columns.update(dict.fromkeys(record))
        records.append(record)
    return list(columns), records


def _read_parquet(path: Path, wanted: Sequence[str]) -> tuple[list[str], Records]:
    try:
        import pyarrow.parquet as pq
    except ImportError:  # pragma: no cover - pyarrow is part of the io extra
        raise ValueError(
            f"reading {path} needs pyarrow; install it with pip install 'hiddenpool[io]'"
        ) from None
    columns = list(pq.read_schema(path).names)
    present = [c for c in dict.fromkeys(wanted) if c in columns]
    return columns, pq.read_table(path, columns=present).to_pylist()


def _is_missing(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    return isinstance(value, float) and math.isnan(value)


def _text(path: Path, row: int, column: str, value: Any) -> str:
    if value is None:
        raise ValueError(f"{path}: row {row}, column {column!r}: text is missing")
    if not isinstance(value, str):
        raise ValueError(
            f"{path}: row {row}, column {column!r}: expected a string, "
            f"got {type(value).__name__} {value!r}"
        )
    if not value.strip():
        raise ValueError(f"{path}: row {row}, column {column!r}: text is empty")
    return value


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
            non-numeric label, a non-string or empty text, or a single class.
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
    labels_wanted = (label_columns,) if isinstance(label_columns, str) else tuple(label_columns)
    if not labels_wanted:
        raise ValueError("label_columns is empty; name at least one label column")
    if task == "similarity":
        if pair_columns is None or len(pair_columns) != 2:
            raise ValueError("task 'similarity' needs pair_columns=(first, second) text columns")
        text_columns: tuple[str, ...] = tuple(pair_columns)
    else:
        if text_column is None:
            raise ValueError(f"task {task!r} needs text_column")
        text_columns = (text_column,)
    if task != "regression" and len(labels_wanted) != 1:
        raise ValueError(
            f"{task} takes one label column, got {len(labels_wanted)}: {', '.join(labels_wanted)}"
        )

    if suffix in (".csv", ".tsv"):
        columns, records = _read_delimited(path, "," if suffix == ".csv" else "\t")
    elif suffix == ".jsonl":
        columns, records = _read_jsonl(path)
    else:
        columns, records = _read_parquet(path, (*text_columns, *labels_wanted))
    if not records:
        raise ValueError(f"{path} is empty: it has no data rows")
    for column in (*text_columns, *labels_wanted):
        if column not in columns:
            raise ValueError(
                f"column {column!r} not found in {path}; available columns: {', '.join(columns)}"
            )

    texts: dict[str, list[str]] = {c: [] for c in text_columns}
    raw_labels: dict[str, list[Any]] = {c: [] for c in labels_wanted}
    for row, record in enumerate(records, start=1):
        for column in text_columns:
            texts[column].append(_text(path, row, column, record.get(column)))
        for column in labels_wanted:
            value = record.get(column)
            if _is_missing(value):
                raise ValueError(f"{path}: row {row}, label column {column!r} is empty")
            if task != "classification":
                value = _number(path, row, column, value)
            raw_labels[column].append(value)

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
