"""Fitting stages: against Su et al.'s whitening in plain numpy, against sentence-transformers'
quantize_embeddings bit for bit, streaming equal to in-memory, clear refusals."""

from __future__ import annotations

import numpy as np
import pytest
from sentence_transformers.util.quantization import quantize_embeddings

from hiddenpool.postprocess import Moments, fit_stages
from hiddenpool.postprocess.state import StageState, load_state, save_state


@pytest.fixture
def vectors():
    rng = np.random.default_rng(0)
    mixing = np.eye(24) + 0.3 * rng.normal(size=(24, 24))
    x = rng.normal(size=(600, 24)) @ mixing + 5.0  # correlated, far from the origin
    return x.astype(np.float32)


def _su_whitening(x: np.ndarray, k: int) -> np.ndarray:
    """BERT-whitening as its paper's code computes it (np.cov, SVD, 1/sqrt(s))."""
    x = x.astype(np.float64)
    mu = x.mean(axis=0, keepdims=True)
    u, s, _ = np.linalg.svd(np.cov(x.T))
    return (x - mu) @ (u @ np.diag(1 / np.sqrt(s)))[:, :k]


def _same_up_to_sign(a: np.ndarray, b: np.ndarray) -> None:
    signs = np.sign(np.sum(a * b, axis=0))  # SVD columns are defined up to sign
    np.testing.assert_allclose(a, b * signs, atol=2e-5)


def test_whiten_matches_the_papers_code_and_whitens(vectors):
    fit, test = vectors[:400], vectors[400:]
    fitted = fit_stages("mean | whiten(10)", fit, 24)
    u, s, _ = np.linalg.svd(np.cov(fit.T.astype(np.float64)))
    expected = (test - fit.astype(np.float64).mean(axis=0)) @ (u @ np.diag(1 / np.sqrt(s)))[:, :10]
    _same_up_to_sign(fitted.transform(test), expected)
    on_fit = fitted.transform(fit).astype(np.float64)
    np.testing.assert_allclose(np.cov(on_fit.T), np.eye(10), atol=1e-4)
    np.testing.assert_allclose(on_fit.mean(axis=0), 0, atol=1e-4)


def test_whiten_of_all_dimensions_equals_the_papers_code(vectors):
    _same_up_to_sign(
        fit_stages("mean | whiten(24)", vectors, 24).transform(vectors),
        _su_whitening(vectors, 24),
    )


def test_pca_and_center_against_numpy(vectors):
    fitted = fit_stages("mean | pca(5)", vectors, 24).transform(vectors)
    centred = vectors.astype(np.float64) - vectors.mean(axis=0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)  # principal axes from the data's SVD
    _same_up_to_sign(fitted, centred @ vt[:5].T)
    np.testing.assert_allclose(
        fit_stages("mean | center", vectors, 24).transform(vectors), centred, atol=2e-5
    )


def test_truncate_normalize_keep_the_first_dimensions_then_unit_length(vectors):
    out = fit_stages("mean | truncate(7) | normalize", vectors, 24).transform(vectors)
    expected = vectors[:, :7] / np.linalg.norm(vectors[:, :7], axis=1, keepdims=True)
    np.testing.assert_allclose(out, expected, rtol=1e-6)


@pytest.mark.parametrize("precision", ["int8", "uint8", "binary", "ubinary"])
@pytest.mark.parametrize("before", ["", " | whiten(12)", " | truncate(9)"])
def test_quantisation_is_sentence_transformers_bit_for_bit(vectors, precision, before):
    fit, test = vectors[:400], vectors[400:]
    fitted = fit_stages(f"mean{before} | {precision}", fit, 24)
    float_stages = fit_stages(f"mean{before}", fit, 24) if before else None
    # sentence-transformers given the same calibration: the fitting vectors, processed alike
    calibration = float_stages.transform(fit) if float_stages else fit
    floats = float_stages.transform(test) if float_stages else test
    expected = quantize_embeddings(floats, precision, calibration_embeddings=calibration)
    got = fitted.transform(test)
    assert got.dtype == expected.dtype
    np.testing.assert_array_equal(got, expected)


def test_binary_features_are_the_signs(vectors):
    fitted = fit_stages("mean | truncate(13) | binary", vectors, 24)
    np.testing.assert_array_equal(
        fitted.features(vectors), np.where(vectors[:, :13] > 0, 1.0, -1.0)
    )


def test_streamed_fitting_equals_fitting_in_memory(vectors):
    def chunks():
        return (vectors[i : i + 64] for i in range(0, len(vectors), 64))

    for spec in ("mean | whiten(8) | int8", "mean | pca(6)", "mean | center | uint8"):
        whole = fit_stages(spec, vectors, 24).transform(vectors)
        streamed = fit_stages(spec, chunks, 24)
        assert streamed.rows == len(vectors)
        np.testing.assert_allclose(streamed.transform(vectors), whole, atol=1e-5)


def test_moments_accumulate_like_numpy(vectors):
    moments = Moments()
    for start in range(0, len(vectors), 100):
        moments.add(vectors[start : start + 100])
    np.testing.assert_allclose(moments.mean, vectors.astype(np.float64).mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(moments.covariance, np.cov(vectors.T.astype(np.float64)), rtol=1e-9)


def test_fewer_fitting_texts_than_k_is_refused(vectors):
    with pytest.raises(ValueError, match=r"whiten\(16\) needs more than 16 fitting texts.*got 10"):
        fit_stages("mean | whiten(16)", vectors[:10], 24)
    with pytest.raises(ValueError, match=r"whiten\(30\) keeps 30 dimensions .* have 24"):
        fit_stages("mean | whiten(30)", vectors, 24)


def test_whitening_more_directions_than_the_vectors_span_is_refused(vectors):
    flat = np.repeat(vectors[:, :3], 8, axis=1)  # rank 3 in 24 dimensions
    with pytest.raises(ValueError, match=r"span fewer than 5 directions \(rank 3\)"):
        fit_stages("mean | whiten(5)", flat, 24)


def test_state_round_trips_and_refuses_another_model(tmp_path, vectors):
    fitted = fit_stages("mean | whiten(8) | int8", vectors, 24, fitted_on="vectors")
    model = {"model": "tiny", "model_config": "abc", "normalize": False}
    path = save_state(StageState(model, {"mean | whiten(8) | int8": fitted}), tmp_path / "s.st")
    state = load_state(path)
    again = state.fitted["mean | whiten(8) | int8"]
    np.testing.assert_array_equal(again.transform(vectors), fitted.transform(vectors))
    assert again.fitted_on == "vectors" and again.rows == len(vectors)
    state.check(model, ["mean | whiten(8) | int8", "mean"], "s.st")
    with pytest.raises(ValueError, match="fitted with model 'tiny', this run has 'other'"):
        state.check({**model, "model": "other"}, ["mean | whiten(8) | int8"], "s.st")
    with pytest.raises(ValueError, match=r"not for cls \| int8"):
        state.check(model, ["cls | int8"], "s.st")
    with pytest.raises(ValueError, match="not a hiddenpool fitted state"):
        (tmp_path / "bad").write_bytes(b"junk")
        load_state(tmp_path / "bad")
