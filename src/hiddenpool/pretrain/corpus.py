"""A pretraining corpus read as a stream of documents, and the held-out split.

CORPUS is a file or a folder of files (searched recursively, in sorted order):

- ``.txt``: one document per line; or, when the file has blank lines, one document per run of
  non-blank lines (paragraphs separated by blank lines keep their line breaks).
- ``.csv`` / ``.tsv`` / ``.jsonl`` / ``.parquet``: one document per row, from ``--text-column``
  (default ``text``), read in chunks by :func:`hiddenpool.io.open_texts`.

Nothing is read whole into memory. Which documents are held out is decided by a hash of the
text, so the split is the same on every pass, for every order of files, and duplicates never
straddle it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

from hiddenpool.io import open_texts

__all__ = ["CORPUS_FORMATS", "corpus_files", "is_held_out", "iter_documents"]

CORPUS_FORMATS: tuple[str, ...] = (".txt", ".csv", ".tsv", ".jsonl", ".parquet")
_PEEK_LINES = 10_000  # lines looked at to decide how a .txt separates documents


def corpus_files(corpus: str | Path) -> list[Path]:
    """The files of a corpus: the file itself, or every supported file under a folder.

    Raises:
        FileNotFoundError: no such file or folder.
        ValueError: a file of another format, or a folder holding no supported file.
    """
    path = Path(corpus).expanduser()
    if not path.exists():
        raise FileNotFoundError(f"{corpus}: no such corpus file or folder")
    if path.is_file():
        if path.suffix.lower() not in CORPUS_FORMATS:
            raise ValueError(
                f"{corpus}: unknown corpus format {path.suffix or '(no extension)'!r}; "
                f"expected {', '.join(CORPUS_FORMATS)} or a folder of them"
            )
        return [path]
    files = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in CORPUS_FORMATS)
    if not files:
        raise ValueError(f"{corpus}: the folder holds no {', '.join(CORPUS_FORMATS)} file")
    return files


def _has_blank_line(path: Path) -> bool:
    with path.open("rb") as handle:
        for number, line in enumerate(handle):
            if number >= _PEEK_LINES:
                return False
            if not line.strip():
                return True
    return False


def _text_documents(path: Path) -> Iterator[str]:
    paragraphs = _has_blank_line(path)
    lines: list[str] = []
    with path.open("r", encoding="utf-8", errors="replace") as handle:
        for raw in handle:
            line = raw.rstrip("\r\n")
            if not paragraphs:
                if line.strip():
                    yield line.strip()
                continue
            if line.strip():
                lines.append(line.rstrip())
            elif lines:
                yield "\n".join(lines).strip("\n")
                lines = []
    if lines:
        yield "\n".join(lines).strip("\n")


def iter_documents(files: list[Path], text_column: str | None = None) -> Iterator[str]:
    """Every non-blank document of the corpus, streamed file by file.

    Args:
        files: from :func:`corpus_files`.
        text_column: the text column of table files (default ``text``); .txt files have none.

    Yields:
        Documents, stripped of surrounding whitespace; blank ones are skipped.
    """
    for path in files:
        if path.suffix.lower() == ".txt":
            yield from _text_documents(path)
            continue
        reader = open_texts(path, text_column=text_column)
        for chunk in reader.chunks(1024):
            for text in chunk.texts:
                if text.strip():
                    yield text.strip()


def is_held_out(text: str, fraction: float) -> bool:
    """Whether a document belongs to the held-out slice (a stable hash of its text).

    >>> is_held_out("any text", 0.0), is_held_out("any text", 1.0)
    (False, True)
    """
    digest = hashlib.blake2b(text.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64 < fraction
