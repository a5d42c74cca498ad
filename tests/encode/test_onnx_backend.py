"""The ONNX Runtime backend agrees with PyTorch to 1e-5, layer combinations included, and
exports each (model, strategies) once."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from transformers import AutoModel, AutoTokenizer

from hiddenpool import Encoder
from tiny_models import SENTENCES, WORDS

pytest.importorskip("onnxruntime")
pytest.importorskip("onnx")


pytestmark = pytest.mark.usefixtures("one_thread")


TEXTS = [*SENTENCES, "This is a long review. " * 30, "emoji 🎬🍿 and punctuation!!! ???"]
SPECS = [
    "mean",
    "cls@concat(-4:)",
    "mean@-4:",
    "max@-2",
    "meanmax@1,-1",
    "weighted_mean(skip_special=true)",
    "last@sum(0,-1)",
]


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("HIDDENPOOL_CACHE", str(tmp_path / "cache"))


@pytest.mark.parametrize("family", ["bert", "roberta", "xlnet", "gpt2", "llama"])
def test_onnx_equals_torch_on_tiny_families(family, tiny_backbone):
    backbone = tiny_backbone(family)
    specs = [s.replace("-4:", "-3:") for s in SPECS]  # tiny models have 3 layers
    torch_out = Encoder(backbone, normalize=False).encode_many(TEXTS, specs, batch_tokens=64)
    onnx_out = Encoder(backbone, normalize=False, backend="onnx").encode_many(
        TEXTS, specs, batch_tokens=64
    )
    for spec in specs:
        np.testing.assert_allclose(
            onnx_out[spec], torch_out[spec], atol=1e-5, rtol=0, err_msg=f"{family} {spec}"
        )


@pytest.mark.slow
def test_onnx_equals_torch_on_minilm_with_layer_combinations(minilm):
    specs = ["mean", "mean@-4:", "cls@concat(-4:)"]
    torch_out = Encoder(minilm).encode_many(TEXTS, specs, batch_tokens=512)
    encoder = Encoder(minilm, backend="onnx")
    onnx_out = encoder.encode_many(TEXTS, specs, batch_tokens=512)
    for spec in specs:
        np.testing.assert_allclose(onnx_out[spec], torch_out[spec], atol=1e-5, rtol=0)


TEMPLATED = {
    "bert": ["promptbert:mask", "promptbert:mean@-2:", "echo:max", "query:cls", "query:mean"],
    "xlnet": ["promptbert:mask@1,-1", "query:mean(include_prompt=true)", "echo:cls"],
    "gpt2": ["prompteol:last", "echo:weighted_mean", "query:mean"],
}


@pytest.mark.parametrize("family", list(TEMPLATED))
def test_onnx_equals_torch_under_prompt_templates(family, tiny_backbone):
    """The template's spans are graph inputs; the long text is cut, never the template."""
    backbone = tiny_backbone(family)
    specs = TEMPLATED[family]
    kwargs = {"normalize": False, "max_length": 24}
    torch_out = Encoder(backbone, **kwargs).embed(TEXTS, specs, batch_tokens=64)
    onnx_out = Encoder(backbone, backend="onnx", **kwargs).embed(TEXTS, specs, batch_tokens=64)
    assert onnx_out.num_passes == torch_out.num_passes == len({s.split(":")[0] for s in specs})
    assert onnx_out.num_truncated == torch_out.num_truncated > 0
    for spec in specs:
        np.testing.assert_allclose(
            onnx_out.vectors[spec],
            torch_out.vectors[spec],
            atol=1e-5,
            rtol=0,
            err_msg=f"{family} {spec}",
        )


@pytest.mark.slow
def test_onnx_equals_torch_on_minilm_under_templates(minilm):
    specs = ["promptbert:mask", "echo:mean", "query:mean@-4:"]
    torch_out = Encoder(minilm).encode_many(TEXTS, specs, batch_tokens=512)
    onnx_out = Encoder(minilm, backend="onnx").encode_many(TEXTS, specs, batch_tokens=512)
    for spec in specs:
        np.testing.assert_allclose(onnx_out[spec], torch_out[spec], atol=1e-5, rtol=0)


def test_chunked_long_texts_match_between_backends(tiny_backbone):
    backbone = tiny_backbone("bert")
    doc = " ".join(np.random.default_rng(0).choice(WORDS, 50))
    specs = ["mean", "max@-2:", "weighted_mean", "cls"]
    kwargs = {"max_length": 12, "long": "chunk", "stride": 3, "normalize": False}
    torch_out = Encoder(backbone, **kwargs).encode_many([doc, "good"], specs)
    onnx_out = Encoder(backbone, backend="onnx", **kwargs).encode_many([doc, "good"], specs)
    for spec in specs:
        np.testing.assert_allclose(onnx_out[spec], torch_out[spec], atol=1e-5)


