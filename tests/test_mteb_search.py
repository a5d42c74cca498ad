"""MTEB's retrieval and clustering evaluators agree with hiddenpool's on the same vectors.

MTEB runs its own pipeline (search wrapper, pytrec_eval, MiniBatchKMeans runs) on the offline
tasks; the vectors it asked for are recorded, and hiddenpool's scoring functions
(``retrieval_run`` / ``retrieval_metrics``, ``cluster_v_measure``) score those same vectors.
The network is refused throughout.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from benchmark_data import no_network
from hiddenpool.data import LabelledData, RetrievalData, load_dataset, load_retrieval
from hiddenpool.data.fetch import dataset_cache_dir
from hiddenpool.encode import Encoder
from hiddenpool.evaluate.tasks import cluster_v_measure, retrieval_metrics, retrieval_run
from hiddenpool.mteb import (
    ManpagesRetrievalOffline,
    MtebEncoder,
    TrecClusteringOffline,
    run_offline,
)

sys.path.insert(0, str(Path(__file__).parent / "data"))
from fake_debs import EXPECTED_QRELS, register_fake_manpages

from tiny_models import WORDS

# hiddenpool's metric -> MTEB's key for it
SAME_METRIC = {
    "ndcg@10": "ndcg_at_10",
    "recall@10": "recall_at_10",
    "recall@100": "recall_at_100",
    "mrr@10": "mrr_at_10",
    "map@100": "map_at_100",
}


class RecordingEncoder(MtebEncoder):
    """An MtebEncoder that keeps every text MTEB had embedded and the vector it got."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.seen: dict[str, np.ndarray] = {}

    def encode(self, inputs: Any, **kwargs: Any) -> np.ndarray:
        batches = list(inputs)
        vectors = super().encode(batches, **kwargs)
        texts = [text for batch in batches for text in batch["text"]]
        self.seen.update(zip(texts, vectors, strict=True))
        return vectors

    def vectors_of(self, texts: list[str]) -> np.ndarray:
        return np.stack([self.seen[t] for t in texts])


def _synthetic_collection(n_docs: int = 80, n_queries: int = 30, seed: int = 0) -> RetrievalData:
    """Distinct word-salad documents and queries with graded judgements (1-3 per query)."""
    rng = np.random.default_rng(seed)
    # words the tiny models' tokenizer knows: with unknown words every text was [UNK]s, all 80
    # documents had 2 distinct vectors, and the metrics compared how two libraries break ties
    words = WORDS

    def text(n: int) -> str:
        return " ".join(rng.choice(words, size=n))

    docs = [f"{text(12)} {i}" for i in range(n_docs)]
    doc_ids = tuple(f"d{i:03d}" for i in range(n_docs))
    qrels = {
        f"q{i:02d}": {doc_ids[j]: int(rng.integers(1, 3)) for j in rng.choice(n_docs, 3)}
        for i in range(n_queries)
    }
    return RetrievalData(
        name="synthetic",
        doc_ids=doc_ids,
        doc_titles=tuple(f"title {i}" if i % 2 else "" for i in range(n_docs)),
        doc_texts=tuple(docs),
        query_ids=tuple(qrels),
        query_texts=tuple(f"{text(4)} query {i}" for i in range(n_queries)),
        qrels=qrels,
    )


def _agree(model: RecordingEncoder, data: RetrievalData, similarity: str = "cosine") -> dict:
    ours_vs_mteb = {}
    mteb_scores = run_offline(model, ManpagesRetrievalOffline(data=data))
    queries = model.vectors_of(data.queries)
    documents = model.vectors_of(data.documents)  # title + " " + text, as hiddenpool joins them
    run = retrieval_run(
        queries, documents, data.query_ids, data.doc_ids, k=min(100, len(data.doc_ids)),
        similarity=similarity,
    )  # fmt: skip
    ours = retrieval_metrics(run, data.qrels).mean()
    for metric, key in SAME_METRIC.items():
        ours_vs_mteb[metric] = (ours[metric], float(mteb_scores[key]))
    assert mteb_scores["main_score"] == mteb_scores["ndcg_at_10"]
    return ours_vs_mteb


@pytest.fixture
def recording(tiny_dir) -> RecordingEncoder:
    return RecordingEncoder(Encoder(str(tiny_dir("bert")), normalize=True), pooling="mean")


