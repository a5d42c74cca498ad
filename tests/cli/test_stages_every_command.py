"""Every registered stage through every command: embed, Encoder, compare, export and serve.

One rule decides whether a stage needs a fitted state: the registry's ``StageEntry.fitted``
(``Strategy.needs_fitting``). Stages that need one are refused without it, in one line, and work
with it; the others work with none. Vectors are checked against references written here:
numpy's sign-bit packing and sentence-transformers' ``quantize_embeddings`` for the
quantisations, the first k columns for truncate, v/||v|| for normalize, sklearn's PCA for pca and
whiten, the mean for center.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from sentence_transformers import SentenceTransformer
from sentence_transformers.util.quantization import quantize_embeddings
from sklearn.decomposition import PCA

from asgi_client import AsgiClient
from hiddenpool.cli.main import main
from hiddenpool.encode import Encoder
from hiddenpool.pooling import parse_strategy
from hiddenpool.pooling.stages import STAGES, list_stages
from hiddenpool.serve import create_app, load_served_model
from tiny_models import WORDS

pytestmark = pytest.mark.usefixtures("one_thread")
K = 4
SPECS = {n: f"mean | {n}({K})" if STAGES[n].takes_k else f"mean | {n}" for n in list_stages()}
FITTED = [n for n in SPECS if STAGES[n].fitted]
FREE = [n for n in SPECS if not STAGES[n].fitted]
_RNG = np.random.default_rng(5)
TEXTS = [" ".join(_RNG.choice(WORDS, size=3 + i % 8)) for i in range(40)]


def test_the_registry_has_both_kinds():
    assert set(FREE) == {"truncate", "normalize", "binary", "ubinary"}
    assert all(parse_strategy(SPECS[n]).needs_fitting == (n in FITTED) for n in SPECS)


def _aligned(got: np.ndarray, expected: np.ndarray) -> np.ndarray:
    """``got`` with each column's sign flipped to match ``expected`` (an SVD's sign is free)."""
    signs = np.sign(np.sum(got * expected, axis=0))
    return got * np.where(signs == 0, 1, signs)


def reference(name: str, base: np.ndarray, fit: np.ndarray) -> np.ndarray:
    """What ``mean | NAME`` must give for pooled vectors ``base``, fitted on ``fit``."""
    if name == "truncate":
        return base[:, :K]
    if name == "normalize":
        return base / np.linalg.norm(base, axis=1, keepdims=True)
    if name in ("binary", "ubinary"):
        bits = np.packbits(base > 0, axis=-1)
        ours = bits if name == "ubinary" else (bits.astype(np.int16) - 128).astype(np.int8)
        np.testing.assert_array_equal(ours, quantize_embeddings(base, name))
        return ours
    if name == "center":
        return base - fit.astype(np.float64).mean(axis=0)
    if name in ("int8", "uint8"):
        return quantize_embeddings(base, name, calibration_embeddings=fit)
    pca = PCA(K, whiten=name == "whiten", svd_solver="full").fit(fit.astype(np.float64))
    return pca.transform(base.astype(np.float64))


def check(name: str, got: np.ndarray, base: np.ndarray, fit: np.ndarray) -> None:
    expected = reference(name, base, fit)
    got = np.asarray(got)
    assert got.shape == expected.shape
    if STAGES[name].quantizes:
        assert str(got.dtype) == STAGES[name].dtype or got.dtype.kind == "i"
        # a value on a bucket edge may round either way in float32: at most one bucket apart
        assert np.max(np.abs(got.astype(np.int64) - expected.astype(np.int64))) <= (
            0 if name in ("binary", "ubinary") else 1
        )
        assert np.mean(got.astype(np.int64) == expected.astype(np.int64)) > 0.99
        return
    if name in ("pca", "whiten"):
        got = _aligned(got, expected)
    np.testing.assert_allclose(got, expected, rtol=1e-3, atol=1e-4)


@pytest.fixture(scope="module")
def setup(tiny_dir, tmp_path_factory):
    """The model, a text file, the pooled vectors every command must start from, and a state
    fitted on the same texts by ``embed --fit-self`` for every fitted stage."""
    folder = tmp_path_factory.mktemp("every")
    model = str(tiny_dir("bert"))
    texts = folder / "texts.txt"
    texts.write_text("\n".join(TEXTS))
    base = Encoder(model).encode(TEXTS, "mean")
    pooling = [a for n in FITTED for a in ("--pooling", SPECS[n])]
    out = folder / "fitted.npz"
    assert _embed(model, texts, out, *pooling, "--fit-self") == 0
    return model, texts, base, folder / "fitted.stages.safetensors", folder


def _embed(model: str, texts, out, *args: str) -> int:
    return main(["embed", str(texts), "-o", str(out), "--model", model, "--quiet", *args])


def _one_line(err: str, *fragments: str) -> None:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and all(f in lines[0] for f in fragments), err


@pytest.mark.parametrize("name", list(SPECS))
def test_embed_cli(setup, name, tmp_path, capsys):
    model, texts, base, state, _ = setup
    out = tmp_path / "v.npy"
    code = _embed(model, texts, out, "--pooling", SPECS[name])
    if name in FITTED:
        assert code == 2 and not out.exists()
        _one_line(capsys.readouterr().err, "has stages to fit", "--fit FILE", "--transform")
        assert _embed(model, texts, out, "--pooling", SPECS[name], "--transform", str(state)) == 0
    else:
        assert code == 0, capsys.readouterr().err
    check(name, np.load(out), base, base)


@pytest.mark.parametrize("name", list(SPECS))
def test_encoder_api(setup, name):
    model, _, base, _, _ = setup
    encoder = Encoder(model)
    if name in FITTED:
        with pytest.raises(ValueError, match="its stages are not fitted"):
            encoder.encode(TEXTS, SPECS[name])
        encoder.fit_stages(TEXTS, [SPECS[name]])
    check(name, encoder.encode(TEXTS, SPECS[name]), base, base)
    check(name, encoder.encode_many(TEXTS[:7], [SPECS[name]])[SPECS[name]], base[:7], base)


@pytest.mark.parametrize("group", ["free", "fitted"])
def test_compare_cli(setup, group, tmp_path, capsys):
    """compare fits each fold's stages itself: every stage is scored, and the report says
    stages were fitted on the training rows only when some stage needs fitting."""
    model, _, _, _, _ = setup
    rows = ["text,score"] + [f"{t},{len(t.split()) % 3}" for t in TEXTS]
    data = tmp_path / "d.csv"
    data.write_text("\n".join(rows) + "\n")
    names = FREE if group == "free" else FITTED
    out = tmp_path / "report"
    args = ["compare", str(data), "--task", "regression", "--label-column", "score"]
    args += ["--model", model, "--folds", "2", "--out", str(out), "--quiet"]
    assert main([*args, "--strategies", *(SPECS[n] for n in names)]) == 0, capsys.readouterr()
    results = json.loads((out / "results.json").read_text())
    scored = {s["name"]: s for s in results["strategies"]}
    assert set(scored) - {"mean"} == {str(parse_strategy(SPECS[n])) for n in names}  # + default
    assert all(np.isfinite(s["metrics"]["spearman"]["mean"]) for s in scored.values())
    for n in names:  # the stage ran: k columns kept, or the 32 of the pooled (bits unpacked)
        assert scored[str(parse_strategy(SPECS[n]))]["dim"] == (K if STAGES[n].takes_k else 32)
    report = (out / "report.md").read_text()
    assert ("fitted on each fold's training rows only" in report) == (group == "fitted")


@pytest.mark.parametrize("name", list(SPECS))
def test_export_sentence_transformers(setup, name, tmp_path, capsys):
    model, _, base, state, _ = setup
    folder = tmp_path / "st"
    args = ["export", model, "--pooling", SPECS[name], "-o", str(folder)]
    if name in FITTED:
        assert main(args) == 2 and not folder.exists()
        _one_line(capsys.readouterr().err, "has stages to fit", "--transform STATE")
        args += ["--transform", str(state)]
    assert main(args) == 0, capsys.readouterr().err
    floats = SentenceTransformer(str(folder), device="cpu").encode(TEXTS, convert_to_numpy=True)
    if name in ("binary", "ubinary"):  # the folder gives floats; the precision is asked for
        assert f"precision={name!r}" in capsys.readouterr().out
        floats = SentenceTransformer(str(folder), device="cpu").encode(TEXTS, precision=name)
    elif name in ("int8", "uint8"):
        ranges = np.load(folder / "quantization_ranges.npy")
        floats = quantize_embeddings(floats, name, ranges=ranges)
    check(name, floats, base, base)


@pytest.fixture(scope="module")
def served(setup):
    model, _, _, state, _ = setup
    specs = ["mean", *SPECS.values()]
    app = create_app(load_served_model(model, specs, served_name="t", transform=state))
    with AsgiClient(app) as client:
        yield client


@pytest.mark.parametrize("name", list(SPECS))
def test_serve(setup, served, name):
    model, _, base, _, _ = setup
    if name in FITTED:
        with pytest.raises(ValueError, match=f"{name}.* must be fitted first; give `transform`"):
            load_served_model(model, [SPECS[name]], served_name="t")
    else:
        load_served_model(model, [SPECS[name]], served_name="t")  # no state needed
    body = {"input": TEXTS, "model": f"t:{SPECS[name]}"}
    status, _, reply = served.post("/v1/embeddings", body)
    assert status == 200, reply
    check(name, np.array([d["embedding"] for d in reply["data"]]), base, base)
    status, _, reply = served.post("/embed", {"inputs": TEXTS, "model": f"t:{SPECS[name]}"})
    assert status == 200, reply
    check(name, np.array(reply), base, base)