def test_each_strategy_set_is_exported_once_and_reused(tiny_backbone):
    backbone = tiny_backbone("bert")
    first = Encoder(backbone, backend="onnx")
    first.encode_many(["good"], ["mean", "cls@-2"])
    cache = first.backend.cache_dir  # type: ignore[attr-defined]
    exports = sorted(p.parent for p in cache.glob("*/model.onnx"))
    stamps = [p.stat().st_mtime_ns for p in cache.glob("*/model.onnx")]
    second = Encoder(backbone, backend="onnx")
    second.encode_many(["bad"], ["mean", "cls@-2"])
    assert sorted(p.parent for p in cache.glob("*/model.onnx")) == exports
    assert [p.stat().st_mtime_ns for p in cache.glob("*/model.onnx")] == stamps
    second.encode_many(["bad"], ["max"])
    assert len(list(cache.glob("*/model.onnx"))) == len(exports) + 1
    assert not list(cache.glob(".export-*"))  # no leftovers of the atomic export


def _fake_uint8(x: np.ndarray) -> np.ndarray:
    """Quantise-dequantise to uint8, per tensor, its range widened to hold 0 (ONNX
    DynamicQuantizeLinear; ORT's uint8 embedding tables)."""
    low, high = min(float(x.min()), 0.0), max(float(x.max()), 0.0)
    scale = np.float32((high - low) / 255)
    zero = np.clip(np.rint(-low / scale), 0, 255)
    return ((np.clip(np.rint(x / scale) + zero, 0, 255) - zero) * scale).astype(np.float32)


def _fake_int8_rows(w: np.ndarray) -> np.ndarray:
    """Quantise-dequantise a Linear weight (out, in) to int8 in 7 bits (onnxruntime's
    reduce_range: [-64, 64]), symmetric, per output channel."""
    scale = (np.abs(w).max(axis=1, keepdims=True) / 64).astype(np.float32)
    return (np.clip(np.rint(w / scale), -64, 64) * scale).astype(np.float32)


def _int8_reference(folder, texts: list[str]) -> np.ndarray:
    """Mean pooling of a plain transformers BERT whose weights and Linear inputs are quantised by
    hand as dynamic int8 quantisation does it: every Linear's weight int8 (7 bits) per output
    channel and its input uint8 per tensor at run time; embedding tables uint8 per tensor. Exact
    arithmetic: a CPU whose int8 kernel saturated (8-bit weights on AVX2) would be caught."""
    model = AutoModel.from_pretrained(folder).eval()
    tokenizer = AutoTokenizer.from_pretrained(folder)
    embeddings = model.embeddings
    with torch.no_grad():
        for table in (embeddings.word_embeddings, embeddings.position_embeddings):
            table.weight.copy_(torch.from_numpy(_fake_uint8(table.weight.numpy())))
        tokens = embeddings.token_type_embeddings
        tokens.weight.copy_(torch.from_numpy(_fake_uint8(tokens.weight.numpy())))
        for module in model.encoder.modules():
            if isinstance(module, torch.nn.Linear):
                module.weight.copy_(torch.from_numpy(_fake_int8_rows(module.weight.numpy())))
                module.register_forward_pre_hook(
                    lambda m, args: (torch.from_numpy(_fake_uint8(args[0].numpy())),)
                )
        rows = []
        for text in texts:  # one at a time: the activation ranges are per batch
            batch = tokenizer([text], truncation=True, return_tensors="pt")
            rows.append(model(**batch).last_hidden_state[0].mean(0).numpy())
    return np.stack(rows)


def test_int8_equals_a_hand_quantised_model(tiny_dir, tiny_backbone):
    backbone = tiny_backbone("bert")
    quantized = Encoder(backbone, "mean", normalize=False, backend="onnx-int8")
    got = quantized.encode(TEXTS, batch_size=1)
    exact = Encoder(backbone, "mean", normalize=False, backend="onnx").encode(TEXTS, batch_size=1)
    reference = _int8_reference(tiny_dir("bert"), TEXTS)
    # measured: 2.4e-7 from the hand-quantised model, 1.2e-2 from the float32 graph (on an
    # AVX2-only CPU, 8-bit weights came out 1.4e-2 from their hand-quantised model)
    np.testing.assert_allclose(got, reference, atol=1e-5, rtol=0)
    assert np.abs(got - exact).max() > 1e-3


def test_attention_pooling_is_refused_with_the_way_out(tiny_backbone):
    with pytest.raises(ValueError, match="use the torch backend"):
        Encoder(tiny_backbone("bert"), backend="onnx").encode_many(["good"], ["attn"])


def test_an_export_that_disagrees_with_torch_is_refused_and_not_cached(tiny_backbone, monkeypatch):
    from hiddenpool.encode import backends

    real = backends.TorchBackend.__call__

    def shifted(self, batch, poolers):
        return {s: v + 1.0 for s, v in real(self, batch, poolers).items()}

    monkeypatch.setattr(backends.TorchBackend, "__call__", shifted)
    encoder = Encoder(tiny_backbone("bert"), backend="onnx")
    with pytest.raises(ValueError, match=r"differs from PyTorch by 1; use backend='torch'"):
        encoder.encode(["good"])
    assert not list(encoder.backend.cache_dir.glob("*/model.onnx"))  # type: ignore[attr-defined]
    assert not list(encoder.backend.cache_dir.glob(".export-*"))  # type: ignore[attr-defined]
