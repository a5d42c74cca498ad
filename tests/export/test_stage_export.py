"""Stages exported natively: linear stages as Dense layers that plain SentenceTransformer(DIR)
runs, reproducing hiddenpool's vectors without hiddenpool's module."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sentence_transformers.util.quantization import quantize_embeddings

from hiddenpool import Encoder
from hiddenpool.cli.main import main
from hiddenpool.export import export_sentence_transformers
from hiddenpool.export.sentence_transformers import QUANTIZATION_RANGES
from tiny_models import WORDS

st = pytest.importorskip("sentence_transformers")

_RNG = np.random.default_rng(3)
TEXTS = [" ".join(_RNG.choice(WORDS, size=3 + i % 8)) for i in range(60)]


def _types(folder):
    modules = json.loads((folder / "modules.json").read_text(encoding="utf-8"))
    return [m["type"].rsplit(".", 1)[-1] for m in modules]


@pytest.mark.parametrize(
    ("spec", "normalize", "modules"),
    [
        (
            "mean@-2: | whiten(8)",
            False,
            ["Transformer", "WeightedLayerPooling", "Pooling", "Dense"],
        ),
        (
            "cls | pca(6) | normalize",
            True,
            ["Transformer", "Pooling", "Normalize", "Dense", "Normalize"],
        ),
        ("mean | center | truncate(5)", False, ["Transformer", "Pooling", "Dense", "Dense"]),
        ("cls@concat(-2:) | whiten(10)", False, ["HiddenpoolPooling", "Dense"]),
    ],
)
def test_plain_sentence_transformers_reproduces_staged_vectors(
    tiny_backbone, tmp_path, spec, normalize, modules
):
    encoder = Encoder(tiny_backbone("bert"), normalize=normalize)
    fitted = encoder.fit_stages(TEXTS, [spec])[spec]
    expected = encoder.encode_many(TEXTS[:12], [spec])[spec]
    folder = export_sentence_transformers(
        encoder.backbone, spec, tmp_path / "st", normalize=normalize, stages=fitted
    )
    assert _types(folder) == modules
    trust = modules[0] == "HiddenpoolPooling"
    model = st.SentenceTransformer(str(folder), device="cpu", trust_remote_code=trust)
    got = model.encode(TEXTS[:12], convert_to_numpy=True)
    # hiddenpool's own module pools in another order of float32 sums, which whitening's
    # rescaling of the smallest directions magnifies; sentence-transformers' modules agree to 1e-5
    # (or 1e-4 relative: a projection onto few directions, then normalised, scales float32 noise)
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4 if trust else 1e-5)


def test_cli_embed_fit_then_export_int8_with_its_ranges(tiny_dir, tmp_path, capsys):
    model = str(tiny_dir("bert"))
    texts = tmp_path / "t.txt"
    texts.write_text("\n".join(TEXTS))
    spec = "mean | whiten(8) | int8"
    out = tmp_path / "v.npy"
    args = ["--model", model, "--pooling", spec, "--quiet"]
    assert main(["embed", str(texts), "-o", str(out), *args, "--fit-self", "--no-normalize"]) == 0
    state = tmp_path / "v.stages.safetensors"
    folder = tmp_path / "st"
    export = ["export", model, "--pooling", spec, "-o", str(folder), "--transform", str(state)]
    assert main([*export, "--no-normalize"]) == 0
    printed = capsys.readouterr().out
    assert "quantize_embeddings(model.encode(texts), 'int8'" in printed
    floats = st.SentenceTransformer(str(folder), device="cpu").encode(TEXTS)
    ranges = np.load(folder / QUANTIZATION_RANGES)
    quantised = quantize_embeddings(floats, "int8", ranges=ranges)
    stored = np.load(out)
    # float32 Dense vs hiddenpool's float64 product: a value on a bucket edge may move one bucket
    assert np.abs(quantised.astype(int) - stored.astype(int)).max() <= 1
    assert np.mean(quantised == stored) > 0.99


def test_export_refuses_unfitted_stages_and_a_state_from_another_normalisation(
    tiny_dir, tmp_path, capsys
):
    model = str(tiny_dir("bert"))
    base = ["export", model, "--pooling", "mean | pca(4)", "-o", str(tmp_path / "x")]
    assert main(base) == 2
    assert "give their fitted state with --transform STATE" in capsys.readouterr().err
    texts = tmp_path / "t.txt"
    texts.write_text("\n".join(TEXTS))
    embed = ["embed", str(texts), "-o", str(tmp_path / "v.npy"), "--model", model, "--quiet"]
    assert main([*embed, "--pooling", "mean | pca(4)", "--fit-self", "--normalize"]) == 0
    state = str(tmp_path / "v.stages.safetensors")
    assert main([*base, "--transform", state, "--no-normalize"]) == 2
    assert "was fitted with normalize True" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()
