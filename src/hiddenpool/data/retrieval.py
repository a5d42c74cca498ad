"""The container a retrieval task reads: a corpus, queries and graded relevance judgements.

BEIR-shaped (``corpus.jsonl`` with ``_id``/``title``/``text``, ``queries.jsonl``, ``qrels``),
whatever it was read from: a registered collection (:func:`hiddenpool.data.load_retrieval`), a
BEIR folder or a query/document table.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

__all__ = ["RetrievalData"]


@dataclass(frozen=True)
class RetrievalData:
    """Queries, documents and which documents answer which query.

    Attributes:
        name: collection or file name, used in reports and errors.
        doc_ids: N distinct document ids (BEIR ``_id``).
        doc_titles: N titles (``""`` where a document has none).
        doc_texts: N document texts.
        query_ids: Q distinct query ids.
        query_texts: Q query texts.
        qrels: query id -> document id -> graded relevance (>= 1 relevant; BEIR's
            ``qrels/{split}.tsv`` ``score``). Every query has at least one relevant document.
        split: the qrels split (``"test"``), for reports.
        task: always ``"retrieval"`` (what ``compare`` reads by default).

    Raises:
        ValueError: lengths differ, ids repeat, the corpus or the queries are empty, a
            qrel names an unknown query or document or a relevance below 0, or a query has no
            relevant document (the message names the id).

    >>> data = RetrievalData("toy", ("d1", "d2"), ("", "T"), ("a", "b"), ("q1",), ("x",),
    ...                      {"q1": {"d2": 1}})
    >>> data.documents
    ['a', 'T b']
    """

    name: str
    doc_ids: tuple[str, ...]
    doc_titles: tuple[str, ...]
    doc_texts: tuple[str, ...]
    query_ids: tuple[str, ...]
    query_texts: tuple[str, ...]
    qrels: Mapping[str, Mapping[str, int]]
    split: str = "test"
    task: str = field(default="retrieval", init=False)

    def __post_init__(self) -> None:
        n = len(self.doc_ids)
        if not n:
            raise ValueError(f"{self.name}: the corpus is empty; expected at least one document")
        if len(self.doc_titles) != n or len(self.doc_texts) != n:
            raise ValueError(
                f"{self.name}: {n} document ids, {len(self.doc_titles)} titles and "
                f"{len(self.doc_texts)} texts; expected one of each per document"
            )
        if not self.query_ids:
            raise ValueError(f"{self.name}: no queries; expected at least one")
        if len(self.query_texts) != len(self.query_ids):
            raise ValueError(
                f"{self.name}: {len(self.query_ids)} query ids for {len(self.query_texts)} texts"
            )
        for kind, ids in (("document", self.doc_ids), ("query", self.query_ids)):
            _check_unique(self.name, kind, ids)
        _check_qrels(self.name, set(self.query_ids), set(self.doc_ids), self.qrels)
        for qid in self.query_ids:
            if not any(r >= 1 for r in self.qrels.get(qid, {}).values()):
                raise ValueError(
                    f"{self.name}: query {qid!r} has no relevant document; expected at least "
                    "one with relevance >= 1"
                )

    def __len__(self) -> int:
        return len(self.query_ids)

    @property
    def documents(self) -> list[str]:
        """Each document as a model reads it: title and text joined by a space, as MTEB does."""
        return [
            f"{title} {text}".strip() if title else text.strip()
            for title, text in zip(self.doc_titles, self.doc_texts, strict=True)
        ]

    @property
    def queries(self) -> list[str]:
        """The query texts, in ``query_ids`` order."""
        return list(self.query_texts)

    def take_queries(self, ids: Sequence[str]) -> RetrievalData:
        """The same corpus with only the queries ``ids`` (in that order) and their qrels.

        Raises:
            ValueError: an id is not a query of this collection.
        """
        position = {q: i for i, q in enumerate(self.query_ids)}
        missing = [q for q in ids if q not in position]
        if missing:
            raise ValueError(f"{self.name}: unknown query ids {missing[:3]}")
        return RetrievalData(
            self.name,
            self.doc_ids,
            self.doc_titles,
            self.doc_texts,
            tuple(ids),
            tuple(self.query_texts[position[q]] for q in ids),
            {q: dict(self.qrels[q]) for q in ids},
            self.split,
        )


def _check_unique(name: str, kind: str, ids: Sequence[str]) -> None:
    seen: set[str] = set()
    for i in ids:
        if i in seen:
            raise ValueError(f"{name}: {kind} id {i!r} appears twice")
        seen.add(i)


def _check_qrels(
    name: str, queries: set[str], docs: set[str], qrels: Mapping[str, Mapping[str, int]]
) -> None:
    for qid, judged in qrels.items():
        if qid not in queries:
            raise ValueError(f"{name}: qrels name unknown query id {qid!r}")
        for did, relevance in judged.items():
            if did not in docs:
                raise ValueError(f"{name}: qrels of query {qid!r} name unknown document id {did!r}")
            if relevance < 0:
                raise ValueError(
                    f"{name}: qrels of query {qid!r} give document {did!r} relevance "
                    f"{relevance}; expected 0 or more"
                )
