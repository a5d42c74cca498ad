"""Fitted stages in serve: the vectors `embed --transform STATE` gives, quantised outputs as
numbers, and one clear refusal for a missing or foreign state."""

from __future__ import annotations

import base64
from pathlib import Path

import numpy as np
import openai
import pytest
from serve_helpers import post, request, running

from hiddenpool.cli.main import main
from hiddenpool.encode import Encoder
from hiddenpool.serve import create_app, load_served_model
from tiny_models import WORDS

pytestmark = pytest.mark.usefixtures("one_thread")
FITTED = ["mean | whiten(8)", "mean | int8"]
FREE = ["mean | truncate(8) | normalize", "mean | binary"]


def _write(path: Path, rows: int, seed: int) -> Path:
    rng = np.random.default_rng(seed)
    path.write_text("\n".join(" ".join(rng.choice(WORDS, size=3 + i % 9)) for i in range(rows)))
    return path


def _embed(model: Path, *args: str) -> int:
    return main(["embed", *args, "--model", str(model), "--quiet"])


@pytest.fixture(scope="module")
def fitted(tiny_st, tmp_path_factory):
    """A state fitted by `embed --fit`, and `embed --transform`'s vectors of other texts."""
    folder = tmp_path_factory.mktemp("stages")
    fit, texts = _write(folder / "fit.txt", 60, 1), _write(folder / "in.txt", 12, 2)
    pooling = [a for spec in FITTED for a in ("--pooling", spec)]
    assert _embed(tiny_st, str(fit), "-o", str(folder / "a.npz"), *pooling, "--fit", str(fit)) == 0
    state = folder / "a.stages.safetensors"
    out = folder / "b.npz"
    assert _embed(tiny_st, str(texts), "-o", str(out), *pooling, "--transform", str(state)) == 0
    return state, texts.read_text().splitlines(), np.load(out)


def test_served_stages_give_embed_transform_vectors(tiny_st, fitted):
    state, texts, expected = fitted
    served = load_served_model(tiny_st, ["mean", *FITTED, *FREE], served_name="t", transform=state)
    pooled = Encoder(tiny_st).encode(texts)  # the model's own mean + Normalize
    with running(create_app(served)) as port:
        client = openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="unused")

        def ask(spec: str, encoding: str = "float") -> np.ndarray:
            reply = client.embeddings.create(
                input=texts, model=f"t:{spec}", encoding_format=encoding
            )
            if encoding == "base64":
                return np.array(
                    [np.frombuffer(base64.b64decode(d.embedding), "<f4") for d in reply.data]
                )
            return np.array([d.embedding for d in reply.data])

        np.testing.assert_allclose(ask(FITTED[0]), expected[FITTED[0]], atol=1e-5)
        np.testing.assert_array_equal(ask(FITTED[1]), expected[FITTED[1]])  # int8 as numbers
        np.testing.assert_array_equal(ask(FITTED[1], "base64"), expected[FITTED[1]])
        cut = pooled[:, :8] / np.linalg.norm(pooled[:, :8], axis=1, keepdims=True)
        np.testing.assert_allclose(ask(FREE[0]), cut, atol=1e-6)
        bits = np.packbits(pooled > 0, axis=-1).astype(np.int16) - 128
        np.testing.assert_array_equal(ask(FREE[1]), bits)
        status, _, body = post(port, "/embed", {"inputs": texts, "model": f"t:{FITTED[1]}"})
        assert status == 200 and np.array_equal(body, expected[FITTED[1]])
        refused = {"inputs": texts, "model": f"t:{FITTED[0]}", "normalize": True}
        status, _, body = post(port, "/embed", refused)
        assert status == 400 and "'| normalize'" in body["error"]
        status, _, body = post(
            port, "/v1/embeddings", {"input": "great", "model": f"t:{FITTED[1]}", "dimensions": 4}
        )
        assert status == 400 and "int8 values" in body["error"]["message"]
        models = {m["spec"]: m for m in request(port, "GET", "/v1/models")[2]["data"]}
        assert models[FITTED[1]]["dtype"] == "int8" and models[FREE[1]]["width"] == 4
        assert "stages fitted on" in models[FITTED[0]]["pooling_source"]


def test_fitted_stages_need_their_state_and_the_right_one(tiny_st, tiny_dir, fitted, capsys):
    state, _, _ = fitted
    with pytest.raises(ValueError, match=r"whiten\(8\) must be fitted first; give `transform`"):
        load_served_model(tiny_st, ["mean | whiten(8)"])
    with pytest.raises(ValueError, match=r"holds fitted stages for .*not for cls \| whiten\(8\)"):
        load_served_model(tiny_st, ["cls | whiten(8)"], transform=state)
    # the same checkpoint without the folder's Normalize: another model and normalisation
    with pytest.raises(ValueError, match="fitted with model"):
        load_served_model(tiny_dir("bert"), ["mean | whiten(8)"], transform=state)
    assert main(["serve", str(tiny_st), "--pooling", "mean | int8"]) == 2
    err = capsys.readouterr().err
    assert (
        "--pooling mean | int8: int8 must be fitted first; give --transform (" in err
        and len(err.strip().splitlines()) == 1
    )
    assert main(["serve", str(tiny_st), "--pooling", "mean | int8", "--transform", "no.st"]) == 2
    assert (
        capsys.readouterr().err.strip()
        == "hiddenpool serve: error: --transform no.st: no such file"
    )
