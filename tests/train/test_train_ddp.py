"""``torchrun -m hiddenpool train``: two gloo processes on a CPU give the out-of-fold predictions of
one process (every row predicted once, the RMSE within 0.003), and rank 0 alone writes."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from train_helpers import synthetic

from tiny_models import build_tiny

ROWS = 200
RMSE_TOLERANCE = 0.003  # the issue's: what one process and two agree to, tried as a user would


def _train(data: Path, model: Path, out: Path, processes: int) -> None:
    launcher = [sys.executable, "-m", "hiddenpool"]
    if processes > 1:
        launcher = [
            sys.executable, "-m", "torch.distributed.run", "--standalone",
            f"--nproc_per_node={processes}", "-m", "hiddenpool",
        ]  # fmt: skip
    argv = [
        *launcher, "train", str(data), "--task", "regression", "--label-column", "score",
        "--model", str(model), "--pooling", "mean", "--folds", "2", "--epochs", "2",
        "--batch-size", "16", "--out", str(out), "--quiet",
    ]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]


def _oof(out: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    with (out / "oof.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    row = np.array([int(r["row"]) for r in rows])
    truth = np.array([float(r["true_score"]) for r in rows])
    predicted = np.array([float(r["pred_score"]) for r in rows])
    return row, truth, predicted


@pytest.mark.slow
def test_two_gloo_processes_predict_every_row_once_with_the_rmse_of_one(tmp_path) -> None:
    data = synthetic(ROWS)
    path = tmp_path / "data.csv"
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "score"])
        writer.writerows(zip(data.texts, data.labels.ravel(), strict=True))
    model = build_tiny("bert", tmp_path / "bert")
    _train(path, model, tmp_path / "one", 1)
    _train(path, model, tmp_path / "two", 2)
    results = {}
    for name in ("one", "two"):
        row, truth, predicted = _oof(tmp_path / name)
        assert sorted(row.tolist()) == list(range(ROWS))  # every row once, out of fold
        assert np.isfinite(predicted).all()
        np.testing.assert_array_equal(truth[np.argsort(row)], data.labels.ravel())
        rmse = float(np.sqrt(np.mean((predicted - truth) ** 2)))  # recomputed, not read
        reported = json.loads((tmp_path / name / "metrics.json").read_text())["overall"]["rmse"]
        assert rmse == pytest.approx(reported, rel=1e-6)
        results[name] = rmse
    assert abs(results["one"] - results["two"]) <= RMSE_TOLERANCE, results
    assert sorted(p.name for p in (tmp_path / "two").iterdir()) == sorted(
        p.name for p in (tmp_path / "one").iterdir()
    )
