"""Minimal streaming readers and writers for ``hiddenpool predict`` (and out-of-fold files).

A stop-gap until :mod:`hiddenpool.io` exists: inputs .txt (one text per line), .csv, .tsv, .jsonl,
.parquet are read in chunks; outputs .csv, .jsonl, .parquet, .npy are written chunk by chunk to a
temporary file in the same folder and renamed into place at the end, so a crash never leaves a
half-written file under the final name.
"""

from __future__ import annotations

import csv
import json
import os
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO, Any

import numpy as np

__all__ = ["INPUT_FORMATS", "OUTPUT_FORMATS", "TableReader", "TableWriter"]

INPUT_FORMATS = (".txt", ".csv", ".tsv", ".jsonl", ".parquet")
OUTPUT_FORMATS = (".csv", ".jsonl", ".parquet", ".npy")


def _suffix(path: Path, allowed: Sequence[str], what: str) -> str:
    suffix = path.suffix.lower()
    if suffix not in allowed:
        raise ValueError(
            f"{path}: unsupported {what} format {suffix or '(none)'!r}; "
            f"use one of {', '.join(allowed)}"
        )
    return suffix


def _pyarrow() -> Any:
    try:
        import pyarrow
        import pyarrow.parquet
    except ImportError:  # pragma: no cover - pyarrow is part of the io extra
        raise ValueError("parquet needs pyarrow: pip install 'hiddenpool[io]'") from None
    return pyarrow


class TableReader:
    """Rows of a text file in chunks: the text column plus any other wanted columns present.

    Args:
        path: .txt, .csv, .tsv, .jsonl or .parquet.
        text_column: the text column (ignored for .txt, where each line is a text).
    """

    def __init__(self, path: str | Path, text_column: str = "text") -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise FileNotFoundError(f"{self.path}: no such input file")
        self.format = _suffix(self.path, INPUT_FORMATS, "input")
        self.text_column = text_column
        self.columns = self._columns()
        if self.format != ".txt" and text_column not in self.columns:
            raise ValueError(
                f"{self.path}: no text column {text_column!r}; "
                f"columns: {', '.join(self.columns) or 'none'}"
            )

    def _columns(self) -> list[str]:
        if self.format == ".txt":
            return ["text"]
        if self.format == ".parquet":
            return list(_pyarrow().parquet.read_schema(self.path).names)
        with self.path.open(encoding="utf-8-sig", newline="") as handle:
            if self.format == ".jsonl":
                for line in handle:
                    if line.strip():
                        first = json.loads(line)
                        return list(first) if isinstance(first, dict) else []
                return []
            header = next(csv.reader(handle, delimiter="," if self.format == ".csv" else "\t"), [])
            return list(header)

    def _records(self) -> Iterator[dict[str, Any]]:
        if self.format == ".txt":
            with self.path.open(encoding="utf-8-sig") as handle:
                for line in handle:
                    yield {"text": line.rstrip("\r\n")}
        elif self.format == ".jsonl":
            with self.path.open(encoding="utf-8-sig") as handle:
                for number, line in enumerate(handle, start=1):
                    if not line.strip():
                        continue
                    try:
                        record = json.loads(line)
                    except json.JSONDecodeError as error:
                        raise ValueError(
                            f"{self.path}: line {number} is not JSON ({error.msg})"
                        ) from None
                    if not isinstance(record, dict):
                        raise ValueError(f"{self.path}: line {number} is not a JSON object")
                    yield record
        else:
            with self.path.open(encoding="utf-8-sig", newline="") as handle:
                delimiter = "," if self.format == ".csv" else "\t"
                yield from csv.DictReader(handle, delimiter=delimiter)

    def chunks(
        self, size: int, columns: Sequence[str] = ()
    ) -> Iterator[tuple[list[str], dict[str, list[Any]]]]:
        """Yield (texts, {column: values}) for up to ``size`` rows at a time.

        Args:
            size: rows per chunk.
            columns: other columns to return; those absent from the file are skipped.
        """
        wanted = [c for c in columns if c in self.columns and c != self.text_column]
        key = "text" if self.format == ".txt" else self.text_column
        if self.format == ".parquet":
            parquet = _pyarrow().parquet.ParquetFile(self.path)
            rows = 0
            for batch in parquet.iter_batches(batch_size=size, columns=[key, *wanted]):
                data = batch.to_pydict()
                yield self._texts(data[key], rows), {c: data[c] for c in wanted}
                rows += batch.num_rows
            return
        texts: list[Any] = []
        extra: dict[str, list[Any]] = {c: [] for c in wanted}
        rows = 0
        for record in self._records():
            texts.append(record.get(key))
            for c in wanted:
                extra[c].append(record.get(c))
            if len(texts) == size:
                yield self._texts(texts, rows), extra
                rows += len(texts)
                texts, extra = [], {c: [] for c in wanted}
        if texts:
            yield self._texts(texts, rows), extra

    def _texts(self, values: list[Any], offset: int) -> list[str]:
        for i, value in enumerate(values):
            if not isinstance(value, str):
                raise ValueError(
                    f"{self.path}: row {offset + i + 1}, column {self.text_column!r} is "
                    f"{type(value).__name__}, not text"
                )
        return values


