"""Write a table of rows (predictions, out-of-fold scores) chunk by chunk, atomically.

Formats: ``.csv`` (a header row), ``.jsonl`` (one object per row), ``.parquet``, and ``.npy`` (the
numeric columns only, one float32 matrix). Rows go to a hidden temporary file beside the output
(:class:`~hiddenpool.io.AtomicFile`), renamed over it when the table is closed, so an error never
leaves a half-written file under the output's name.
"""

from __future__ import annotations

import csv
import json
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

import numpy as np

from hiddenpool.io.atomic import AtomicFile

__all__ = ["TABLE_OUTPUT_FORMATS", "TableWriter"]

TABLE_OUTPUT_FORMATS: tuple[str, ...] = (".csv", ".jsonl", ".parquet", ".npy")


def _pyarrow() -> Any:
    try:
        import pyarrow
        import pyarrow.parquet
    except ImportError:  # pragma: no cover - pyarrow is part of the io extra
        raise ValueError("parquet needs pyarrow: pip install 'hiddenpool[io]'") from None
    return pyarrow


def _plain(values: Sequence[Any] | np.ndarray) -> list[Any]:
    return values.tolist() if isinstance(values, np.ndarray) else list(values)


class TableWriter:
    """Columns written chunk by chunk to .csv, .jsonl, .parquet or .npy, atomically.

    For .npy only the ``numeric`` columns are written, as one (n, len(numeric)) float32 matrix.
    Use it as a context manager: the output appears when the block ends without an error.

    Args:
        path: the output file; its folder must exist.
        columns: all column names, in order.
        numeric: the numeric columns (the .npy matrix).

    >>> with TableWriter("scores.csv", ["id", "score"], ["score"]) as table:  # doctest: +SKIP
    ...     table.write({"id": ["a", "b"], "score": np.array([0.5, 1.5])})
    """

    def __init__(self, path: str | Path, columns: Sequence[str], numeric: Sequence[str]) -> None:
        self.path = Path(path)
        self.format = self.path.suffix.lower()
        if self.format not in TABLE_OUTPUT_FORMATS:
            raise ValueError(
                f"{self.path}: unsupported output format {self.format or '(none)'!r}; "
                f"use one of {', '.join(TABLE_OUTPUT_FORMATS)}"
            )
        self.columns = list(columns)
        self.numeric = list(numeric)
        self.rows = 0
        self._file = AtomicFile(self.path)
        self._parquet: Any = None
        self._handle: IO[Any] | None = None
        if self.format in (".csv", ".jsonl"):
            self._handle = self._file.tmp.open("w", encoding="utf-8", newline="")
            if self.format == ".csv":
                self._csv = csv.writer(self._handle)
                self._csv.writerow(self.columns)
        elif self.format == ".npy":  # the matrix, until its row count (the header) is known
            self._handle = tempfile.TemporaryFile(dir=self.path.parent)  # noqa: SIM115

    def write(self, table: dict[str, Sequence[Any] | np.ndarray]) -> None:
        """Append rows: every column's values, by name."""
        n = len(next(iter(table.values()))) if table else 0
        if self.format == ".npy":
            assert self._handle is not None
            matrix = np.column_stack([np.asarray(table[c], dtype=np.float32) for c in self.numeric])
            self._handle.write(np.ascontiguousarray(matrix, dtype="<f4").tobytes())
        elif self.format == ".parquet":
            pa = _pyarrow()
            batch = pa.table({c: _plain(table[c]) for c in self.columns})
            if self._parquet is None:
                self._parquet = pa.parquet.ParquetWriter(self._file.tmp, batch.schema)
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
        """Finish the file and rename it into place."""
        try:
            if self._parquet is not None:
                self._parquet.close()
            elif self.format == ".parquet":  # no rows: still a valid file, with the columns
                pa = _pyarrow()
                pa.parquet.write_table(pa.table({c: [] for c in self.columns}), self._file.tmp)
            if self.format == ".npy":
                self._finish_npy()
            elif self._handle is not None:
                self._handle.close()
            return self._file.commit()
        except BaseException:
            self.abort()
            raise

    def abort(self) -> None:
        """Drop what was written; the output's name is left as it was."""
        for handle in (self._handle, self._parquet):
            try:
                if handle is not None:
                    handle.close()
            except Exception:
                pass
        self._file.discard()

    def _finish_npy(self) -> None:
        assert self._handle is not None
        header = {"descr": "<f4", "fortran_order": False, "shape": (self.rows, len(self.numeric))}
        with self._file.tmp.open("wb") as out:
            np.lib.format.write_array_header_1_0(out, header)
            self._handle.seek(0)
            shutil.copyfileobj(self._handle, out, 1 << 20)
        self._handle.close()

    def __enter__(self) -> TableWriter:
        return self

    def __exit__(self, kind: object, error: object, trace: object) -> None:
        if kind is None:
            self.close()
        else:
            self.abort()
