"""Task types of ``compare``, one module each behind one protocol (:class:`Task`).

A task says what data it reads, which texts it embeds and on which side (query / document),
how a strategy's vectors are scored, its metrics and main score, what post-pooling stages are
fitted on, and how two strategies are compared (paired over folds, queries or runs). Adding a
task type is one module with a :func:`register_task` class, imported below.

Scoring functions on plain arrays, for callers outside ``compare`` (the MTEB wrapper, tests):

* ``top_k(query_vectors, doc_vectors, k, similarity="cosine", chunk=4096)`` -> ((Q, k) document
  indices, (Q, k) scores): exact search by chunked matrix products, memory bounded by ``chunk``.
* ``retrieval_run(query_vectors, doc_vectors, query_ids, doc_ids, k=100, similarity="cosine",
  chunk=4096)`` -> ``{qid: {docid: score}}``.
* ``retrieval_metrics(run, qrels, metrics=RETRIEVAL_METRICS)`` -> :class:`RankingScores`
  (``per_query[metric]`` arrays over sorted query ids, ``.mean()`` MTEB's figures): nDCG@10,
  Recall@10/100, MRR@10 (pytrec_eval ``recip_rank`` on the top-10 cut, as MTEB), MAP@100, all
  by pytrec_eval.
* ``reranking_metrics(scores, labels)`` -> :class:`RankingScores` with ``map`` and ``mrr@10``
  per query, from per-query candidate scores and relevance labels.
* ``cluster_v_measure(vectors, labels, n_runs=10, seed=42, sample_size=16384, batch_size=512)``
  -> (n_runs,) V-measures of MTEB's bootstrapped MiniBatchKMeans protocol.

>>> from hiddenpool.evaluate.tasks import create_task, list_tasks
>>> sorted(list_tasks())
['classification', 'clustering', 'regression', 'reranking', 'retrieval', 'similarity']
"""

from __future__ import annotations

from hiddenpool.evaluate.tasks.base import (
    SIDES,
    Scoring,
    Task,
    Vectors,
    create_task,
    get_task_class,
    list_tasks,
    register_task,
)
from hiddenpool.evaluate.tasks.classification import ClassificationTask
from hiddenpool.evaluate.tasks.cluster_scores import cluster_v_measure
from hiddenpool.evaluate.tasks.clustering import ClusteringTask
from hiddenpool.evaluate.tasks.ranking import (
    RERANKING_METRICS,
    RETRIEVAL_METRICS,
    RankingScores,
    reranking_metrics,
    retrieval_metrics,
    retrieval_run,
    top_k,
)
from hiddenpool.evaluate.tasks.regression import RegressionTask
from hiddenpool.evaluate.tasks.reranking import RerankingTask
from hiddenpool.evaluate.tasks.retrieval import RetrievalTask
from hiddenpool.evaluate.tasks.similarity import SimilarityTask

__all__ = [
    "RERANKING_METRICS",
    "RETRIEVAL_METRICS",
    "SIDES",
    "ClassificationTask",
    "ClusteringTask",
    "RankingScores",
    "RegressionTask",
    "RerankingTask",
    "RetrievalTask",
    "Scoring",
    "SimilarityTask",
    "Task",
    "Vectors",
    "cluster_v_measure",
    "create_task",
    "get_task_class",
    "list_tasks",
    "register_task",
    "reranking_metrics",
    "retrieval_metrics",
    "retrieval_run",
    "top_k",
]
