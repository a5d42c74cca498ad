"""Read texts (and optional ids) from .txt, .csv, .tsv, .jsonl, .parquet or stdin, in chunks.

One reader for every format: :func:`open_texts` checks the file and its columns up front, then
:meth:`TextReader.chunks` yields lists of at most ``size`` texts, so a file of any length never
sits in memory at once. Every problem is a ``ValueError`` (or ``FileNotFoundError``) naming the
file and the line, byte offset, row or column.

What counts as a text:

- ``.txt`` and stdin (``-``): one text per line, without its line ending (``\\n`` or ``\\r\\n``).
  An empty line is an empty text (it keeps its row, so output row i is input line i).
- ``.csv`` / ``.tsv``: a header row, then one record per row (quoted fields may span lines). An
  empty cell is an empty text.
- ``.jsonl``: one JSON object per line; blank lines are skipped. The text must be a JSON string;
  null, numbers and other types are refused.
- ``.parquet``: a string column; nulls are refused.

All text must be UTF-8 (a leading byte-order mark is dropped).
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

__all__ = ["INPUT_FORMATS", "TextChunk", "TextReader", "open_texts"]

INPUT_FORMATS: tuple[str, ...] = (".txt", ".csv", ".tsv", ".jsonl", ".parquet")
DEFAULT_TEXT_COLUMN = "text"
_PEEK = 1 << 20  # bytes hashed at each end of the file for its fingerprint
_CSV_FIELD_LIMIT = 2**31 - 1  # the largest the C long of every platform takes


@dataclass(frozen=True)
class TextChunk:
    """Consecutive texts of the input.

    Attributes:
        start: row number (0-based) of the first text.
        texts: the texts.
        ids: the id column's values (str or int), or None without an id column.
        progress: share of the input read once this chunk is done (0..1), or None if unknown.
    """

    start: int
    texts: list[str]
    ids: list[Any] | None
    progress: float | None


class _Lines:
    """Decoded lines of a binary stream, knowing each line's number and byte offset."""

    def __init__(self, handle: IO[bytes], name: str) -> None:
        self.handle = handle
        self.name = name
        self.line = 0  # number of the line last returned, 1-based
        self.offset = 0  # byte offset of the line last returned
        self.consumed = 0  # bytes read so far

    def __iter__(self) -> Iterator[str]:
        for raw in self.handle:
            self.line += 1
            self.offset = self.consumed
            self.consumed += len(raw)
            if self.line == 1 and raw.startswith(b"\xef\xbb\xbf"):
                raw = raw[3:]
                self.offset += 3
            try:
                yield raw.decode("utf-8")
            except UnicodeDecodeError as error:
                raise ValueError(
                    f"{self.name}: line {self.line} (byte offset {self.offset + error.start}) is "
                    f"not valid UTF-8 ({error.reason}); convert the file to UTF-8, e.g. "
                    "iconv -f latin1 -t utf-8"
                ) from None


def _strip_newline(line: str) -> str:
    if line.endswith("\n"):
        line = line[:-1]
        if line.endswith("\r"):
            line = line[:-1]
    return line


def _cell(name: str, where: str, column: str, value: Any, kind: str) -> Any:
    """``value`` if it is a string (or, for ids, an int); else a ValueError naming the cell."""
    ok = isinstance(value, str) or (
        kind == "id" and isinstance(value, int) and not isinstance(value, bool)
    )
    if ok:
        return value
    what = "null" if value is None else f"{type(value).__name__} ({json.dumps(value)[:40]})"
    expected = "a string or an integer" if kind == "id" else "a string"
    raise ValueError(f"{name}: {where}, column {column!r}: expected {expected}, got {what}")


