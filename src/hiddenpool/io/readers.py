"""The one table reader: .txt, .csv, .tsv, .jsonl, .parquet or stdin, in chunks, columns by name.

:func:`open_table` checks the file and the columns asked for before anything is read; then
:meth:`TableReader.chunks` yields at most ``size`` rows at a time, so a file of any length never
sits in memory unless the caller keeps every chunk. ``embed``, ``compare``, ``train``, ``predict``
and the Ray engine all read through it, so every command accepts the same files and refuses
them with the same messages.

Formats:

- ``.txt`` and stdin (``-``): one text per line, without its line ending (``\\n`` or ``\\r\\n``);
  the one column is called ``text``. An empty line is an empty text (it keeps its row, so row i
  of the output is line i of the input).
- ``.csv`` / ``.tsv``: a header row, then one record per row (quoted fields may span lines; a
  field may be as long as the platform allows, not csv's default 131,072 characters). Blank
  lines before the header and between records are skipped. Every cell is a string.
- ``.jsonl``: one JSON object per line; blank lines are skipped. Its columns are the keys of its
  first object.
- ``.parquet``: read by column, one batch at a time.

All text must be UTF-8 (a leading byte-order mark is dropped). An empty file has no rows.

The rule for cells, the same in every format:

- a **text** column's cell must be a string. An empty string is a text like any other (a csv
  cell cannot tell empty from missing, so no format does); a null, a missing key or a non-string
  (a JSON number, a parquet integer) is an error naming the file, row and column.
- an **id** column's cell must be a string or an integer.
- a **value** column's cell (labels) is passed on as read: a string from .csv/.tsv, any JSON
  value from .jsonl (None for null or a missing key), a Python value from .parquet (None for
  null); the caller says what it must be.

Every problem is an :class:`~hiddenpool.io.InputError` (a ``ValueError``) naming the file, the
row (data rows counted from 1, the header not counted) and its line, and the column, or a
``FileNotFoundError`` / ``IsADirectoryError`` / ``PermissionError`` for a file that cannot be
opened.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import sys
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Literal

from hiddenpool.io.errors import InputError

__all__ = [
    "INPUT_FORMATS",
    "TABLE_FORMATS",
    "TEXT",
    "Chunk",
    "Column",
    "TableReader",
    "input_format",
    "open_table",
    "open_texts",
]

INPUT_FORMATS: tuple[str, ...] = (".txt", ".csv", ".tsv", ".jsonl", ".parquet")
TABLE_FORMATS: tuple[str, ...] = (".csv", ".tsv", ".jsonl", ".parquet")  # named columns
TEXT = "text"  # the column of .txt and stdin, and the default text column
_PEEK = 1 << 20  # bytes hashed at each end of the file for its fingerprint
_MISSING = object()  # a JSON key absent from a record


def _raise_csv_field_limit() -> None:
    """Let a csv field be as long as the platform's C long allows (default: 131,072)."""
    limit = sys.maxsize
    while True:
        try:
            csv.field_size_limit(limit)
            return
        except OverflowError:  # a 32-bit C long (Windows)
            limit //= 2


@dataclass(frozen=True)
class Column:
    """A column to read: its name, what its cells must hold, and the option that names it.

    Attributes:
        name: the column (or JSON key).
        kind: ``"text"`` (strings), ``"id"`` (strings or integers) or ``"value"`` (as read).
        option: the option that names it, said in the error when the file lacks it
            (```` `text_column` ````, which the command line shows as its flag).
        required: an absent column is an error; otherwise it is skipped (see
            :attr:`TableReader.selected`).
    """

    name: str
    kind: Literal["text", "id", "value"] = "text"
    option: str | None = None
    required: bool = True


