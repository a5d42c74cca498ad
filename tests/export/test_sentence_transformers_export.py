"""Export to sentence-transformers and back: the same vectors, every strategy family."""

from __future__ import annotations

import json

import numpy as np
import pytest

from hiddenpool import Encoder, load_backbone
from hiddenpool.cli.main import main
from hiddenpool.export import export_sentence_transformers, exports_natively
from tiny_models import SENTENCES

st = pytest.importorskip("sentence_transformers")

NATIVE = [
    "mean",
    "cls",
    "first",
    "max",
    "mean_sqrt_len",
    "weighted_mean",
    "last",
    "max@-2",  # the model cut after block 2 where it has no final norm
    "meanmax@-2",
    "cls+mean",
    "mean@-2:",
    "cls@0,-1",
    "max@1,1,3",  # layer 1 counts twice
    "last@0",
    "mean_sqrt_len@sum(1:)",
    "weighted_mean+max@sum(0,2)",
]
HIDDENPOOL_MODULE = [
    "cls@concat(-2:)",
    "attn",
    "gem(p=2)",
    "meanmax@concat(1,-1)",
    "mean(skip_special=true)",
    "mean(skip_special=true)@-2:",
    "min",
    "min@1,-1",
    "sum",
    "max+sum@-2:",
    "pooler",
]


def _module_types(folder):
    return [m["type"] for m in json.loads((folder / "modules.json").read_text(encoding="utf-8"))]


def _round_trip(backbone, spec, folder, normalize=False):
    out = export_sentence_transformers(backbone, spec, folder, normalize=normalize)
    # Native folders must load without hiddenpool's code being allowed to run.
    model = st.SentenceTransformer(
        str(out), device="cpu", trust_remote_code=not exports_natively(spec)
    )
    texts = [t for t in SENTENCES if t]  # sentence-transformers drops no text, but keep it plain
    got = model.encode(texts, convert_to_numpy=True)
    expected = Encoder(backbone, pooling=spec, normalize=normalize).encode(texts)
    return out, got, expected


CASES = [
    (family, spec)
    for family in ["bert", "roberta", "xlnet", "gpt2"]
    for spec in NATIVE + HIDDENPOOL_MODULE
    if not (spec == "pooler" and family in ("xlnet", "gpt2"))  # they have no pooler_output
]


@pytest.mark.filterwarnings("ignore:.*pooler_output comes from")
@pytest.mark.parametrize(("family", "spec"), CASES)
def test_exported_folder_reproduces_hiddenpool_vectors(family, spec, tiny_backbone, tmp_path):
    backbone = tiny_backbone(family)
    out, got, expected = _round_trip(backbone, spec, tmp_path / "exported")
    np.testing.assert_allclose(got, expected, atol=1e-5)
    types = _module_types(out)
    assert exports_natively(spec) == (spec in NATIVE)
    assert all(t.startswith("sentence_transformers.") for t in types) == (spec in NATIVE)


def test_native_strategies_load_without_hiddenpool_code(tiny_backbone, tmp_path):
    backbone = tiny_backbone("bert")
    out = export_sentence_transformers(backbone, "max@-2", tmp_path / "m", normalize=True)
    model = st.SentenceTransformer(str(out), device="cpu")  # no trust_remote_code needed
    got = model.encode(SENTENCES[:3])
    expected = Encoder(backbone, pooling="max@-2", normalize=True).encode(SENTENCES[:3])
    np.testing.assert_allclose(got, expected, atol=1e-5)
    assert [type(m).__name__ for m in model] == ["Transformer", "Pooling", "Normalize"]


@pytest.mark.slow
def test_minilm_folder_round_trips_through_hiddenpool(minilm, tmp_path):
    out = export_sentence_transformers(minilm, None, tmp_path / "minilm")  # its own defaults
    again = load_backbone(out)
    assert (again.pooling, again.normalize, again.max_length) == ("mean", True, 256)
    texts = ["A gripping film.", "Wooden acting and a plot with holes."]
    np.testing.assert_allclose(
        Encoder(again).encode(texts), Encoder(minilm).encode(texts), atol=1e-6
    )
    reference = st.SentenceTransformer(str(out), device="cpu").encode(texts)
    np.testing.assert_allclose(Encoder(minilm).encode(texts), reference, atol=1e-5)


