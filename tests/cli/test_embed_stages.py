"""``embed --fit / --fit-self / --transform``: stages fitted by streaming, saved, reused; bad
input is one line, exit 2, nothing written."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from sentence_transformers.util.quantization import quantize_embeddings

from hiddenpool.cli.main import main
from hiddenpool.postprocess import fit_stages
from hiddenpool.postprocess.state import load_state
from tiny_models import WORDS

pytestmark = pytest.mark.usefixtures("one_thread")


def _write(path: Path, rows: int, seed: int) -> Path:
    rng = np.random.default_rng(seed)
    path.write_text("\n".join(" ".join(rng.choice(WORDS, size=3 + i % 9)) for i in range(rows)))
    return path


@pytest.fixture
def files(tmp_path):
    return _write(tmp_path / "in.txt", 90, 0), _write(tmp_path / "fit.txt", 70, 1)


def _embed(model: str, *args: str) -> int:
    return main(["embed", *args, "--model", model, "--quiet"])


def test_fit_self_streams_and_matches_numpy_and_sentence_transformers(tiny_dir, files, tmp_path):
    model, (texts, _) = str(tiny_dir("bert")), files
    out = tmp_path / "v.npz"
    specs = ["mean", "mean | whiten(16)", "mean | int8"]
    pooling = [a for spec in specs for a in ("--pooling", spec)]
    assert (
        _embed(model, str(texts), "-o", str(out), *pooling, "--fit-self", "--chunk-size", "7") == 0
    )
    got = np.load(out)
    mean = got["mean"]
    whitened = fit_stages("mean | whiten(16)", mean, mean.shape[1]).transform(mean)
    np.testing.assert_allclose(got["mean | whiten(16)"], whitened, atol=1e-4)
    expected = quantize_embeddings(mean, "int8", calibration_embeddings=mean)
    np.testing.assert_array_equal(got["mean | int8"], expected)
    state = tmp_path / "v.stages.safetensors"
    assert load_state(state).fitted["mean | whiten(16)"].rows == 90
    before = state.stat().st_mtime_ns
    out.unlink()  # a rerun (as when resuming) reuses the fitted state instead of fitting again
    assert _embed(model, str(texts), "-o", str(out), *pooling, "--fit-self") == 0
    assert state.stat().st_mtime_ns == before


def test_fit_then_transform_reuses_the_state(tiny_dir, files, tmp_path):
    model, (texts, fitting) = str(tiny_dir("bert")), files
    first = tmp_path / "a.npy"
    args = ["--pooling", "cls | pca(8) | normalize"]
    assert _embed(model, str(fitting), "-o", str(first), *args, "--fit", str(fitting)) == 0
    second = tmp_path / "b.parquet"
    state = tmp_path / "a.stages.safetensors"
    assert _embed(model, str(texts), "-o", str(second), *args, "--transform", str(state)) == 0
    raw = tmp_path / "raw.npy"
    assert _embed(model, str(texts), "-o", str(raw), "--pooling", "cls") == 0
    import pyarrow.parquet as pq

    column = pq.read_table(second).column("cls | pca(8) | normalize").to_pylist()
    fitted = load_state(state).fitted["cls | pca(8) | normalize"]
    np.testing.assert_allclose(np.array(column), fitted.transform(np.load(raw)), atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(np.load(first), axis=1), 1, rtol=1e-5)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--pooling", "mean | whiten(8)"], "has stages to fit: add --fit FILE, --fit-self"),
        (["--pooling", "mean", "--fit-self"], "apply to stages: add one to a --pooling spec"),
        (["--pooling", "mean | whiten(999)", "--fit-self"], "whiten(999) keeps 999 dimensions"),
        (["--pooling", "mean | whiten(24)", "--fit", "SMALL"], "needs more than 24 fitting texts"),
        (["--pooling", "whiten(8) | mean", "--fit-self"], "whiten is a stage: it comes after"),
        (["--pooling", "mean | pca(4)", "--transform", "nope.st"], "--transform nope.st: no such"),
        (["--pooling", "mean | int8", "--fit-self", "--engine", "ray"], "drop --engine ray"),
    ],
)
def test_bad_fitting_is_one_line_exit_2_nothing_written(
    tiny_dir, files, tmp_path, capsys, args, message
):
    texts, _ = files
    small = _write(tmp_path / "small.txt", 20, 2)
    args = [str(small) if a == "SMALL" else a for a in args]
    before = set(tmp_path.iterdir())
    code = _embed(str(tiny_dir("bert")), str(texts), "-o", str(tmp_path / "o.npy"), *args)
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert len(err) == 1 and message in err[0], err
    assert set(tmp_path.iterdir()) == before


def test_a_state_from_another_model_or_strategy_is_refused(tiny_dir, files, tmp_path, capsys):
    texts, fitting = files
    out = tmp_path / "a.npy"
    spec = ["--pooling", "mean | center"]
    assert _embed(str(tiny_dir("bert")), str(fitting), "-o", str(out), *spec, "--fit-self") == 0
    state = str(tmp_path / "a.stages.safetensors")
    target = tmp_path / "b.npy"
    other = str(tiny_dir("roberta"))
    assert _embed(other, str(texts), "-o", str(target), *spec, "--transform", state) == 2
    assert "was fitted with model" in capsys.readouterr().err
    spec = ["--pooling", "cls | center"]
    assert (
        _embed(str(tiny_dir("bert")), str(texts), "-o", str(target), *spec, "--transform", state)
        == 2
    )
    assert "not for cls | center" in capsys.readouterr().err
    assert not target.exists()