@dataclass(frozen=True)
class Chunk:
    """Consecutive rows of the input, by column.

    Attributes:
        start: index (0-based) of the first row; row ``start + i + 1`` as errors count it.
        values: each selected column's cells, in row order.
        progress: share of the input read once this chunk is done (0..1), or None if unknown.
        text_column: the first text column (what :attr:`texts` returns), or None.
        id_column: the id column (what :attr:`ids` returns), or None.
    """

    start: int
    values: dict[str, list[Any]]
    progress: float | None
    text_column: str | None = None
    id_column: str | None = None

    def __len__(self) -> int:
        return len(next(iter(self.values.values()))) if self.values else 0

    def __getitem__(self, column: str) -> list[Any]:
        return self.values[column]

    @property
    def texts(self) -> list[str]:
        """The first text column's cells."""
        if self.text_column is None:
            raise KeyError("no text column was asked for")
        return self.values[self.text_column]

    @property
    def ids(self) -> list[Any] | None:
        """The id column's cells, or None without an id column."""
        return self.values[self.id_column] if self.id_column else None


class _Lines:
    """Decoded lines of a binary stream, knowing each line's number and byte offset."""

    def __init__(self, handle: IO[bytes], name: str) -> None:
        self.handle = handle
        self.name = name
        self.line = 0  # number of the line last returned, 1-based
        self.consumed = 0  # bytes read so far

    def __iter__(self) -> Iterator[str]:
        for raw in self.handle:
            self.line += 1
            offset = self.consumed
            self.consumed += len(raw)
            if self.line == 1 and raw.startswith(b"\xef\xbb\xbf"):
                raw = raw[3:]
                offset += 3
            try:
                yield raw.decode("utf-8")
            except UnicodeDecodeError as error:
                raise InputError(
                    self.name,
                    f"not valid UTF-8 at byte offset {offset + error.start} ({error.reason}); "
                    "convert the file to UTF-8, e.g. iconv -f latin1 -t utf-8",
                    line=self.line,
                ) from None


def _strip_newline(line: str) -> str:
    if line.endswith("\n"):
        line = line[:-1]
        if line.endswith("\r"):
            line = line[:-1]
    return line


def _describe(value: Any) -> str:
    if value is _MISSING:
        return "nothing (no such key)"
    if value is None:
        return "null"
    shown = json.dumps(value, ensure_ascii=False, default=str)
    if isinstance(value, str) and _unicode(value):  # a lone surrogate: shown escaped
        shown = json.dumps(value)
    return f"{type(value).__name__} ({shown[:40]})"


def _check(value: Any, kind: str) -> str | None:
    """None if ``value`` fits a column of ``kind``, else what was expected."""
    if kind == "text":
        return _unicode(value) if isinstance(value, str) else "a string"
    if kind == "id":
        if isinstance(value, str):
            return _unicode(value)
        ok = isinstance(value, int) and not isinstance(value, bool)
        if ok and not -(2**63) <= value < 2**63:  # JSON integers have no bound; outputs do
            return "a string or an integer of at most 64 bits"
        return None if ok else "a string or an integer"
    return None


def _unicode(value: str) -> str | None:
    """None for text that UTF-8 can hold; JSON's ``\\ud800`` escapes give lone surrogates that
    no tokenizer or output file can."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as error:
        char = value[error.start]
        return f"text UTF-8 can hold, got a lone surrogate {char!r} (an escape such as \\ud800)"
    return None


def _shown(names: Iterable[str]) -> str:
    """Column names for a one-line message: a name with a line break or control character is
    shown quoted and escaped."""
    return ", ".join(name if name.isprintable() else repr(name) for name in names)


def _one_line(error: BaseException) -> str:
    """A library's error message on one line."""
    return " ".join(str(error).split())


