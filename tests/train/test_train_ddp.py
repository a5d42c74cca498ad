"""``torchrun -m hiddenpool train``: two gloo processes on a CPU are one DDP run (a process group of
two, each process half of every step's batch, evaluation gathered over both) that predicts what one
process predicts: every row once, out of fold, each prediction within PREDICTION_TOLERANCE and the
RMSE within 0.003; rank 0 alone writes and reports.

Two bugs this catches, both seen: with ``--device auto`` on a CPU the Trainer started no process
group, so each process trained the whole run alone and both wrote the same files at once (a race
that failed CI); and processes that shard the data without a process group train on half the rows
each, their predictions far from one process's."""

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
# the two runs see each step's rows in other shuffles (the distributed sampler's and the single
# process's): 0.04 apart at most here, measured; a run that lost rows or steps is further off
PREDICTION_TOLERANCE = 0.1


def _train(data: Path, model: Path, out: Path, processes: int) -> str:
    launcher = [sys.executable, "-m", "hiddenpool"]
    if processes > 1:
        launcher = [
            sys.executable, "-m", "torch.distributed.run", "--standalone",
            f"--nproc_per_node={processes}", "-m", "hiddenpool",
        ]  # fmt: skip
    argv = [
        *launcher, "train", str(data), "--task", "regression", "--label-column", "score",
        "--model", str(model), "--pooling", "mean", "--folds", "2", "--epochs", "2",
        "--batch-size", "16", "--lr", "1e-3", "--out", str(out), "--quiet", "--keep-checkpoints",
    ]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


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
    reports = {"one": _train(path, model, tmp_path / "one", 1)}
    reports["two"] = _train(path, model, tmp_path / "two", 2)
    assert reports["two"].count("out-of-fold") == 1  # rank 0 alone reports
    for fold in ("fold0", "fold1"):
        kept = (tmp_path / "two" / fold / "checkpoints").glob("checkpoint-*")
        checkpoint = max(kept, key=lambda path: int(path.name.removeprefix("checkpoint-")))
        state = json.loads((checkpoint / "trainer_state.json").read_text())
        assert state["train_batch_size"] == 8  # half of each step's 16 texts per process
        ranks = sorted(p.name for p in checkpoint.glob("rng_state*.pth"))
        assert ranks == ["rng_state_0.pth", "rng_state_1.pth"]  # a process group of two
        best = [e for e in state["log_history"] if e.get("step") == state["best_global_step"]]
        final = json.loads((tmp_path / "two" / fold / "fold_result.json").read_text())
        evaluated = [e["eval_rmse"] for e in best if "eval_rmse" in e]
        # the Trainer's evaluation saw every validation row (gathered), not one rank's share
        assert evaluated == [pytest.approx(final["metrics"]["rmse"], abs=1e-4)]
    results, oofs = {}, {}
    for name in ("one", "two"):
        row, truth, predicted = _oof(tmp_path / name)
        assert sorted(row.tolist()) == list(range(ROWS))  # every row once, out of fold
        assert np.isfinite(predicted).all()
        np.testing.assert_array_equal(truth[np.argsort(row)], data.labels.ravel())
        rmse = float(np.sqrt(np.mean((predicted - truth) ** 2)))  # recomputed, not read
        reported = json.loads((tmp_path / name / "metrics.json").read_text())["overall"]["rmse"]
        assert rmse == pytest.approx(reported, rel=1e-6)
        results[name] = rmse
        oofs[name] = predicted[np.argsort(row)]
    assert abs(results["one"] - results["two"]) <= RMSE_TOLERANCE, results
    gap = np.abs(oofs["one"] - oofs["two"]).max()
    assert gap <= PREDICTION_TOLERANCE, gap
    assert sorted(p.name for p in (tmp_path / "two").iterdir()) == sorted(
        p.name for p in (tmp_path / "one").iterdir()
    )