class TextReader:
    """Texts of one input, read in chunks. Build it with :func:`open_texts`.

    Attributes:
        path: the input path, or ``"-"`` for stdin.
        format: ``".txt"``, ``".csv"``, ``".tsv"``, ``".jsonl"`` or ``".parquet"``.
        text_column: the text column (None for .txt and stdin).
        id_column: the id column, or None.
        columns: the columns the input has (empty for .txt and stdin).
    """

    def __init__(
        self,
        path: str,
        fmt: str,
        text_column: str | None,
        id_column: str | None,
        columns: tuple[str, ...] = (),
    ) -> None:
        self.path = path
        self.format = fmt
        self.text_column = text_column
        self.id_column = id_column
        self.columns = columns

    @property
    def name(self) -> str:
        return "<stdin>" if self.path == "-" else self.path

    def fingerprint(self) -> dict[str, Any] | None:
        """What identifies the input for resuming: path, size, mtime and its first and last MiB
        hashed. None for stdin, which cannot be read twice."""
        if self.path == "-":
            return None
        path = Path(self.path)
        stat = path.stat()
        digest = hashlib.sha256()
        with path.open("rb") as handle:
            digest.update(handle.read(_PEEK))
            if stat.st_size > 2 * _PEEK:
                handle.seek(-_PEEK, os.SEEK_END)
            digest.update(handle.read(_PEEK))
        return {
            "path": str(path.resolve()),
            "size": stat.st_size,
            "mtime_ns": stat.st_mtime_ns,
            "sha256_ends": digest.hexdigest(),
        }

    def chunks(self, size: int) -> Iterator[TextChunk]:
        """Consecutive chunks of at most ``size`` texts, in input order."""
        if size < 1:
            raise ValueError(f"chunk size must be >= 1, got {size}")
        if self.format == ".parquet":
            yield from self._parquet_chunks(size)
            return
        if self.path == "-":
            yield from self._chunks(sys.stdin.buffer, None, size)
            return
        total = os.path.getsize(self.path)
        with open(self.path, "rb") as handle:
            yield from self._chunks(handle, total, size)

    def _chunks(self, handle: IO[bytes], total: int | None, size: int) -> Iterator[TextChunk]:
        lines = _Lines(handle, self.name)
        rows = self._rows(lines)
        start = 0
        while True:
            texts: list[str] = []
            ids: list[Any] = []
            for text, row_id in rows:
                texts.append(text)
                ids.append(row_id)
                if len(texts) == size:
                    break
            if not texts:
                return
            progress = min(1.0, lines.consumed / total) if total else None
            yield TextChunk(start, texts, ids if self.id_column else None, progress)
            start += len(texts)

    def _rows(self, lines: _Lines) -> Iterator[tuple[str, Any]]:
        if self.format == ".txt":
            for line in lines:
                yield _strip_newline(line), None
        elif self.format == ".jsonl":
            yield from self._jsonl_rows(lines)
        else:
            yield from self._csv_rows(lines)

    def _jsonl_rows(self, lines: _Lines) -> Iterator[tuple[str, Any]]:
        text_column = self.text_column or DEFAULT_TEXT_COLUMN
        for line in lines:
            if not line.strip():
                continue
            where = f"line {lines.line}"
            try:
                record = json.loads(line)
            except json.JSONDecodeError as error:
                raise ValueError(f"{self.name}: {where}: not valid JSON ({error.msg})") from None
            if not isinstance(record, dict):
                raise ValueError(
                    f"{self.name}: {where}: expected a JSON object, got {type(record).__name__}"
                )
            for column in (text_column, self.id_column):
                if column is not None and column not in record:
                    raise ValueError(
                        f"{self.name}: {where}: no {column!r} key (keys: "
                        f"{', '.join(map(repr, record)) or 'none'})"
                    )
            text = _cell(self.name, where, text_column, record[text_column], "text")
            row_id = (
                _cell(self.name, where, self.id_column, record[self.id_column], "id")
                if self.id_column
                else None
            )
            yield text, row_id

    def _csv_rows(self, lines: _Lines) -> Iterator[tuple[str, Any]]:
        # The default limit, 131,072 characters a field, would refuse long documents.
        csv.field_size_limit(_CSV_FIELD_LIMIT)
        reader = csv.reader(lines, delimiter="\t" if self.format == ".tsv" else ",")
        try:
            header = next(reader)
        except StopIteration:
            return
        text_at = header.index(self.text_column or DEFAULT_TEXT_COLUMN)
        id_at = header.index(self.id_column) if self.id_column else None
        row = 0
        try:
            for record in reader:
                row += 1
                if not record:  # a blank line between records
                    continue
                if len(record) != len(header):
                    raise ValueError(
                        f"{self.name}: row {row} (line {lines.line}) has {len(record)} fields, "
                        f"the header has {len(header)}"
                    )
                yield record[text_at], (record[id_at] if id_at is not None else None)
        except csv.Error as error:
            raise ValueError(f"{self.name}: line {lines.line}: {error}") from None

    def _parquet_chunks(self, size: int) -> Iterator[TextChunk]:
        import pyarrow.parquet as pq

        file = pq.ParquetFile(self.path)
        total = file.metadata.num_rows
        text_column = self.text_column or DEFAULT_TEXT_COLUMN
        wanted = [text_column] + ([self.id_column] if self.id_column else [])
        start = 0
        for batch in file.iter_batches(batch_size=size, columns=wanted):
            texts = batch.column(text_column).to_pylist()
            for i, text in enumerate(texts):
                if not isinstance(text, str):
                    _cell(self.name, f"row {start + i + 1}", text_column, text, "text")
            ids = None
            if self.id_column:
                ids = batch.column(self.id_column).to_pylist()
                for i, row_id in enumerate(ids):
                    _cell(self.name, f"row {start + i + 1}", self.id_column, row_id, "id")
            yield TextChunk(start, texts, ids, (start + len(texts)) / total if total else 1.0)
            start += len(texts)


