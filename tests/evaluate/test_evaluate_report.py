"""Reports: report.md, results.json, the PNGs, the terminal table, lazy matplotlib."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from hiddenpool.evaluate import CompareResult, evaluate_features, format_table, make_folds
from hiddenpool.evaluate.plots import layer_families

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@dataclass(frozen=True)
class Labels:
    labels: np.ndarray
    task: str


def _layered_result(default: str | None = "mean@1") -> CompareResult:
    rng = np.random.default_rng(0)
    n = 120
    y = rng.normal(size=n)
    features = {
        f"mean@{layer}": np.c_[y + (2.0 - 0.25 * layer) * rng.normal(size=n), rng.normal(size=n)]
        for layer in range(7)
    }
    features["mean@-1"] = features["mean@6"] + 0.01 * rng.normal(size=(n, 2))
    features["cls@0"] = rng.normal(size=(n, 2))
    features["cls@6"] = np.c_[y + rng.normal(size=n), rng.normal(size=n)]
    folds = make_folds(n, 5, seed=0)
    return evaluate_features(features, Labels(y, "regression"), folds, default_strategy=default)


def test_write_report_outputs(tmp_path: Path) -> None:
    result = _layered_result()
    written = write_report_checked(result, tmp_path / "out")
    assert set(written) == {"report", "results", "ranking", "layers"}
    for key in ("ranking", "layers"):
        assert written[key].read_bytes()[:8] == PNG_MAGIC
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "layers.png",
        "ranking.png",
        "report.md",
        "results.json",
    ]  # no temp files left behind

    payload = json.loads(written["results"].read_text())
    assert payload["model"] == "tiny-model" and payload["dataset"] == "toy"
    assert payload["best"] == result.best.name
    assert payload["default_strategy"] == "mean@1"
    assert payload["winner_vs_default"]["b"] == "mean@1"
    assert len(payload["strategies"]) == 10 and payload["ensemble"]["members"]

    report = written["report"].read_text()
    assert report.startswith("# Pooling strategies: tiny-model on toy")
    assert f"**`{result.best.name}`**" in report
    assert "Versus the default `mean@1`" in report
    assert "fold noise" in report and "## Ensemble" in report
    assert report.count("| `") == 10  # one table row per strategy
    assert "`mean@1` (default)" in report
    assert "![ranking](ranking.png)" in report and "![layers](layers.png)" in report


def write_report_checked(result: CompareResult, out: Path) -> dict[str, Path]:
    from hiddenpool.evaluate import write_report

    return write_report(result, out, model_name="tiny-model", dataset_name="toy")


def test_report_says_when_default_wins(tmp_path: Path) -> None:
    result = _layered_result()
    best = result.best.name
    written = write_report_checked(result, tmp_path)
    assert "Versus the default" in written["report"].read_text()
    from hiddenpool.evaluate import write_report

    again = write_report(result, tmp_path, default_strategy=best)
    assert f"The default strategy `{best}` is the winner." in again["report"].read_text()


def test_layers_plot_only_with_layer_names(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    n = 60
    y = rng.normal(size=n)
    features = {"mean": np.c_[y, rng.normal(size=n)], "cls": rng.normal(size=(n, 2))}
    result = evaluate_features(features, Labels(y, "regression"), make_folds(n, 3, seed=0))
    written = write_report_checked(result, tmp_path)
    assert "layers" not in written and not (tmp_path / "layers.png").exists()


def test_layer_families_use_forward_indices() -> None:
    families = layer_families(_layered_result())
    assert list(families) == ["mean", "cls"]
    assert [layer for layer, _ in families["mean"]] == list(range(7))  # mean@-1 left out
    assert [layer for layer, _ in families["cls"]] == [0, 6]


def test_write_report_rejects_unknown_default(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"unknown strategy 'max@-1'; expected one of mean@0"):
        from hiddenpool.evaluate import write_report

        write_report(_layered_result(), tmp_path, default_strategy="max@-1")


def test_format_table_is_aligned_and_ranked() -> None:
    result = _layered_result()
    table = format_table(result)
    lines = table.splitlines()
    assert lines[0].split()[:3] == ["#", "strategy", "spearman"]
    assert lines[2].split()[:2] == ["1", result.best.name]
    assert any("mean@1 *" in line for line in lines)
    assert any(line.split()[1:3] == ["ensemble", "(top-k)"] for line in lines)
    assert len({line.index("[") for line in lines[2:] if "[" in line}) == 1  # aligned CI column


def test_importing_evaluate_does_not_import_matplotlib() -> None:
    code = "import sys, hiddenpool.evaluate; print('matplotlib' in sys.modules)"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    )
    assert out.stdout.strip() == "False"