class TableReader:
    """Rows of one input, read in chunks. Build it with :func:`open_table`.

    Attributes:
        path: the input path, or ``"-"`` for stdin.
        format: ``".txt"``, ``".csv"``, ``".tsv"``, ``".jsonl"`` or ``".parquet"``.
        columns: the columns the input has (``("text",)`` for .txt and stdin; for .jsonl the
            keys of its first object; empty for an empty file).
        selected: the columns asked for that the input has, in the order asked.
    """

    def __init__(
        self, path: str, fmt: str, columns: tuple[str, ...], selected: tuple[Column, ...]
    ) -> None:
        self.path = path
        self.format = fmt
        self.columns = columns
        self.selected = selected
        self._kinds = [c.kind for c in selected]
        self._names = [c.name for c in selected]

    @property
    def name(self) -> str:
        """The input as messages name it."""
        return "<stdin>" if self.path == "-" else self.path

    @property
    def text_column(self) -> str | None:
        """The first text column read, or None."""
        return next((c.name for c in self.selected if c.kind == "text"), None)

    @property
    def id_column(self) -> str | None:
        """The id column read, or None."""
        return next((c.name for c in self.selected if c.kind == "id"), None)

    def has(self, column: str) -> bool:
        """Whether ``column`` is read (asked for and present)."""
        return column in self._names

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

    def chunks(self, size: int) -> Iterator[Chunk]:
        """Consecutive chunks of at most ``size`` rows, in input order."""
        if size < 1:
            raise ValueError(f"chunk size must be >= 1, got {size}")
        if self.format == ".parquet":
            yield from self._parquet_chunks(size)
        elif self.path == "-":
            yield from self._line_chunks(sys.stdin.buffer, None, size)
        else:
            with open(self.path, "rb") as handle:
                yield from self._line_chunks(handle, os.path.getsize(self.path), size)

    def _chunk(self, start: int, values: dict[str, list[Any]], progress: float | None) -> Chunk:
        return Chunk(start, values, progress, self.text_column, self.id_column)

    def _cell(self, value: Any, column: int, row: int, line: int | None) -> Any:
        expected = _check(value, self._kinds[column])
        if expected is not None:
            raise InputError(
                self.name,
                f"expected {expected}, got {_describe(value)}",
                row=row,
                line=line,
                column=self._names[column],
            )
        return None if value is _MISSING else value

    def _line_chunks(self, handle: IO[bytes], total: int | None, size: int) -> Iterator[Chunk]:
        lines = _Lines(handle, self.name)
        if self.format == ".txt":
            rows: Iterator[tuple[int, Sequence[Any]]] = (
                (lines.line, (_strip_newline(line),)) for line in lines
            )
        elif self.format == ".jsonl":
            rows = self._jsonl_rows(lines)
        else:
            rows = self._csv_rows(lines)
        typed = self.format == ".jsonl"  # .txt, .csv and .tsv cells are all strings
        start = 0
        while True:
            values: list[list[Any]] = [[] for _ in self._names]
            count = 0
            for line, cells in rows:
                if typed:
                    row = start + count + 1
                    cells = [self._cell(cell, j, row, line) for j, cell in enumerate(cells)]
                for column, cell in zip(values, cells, strict=True):
                    column.append(cell)
                count += 1
                if count == size:
                    break
            if not count:
                return
            progress = min(1.0, lines.consumed / total) if total else None
            yield self._chunk(start, dict(zip(self._names, values, strict=True)), progress)
            start += count

    def _jsonl_rows(self, lines: _Lines) -> Iterator[tuple[int, list[Any]]]:
        row = 0
        for line in lines:
            if not line.strip():
                continue
            row += 1
            try:
                record = json.loads(line)
            except json.JSONDecodeError as error:
                raise InputError(
                    self.name, f"not valid JSON ({error.msg})", row=row, line=lines.line
                ) from None
            except RecursionError:
                raise InputError(
                    self.name, "not valid JSON here (nested too deeply)", row=row, line=lines.line
                ) from None
            if not isinstance(record, dict):
                raise InputError(
                    self.name,
                    f"expected a JSON object, got {type(record).__name__}",
                    row=row,
                    line=lines.line,
                )
            yield lines.line, [record.get(name, _MISSING) for name in self._names]

    def _csv_rows(self, lines: _Lines) -> Iterator[tuple[int, list[Any]]]:
        reader = _csv_reader(lines, self.format)
        row = 0
        first = 1  # the line where the next record starts
        try:
            header = next(record for record in reader if record)  # blank lines before it too
            at = [header.index(name) for name in self._names]
            first = lines.line + 1
            for record in reader:
                if record:  # not a blank line between records
                    row += 1
                    if len(record) != len(header):
                        raise InputError(
                            self.name,
                            f"expected {len(header)} fields as in the header, got {len(record)}",
                            row=row,
                            line=first,
                        )
                    yield first, [record[i] for i in at]
                first = lines.line + 1
        except StopIteration:  # an empty file
            return
        except csv.Error as error:
            raise _csv_error(self.name, error, row + 1 if first > 1 else None, first) from None

    def _parquet_chunks(self, size: int) -> Iterator[Chunk]:
        import pyarrow as pa
        import pyarrow.parquet as pq

        start = 0
        try:
            file = pq.ParquetFile(self.path)
            total = file.metadata.num_rows
            batches = file.iter_batches(batch_size=size, columns=list(dict.fromkeys(self._names)))
            for batch in batches:
                yield self._parquet_chunk(batch, start, total)
                start += batch.num_rows
        except (pa.ArrowException, OSError, UnicodeDecodeError) as error:
            raise InputError(
                self.path, f"not a readable parquet file from row {start + 1} ({_one_line(error)})"
            ) from None

    def _parquet_chunk(self, batch: Any, start: int, total: int) -> Chunk:
        values: dict[str, list[Any]] = {}
        for j, name in enumerate(self._names):
            cells = batch.column(name).to_pylist()
            if self._kinds[j] != "value":
                for i, cell in enumerate(cells):
                    self._cell(cell, j, start + i + 1, None)
            values[name] = cells
        return self._chunk(start, values, (start + batch.num_rows) / total if total else 1.0)