def _csv_header(path: Path, fmt: str) -> tuple[str, ...]:
    with path.open("rb") as handle:
        lines = _Lines(handle, str(path))
        try:
            return tuple(next(csv.reader(lines, delimiter="\t" if fmt == ".tsv" else ",")))
        except StopIteration:
            raise ValueError(f"{path}: empty file, expected a header row") from None
        except csv.Error as error:
            raise ValueError(f"{path}: line {lines.line}: {error}") from None


def _parquet_columns(path: Path, text_column: str) -> tuple[str, ...]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        schema = pq.read_schema(path)
    except (pa.ArrowInvalid, OSError) as error:
        raise ValueError(f"{path}: not a readable parquet file ({error})") from None
    if text_column in schema.names:
        kind = schema.field(text_column).type
        if not (
            pa.types.is_string(kind)
            or pa.types.is_large_string(kind)
            or pa.types.is_string_view(kind)
        ):
            raise ValueError(f"{path}: column {text_column!r} holds {kind}, expected strings")
    return tuple(schema.names)


def _check_columns(name: str, columns: tuple[str, ...], wanted: dict[str, str]) -> None:
    for flag, column in wanted.items():
        if column not in columns:
            raise ValueError(
                f"{name}: no column {column!r} (columns: {', '.join(map(repr, columns))}); "
                f"choose one with {flag}"
            )


def open_texts(
    path: str | Path, text_column: str | None = None, id_column: str | None = None
) -> TextReader:
    """Open an input of texts, checking its format and columns before anything is read.

    Args:
        path: a .txt, .csv, .tsv, .jsonl or .parquet file, or ``"-"`` for lines on stdin.
        text_column: the column (or JSON key) holding the texts; default ``"text"``. Not for
            .txt or stdin.
        id_column: a column (or JSON key) of row ids to carry into the output, or None.

    Returns:
        A TextReader; iterate ``reader.chunks(size)``.

    >>> reader = open_texts("reviews.csv", text_column="review")  # doctest: +SKIP
    >>> next(reader.chunks(10_000)).texts[:1]  # doctest: +SKIP
    ['A gripping, beautifully shot film.']
    """
    text = str(path)
    if text == "-":
        fmt = ".txt"
    else:
        fmt = Path(text).suffix.lower()
        if fmt not in INPUT_FORMATS:
            raise ValueError(
                f"{text}: unknown input format {fmt or '(no extension)'!r}; use one of "
                f"{', '.join(INPUT_FORMATS)} or - for stdin"
            )
        file = Path(text)
        if not file.exists():
            raise FileNotFoundError(f"{text}: no such file")
        if file.is_dir():
            raise IsADirectoryError(f"{text}: is a folder, expected a file")
        if not os.access(file, os.R_OK):
            raise PermissionError(f"{text}: not readable (permission denied)")
    if fmt == ".txt" and (text_column or id_column):
        raise ValueError(
            f"{text}: plain text has no columns; --text-column and --id-column "
            "are for .csv, .tsv, .jsonl and .parquet"
        )
    columns: tuple[str, ...] = ()
    wanted = {"--text-column": text_column or DEFAULT_TEXT_COLUMN}
    if id_column:
        wanted["--id-column"] = id_column
    if fmt in (".csv", ".tsv"):
        columns = _csv_header(Path(text), fmt)
        _check_columns(text, columns, wanted)
    elif fmt == ".parquet":
        columns = _parquet_columns(Path(text), text_column or DEFAULT_TEXT_COLUMN)
        _check_columns(text, columns, wanted)
    return TextReader(text, fmt, text_column if fmt != ".txt" else None, id_column, columns)
