"""Retrieval: queries search a corpus by exact nearest neighbours; nDCG@10 and friends."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import numpy as np

from hiddenpool.evaluate.result import CompareResult, StrategyResult
from hiddenpool.evaluate.tasks.base import Scoring, Task, Vectors, register_task
from hiddenpool.evaluate.tasks.ranking import (
    RETRIEVAL_METRICS,
    retrieval_metrics,
    retrieval_run,
)
from hiddenpool.pooling import Strategy, parse_strategy
from hiddenpool.pooling.spec import Side
from hiddenpool.postprocess import fit_stages

__all__ = ["RetrievalTask", "ranking_result", "side_vectors"]

DEFAULT_K = 100


def side_vectors(
    strategy: Strategy, vectors: Vectors, fit_side: str = "document"
) -> tuple[np.ndarray, np.ndarray]:
    """A strategy's (query, document) vectors, its stages fitted on ``fit_side`` only."""
    q = vectors["query"][str(strategy.pooling)]
    d = vectors["document"][str(strategy.pooling)]
    if strategy.stages:
        fitting = vectors[fit_side][str(strategy.pooling)]
        fitted = fit_stages(strategy, fitting, fitting.shape[1], fitted_on=f"the {fit_side}s")
        q, d = fitted.features(q), fitted.features(d)
    return np.asarray(q, dtype=np.float32), np.asarray(d, dtype=np.float32)


def ranking_result(
    task: str,
    rows: Sequence[StrategyResult],
    metrics: Sequence[str],
    n_queries: int,
    default: str | None,
) -> CompareResult:
    """A result paired over queries: each metric's ``folds`` are its per-query values."""
    return CompareResult(
        task=task,
        primary_metric=metrics[0],
        higher_is_better=True,
        metric_names=tuple(metrics),
        strategies=tuple(rows),
        ensemble=None,
        fold_ids=np.arange(n_queries),
        default_strategy=default,
        unit="query",
    )


@register_task
class RetrievalTask(Task):
    """Exact top-k search of the corpus for every query, scored by pytrec_eval.

    Queries are embedded on the query side of each strategy, documents on its document side.
    Stages (``| whiten(k)``, ``| pca(k)``, int8 ranges) are fitted on the corpus documents only:
    no query, no relevance label. Two strategies are compared by a paired t-interval over the
    per-query nDCG@10. BM25 (bm25s) is scored beside them as the lexical baseline.

    Args:
        k: documents retrieved per query (None: 100, or the whole corpus if smaller).
        similarity: ``"cosine"`` or ``"dot"``.
        chunk: rows per block of the exact search (bounds memory).
        bm25: also score the BM25 baseline.
    """

    name: ClassVar[str] = "retrieval"
    reads: ClassVar[str] = "retrieval"
    unit: ClassVar[str] = "query"
    two_sided: ClassVar[bool] = True
    description: ClassVar[str] = "queries, a corpus and qrels: exact search (nDCG@10)"

    def __init__(
        self,
        k: int | None = None,
        similarity: str = "cosine",
        chunk: int = 4096,
        bm25: bool = True,
    ) -> None:
        if similarity not in ("cosine", "dot"):
            raise ValueError(f"similarity={similarity!r}: expected 'cosine' or 'dot'")
        if k is not None and k < 1:
            raise ValueError(f"k={k}: expected at least 1")
        self.k, self.similarity, self.chunk, self.bm25 = k, similarity, chunk, bm25

    def _k(self, data: Any) -> int:
        n = len(data.doc_ids)
        return min(DEFAULT_K, n) if self.k is None else self.k

    def check_data(self, data: Any, scoring: Scoring) -> None:
        n = len(data.doc_ids)
        if self.k is not None and self.k > n:
            raise ValueError(
                f"k={self.k}: larger than the {n} documents of {data.name}; expected at most {n}"
            )

    def inputs(self, data: Any, fit_texts: Sequence[str] = ()) -> dict[Side, list[str]]:
        return {"query": list(data.queries), "document": list(data.documents)}

    def evaluate(
        self,
        data: Any,
        vectors: Vectors,
        names: Sequence[str],
        default: str | None,
        scoring: Scoring,
    ) -> CompareResult:
        def score(name: str) -> tuple[int, Mapping[str, np.ndarray]]:
            q, d = side_vectors(parse_strategy(name), vectors)
            run = retrieval_run(
                q, d, data.query_ids, data.doc_ids, self._k(data), self.similarity, self.chunk
            )
            return q.shape[1], retrieval_metrics(run, data.qrels).per_query

        rows = self.score_each(names, scoring, score)
        default = default if default in names else None
        return ranking_result(self.name, rows, RETRIEVAL_METRICS, len(data.query_ids), default)

    def baselines(self, data: Any, scoring: Scoring) -> tuple[StrategyResult, ...]:
        if not self.bm25:
            return ()
        import bm25s

        qrels = data.qrels
        retriever = bm25s.BM25()
        tokens = bm25s.tokenize(list(data.documents), stopwords="en", show_progress=False)
        retriever.index(tokens, show_progress=False)
        k = self._k(data)
        found, top = retriever.retrieve(
            bm25s.tokenize(list(data.queries), stopwords="en", show_progress=False),
            k=k,
            show_progress=False,
        )
        run = {
            qid: {data.doc_ids[j]: float(s) for j, s in zip(row_i, row_s, strict=True)}
            for qid, row_i, row_s in zip(data.query_ids, found.tolist(), top.tolist(), strict=True)
        }
        return tuple(
            self.score_each(
                ["bm25"], Scoring(), lambda _: (0, retrieval_metrics(run, qrels).per_query)
            )
        )

    def stages_note(self, data: Any, fit_name: str = "") -> str:
        return (
            f"Stages (whiten, pca, center, int8 ranges) were fitted on the {len(data.doc_ids)} "
            "corpus documents only: no query and no relevance label was used."
        )

    def score_kind(self, result: CompareResult) -> str:
        return (
            f"exact {self.similarity} search of the corpus (nothing fitted), "
            f"{result.primary_metric} by pytrec_eval"
        )

    def method(self) -> str:
        return (
            f"queries embedded on each strategy's query side, documents on its document side; "
            f"exact top-k {self.similarity} search by chunked matrix products; nDCG@10, "
            "Recall@10/100, MRR@10 and MAP@100 by pytrec_eval, as MTEB and BEIR compute them"
        )

    def ranking_note(self, result: CompareResult) -> str:
        return (
            f"Scores are means over the {result.n_rows} queries; ± is their standard deviation "
            "and the 95% CI a Student-t interval of the mean over queries. Every strategy "
            "answers the same queries, so the winner is compared with the default by a paired "
            "t-interval over the per-query scores. BM25 (bm25s, English stopwords) is the "
            "lexical baseline: no vectors, nothing to pool."
        )

    def facts(self, result: CompareResult) -> str:
        return f"Task: {result.task}, {result.n_rows} queries"
