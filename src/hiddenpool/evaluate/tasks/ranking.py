"""Search and ranking scores on plain arrays: exact top-k search, and the IR metrics.

Exact search is a chunked matrix product: queries and documents are taken ``chunk`` rows at a
time, each (chunk x chunk) block of scores keeps its top k, and the running top k of each query
absorbs it, so memory is bounded by the chunk size, never by queries x documents. No approximate
index: an evaluation must not depend on one.

The metrics are pytrec_eval's (the trec_eval code MTEB and BEIR call), not ours: nDCG@10,
Recall@10/100, MAP@100, and MRR@10 as MTEB computes it (the reciprocal rank of the first
relevant document among the top 10, ties broken by document id descending as trec_eval does).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

__all__ = [
    "RERANKING_METRICS",
    "RETRIEVAL_METRICS",
    "RankingScores",
    "reranking_metrics",
    "retrieval_metrics",
    "retrieval_run",
    "top_k",
]

Run = dict[str, dict[str, float]]
Qrels = Mapping[str, Mapping[str, int]]

RETRIEVAL_METRICS: tuple[str, ...] = ("ndcg@10", "recall@10", "recall@100", "mrr@10", "map@100")
RERANKING_METRICS: tuple[str, ...] = ("map", "mrr@10")
# our name -> (pytrec_eval measure asked for, the key it answers with)
_PYTREC = {
    "ndcg@10": ("ndcg_cut.10", "ndcg_cut_10"),
    "recall@10": ("recall.10", "recall_10"),
    "recall@100": ("recall.100", "recall_100"),
    "map@100": ("map_cut.100", "map_cut_100"),
    "map": ("map", "map"),
}


def _unit_rows(x: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.maximum(norms, 1e-12)


def top_k(
    query_vectors: np.ndarray,
    doc_vectors: np.ndarray,
    k: int,
    similarity: str = "cosine",
    chunk: int = 4096,
) -> tuple[np.ndarray, np.ndarray]:
    """The k best documents of every query by exact search, in chunks.

    Args:
        query_vectors: (Q, D) query vectors.
        doc_vectors: (N, D) document vectors.
        k: documents kept per query (1 <= k <= N).
        similarity: ``"cosine"`` (rows normalised first) or ``"dot"``.
        chunk: rows of queries and of documents per block; peak memory is about
            ``chunk * (chunk + 2k)`` float32 scores.

    Returns:
        ((Q, k) document indices, (Q, k) float32 scores), best first per row.

    Raises:
        ValueError: an unknown similarity, k outside 1..N, mismatched widths, or chunk < 1.

    >>> idx, s = top_k(np.eye(3, dtype=np.float32), np.eye(3, dtype=np.float32), k=1)
    >>> idx.ravel().tolist()
    [0, 1, 2]
    """
    if similarity not in ("cosine", "dot"):
        raise ValueError(f"similarity={similarity!r}: expected 'cosine' or 'dot'")
    q = np.asarray(query_vectors, dtype=np.float32)
    d = np.asarray(doc_vectors, dtype=np.float32)
    if q.ndim != 2 or d.ndim != 2 or q.shape[1] != d.shape[1]:
        raise ValueError(f"query vectors {q.shape} and document vectors {d.shape} do not match")
    n = len(d)
    if not 1 <= k <= n:
        raise ValueError(f"k={k}: expected 1 <= k <= {n}, the number of documents")
    if chunk < 1:
        raise ValueError(f"chunk={chunk}: expected at least 1")
    if similarity == "cosine":
        q, d = _unit_rows(q), _unit_rows(d)
    indices = np.empty((len(q), k), dtype=np.int64)
    scores = np.empty((len(q), k), dtype=np.float32)
    for qs in range(0, len(q), chunk):
        block = q[qs : qs + chunk]
        best_s = np.full((len(block), 0), -np.inf, dtype=np.float32)
        best_i = np.zeros((len(block), 0), dtype=np.int64)
        for ds in range(0, n, chunk):
            part = block @ d[ds : ds + chunk].T  # (chunk, chunk)
            cand_s = np.concatenate([best_s, part], axis=1)
            cand_i = np.concatenate(
                [best_i, np.broadcast_to(np.arange(ds, ds + part.shape[1]), part.shape)], axis=1
            )
            if cand_s.shape[1] > k:
                keep = np.argpartition(-cand_s, k - 1, axis=1)[:, :k]
                cand_s = np.take_along_axis(cand_s, keep, axis=1)
                cand_i = np.take_along_axis(cand_i, keep, axis=1)
            best_s, best_i = cand_s, cand_i
        order = np.argsort(-best_s, axis=1, kind="stable")
        scores[qs : qs + chunk] = np.take_along_axis(best_s, order, axis=1)
        indices[qs : qs + chunk] = np.take_along_axis(best_i, order, axis=1)
    return indices, scores


def retrieval_run(
    query_vectors: np.ndarray,
    doc_vectors: np.ndarray,
    query_ids: Sequence[str],
    doc_ids: Sequence[str],
    k: int = 100,
    similarity: str = "cosine",
    chunk: int = 4096,
) -> Run:
    """A TREC-style run: per query id, its top-k document ids and their scores.

    Args:
        query_vectors: (Q, D), row i is ``query_ids[i]``.
        doc_vectors: (N, D), row j is ``doc_ids[j]``.
        query_ids: Q distinct ids.
        doc_ids: N distinct ids.
        k: documents kept per query (at most N).
        similarity: ``"cosine"`` or ``"dot"``.
        chunk: rows per block of the exact search (bounds memory).

    Returns:
        ``{query_id: {doc_id: score}}``, the form pytrec_eval and MTEB take.
    """
    if len(query_ids) != len(query_vectors) or len(doc_ids) != len(doc_vectors):
        raise ValueError(
            f"{len(query_ids)} query ids for {len(query_vectors)} query vectors, "
            f"{len(doc_ids)} document ids for {len(doc_vectors)} document vectors"
        )
    indices, scores = top_k(query_vectors, doc_vectors, k, similarity, chunk)
    ids = list(doc_ids)
    return {
        str(qid): {ids[j]: float(s) for j, s in zip(row_i, row_s, strict=True)}
        for qid, row_i, row_s in zip(query_ids, indices.tolist(), scores.tolist(), strict=True)
    }


@dataclass(frozen=True)
class RankingScores:
    """Per-query metrics of one run.

    Attributes:
        query_ids: the queries scored, sorted (every strategy's arrays align on them).
        per_query: metric -> (Q,) float64 values in ``query_ids`` order.
    """

    query_ids: tuple[str, ...]
    per_query: Mapping[str, np.ndarray]

    def mean(self) -> dict[str, float]:
        """Metric -> its mean over queries (the figure MTEB and BEIR report)."""
        return {m: float(v.mean()) for m, v in self.per_query.items()}


def _cut(run: Mapping[str, Mapping[str, float]], k: int) -> Run:
    """Each query's top k by score, ties by document id descending (trec_eval's order)."""
    return {
        qid: dict(sorted(docs.items(), key=lambda item: (item[1], item[0]), reverse=True)[:k])
        for qid, docs in run.items()
    }


def _evaluate(
    run: Mapping[str, Mapping[str, float]], qrels: Qrels, metrics: Sequence[str]
) -> RankingScores:
    import pytrec_eval

    clean_qrels = {str(q): {str(d): int(r) for d, r in docs.items()} for q, docs in qrels.items()}
    missing = sorted(set(clean_qrels) - set(run))
    full: Run = {str(q): {str(d): float(s) for d, s in docs.items()} for q, docs in run.items()}
    for qid in missing:  # retrieved nothing: every metric is 0, as pytrec_eval would skip it
        full[qid] = {}
    asked = [_PYTREC[m][0] for m in metrics if m in _PYTREC]
    evaluator = pytrec_eval.RelevanceEvaluator(clean_qrels, set(asked))
    scored = evaluator.evaluate({q: docs for q, docs in full.items() if docs}) if asked else {}
    ranks = pytrec_eval.RelevanceEvaluator(clean_qrels, {"recip_rank"}).evaluate(
        {q: docs for q, docs in _cut(full, 10).items() if docs}
    )
    qids = tuple(sorted(clean_qrels))
    per_query: dict[str, np.ndarray] = {}
    for metric in metrics:
        if metric == "mrr@10":
            values = [ranks.get(q, {}).get("recip_rank", 0.0) for q in qids]
        else:
            key = _PYTREC[metric][1]
            values = [scored.get(q, {}).get(key, 0.0) for q in qids]
        per_query[metric] = np.asarray(values, dtype=np.float64)
    return RankingScores(qids, per_query)


def retrieval_metrics(
    run: Mapping[str, Mapping[str, float]],
    qrels: Qrels,
    metrics: Sequence[str] = RETRIEVAL_METRICS,
) -> RankingScores:
    """nDCG@10, Recall@10/100, MRR@10 and MAP@100 of a run, per query, by pytrec_eval.

    Args:
        run: ``{query_id: {doc_id: score}}`` (e.g. from :func:`retrieval_run`).
        qrels: ``{query_id: {doc_id: graded relevance}}``; relevance >= 1 counts as relevant.
            Every query of the qrels is scored; one the run misses scores 0.
        metrics: a subset of :data:`RETRIEVAL_METRICS` (or ``"map"``).

    Returns:
        The per-query scores; ``.mean()`` gives MTEB's figures.
    """
    unknown = [m for m in metrics if m not in _PYTREC and m != "mrr@10"]
    if unknown:
        raise ValueError(f"unknown metrics {unknown}; expected some of {', '.join(_PYTREC)}")
    return _evaluate(run, qrels, metrics)


def reranking_metrics(
    scores: Sequence[Sequence[float]] | Sequence[np.ndarray],
    labels: Sequence[Sequence[int]] | Sequence[np.ndarray],
) -> RankingScores:
    """MAP and MRR@10 of scored candidate lists, as MTEB's reranking tasks report them.

    Args:
        scores: per query, one score per candidate (higher ranks first).
        labels: per query, the candidates' relevance (0 not relevant, >= 1 relevant), in the
            same order. A query needs at least one relevant candidate.

    Returns:
        Per-query ``map`` (average precision over the whole list) and ``mrr@10``; query ids
        are ``"0"``, ``"1"``... in the order given (zero-padded so they sort that way).
    """
    if len(scores) != len(labels):
        raise ValueError(f"{len(scores)} score lists for {len(labels)} label lists")
    width = len(str(max(len(scores) - 1, 0)))
    run: Run = {}
    qrels: dict[str, dict[str, int]] = {}
    for i, (raw_s, raw_l) in enumerate(zip(scores, labels, strict=True)):
        row_s, row_l = np.asarray(raw_s, dtype=np.float64), np.asarray(raw_l, dtype=np.int64)
        if len(row_s) != len(row_l):
            raise ValueError(f"query {i}: {len(row_s)} scores for {len(row_l)} labels")
        qid = str(i).zfill(width)
        cwidth = len(str(max(len(row_s) - 1, 0)))
        run[qid] = {f"c{str(j).zfill(cwidth)}": float(s) for j, s in enumerate(row_s.tolist())}
        qrels[qid] = {f"c{str(j).zfill(cwidth)}": int(r) for j, r in enumerate(row_l.tolist())}
    return _evaluate(run, qrels, RERANKING_METRICS)
