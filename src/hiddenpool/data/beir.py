"""Read search data from a user's files: a BEIR folder, a query/document table, reranking lists.

* :func:`read_beir`: ``corpus.jsonl`` (``_id``, ``title``, ``text``), ``queries.jsonl`` (``_id``,
  ``text``) and ``qrels/{split}.tsv`` (``query-id``, ``corpus-id``, ``score``: graded relevance),
  the layout BEIR and MTEB ship. Only the queries the qrels judge are scored, as BEIR does.
* :func:`read_retrieval_table`: one table (.csv/.tsv/.jsonl/.parquet) with a query column and a
  relevant-document column; several rows per query allowed; the corpus is every distinct
  document.
* :func:`read_reranking`: per query a list of candidates with labels, from a table with query,
  candidate and label columns, or a .jsonl with ``query``, ``positive`` and ``negative`` lists
  (MTEB's reranking format).

Every problem is one line naming the file, the line (or row) and what was expected.
"""

from __future__ import annotations

import contextlib
import json
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hiddenpool.data.retrieval import RetrievalData
from hiddenpool.io import Column, InputError, open_table

__all__ = ["RerankingData", "read_beir", "read_reranking", "read_retrieval_table"]

_CHUNK_ROWS = 65_536


def _json_lines(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, object) for each non-blank line of a .jsonl file."""
    if not path.is_file():
        raise FileNotFoundError(f"{path}: not found")
    with path.open(encoding="utf-8") as handle:
        for number, raw in enumerate(handle, start=1):
            if not raw.strip():
                continue
            try:
                record = json.loads(raw)
            except json.JSONDecodeError as error:
                raise InputError(str(path), f"not valid JSON ({error.msg})", line=number) from None
            if not isinstance(record, dict):
                raise InputError(str(path), "expected a JSON object", line=number)
            yield number, record


def _field(path: Path, number: int, record: dict[str, Any], key: str, required: bool = True) -> str:
    value = record.get(key)
    if value is None and not required:
        return ""
    if isinstance(value, int) and not isinstance(value, bool) and key == "_id":
        return str(value)
    if not isinstance(value, str):
        raise InputError(
            str(path), f"expected a string, got {json.dumps(value)}", line=number, column=key
        )
    return value


def _records(path: Path, title: bool) -> tuple[list[str], list[str], list[str]]:
    """Ids, titles and texts of a BEIR corpus or queries file; an id seen twice is an error."""
    ids: list[str] = []
    titles: list[str] = []
    texts: list[str] = []
    seen: dict[str, int] = {}
    for number, record in _json_lines(path):
        key = _field(path, number, record, "_id")
        if key in seen:
            raise InputError(
                str(path),
                f"duplicate _id {key!r} (first on line {seen[key]}); expected unique ids",
                line=number,
            )
        seen[key] = number
        ids.append(key)
        titles.append(_field(path, number, record, "title", required=False) if title else "")
        texts.append(_field(path, number, record, "text"))
    if not ids:
        raise InputError(str(path), "empty: expected at least one record with _id and text")
    return ids, titles, texts


def _qrel_line(
    path: Path, number: int, cells: list[str], queries: set[str], docs: set[str]
) -> tuple[str, str, int] | None:
    """One judgement, checked; None for the header line."""
    qid, did, grade = cells[0], cells[1], cells[-1]
    try:
        relevance = int(float(grade))
    except ValueError:
        if number == 1:  # the header: query-id corpus-id score
            return None
        raise InputError(
            str(path), f"expected an integer relevance, got {grade!r}", line=number
        ) from None
    if qid not in queries:
        raise InputError(str(path), f"query id {qid!r} is not in queries.jsonl", line=number)
    if did not in docs:
        raise InputError(str(path), f"document id {did!r} is not in corpus.jsonl", line=number)
    if relevance < 0:
        raise InputError(str(path), f"relevance {relevance}; expected 0 or more", line=number)
    return qid, did, relevance


def _qrels(path: Path, queries: set[str], docs: set[str]) -> dict[str, dict[str, int]]:
    """Graded judgements from a BEIR qrels .tsv, every id checked against the files read."""
    if not path.is_file():
        raise FileNotFoundError(f"{path}: not found (the qrels of the split asked for)")
    qrels: dict[str, dict[str, int]] = {}
    first_line: dict[str, int] = {}
    with path.open(encoding="utf-8") as handle:
        for number, raw in enumerate(handle, start=1):
            cells = raw.rstrip("\n\r").split("\t")
            if not raw.strip():
                continue
            if len(cells) < 3:
                raise InputError(
                    str(path), "expected query-id, corpus-id and score, tab-separated", line=number
                )
            parsed = _qrel_line(path, number, cells, queries, docs)
            if parsed is None:
                continue
            qid, did, relevance = parsed
            qrels.setdefault(qid, {})[did] = relevance
            first_line.setdefault(qid, number)
    if not qrels:
        raise InputError(str(path), "no judgements; expected query-id, corpus-id, score lines")
    for qid, judged in qrels.items():
        if not any(r >= 1 for r in judged.values()):
            raise InputError(
                str(path),
                f"query {qid!r} has no relevant document; expected one with score >= 1",
                line=first_line[qid],
            )
    return qrels


def read_beir(folder: str | Path, split: str = "test") -> RetrievalData:
    """A BEIR folder: corpus, queries and the qrels of ``split``.

    Args:
        folder: holds ``corpus.jsonl``, ``queries.jsonl`` and ``qrels/{split}.tsv``.
        split: the qrels file to score (``test``, ``dev``, ``train``).

    Returns:
        The collection, with only the queries the qrels judge (in queries.jsonl order).

    Raises:
        FileNotFoundError: a file is missing.
        ValueError: one line naming the file and line: bad JSON, a duplicate id, an empty
            corpus, a qrels line naming an unknown query or document, a query with no
            relevant document.
    """
    root = Path(folder)
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: not a BEIR folder (corpus.jsonl, queries.jsonl, qrels/)")
    doc_ids, titles, texts = _records(root / "corpus.jsonl", title=True)
    query_ids, _, query_texts = _records(root / "queries.jsonl", title=False)
    qrels = _qrels(root / "qrels" / f"{split}.tsv", set(query_ids), set(doc_ids))
    judged = [i for i, q in enumerate(query_ids) if q in qrels]
    return RetrievalData(
        root.name,
        tuple(doc_ids),
        tuple(titles),
        tuple(texts),
        tuple(query_ids[i] for i in judged),
        tuple(query_texts[i] for i in judged),
        qrels,
        split,
    )


def read_retrieval_table(
    path: str | Path, query_column: str = "query", document_column: str = "document"
) -> RetrievalData:
    """A table of (query, relevant document) rows: the corpus is every distinct document.

    Args:
        path: a .csv, .tsv, .jsonl or .parquet file.
        query_column: the query texts; a query on several rows has several relevant documents.
        document_column: the relevant document of the row.

    Returns:
        The collection; ids are ``q1``, ``q2``... and ``d1``, ``d2``... in order of first
        appearance, every judgement relevance 1.
    """
    file = Path(path)
    if not file.is_file():
        raise FileNotFoundError(f"retrieval table not found: {file}")
    columns = [
        Column(query_column, "text", "`query_column`"),
        Column(document_column, "text", "`document_column`"),
    ]
    queries: dict[str, str] = {}
    docs: dict[str, str] = {}
    qrels: dict[str, dict[str, int]] = {}
    for chunk in open_table(file, columns).chunks(_CHUNK_ROWS):
        for query, doc in zip(chunk[query_column], chunk[document_column], strict=True):
            qid = queries.setdefault(query, f"q{len(queries) + 1}")
            did = docs.setdefault(doc, f"d{len(docs) + 1}")
            qrels.setdefault(qid, {})[did] = 1
    if not docs:
        raise InputError(str(file), "empty: expected rows with a query and a relevant document")
    return RetrievalData(
        file.name,
        tuple(docs.values()),
        ("",) * len(docs),
        tuple(docs),
        tuple(queries.values()),
        tuple(queries),
        qrels,
        "all",
    )


@dataclass(frozen=True)
class RerankingData:
    """Queries, each with candidates to order and their labels.

    Attributes:
        name: file name, for reports.
        queries: Q query texts.
        candidates: per query, its candidate texts.
        labels: per query, each candidate's relevance (0 not relevant, >= 1 relevant).
        task: always ``"reranking"``.
    """

    name: str
    queries: list[str]
    candidates: list[list[str]]
    labels: list[list[int]]
    task: str = field(default="reranking", init=False)

    def __len__(self) -> int:
        return len(self.queries)

    def take(self, rows: Any) -> RerankingData:
        """The queries at ``rows`` (indices), in that order."""
        index = [int(i) for i in rows]
        return RerankingData(
            self.name,
            [self.queries[i] for i in index],
            [self.candidates[i] for i in index],
            [self.labels[i] for i in index],
        )


def _mteb_reranking(path: Path) -> RerankingData:
    queries: list[str] = []
    candidates: list[list[str]] = []
    labels: list[list[int]] = []
    for number, record in _json_lines(path):
        query = _field(path, number, record, "query")
        lists = {}
        for key in ("positive", "negative"):
            value = record.get(key)
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise InputError(str(path), "expected a list of strings", line=number, column=key)
            lists[key] = value
        if not lists["positive"]:
            raise InputError(
                str(path), "no positive candidate; expected at least one", line=number,
                column="positive",
            )  # fmt: skip
        queries.append(query)
        candidates.append(lists["positive"] + lists["negative"])
        labels.append([1] * len(lists["positive"]) + [0] * len(lists["negative"]))
    if not queries:
        raise InputError(str(path), "empty: expected query/positive/negative records")
    return RerankingData(path.name, queries, candidates, labels)


def _label(path: Path, row: int, column: str, value: Any) -> int:
    number = math.nan
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        number = float(value)
    elif isinstance(value, str):
        with contextlib.suppress(ValueError):
            number = float(value)
    if not math.isfinite(number) or number < 0 or not number.is_integer():
        raise InputError(
            str(path), f"expected a relevance label 0, 1, 2..., got {value!r}", row=row,
            column=column,
        )  # fmt: skip
    return int(number)


def read_reranking(
    path: str | Path,
    query_column: str | None = None,
    candidate_column: str | None = None,
    label_column: str | None = None,
) -> RerankingData:
    """Reranking lists from a table (query, candidate, label columns; one row per candidate,
    rows of a query grouped by its text) or, with no columns named, a .jsonl in MTEB's format
    (``query``, ``positive``, ``negative``).

    Raises:
        ValueError: a bad label, a query with no relevant candidate, an empty file.
    """
    file = Path(path)
    if not file.is_file():
        raise FileNotFoundError(f"reranking file not found: {file}")
    if query_column is None and candidate_column is None and label_column is None:
        if file.suffix.lower() != ".jsonl":
            raise ValueError(
                f"{file}: name `query_column`, `document_column` and `label_columns` for a "
                "table, or give a .jsonl with query, positive and negative lists"
            )
        return _mteb_reranking(file)
    if query_column is None or candidate_column is None or label_column is None:
        raise ValueError(
            "reranking from a table needs `query_column`, `document_column` (the candidates) "
            "and `label_columns` (their relevance)"
        )
    columns = [
        Column(query_column, "text", "`query_column`"),
        Column(candidate_column, "text", "`document_column`"),
        Column(label_column, "value", "`label_columns`"),
    ]
    order: dict[str, int] = {}
    candidates: list[list[str]] = []
    labels: list[list[int]] = []
    first_row: list[int] = []
    for chunk in open_table(file, columns).chunks(_CHUNK_ROWS):
        rows = zip(chunk[query_column], chunk[candidate_column], chunk[label_column], strict=True)
        for row, (query, candidate, value) in enumerate(rows, start=chunk.start + 1):
            if query not in order:
                order[query] = len(order)
                candidates.append([])
                labels.append([])
                first_row.append(row)
            candidates[order[query]].append(candidate)
            labels[order[query]].append(_label(file, row, label_column, value))
    if not order:
        raise InputError(str(file), "empty: expected query, candidate and label rows")
    for query, i in order.items():
        if not any(label >= 1 for label in labels[i]):
            raise InputError(
                str(file),
                f"query {query[:40]!r} has no relevant candidate; expected a label >= 1",
                row=first_row[i],
            )
    return RerankingData(file.name, list(order), candidates, labels)