class TableWriter:
    """Write columns chunk by chunk to .csv, .jsonl, .parquet or .npy, atomically.

    For .npy only ``numeric`` columns are written, as one (n, len(numeric)) float32 matrix.

    Args:
        path: the output file.
        columns: all column names, in order.
        numeric: the numeric columns (the .npy matrix).
    """

    def __init__(self, path: str | Path, columns: Sequence[str], numeric: Sequence[str]) -> None:
        self.path = Path(path)
        self.format = _suffix(self.path, OUTPUT_FORMATS, "output")
        if not self.path.parent.is_dir():
            raise FileNotFoundError(f"{self.path.parent}: output folder does not exist")
        self.columns = list(columns)
        self.numeric = list(numeric)
        fd, tmp = tempfile.mkstemp(
            prefix=f".{self.path.name}.", suffix=".part", dir=self.path.parent
        )
        os.close(fd)
        self.tmp = Path(tmp)
        self.rows = 0
        self._parquet: Any = None
        self._handle: IO[Any] | None = None
        if self.format in (".csv", ".jsonl"):
            self._handle = self.tmp.open("w", encoding="utf-8", newline="")
            if self.format == ".csv":
                self._csv = csv.writer(self._handle)
                self._csv.writerow(self.columns)
        elif self.format == ".npy":
            self._handle = self.tmp.open("wb")

    def write(self, table: dict[str, Sequence[Any] | np.ndarray]) -> None:
        n = len(next(iter(table.values()))) if table else 0
        if self.format == ".npy":
            assert self._handle is not None
            matrix = np.column_stack([np.asarray(table[c], dtype=np.float32) for c in self.numeric])
            self._handle.write(np.ascontiguousarray(matrix, dtype="<f4").tobytes())
        elif self.format == ".parquet":
            pa = _pyarrow()
            batch = pa.table({c: _plain(table[c]) for c in self.columns})
            if self._parquet is None:
                self._parquet = pa.parquet.ParquetWriter(self.tmp, batch.schema)
            self._parquet.write_table(batch)
        else:
            assert self._handle is not None
            values = [_plain(table[c]) for c in self.columns]
            for row in zip(*values, strict=True):
                if self.format == ".csv":
                    self._csv.writerow(row)
                else:
                    self._handle.write(
                        json.dumps(dict(zip(self.columns, row, strict=True)), ensure_ascii=False)
                        + "\n"
                    )
        self.rows += n

    def close(self) -> Path:
        """Finish the file and move it into place."""
        if self._parquet is not None:
            self._parquet.close()
        if self._handle is not None:
            self._handle.close()
        if self.format == ".parquet" and self._parquet is None:  # no rows: still a valid file
            pa = _pyarrow()
            pa.parquet.write_table(pa.table({c: [] for c in self.columns}), self.tmp)
        if self.format == ".npy":
            self._finish_npy()
        os.replace(self.tmp, self.path)
        return self.path

    def abort(self) -> None:
        for handle in (self._handle, self._parquet):
            try:
                if handle is not None:
                    handle.close()
            except Exception:
                pass
        self.tmp.unlink(missing_ok=True)

    def _finish_npy(self) -> None:
        raw = self.tmp
        final = raw.with_suffix(".npy.part")
        shape = (self.rows, len(self.numeric))
        with final.open("wb") as out, raw.open("rb") as data:
            np.lib.format.write_array_header_1_0(
                out, {"descr": "<f4", "fortran_order": False, "shape": shape}
            )
            while block := data.read(1 << 20):
                out.write(block)
        raw.unlink()
        self.tmp = final

    def __enter__(self) -> TableWriter:
        return self

    def __exit__(self, kind: object, error: object, trace: object) -> None:
        if kind is None:
            self.close()
        else:
            self.abort()


def _plain(values: Sequence[Any] | np.ndarray) -> list[Any]:
    return values.tolist() if isinstance(values, np.ndarray) else list(values)
