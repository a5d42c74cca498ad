"""CompareResult.from_dict: a results.json read back ranks, compares and saves as the original."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass

import numpy as np
import pytest
from scipy import stats

from hiddenpool.evaluate import (
    CompareResult,
    StrategyResult,
    evaluate_features,
    make_folds,
    write_report,
)
from hiddenpool.evaluate.stats import MetricSummary


@dataclass(frozen=True)
class Labels:
    labels: np.ndarray
    task: str


def _classification() -> CompareResult:
    rng = np.random.default_rng(0)
    n = 160
    y = rng.integers(0, 3, n)
    features = {
        "mean": np.c_[y + 0.8 * rng.normal(size=n), rng.normal(size=(n, 3))],
        "cls": np.c_[y + 2.0 * rng.normal(size=n), rng.normal(size=(n, 3))],
        "max": rng.normal(size=(n, 4)),
    }
    folds = make_folds(n, 5, seed=0)
    return evaluate_features(features, Labels(y, "classification"), folds, default_strategy="cls")


def _paired_over_queries() -> CompareResult:
    """A retrieval-shaped result: one unit per query, a row count, a baseline, a NaN std."""
    rng = np.random.default_rng(1)
    base = rng.uniform(0.2, 0.8, 40)

    def strategy(name: str, scores: np.ndarray) -> StrategyResult:
        summary = {"ndcg@10": MetricSummary.from_folds(scores.tolist())}
        return StrategyResult(name, 8, summary, np.empty(0), "", (), False, 0.5)

    one = {"ndcg@10": MetricSummary.from_folds([0.3])}  # one value: std and interval are NaN
    return CompareResult(
        "retrieval", "ndcg@10", True, ("ndcg@10",),
        (strategy("cls", base), strategy("mean", base + rng.normal(0.05, 0.02, 40))),
        None, np.arange(40), default_strategy="cls", unit="query", rows=40,
        baselines=(StrategyResult("bm25", 0, one, np.empty(0), "", (), False, 0.1),),
    )  # fmt: skip


def _json(data: dict) -> dict:
    return json.loads(json.dumps(data, allow_nan=False))  # what a file holds


@pytest.mark.parametrize("make", [_classification, _paired_over_queries])
def test_round_trip_keeps_ranking_intervals_and_dict(make) -> None:
    result = make()
    again = CompareResult.from_dict(_json(result.to_dict()))
    assert [s.name for s in again.ranked()] == [s.name for s in result.ranked()]
    assert again.best.name == result.best.name
    assert (again.n_rows, again.n_folds, again.unit) == (result.n_rows, result.n_folds, result.unit)
    assert again.default_strategy == result.default_strategy
    assert [b.name for b in again.baselines] == [b.name for b in result.baselines]
    names = [s.name for s in result.strategies]
    for a in names:
        for b in names:
            if a != b:
                assert again.compare(a, b) == result.compare(a, b)
    assert again.to_dict() == _json(result.to_dict())
    assert all(s.oof.size == 0 for s in again.strategies)  # not in the dict: empty


def test_read_back_interval_is_scipys_paired_t_interval_of_the_saved_folds(tmp_path) -> None:
    result = _classification()
    written = write_report(result, tmp_path / "report", model_name="m", dataset_name="d")
    saved = json.loads(written["results"].read_text())
    again = CompareResult.from_dict(saved)
    rows = {s["name"]: s for s in saved["strategies"]}
    a = np.asarray(rows["mean"]["metrics"]["accuracy"]["folds"])
    b = np.asarray(rows["cls"]["metrics"]["accuracy"]["folds"])
    reference = stats.ttest_rel(a, b).confidence_interval(0.95)
    diff = again.compare("mean", "cls")
    assert diff.mean == pytest.approx(float(np.mean(a - b)), abs=1e-12)
    assert (diff.ci_low, diff.ci_high) == pytest.approx((reference.low, reference.high), abs=1e-9)
    assert again.winner_vs_default().to_dict() == saved["winner_vs_default"]  # type: ignore[union-attr]
    assert again.ensemble is not None and again.ensemble.to_dict() == saved["ensemble"]


def test_predictions_come_back_when_they_were_saved() -> None:
    result = _classification()
    again = CompareResult.from_dict(_json(result.to_dict(include_predictions=True)))
    np.testing.assert_array_equal(again.fold_ids, result.fold_ids)
    for name in ("mean", "cls", "max"):
        np.testing.assert_allclose(again.get(name).oof, result.get(name).oof)
    assert again.to_dict(include_predictions=True) == _json(result.to_dict(True))


def test_nan_comes_back_as_nan_and_the_stored_mean_is_kept() -> None:
    one = MetricSummary.from_dict(MetricSummary.from_folds([0.25]).to_dict())
    assert one.mean == 0.25 and math.isnan(one.std) and math.isnan(one.ci_low)
    # zero-shot similarity stores the Spearman of all pairs, not the mean of the folds
    stored = {"mean": 0.9, "std": 0.1, "ci95": [0.8, 1.0], "folds": [0.5, 0.7]}
    assert MetricSummary.from_dict(stored).mean == 0.9


def test_files_from_before_unit_and_baselines_read_as_folds() -> None:
    data = _json(_classification().to_dict())
    del data["unit"], data["baselines"]
    again = CompareResult.from_dict(data)
    assert again.unit == "fold" and again.baselines == ()


def test_a_dict_that_is_not_a_result_is_one_clear_error() -> None:
    with pytest.raises(ValueError, match="missing n_folds, strategies"):
        CompareResult.from_dict({"task": "x", "primary_metric": "accuracy",
                                 "higher_is_better": True, "metrics": [], "n_rows": 3})  # fmt: skip