def test_retrieval_metrics_equal_mteb_on_the_same_vectors(
    recording: RecordingEncoder, monkeypatch: pytest.MonkeyPatch
) -> None:
    no_network(monkeypatch)
    data = _synthetic_collection()
    agreement = _agree(recording, data)
    documents = recording.vectors_of(data.documents)
    # every document its own vector: the ranking is the vectors', not how ties are broken
    assert len(np.unique(documents.round(5), axis=0)) == len(data.documents)
    for metric, (ours, theirs) in agreement.items():
        assert ours == pytest.approx(theirs, abs=1e-4), metric
    assert 0.0 < agreement["ndcg@10"][0] < 1.0  # a tiny random model: neither 0 nor perfect
    # MTEB embedded exactly the strings hiddenpool embeds for this collection
    direct = recording.encoder.encode_many(data.documents, ["mean"])["mean"]
    np.testing.assert_allclose(recording.vectors_of(data.documents), direct, atol=1e-5)


def test_the_manpages_task_reads_the_registered_collection_offline(
    recording: RecordingEncoder, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HIDDENPOOL_CACHE", str(tmp_path / "cache"))
    register_fake_manpages(monkeypatch, tmp_path)
    load_retrieval("manpages")  # "apt-get" fills the cache once; from here on nothing may connect
    no_network(monkeypatch)
    task = ManpagesRetrievalOffline()
    assert task.metadata.main_score == "ndcg_at_10" and task.metadata.type == "Retrieval"
    task.load_data()
    split = task.dataset["default"]["test"]
    assert split["relevant_docs"] == EXPECTED_QRELS
    assert split["corpus"]["title"][-1] == "open, openat, creat"
    for ours, theirs in _agree(recording, load_retrieval("manpages")).values():
        assert ours == pytest.approx(theirs, abs=1e-4)


def one_openmp_thread() -> Any:
    """k-means on one OpenMP thread: on a busy 2-core machine libgomp's spinning threads made
    each MiniBatchKMeans fit ~800x slower (2.75 s against 0.004 s for 600 rows). sklearn's
    results do not depend on the thread count. libgomp must be loaded before the limit."""
    import sklearn.cluster  # noqa: F401 - loads libgomp, so the limit below reaches it
    from threadpoolctl import threadpool_limits

    return threadpool_limits(1, user_api="openmp")


def _labelled(n_per_class: int = 40, seed: int = 0) -> LabelledData:
    rng = np.random.default_rng(seed)
    topics = {"net": "socket packet route", "disk": "file block inode", "cpu": "thread lock core"}
    texts, labels = [], []
    for label, vocab in topics.items():
        words = vocab.split() + "the a of to".split()
        for i in range(n_per_class):
            texts.append(" ".join(rng.choice(words, size=6)) + f" {i}")
            labels.append(label)
    return LabelledData(
        texts=texts,
        labels=np.asarray(labels),
        label_names=("topic",),
        task="classification",
        name="topics",
    )


def test_v_measure_equals_mteb_clustering_on_the_same_vectors(
    recording: RecordingEncoder, monkeypatch: pytest.MonkeyPatch
) -> None:
    no_network(monkeypatch)
    data = _labelled()
    with one_openmp_thread():
        scores = run_offline(recording, TrecClusteringOffline(data=data))
        runs = cluster_v_measure(recording.vectors_of(data.texts), data.labels, seed=42)
    assert scores["main_score"] == scores["v_measure"]
    assert float(np.mean(runs)) == pytest.approx(scores["v_measure"], abs=1e-4)
    assert float(np.std(runs)) == pytest.approx(scores["v_measure_std"], abs=1e-4)
    np.testing.assert_allclose(runs, scores["v_measures"]["Level 0"], atol=1e-9)


MANPAGES_DEBS = [
    dataset_cache_dir() / "manpages_6.03-2_all.deb",
    dataset_cache_dir() / "manpages-dev_6.03-2_all.deb",
]


@pytest.mark.slow
@pytest.mark.skipif(
    not all(p.is_file() for p in MANPAGES_DEBS), reason="manpages .deb files not cached"
)
def test_minilm_on_the_real_manpages_and_trec_agree_with_mteb(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    data = load_retrieval("manpages")
    encoder = Encoder(max_length=64)  # MiniLM-L6, mean + normalise; 64 tokens keep it short
    no_network(monkeypatch)
    model = RecordingEncoder(encoder)
    for metric, (ours, theirs) in _agree(model, data).items():
        assert ours == pytest.approx(theirs, abs=1e-4), metric
    trec = load_dataset("trec").take(np.arange(0, 5_381, 10))  # every tenth question
    with one_openmp_thread():
        scores = run_offline(model, TrecClusteringOffline(data=trec))
        runs = cluster_v_measure(model.vectors_of(trec.texts), trec.labels, seed=42)
    assert float(np.mean(runs)) == pytest.approx(scores["v_measure"], abs=1e-4)