def input_format(path: str | Path) -> str:
    """The format of ``path`` (``".txt"`` for ``"-"``, stdin); InputError for another suffix."""
    text = str(path)
    if text == "-":
        return ".txt"
    fmt = Path(text).suffix.lower()
    if fmt not in INPUT_FORMATS:
        raise InputError(
            text,
            f"unknown input format {fmt or '(no extension)'!r}; use one of "
            f"{', '.join(INPUT_FORMATS)} or - for stdin",
        )
    return fmt


def _check_file(text: str) -> None:
    file = Path(text)
    if not file.exists():
        raise FileNotFoundError(f"{text}: no such file")
    if file.is_dir():
        raise IsADirectoryError(f"{text}: is a folder, expected a file")
    if not os.access(file, os.R_OK):
        raise PermissionError(f"{text}: not readable (permission denied)")


def _csv_reader(lines: Iterable[str], fmt: str) -> Iterator[list[str]]:
    """csv records, strictly: a quote opened and never closed is an error, not a long field.

    Without ``strict`` Python's csv reader takes a stray opening quote as the start of one field
    that runs to the end of the file, silently swallowing every later row into one text.
    """
    _raise_csv_field_limit()
    return csv.reader(lines, delimiter="\t" if fmt == ".tsv" else ",", strict=True)


def _csv_error(file: str, error: csv.Error, row: int | None, line: int) -> InputError:
    """One line for a csv syntax error, located at the record where it starts."""
    problem = str(error)
    if problem == "unexpected end of data":
        problem = "a quoted field in this record is never closed (a stray '\"'?)"
    return InputError(file, f"not valid CSV: {problem}", row=row, line=line)


def _csv_header(path: str, fmt: str) -> tuple[str, ...]:
    with open(path, "rb") as handle:
        lines = _Lines(handle, path)
        try:
            return tuple(next((r for r in _csv_reader(lines, fmt) if r), ()))
        except csv.Error as error:
            raise _csv_error(path, error, None, 1) from None


def _jsonl_keys(path: str) -> tuple[str, ...]:
    """The keys of the first object (problems with that line are left to the reading)."""
    with open(path, "rb") as handle:
        for line in _Lines(handle, path):
            if line.strip():
                try:
                    record = json.loads(line)
                except (json.JSONDecodeError, RecursionError):
                    return ()
                return tuple(record) if isinstance(record, dict) else ()
    return ()