def test_export_refuses_an_existing_folder_and_learned_strategies(tiny_backbone, tmp_path):
    backbone = tiny_backbone("bert")
    (tmp_path / "taken").mkdir()
    with pytest.raises(ValueError, match="already exists"):
        export_sentence_transformers(backbone, "mean", tmp_path / "taken")
    with pytest.raises(ValueError, match="learned parameters"):
        export_sentence_transformers(backbone, "attention", tmp_path / "new")
    assert not (tmp_path / "new").exists()


def test_export_cli(tiny_dir, tmp_path, capsys):
    target = tmp_path / "cli-export"
    code = main(["export", str(tiny_dir("bert")), "--pooling", "mean@-2:", "-o", str(target)])
    assert code == 0
    assert "trust_remote_code" not in capsys.readouterr().out  # a layer average is native
    assert (target / "modules.json").is_file()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".cli-export")]
    other = tmp_path / "concat"
    code = main(["export", str(tiny_dir("bert")), "--pooling", "cls@concat(-2:)", "-o", str(other)])
    assert code == 0
    assert "trust_remote_code=True" in capsys.readouterr().out


@pytest.mark.parametrize("spec", ["attention", "cls@lstm(1:)", "gem@weighted(1:)", "conv1d"])
def test_a_trained_pooled_model_exports_its_learned_pooler(spec, tiny_backbone, tmp_path):
    import torch

    from hiddenpool.train import PooledModel, PooledModelConfig

    config = PooledModelConfig(spec, "regression", labels=("score",), targets=("score",))
    model = PooledModel(tiny_backbone("bert"), config)
    with torch.no_grad():  # stand-in for training: weights no fresh module would have
        for param in model.pooling.parameters():
            param.add_(torch.randn_like(param) * 0.1)
    saved = model.save_pretrained(tmp_path / "trained")
    out = export_sentence_transformers(saved, None, tmp_path / "st")
    assert _module_types(out) == ["hiddenpool.export.st_module.HiddenpoolPooling"]
    st_model = st.SentenceTransformer(str(out), device="cpu", trust_remote_code=True)
    texts = [t for t in SENTENCES if t]
    model.eval()
    batch = model.backbone.tokenize(texts)
    with torch.no_grad():
        expected = model.pool(model.forward_features(batch)).numpy()
    np.testing.assert_allclose(st_model.encode(texts), expected, atol=1e-5)


def test_export_cli_takes_a_trained_model_folder(tiny_backbone, tmp_path, capsys):
    from hiddenpool.train import PooledModel, PooledModelConfig

    config = PooledModelConfig("cls@gru(1:)", "regression", labels=("y",), targets=("y",))
    model = PooledModel(tiny_backbone("bert"), config).eval()
    saved = model.save_pretrained(tmp_path / "trained")
    assert main(["export", str(saved), "-o", str(tmp_path / "st")]) == 0
    printed = capsys.readouterr().out
    assert "(trained model)" in printed and "trust_remote_code=True" in printed  # gru: not native
    st_model = st.SentenceTransformer(str(tmp_path / "st"), device="cpu", trust_remote_code=True)
    assert type(st_model[0].pooler.combiner).__name__ == "LayerRNN"
    texts = SENTENCES[:3]
    import torch

    with torch.no_grad():
        expected = model.pool(model.forward_features(model.backbone.tokenize(texts))).numpy()
    np.testing.assert_allclose(st_model.encode(texts), expected, atol=1e-5)


@pytest.mark.parametrize("spec", ["mean", "attention"])  # native Pooling, and hiddenpool's module
def test_a_trained_folder_exports_the_length_it_was_trained_with(spec, tiny_backbone, tmp_path):
    import torch

    from hiddenpool.train import PooledModel, PooledModelConfig

    config = PooledModelConfig(spec, "regression", labels=("y",), targets=("y",), max_length=8)
    model = PooledModel(tiny_backbone("bert"), config).eval()
    assert tiny_backbone("bert").max_length > 8
    saved = model.save_pretrained(tmp_path / "trained")
    out = export_sentence_transformers(saved, None, tmp_path / "st")
    st_model = st.SentenceTransformer(str(out), device="cpu", trust_remote_code=True)
    texts = [" ".join(SENTENCES), SENTENCES[1]]  # the first is far longer than 8 tokens
    with torch.no_grad():  # the trained model's own reading: cut at 8 tokens
        expected = model.pool(model.forward_features(model.tokenize(texts))).numpy()
    np.testing.assert_allclose(st_model.encode(texts), expected, atol=1e-5)
