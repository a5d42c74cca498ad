"""Search tasks end to end through run_compare with a tiny model: each side embedded in its own
template, stages fitted on the corpus only, and a task added by one registered class."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
import pytest
import pytrec_eval

from hiddenpool import Encoder
from hiddenpool.compare import run_compare
from hiddenpool.data import RetrievalData, read_reranking
from hiddenpool.evaluate.tasks import Task, base, register_task
from tiny_models import WORDS

pytestmark = pytest.mark.filterwarnings("ignore:.*pooler_output comes from")


def _collection() -> RetrievalData:
    rng = np.random.default_rng(11)
    docs = [" ".join(rng.choice(WORDS, size=rng.integers(4, 9))) for _ in range(25)]
    queries = [" ".join(d.split()[1:4]) for d in docs[:7]]
    qrels = {f"q{i}": {f"d{i}": 1, f"d{(i + 9) % 25}": int(i % 2)} for i in range(7)}
    return RetrievalData(
        "toy",
        tuple(f"d{i}" for i in range(25)),
        ("",) * 25,
        tuple(docs),
        tuple(f"q{i}" for i in range(7)),
        tuple(queries),
        qrels,
    )


def _ndcg(q: np.ndarray, d: np.ndarray, data: RetrievalData) -> np.ndarray:
    """nDCG@10 per query (sorted ids) of a full cosine ranking, by pytrec_eval directly."""
    q = q / np.linalg.norm(q, axis=1, keepdims=True)
    d = d / np.linalg.norm(d, axis=1, keepdims=True)
    sims = q @ d.T
    run = {
        qid: {did: float(sims[i, j]) for j, did in enumerate(data.doc_ids)}
        for i, qid in enumerate(data.query_ids)
    }
    qrels = {k: dict(v) for k, v in data.qrels.items()}
    scores = pytrec_eval.RelevanceEvaluator(qrels, {"ndcg_cut.10"}).evaluate(run)
    return np.array([scores[k]["ndcg_cut_10"] for k in sorted(scores)])


def test_queries_read_in_the_query_template_documents_in_the_document_one(tiny_backbone):
    data = _collection()
    encoder = Encoder(tiny_backbone("bert"), normalize=False)
    spec = "bge/:mean"  # the tiny vocabulary reads "query: " and "passage: " alike ([UNK] :)
    calls: list[tuple[str, str]] = []
    original = encoder.encode_many

    def spy(texts, specs, *args, side="document", **kwargs):
        calls.append((texts[0], side))
        return original(texts, specs, *args, side=side, **kwargs)

    encoder.encode_many = spy  # type: ignore[method-assign]
    run = run_compare(data, encoder, [spec, "mean"], task="retrieval")
    encoder.encode_many = original  # type: ignore[method-assign]
    assert calls == [(data.queries[0], "query"), (data.documents[0], "document")]
    q = encoder.encode_many(data.queries, [spec], side="query")[spec]
    d = encoder.encode_many(data.documents, [spec], side="document")[spec]
    got = np.array(run.result.get(spec).metrics["ndcg@10"].folds)
    np.testing.assert_allclose(got, _ndcg(q, d, data), atol=1e-6)
    # the sides really differ: queries read as passages are other vectors
    wrong = encoder.encode_many(data.queries, [spec], side="document")[spec]
    assert np.abs(wrong - q).max() > 1e-3
    assert run.passes == 3  # plain and bge on queries, plain alone on documents


def test_retrieval_stages_are_fitted_on_the_corpus_documents_only(tiny_backbone):
    data = _collection()
    encoder = Encoder(tiny_backbone("bert"), normalize=False)
    spec = "mean | whiten(6)"
    run = run_compare(data, encoder, ["mean", spec], task="retrieval")
    q = encoder.encode_many(data.queries, ["mean"])["mean"].astype(np.float64)
    d = encoder.encode_many(data.documents, ["mean"])["mean"].astype(np.float64)

    def whiten_on(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        u, s, _ = np.linalg.svd(np.cov(x, rowvar=False))
        return x.mean(axis=0), u[:, :6] / np.sqrt(s[:6])

    mean, w = whiten_on(d)
    expected = _ndcg((q - mean) @ w, (d - mean) @ w, data)
    got = np.array(run.result.get(spec).metrics["ndcg@10"].folds)
    np.testing.assert_allclose(got, expected, atol=1e-6)
    mean, w = whiten_on(np.vstack([q, d]))  # what a leak into the queries would give
    assert not np.allclose(_ndcg((q - mean) @ w, (d - mean) @ w, data), got, atol=1e-6)
    assert "corpus documents only" in run.stages_note


def test_reranking_table_groups_rows_by_query_and_refuses_a_query_without_positives(tmp_path):
    path = tmp_path / "cands.csv"
    path.write_text("q,c,y\na,x,1\na,y,0\nb,x,0\nb,z,2\n")
    data = read_reranking(path, "q", "c", "y")
    assert data.queries == ["a", "b"] and data.candidates == [["x", "y"], ["x", "z"]]
    assert data.labels == [[1, 0], [0, 2]]
    path.write_text("q,c,y\na,x,1\nb,y,0\nb,z,0\n")
    with pytest.raises(ValueError, match=r"cands\.csv: row 2.*'b' has no relevant candidate"):
        read_reranking(path, "q", "c", "y")
    path.write_text("q,c,y\na,x,yes\n")
    with pytest.raises(ValueError, match=r"row 1, column 'y': expected a relevance label"):
        read_reranking(path, "q", "c", "y")


def test_a_new_task_type_is_one_registered_class(tiny_backbone, monkeypatch):
    monkeypatch.setattr(base, "_REGISTRY", dict(base._REGISTRY))

    @register_task
    class NormTask(Task):  # scores a strategy by its vectors' mean norm, one unit per text
        name: ClassVar[str] = "norm"
        unit: ClassVar[str] = "query"
        description: ClassVar[str] = "toy"

        def inputs(self, data: Any, fit_texts: Sequence[str] = ()) -> dict[Any, list[str]]:
            return {"document": list(data)}

        def evaluate(self, data, vectors, names, default, scoring):
            from hiddenpool.evaluate.tasks.retrieval import ranking_result

            def score(name):
                x = vectors["document"][name]
                return x.shape[1], {"map": np.linalg.norm(x, axis=1)}

            return ranking_result("norm", self.score_each(names, scoring, score), ["map"], 3, None)

        def stages_note(self, data, fit_name=""):
            return ""

        def score_kind(self, result):
            return "norm"

        def method(self):
            return "norm"

        def ranking_note(self, result):
            return ""

    encoder = Encoder(tiny_backbone("bert"), normalize=False)
    texts = ["a b", "c d e", "f"]
    run = run_compare(texts, encoder, ["mean", "max"], task="norm")
    expected = np.linalg.norm(encoder.encode_many(texts, ["max"])["max"], axis=1)
    np.testing.assert_allclose(run.result.get("max").metrics["map"].folds, expected, rtol=1e-6)
