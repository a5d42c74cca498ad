"""Native export: layer averages, sums and trained weighted combinations through
sentence-transformers' own modules, checked on the real MiniLM without trust_remote_code."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from safetensors.torch import load_file
from transformers import AutoModel, AutoTokenizer

from hiddenpool import Encoder, load_backbone
from hiddenpool.backbone import default_model_path
from hiddenpool.export import (
    export_sentence_transformers,
    exports_natively,
    load_instruction,
    native_plan,
)
from hiddenpool.train import PooledModel, PooledModelConfig
from tiny_models import SENTENCES

st = pytest.importorskip("sentence_transformers")

TEXTS = [
    "A gripping film.",
    "Wooden acting and a plot with holes, far too long for what it has to say.",
    "ok",
]
HIDDENPOOL_TYPE = "hiddenpool.export.st_module.HiddenpoolPooling"

MINILM_NATIVE = [
    "mean@-4:",
    "cls@-4:",
    "mean@1,-1",
    "max@2:5",
    "mean_sqrt_len@-2",
    "weighted_mean@0,3",
    "last@1",
    "meanmax@-3:",
    "cls+mean@-2:",
    "mean@sum(-3:)",
    "max@sum(1,-1)",
]


def _types(folder):
    return [m["type"] for m in json.loads((folder / "modules.json").read_text(encoding="utf-8"))]


def _plain(folder):
    return st.SentenceTransformer(str(folder), device="cpu")  # no trust_remote_code


@pytest.mark.slow
@pytest.mark.parametrize("spec", MINILM_NATIVE)
def test_minilm_layer_strategies_load_with_plain_sentence_transformers(spec, minilm, tmp_path):
    out = export_sentence_transformers(minilm, spec, tmp_path / "st", normalize=False)
    types = _types(out)
    assert all(t.startswith("sentence_transformers.") for t in types), types
    expected = Encoder(minilm, pooling=spec, normalize=False).encode(TEXTS)
    np.testing.assert_allclose(_plain(out).encode(TEXTS), expected, atol=1e-5)


def _reference(hidden_states, mask, layers):
    """Independent formula: average hidden_states[layers], masked mean over tokens."""
    merged = torch.stack([hidden_states[i] for i in layers]).mean(dim=0)
    weights = mask.unsqueeze(-1).float()
    return ((merged * weights).sum(dim=1) / weights.sum(dim=1)).numpy()


@pytest.mark.slow
def test_minilm_layer_average_matches_transformers_hidden_states(minilm, tmp_path):
    path = default_model_path()
    tokenizer = AutoTokenizer.from_pretrained(path)
    model = AutoModel.from_pretrained(path).eval()
    batch = tokenizer(TEXTS, padding=True, return_tensors="pt")
    with torch.no_grad():
        hidden = model(**batch, output_hidden_states=True).hidden_states  # L + 1 entries
    for spec, layers in [("mean@-4:", [3, 4, 5, 6]), ("mean@1,-1", [1, 6])]:
        out = export_sentence_transformers(minilm, spec, tmp_path / spec, normalize=True)
        expected = _reference(hidden, batch["attention_mask"], layers)
        expected /= np.linalg.norm(expected, axis=1, keepdims=True)
        np.testing.assert_allclose(_plain(out).encode(TEXTS), expected, atol=1e-5)
    last = _reference(hidden, batch["attention_mask"], [6])
    assert np.abs(_reference(hidden, batch["attention_mask"], [3, 4, 5, 6]) - last).max() > 1e-2


def _trained(backbone, spec, logits, folder):
    """A PooledModel whose weighted combiner has the given (non-uniform) logits, saved."""
    config = PooledModelConfig(spec, "regression", labels=("score",), targets=("score",))
    model = PooledModel(backbone, config).eval()
    with torch.no_grad():
        model.pooling.combiner.logits.copy_(torch.tensor(logits))
    return model, model.save_pretrained(folder)


def _pooled(model, texts):
    with torch.no_grad():
        return model.pool(model.forward_features(model.backbone.tokenize(texts))).numpy()


@pytest.mark.slow
def test_minilm_trained_weighted_combiner_exports_its_softmax_weights(tmp_path):
    backbone = load_backbone()  # its own copy: PooledModel freezes unused parameters
    logits = [2.0, -1.0, 0.5, 0.0, 1.0, -2.0]
    model, saved = _trained(backbone, "mean@weighted(1:)", logits, tmp_path / "trained")
    out = export_sentence_transformers(saved, None, tmp_path / "st")
    kinds = [t.rsplit(".", 1)[-1] for t in _types(out)]
    assert kinds == ["Transformer", "WeightedLayerPooling", "Pooling"]  # pooled, as the head saw
    layer_config = json.loads((out / "1_WeightedLayerPooling" / "config.json").read_text())
    assert (layer_config["layer_start"], layer_config["num_hidden_layers"]) == (1, 6)
    stored = load_file(out / "1_WeightedLayerPooling" / "model.safetensors")["layer_weights"]
    torch.testing.assert_close(stored, torch.softmax(torch.tensor(logits), dim=0))

    expected = _pooled(model, TEXTS)
    np.testing.assert_allclose(_plain(out).encode(TEXTS), expected, atol=1e-5)
    uniform = Encoder(backbone, pooling="mean@1:", normalize=False).encode(TEXTS)
    assert np.abs(uniform - expected).max() > 1e-3  # the fitted weights matter


@pytest.mark.parametrize(
    ("spec", "logits"),
    [
        ("cls@weighted(0,2)", [1.5, -0.5]),
        ("max@weighted(-2:)", [-1.0, 2.0]),
        ("meanmax@weighted(1,1,3)", [0.3, 1.2, -0.7]),  # layer 1 twice: its weights add up
        ("last@weighted(-1)", [0.0]),
    ],
)
def test_trained_weighted_combiners_export_natively(spec, logits, tiny_backbone, tmp_path):
    model, saved = _trained(tiny_backbone("bert"), spec, logits, tmp_path / "trained")
    out = export_sentence_transformers(saved, None, tmp_path / "st", normalize=False)
    assert HIDDENPOOL_TYPE not in _types(out)
    texts = [t for t in SENTENCES if t]
    np.testing.assert_allclose(_plain(out).encode(texts), _pooled(model, texts), atol=1e-5)


def test_trained_parameter_free_strategy_exports_its_trained_backbone_natively(tiny_dir, tmp_path):
    backbone = load_backbone(tiny_dir("bert"))  # its own copy: its weights are changed below
    config = PooledModelConfig("cls+mean@-2:", "regression", labels=("y",), targets=("y",))
    model = PooledModel(backbone, config).eval()
    with torch.no_grad():  # stand-in for fine-tuning: weights the checkpoint does not have
        for param in model.base.parameters():
            param.add_(torch.randn_like(param) * 0.05)
    saved = model.save_pretrained(tmp_path / "trained")
    out = export_sentence_transformers(saved, None, tmp_path / "st", normalize=False)
    assert HIDDENPOOL_TYPE not in _types(out)
    texts = [t for t in SENTENCES if t]
    np.testing.assert_allclose(_plain(out).encode(texts), _pooled(model, texts), atol=1e-5)


@pytest.mark.slow
def test_minilm_non_native_strategy_needs_hiddenpool_module(minilm, tmp_path):
    spec = "cls@concat(-4:)"
    out = export_sentence_transformers(minilm, spec, tmp_path / "st", normalize=False)
    assert _types(out) == [HIDDENPOOL_TYPE]
    with pytest.raises(ValueError, match="trust_remote_code"):
        _plain(out)
    model = st.SentenceTransformer(str(out), device="cpu", trust_remote_code=True)
    expected = Encoder(minilm, pooling=spec, normalize=False).encode(TEXTS)
    np.testing.assert_allclose(model.encode(TEXTS), expected, atol=1e-5)
    assert "trust_remote_code=True" in load_instruction(out)


def test_resaved_native_folder_keeps_its_layer_average(tiny_backbone, tmp_path):
    backbone = tiny_backbone("bert")
    out = export_sentence_transformers(backbone, "mean@0,-1", tmp_path / "st", normalize=False)
    first = _plain(out)
    first.save(str(tmp_path / "again"))  # sentence-transformers' own save keeps all layers on
    texts = [t for t in SENTENCES if t]
    expected = Encoder(backbone, pooling="mean@0,-1").encode(texts)
    np.testing.assert_allclose(_plain(tmp_path / "again").encode(texts), expected, atol=1e-5)


@pytest.mark.parametrize(
    ("spec", "native"),
    [
        ("mean@-4:", True),
        ("cls+mean@sum(1,-1)", True),
        ("meanmax@weighted(4:)", True),
        ("first@0", True),
        ("cls@concat(-4:)", False),
        ("min@-4:", False),
        ("sum", False),
        ("mean(skip_special=true)", False),
        ("gem@-2:", False),
        ("attn", False),
        ("pooler", False),
        ("attention@-4:", False),
        ("cls@lstm(1:)", False),
        ("mean@layer_attention(1:)", False),
    ],
)
def test_exports_natively(spec, native):
    assert exports_natively(spec) is native


def test_native_plan_weights_and_depth(tiny_backbone):
    bert, gpt2 = tiny_backbone("bert"), tiny_backbone("gpt2")  # 3 blocks each
    plan = native_plan("mean@1,1,2", bert)  # cut above block 2; layer 1 counts twice
    assert plan is not None
    assert (plan.depth, plan.layer_start, plan.layer_weights) == (2, 1, (2.0, 1.0))
    plan = native_plan("max@sum(0,2)", gpt2)  # a final norm: the model is not cut
    assert plan is not None
    assert (plan.depth, plan.layer_start, plan.layer_weights, plan.scale) == (
        3,
        0,
        (1.0, 0.0, 1.0, 0.0),
        2.0,
    )
    assert native_plan("cls", gpt2).pooling_modes == ("lasttoken",)  # type: ignore[union-attr]
    assert native_plan("max@-2", bert).layer_weights is None  # type: ignore[union-attr]
    with pytest.raises(ValueError, match="trained model"):
        native_plan("mean@weighted(1:)", bert)
    assert native_plan("gem", bert) is None


def test_load_instruction_names_the_modules(tiny_backbone, tmp_path):
    out = export_sentence_transformers(tiny_backbone("bert"), "mean@-2:", tmp_path / "a")
    assert load_instruction(out) == (
        f"SentenceTransformer({str(out)!r})  # sentence-transformers' modules: "
        "Transformer -> WeightedLayerPooling -> Pooling"
    )