def _parquet_columns(path: str, selected: Sequence[Column]) -> tuple[str, ...]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        schema = pq.read_schema(path)
    except (pa.ArrowInvalid, OSError) as error:
        raise InputError(path, f"not a readable parquet file ({_one_line(error)})") from None
    for column in selected:
        if column.kind == "text" and column.name in schema.names:
            kind = schema.field(column.name).type
            if not (
                pa.types.is_string(kind)
                or pa.types.is_large_string(kind)
                or pa.types.is_string_view(kind)
            ):
                raise InputError(path, f"expected strings, got {kind}", column=column.name)
    return tuple(schema.names)


def _no_columns(path: str, options: Sequence[str]) -> InputError:
    return InputError(
        path,
        f"plain text has no columns; {', '.join(dict.fromkeys(options))} only apply to "
        f"{', '.join(TABLE_FORMATS)}",
    )


def open_table(path: str | Path, columns: Sequence[Column]) -> TableReader:
    """Open an input, checking its format and the columns asked for before anything is read.

    Args:
        path: a .txt, .csv, .tsv, .jsonl or .parquet file, or ``"-"`` for lines on stdin.
        columns: the columns to read. A .txt file (and stdin) has one column, ``text``.

    Returns:
        A TableReader; iterate ``reader.chunks(size)``.

    Raises:
        InputError: an unknown format, an unreadable header or parquet file, or a required
            column the input lacks.
        FileNotFoundError, IsADirectoryError, PermissionError: the file cannot be opened.

    >>> wanted = [Column("s1"), Column("s2"), Column("score", "value")]
    >>> reader = open_table("sts.csv", wanted)  # doctest: +SKIP
    >>> next(reader.chunks(10_000))["score"][:2]  # doctest: +SKIP
    ['3.5', '0.5']
    """
    text = str(path)
    fmt = input_format(text)
    if text != "-":
        _check_file(text)
    have: tuple[str, ...]
    if fmt == ".txt":
        foreign = [c.option or repr(c.name) for c in columns if c.name != TEXT and c.required]
        if foreign:
            raise _no_columns(text, foreign)
        have = (TEXT,)
    elif fmt in (".csv", ".tsv"):
        have = _csv_header(text, fmt)
    elif fmt == ".jsonl":
        have = _jsonl_keys(text)
    else:
        have = _parquet_columns(text, columns)
    known = bool(have) or fmt == ".parquet"  # an empty .csv/.jsonl has no rows to check
    for column in columns:
        if column.required and known and column.name not in have:
            hint = f"; choose one with {column.option}" if column.option else ""
            raise InputError(
                text,
                f"column {column.name!r} not found (columns: {_shown(have) or 'none'})" + hint,
            )
    selected = tuple(c for c in columns if c.name in have or (c.required and not known))
    return TableReader(text, fmt, have, selected)


def open_texts(
    path: str | Path, text_column: str | None = None, id_column: str | None = None
) -> TableReader:
    """Open an input of texts (and ids): :func:`open_table` with a text and an id column.

    Args:
        path: a .txt, .csv, .tsv, .jsonl or .parquet file, or ``"-"`` for lines on stdin.
        text_column: the column (or JSON key) holding the texts; default ``"text"``. Not for
            .txt or stdin.
        id_column: a column (or JSON key) of row ids (strings or integers), or None.

    Returns:
        A TableReader whose chunks have ``texts`` and ``ids``.

    >>> reader = open_texts("reviews.csv", text_column="review")  # doctest: +SKIP
    >>> next(reader.chunks(10_000)).texts[:1]  # doctest: +SKIP
    ['A gripping, beautifully shot film.']
    """
    if input_format(path) == ".txt" and (text_column or id_column):
        raise _no_columns(str(path), ["`text_column`", "`id_column`"])
    columns = [Column(text_column or TEXT, "text", "`text_column`")]
    if id_column:
        columns.append(Column(id_column, "id", "`id_column`"))
    return open_table(path, columns)
