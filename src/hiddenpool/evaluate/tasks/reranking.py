"""Reranking: order each query's labelled candidates by similarity; MAP and MRR@10."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np

from hiddenpool.evaluate.result import CompareResult
from hiddenpool.evaluate.tasks.base import Scoring, Task, Vectors, register_task
from hiddenpool.evaluate.tasks.ranking import RERANKING_METRICS, reranking_metrics
from hiddenpool.evaluate.tasks.retrieval import ranking_result, side_vectors
from hiddenpool.pooling import parse_strategy
from hiddenpool.pooling.spec import Side

__all__ = ["RerankingTask"]


def _distinct(lists: Sequence[Sequence[str]]) -> tuple[list[str], list[np.ndarray]]:
    """Every distinct candidate once, and each query's candidates as indices into them."""
    index: dict[str, int] = {}
    rows = [np.asarray([index.setdefault(t, len(index)) for t in row]) for row in lists]
    return list(index), rows


@register_task
class RerankingTask(Task):
    """Cosine of the query (query side) with each candidate (document side), per query.

    MAP over the whole list and MRR@10 by pytrec_eval, as MTEB's reranking tasks report them;
    stages are fitted on the candidates only (no query, no label). Paired over queries.
    """

    name: ClassVar[str] = "reranking"
    reads: ClassVar[str] = "reranking"
    unit: ClassVar[str] = "query"
    two_sided: ClassVar[bool] = True
    description: ClassVar[str] = "queries with labelled candidates: cosine order (MAP)"

    def inputs(self, data: Any, fit_texts: Sequence[str] = ()) -> dict[Side, list[str]]:
        return {"query": list(data.queries), "document": _distinct(data.candidates)[0]}

    def evaluate(
        self,
        data: Any,
        vectors: Vectors,
        names: Sequence[str],
        default: str | None,
        scoring: Scoring,
    ) -> CompareResult:
        _, members = _distinct(data.candidates)

        def score(name: str) -> tuple[int, dict[str, np.ndarray]]:
            q, d = side_vectors(parse_strategy(name), vectors)
            q = q / np.maximum(np.linalg.norm(q, axis=1, keepdims=True), 1e-12)
            d = d / np.maximum(np.linalg.norm(d, axis=1, keepdims=True), 1e-12)
            scores = [d[m] @ q[i] for i, m in enumerate(members)]
            return q.shape[1], dict(reranking_metrics(scores, data.labels).per_query)

        rows = self.score_each(names, scoring, score)
        default = default if default in names else None
        return ranking_result(self.name, rows, RERANKING_METRICS, len(data.queries), default)

    def stages_note(self, data: Any, fit_name: str = "") -> str:
        return (
            "Stages (whiten, pca, center, int8 ranges) were fitted on the candidate documents "
            "only: no query and no label was used."
        )

    def score_kind(self, result: CompareResult) -> str:
        return "zero-shot cosine order of each query's candidates (nothing fitted), MAP"

    def method(self) -> str:
        return (
            "cosine of the query (its query side) with each candidate (document side); MAP "
            "over the whole list and MRR@10 by pytrec_eval, as MTEB's reranking tasks"
        )

    def ranking_note(self, result: CompareResult) -> str:
        return (
            f"Scores are means over the {result.n_rows} queries; ± is their standard deviation "
            "and the 95% CI a Student-t interval of the mean. The winner is compared with the "
            "default by a paired t-interval over the per-query scores."
        )

    def facts(self, result: CompareResult) -> str:
        return f"Task: {result.task}, {result.n_rows} queries"
