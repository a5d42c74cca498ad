"""Stages inside compare: fitted on each training fold only, scored like a hand-made pipeline;
similarity fits on the texts it is told to and says so."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest
from scipy.stats import spearmanr

import hiddenpool.evaluate.compare as evaluate_compare
from hiddenpool.data import LabelledData
from hiddenpool.evaluate import evaluate_features, make_folds
from hiddenpool.evaluate.metrics import score_predictions
from hiddenpool.evaluate.ridge import ridge_fold
from hiddenpool.evaluate.stages_report import stage_rows, stages_section
from hiddenpool.postprocess import fit_stages


@dataclass(frozen=True)
class Labels:
    labels: np.ndarray
    task: str


@pytest.fixture
def regression():
    rng = np.random.default_rng(0)
    x = (rng.normal(size=(160, 12)) @ rng.normal(size=(12, 12)) + 2).astype(np.float32)
    y = x[:, :3].sum(axis=1) + rng.normal(scale=0.5, size=160)
    return x, Labels(y, "regression")


def test_stages_are_fitted_on_the_training_rows_of_each_fold_only(regression, monkeypatch):
    x, data = regression
    folds = make_folds(len(x), k=4, seed=0)
    seen: list[np.ndarray] = []
    real = evaluate_compare.fit_stages

    def recording(strategy, vectors, width, **kwargs):
        seen.append(np.asarray(vectors).copy())
        return real(strategy, vectors, width, **kwargs)

    monkeypatch.setattr(evaluate_compare, "fit_stages", recording)
    evaluate_features({"v": x}, data, folds, stages={"v": "mean | whiten(6)"}, n_jobs=1)
    assert len(seen) == len(folds)
    for fitted_on, (train, _) in zip(seen, folds, strict=True):
        np.testing.assert_array_equal(fitted_on, x[train])


def test_a_staged_score_equals_whitening_by_hand_per_fold(regression):
    x, data = regression
    folds = make_folds(len(x), k=4, seed=0)
    result = evaluate_features(
        {"mean": x, "mean | whiten(6)": x},
        data,
        folds,
        stages={"mean | whiten(6)": "mean | whiten(6)"},
    )
    oof = np.zeros(len(x))
    for train, test in folds:
        fitted = fit_stages("mean | whiten(6)", x[train], 12)
        fit = ridge_fold(fitted.transform(x[train]), data.labels[train], fitted.transform(x[test]))
        oof[test] = fit.test_pred[:, 0]
    np.testing.assert_allclose(result.get("mean | whiten(6)").oof, oof, rtol=1e-6, atol=1e-9)
    assert result.get("mean | whiten(6)").dim == 6
    (row,) = stage_rows(result)
    assert row.base == "mean" and row.bytes_per_vector == 24 and row.base_bytes == 48
    higher = result.higher_is_better
    expected = row.score / row.base_score if higher else row.base_score / row.score
    assert row.retained == pytest.approx(expected)
    table = stages_section(result, ["fitted per fold"])
    assert "| `mean \\| whiten(6)` |" in table  # the spec's pipe does not split the cell
    assert f"{100 * row.retained:.1f}% | 24 (of 48) |" in table


def _whiten_by_hand(train: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """BERT-whitening fitted with numpy alone: the mean and the top-k covariance directions."""
    train = train.astype(np.float64)
    u, s, _ = np.linalg.svd(np.cov(train, rowvar=False))
    return train.mean(axis=0), u[:, :k] / np.sqrt(s[:k])


def _probe_texts(task: str) -> LabelledData:
    from tiny_models import WORDS

    rng = np.random.default_rng(3)
    texts = [" ".join(rng.choice(WORDS, size=3 + i % 7)) for i in range(60)]
    score = np.array([sum(w in ("good", "great", "fun", "love") for w in t.split()) for t in texts])
    score = score + np.array([len(t.split()) for t in texts]) / 4 + rng.normal(0, 0.3, 60)
    if task == "classification":
        labels = np.array(["low", "mid", "high"])[
            np.digitize(score, np.quantile(score, [1 / 3, 2 / 3]))
        ]
        return LabelledData(texts, labels, ("y",), "classification", "toy")
    return LabelledData(texts, score, ("y",), "regression", "toy")


@pytest.mark.parametrize("task", ["regression", "classification"])
def test_compare_fits_each_folds_stages_on_its_training_rows_only(tiny_backbone, task):
    # End to end through run_compare: a _stage_features (or anything between it and the probes)
    # that fitted the whitening on all rows, or on the test rows, scores differently.
    from hiddenpool import Encoder
    from hiddenpool.compare import run_compare
    from hiddenpool.evaluate.logistic import logistic_fold

    data = _probe_texts(task)
    encoder = Encoder(tiny_backbone("bert"), normalize=False)
    spec = "mean | whiten(8)"
    run = run_compare(data, encoder, ["mean", spec], folds=3, seed=5)
    pooled = encoder.encode_many(data.texts, ["mean"])["mean"].astype(np.float64)
    folds = make_folds(len(data.texts), k=3, seed=5, labels=data.labels, task=task)
    classes, y = np.unique(data.labels, return_inverse=True)
    expected = np.zeros_like(run.result.get(spec).oof)
    for train, test in folds:
        mean, projection = _whiten_by_hand(pooled[train], 8)
        x_train, x_test = (pooled[train] - mean) @ projection, (pooled[test] - mean) @ projection
        if task == "regression":
            expected[test] = ridge_fold(x_train, data.labels[train], x_test).test_pred[:, 0]
        else:
            expected[test] = logistic_fold(
                x_train, y[train], x_test, len(classes), seed=5
            ).test_proba
    got = run.result.get(spec)
    np.testing.assert_allclose(got.oof, expected, rtol=1e-5, atol=1e-6)
    truth = data.labels if task == "regression" else y
    primary = run.result.primary_metric
    by_hand = [score_predictions(task, truth[test], expected[test])[primary] for _, test in folds]
    np.testing.assert_allclose(got.metrics[primary].folds, by_hand, rtol=1e-6)
    # The reference can tell: whitening fitted on every row gives other predictions.
    mean, projection = _whiten_by_hand(pooled, 8)
    leaked = (pooled - mean) @ projection
    train, test = folds[0]
    if task == "regression":
        other = ridge_fold(leaked[train], data.labels[train], leaked[test]).test_pred[:, 0]
    else:
        other = logistic_fold(
            leaked[train], y[train], leaked[test], len(classes), seed=5
        ).test_proba
    assert np.abs(other - expected[test]).max() > 1e-3


def test_similarity_fits_stages_on_the_texts_given_and_the_run_says_so(tiny_backbone):
    from hiddenpool import Encoder
    from hiddenpool.compare import run_compare
    from hiddenpool.data import LabelledData
    from tiny_models import WORDS

    rng = np.random.default_rng(1)
    sentences = [" ".join(rng.choice(WORDS, size=4 + i % 5)) for i in range(80)]
    fitting = [" ".join(rng.choice(WORDS, size=3 + i % 6)) for i in range(60)]
    pairs = list(zip(sentences[:40], sentences[40:], strict=True))
    gold = rng.uniform(0, 5, size=40)
    data = LabelledData(sentences, gold, ("score",), "similarity", "toy", pairs=pairs)
    encoder = Encoder(tiny_backbone("bert"), normalize=False)
    spec = "mean | whiten(8)"
    run = run_compare(data, encoder, ["mean", spec], folds=2, fit_texts=fitting, fit_name="F")
    assert run.stages_note == "Stages were fitted on F, not on the pairs scored."
    pooled = encoder.encode_many(sentences + fitting, ["mean"])["mean"]
    whitened = fit_stages(spec, pooled[80:], pooled.shape[1]).transform(pooled[:80])
    a, b = whitened[:40].astype(np.float64), whitened[40:].astype(np.float64)
    cosine = np.sum(a * b, axis=1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)
    expected = spearmanr(cosine, gold).statistic
    assert run.result.get(spec).metrics["spearman"].mean == pytest.approx(expected, abs=1e-6)
    transductive = run_compare(data, encoder, [spec], folds=2)
    assert "fitted on all 80 sentences scored" in transductive.stages_note


def test_fit_split_is_for_similarity_and_never_the_split_scored():
    from hiddenpool.compare import fit_split_texts
    from hiddenpool.data import LabelledData

    probe = LabelledData(["a", "b"], np.array([0.0, 1.0]), ("y",), "regression", "toy")
    assert fit_split_texts(probe, "toy", None) == (None, "")
    with pytest.raises(ValueError, match="probes fit stages on each training fold"):
        fit_split_texts(probe, "toy", "train")
    pairs = LabelledData(
        ["a", "b", "c", "d"],
        np.array([1.0, 2.0]),
        ("score",),
        "similarity",
        "sts-b",
        pairs=[("a", "c"), ("b", "d")],
        splits=np.array(["test", "test"]),
    )
    with pytest.raises(ValueError, match="that is the split scored"):
        fit_split_texts(pairs, "sts-b", "test")
