"""evaluate_features: metrics vs naive loops, ranking, similarity, ensemble leakage, errors."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
from scipy.stats import spearmanr
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.metrics import accuracy_score
from sklearn.preprocessing import StandardScaler

import hiddenpool.evaluate.compare as compare_module
from hiddenpool.data import LabelledData
from hiddenpool.evaluate import CompareResult, evaluate_features, make_folds, mcrmse
from hiddenpool.evaluate.compare import Features


@dataclass(frozen=True)
class Labels:
    labels: np.ndarray
    task: str


def _regression(n: int = 150, seed: int = 0) -> tuple[dict[str, np.ndarray], np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.normal(size=n)
    features = {
        "signal": np.c_[y + 0.3 * rng.normal(size=n), rng.normal(size=(n, 7))],
        "weak": np.c_[y + 1.5 * rng.normal(size=n), rng.normal(size=(n, 7))],
        "noise": rng.normal(size=(n, 8)).astype(np.float32),
    }
    return features, y


def test_regression_matches_naive_sklearn_loop() -> None:
    features, y = _regression()
    folds = make_folds(len(y), 5, seed=0)
    result = evaluate_features(features, Labels(y, "regression"), folds)
    for name, x in features.items():
        strategy = result.get(name)
        for number, (train, test) in enumerate(folds):
            (alpha,) = strategy.params[number]
            scaler = StandardScaler().fit(x[train])
            model = Ridge(alpha=alpha).fit(scaler.transform(x[train]), y[train])
            pred = model.predict(scaler.transform(x[test]))
            np.testing.assert_allclose(strategy.oof[test], pred, atol=1e-6)
            rho = spearmanr(y[test], pred).statistic
            assert strategy.metrics["spearman"].folds[number] == pytest.approx(rho, abs=1e-6)
            rmse = np.sqrt(np.mean((y[test] - pred) ** 2))
            assert strategy.metrics["rmse"].folds[number] == pytest.approx(rmse, rel=1e-6)
        spearmans = strategy.metrics["spearman"].folds
        assert strategy.metrics["spearman"].mean == pytest.approx(np.mean(spearmans))
        assert strategy.metrics["spearman"].std == pytest.approx(np.std(spearmans, ddof=1))
    assert [s.name for s in result.ranked()] == ["signal", "weak", "noise"]
    assert result.best.name == "signal"


def test_multi_target_uses_mcrmse() -> None:
    rng = np.random.default_rng(4)
    n = 120
    y = rng.normal(size=(n, 3))
    features = {
        "good": y @ rng.normal(size=(3, 6)) + 0.2 * rng.normal(size=(n, 6)),
        "bad": rng.normal(size=(n, 6)),
    }
    folds = make_folds(n, 4, seed=1)
    result = evaluate_features(features, Labels(y, "regression"), folds)
    assert result.primary_metric == "mcrmse" and not result.higher_is_better
    good = result.get("good")
    for number, (_, test) in enumerate(folds):
        expected = mcrmse(y[test], good.oof[test])
        assert good.metrics["mcrmse"].folds[number] == pytest.approx(expected)
    assert good.oof.shape == (n, 3) and all(len(p) == 3 for p in good.params)
    assert result.best.name == "good"  # lower MCRMSE ranks first


def test_folds_are_shared_by_every_strategy() -> None:
    features, y = _regression(n=80)
    folds = make_folds(80, 4, seed=3)
    result = evaluate_features(features, Labels(y, "regression"), folds)
    for number, (_, test) in enumerate(folds):
        assert np.all(result.fold_ids[test] == number)
    again = evaluate_features(features, Labels(y, "regression"), make_folds(80, 4, seed=3))
    for first, second in zip(result.strategies, again.strategies, strict=True):
        assert first.metrics == second.metrics  # same folds, same scores, fold by fold
        np.testing.assert_array_equal(first.oof, second.oof)


def test_classification_matches_naive_logistic_and_ranks_signal_first() -> None:
    rng = np.random.default_rng(5)
    n = 180
    labels = rng.choice(["cat", "dog", "eel"], size=n)
    codes = np.searchsorted(["cat", "dog", "eel"], labels)
    onehot = np.eye(3)[codes]
    features = {
        "noise": rng.normal(size=(n, 6)),
        "signal": np.c_[onehot + 0.6 * rng.normal(size=(n, 3)), rng.normal(size=(n, 3))],
    }
    data = LabelledData(
        texts=["t"] * n, labels=labels, label_names=("animal",), task="classification", name="x"
    )
    folds = make_folds(n, 3, seed=0, labels=labels, task="classification")
    result = evaluate_features(features, data, folds, default_strategy="noise")
    assert result.classes == ("cat", "dog", "eel")
    assert result.best.name == "signal"
    signal = result.get("signal")
    assert signal.oof.shape == (n, 3)
    for number, (train, test) in enumerate(folds):
        (c,) = signal.params[number]
        scaler = StandardScaler().fit(features["signal"][train])
        naive = LogisticRegression(C=c, max_iter=5000, tol=1e-8).fit(
            scaler.transform(features["signal"][train]), codes[train]
        )
        proba = naive.predict_proba(scaler.transform(features["signal"][test]))
        np.testing.assert_allclose(signal.oof[test], proba, atol=5e-3)
        accuracy = accuracy_score(codes[test], proba.argmax(axis=1))
        assert signal.metrics["accuracy"].folds[number] == pytest.approx(accuracy, abs=0.02)
    versus = result.winner_vs_default()
    assert versus is not None and versus.a == "signal" and versus.b == "noise"
    assert versus.a_is_better and versus.exceeds_noise


def test_similarity_spearman_equals_scipy_on_cosine() -> None:
    rng = np.random.default_rng(6)
    n = 90
    gold = rng.uniform(0, 5, size=n)
    a = rng.normal(size=(n, 8))
    b_good = a + (5 - gold)[:, None] * 0.3 * rng.normal(size=(n, 8))
    b_bad = rng.normal(size=(n, 8))
    folds = make_folds(n, 3, seed=2, task="similarity")
    features: dict[str, Features] = {"good": (a, b_good), "stacked": np.vstack([a, b_bad])}
    result = evaluate_features(features, Labels(gold, "similarity"), folds)
    cosine = np.sum(a * b_good, axis=1) / (
        np.linalg.norm(a, axis=1) * np.linalg.norm(b_good, axis=1)
    )
    good = result.get("good")
    np.testing.assert_allclose(good.oof, cosine)
    for number, (_, test) in enumerate(folds):
        rho = spearmanr(cosine[test], gold[test]).statistic
        assert good.metrics["spearman"].folds[number] == pytest.approx(rho, abs=1e-12)
    assert good.metrics["spearman"].std > 0
    assert result.best.name == "good" and good.param_name == ""


def test_ensemble_never_sees_test_fold_labels(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(7)
    n = 200
    y = rng.normal(size=n)
    features = {
        f"s{i}": np.c_[y + s * rng.normal(size=n), rng.normal(size=(n, 5))]
        for i, s in enumerate([0.5, 0.6, 0.8, 1.0, 2.0, 4.0])
    }
    folds = make_folds(n, 5, seed=0)
    seen: list[np.ndarray] = []
    original = compare_module.choose_members

    def spy(
        inner: Mapping[str, np.ndarray], y_train: np.ndarray, *args: Any, **kwargs: Any
    ) -> tuple[str, ...]:
        seen.append(np.asarray(y_train).copy())
        return original(inner, y_train, *args, **kwargs)

    monkeypatch.setattr(compare_module, "choose_members", spy)
    base = evaluate_features(features, Labels(y, "regression"), folds)
    assert base.ensemble is not None
    for number, (train, _) in enumerate(folds):
        np.testing.assert_array_equal(seen[number], y[train])  # labels of training rows only

    for number, (_, test) in enumerate(folds):
        scrambled = y.copy()
        scrambled[test] = rng.permutation(scrambled[test])
        scrambled[test] += rng.normal(size=len(test))  # and change their values
        other = evaluate_features(features, Labels(scrambled, "regression"), folds)
        assert other.ensemble is not None
        assert other.ensemble.members[number] == base.ensemble.members[number]
        np.testing.assert_allclose(other.ensemble.oof[test], base.ensemble.oof[test])
    assert all(len(m) >= 1 for m in base.ensemble.members)
    # The ensemble's test predictions are the mean of the chosen members' predictions.
    first_test = folds[0][1]
    members = base.ensemble.members[0]
    expected = np.mean([base.get(m).oof[first_test] for m in members], axis=0)
    np.testing.assert_allclose(base.ensemble.oof[first_test], expected)


def test_result_serialises_and_ranks() -> None:
    features, y = _regression(n=60)
    result = evaluate_features(
        features, Labels(y, "regression"), make_folds(60, 3, seed=0), default_strategy="weak"
    )
    assert isinstance(result, CompareResult)
    payload = result.to_dict()
    assert payload["best"] == "signal" and payload["default_strategy"] == "weak"
    ranked = payload["strategies"]
    assert isinstance(ranked, list) and [s["rank"] for s in ranked] == [1, 2, 3]
    assert "oof" not in result.to_json()
    assert '"oof"' in result.to_json(include_predictions=True)
    assert result.ranked("rmse")[0].name == "signal"
    with pytest.raises(ValueError, match=r"unknown metric 'auc'; expected one of spearman, rmse"):
        result.ranked("auc")
    with pytest.raises(ValueError, match=r"unknown strategy 'max'; expected one of signal"):
        result.get("max")


def test_input_errors() -> None:
    features, y = _regression(n=40)
    data = Labels(y, "regression")
    folds = make_folds(40, 2, seed=0)
    with pytest.raises(ValueError, match=r"no features to evaluate"):
        evaluate_features({}, data, folds)
    with pytest.raises(ValueError, match=r"default strategy 'cls' is not among the features"):
        evaluate_features(features, data, folds, default_strategy="cls")
    with pytest.raises(ValueError, match=r"features 'short' have shape \(39, 8\); expected \(40"):
        evaluate_features({"short": features["noise"][:39]}, data, folds)
    broken = features["noise"].copy()
    broken[3, 2] = np.nan
    with pytest.raises(ValueError, match=r"features 'nan' contain NaN or infinite values"):
        evaluate_features({"nan": broken}, data, folds)
    with pytest.raises(ValueError, match=r"must cover each of the 40 rows exactly once"):
        evaluate_features(features, data, folds[:1] + folds[:1])
    with pytest.raises(ValueError, match=r"unknown task 'ranking'"):
        evaluate_features(features, Labels(y, "ranking"), folds)
    with pytest.raises(ValueError, match=r"alphas must be a non-empty list of positive numbers"):
        evaluate_features(features, data, folds, alphas=[])
    with pytest.raises(ValueError, match=r"are a pair; pairs are for similarity only"):
        evaluate_features({"p": (broken, broken)}, data, folds)
