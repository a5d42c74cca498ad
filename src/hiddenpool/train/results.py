"""A run folder: per-fold and overall results, the split record, out-of-fold predictions.

Layout of ``out``: with one fold, ``out`` is the model folder; with K folds, ``out/fold{k}`` are
the models and ``out/oof.csv`` the out-of-fold predictions. Both have ``metrics.json``,
``train_config.json`` and ``folds.json`` (the split, so ``--resume`` continues on the same rows).
Only rank 0 writes when torchrun starts several processes.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from hiddenpool.io import TableWriter
from hiddenpool.train.config import CONFIG_NAME, TrainConfig
from hiddenpool.train.data import TrainingData

__all__ = [
    "FoldResult",
    "TrainResult",
    "finished_fold",
    "is_main_process",
    "prepare_out",
    "write_oof",
]


@dataclass(frozen=True)
class FoldResult:
    """One fold: its validation metrics, where its model is, and how fast it trained."""

    fold: int
    metrics: dict[str, float]
    model_dir: str
    train_rows: int
    valid_rows: int
    seconds: float
    train_samples_per_second: float
    steps: int = 0  # optimiser steps taken (fewer than planned when early stopping fired)


@dataclass(frozen=True)
class TrainResult:
    """A finished run.

    Attributes:
        out: the output folder.
        metric: the metric that picked checkpoints (and that ``overall`` leads with).
        folds: per-fold results.
        overall: metrics of all out-of-fold predictions together (K folds), or of the held-out
            split (one fold); empty without a validation set.
        oof: (n, K) out-of-fold predictions (NaN for rows never validated), or None.
        labels: output names.
    """

    out: Path
    task: str
    metric: str
    folds: tuple[FoldResult, ...]
    overall: dict[str, float]
    oof: np.ndarray | None
    labels: tuple[str, ...]

    @property
    def model_dirs(self) -> list[Path]:
        return [Path(f.model_dir) for f in self.folds]

    def summary(self) -> str:
        lines = []
        for f in self.folds:
            shown = "  ".join(f"{k} {v:.4f}" for k, v in f.metrics.items()) or "no validation set"
            lines.append(
                f"fold {f.fold}: {shown}  ({f.train_rows} train / {f.valid_rows} valid rows, "
                f"{f.steps} steps, {f.seconds:.0f} s, {f.train_samples_per_second:.1f} samples/s)"
            )
        if self.overall:
            what = "out-of-fold" if len(self.folds) > 1 else "held-out"
            shown = "  ".join(f"{k} {v:.4f}" for k, v in self.overall.items())
            lines.append(f"{what} ({self.task}): {shown}")
            if len(self.folds) > 1:
                values = [f.metrics[self.metric] for f in self.folds]
                spread = np.std(values, ddof=1)
                lines.append(f"{self.metric} per fold: mean {np.mean(values):.4f} +- {spread:.4f}")
        lines.append(f"saved to {self.out}")
        return "\n".join(lines)


def is_main_process() -> bool:
    # Under torchrun every rank runs train(); only rank 0 writes files.
    return int(os.environ.get("RANK", "0")) == 0


def finished_fold(model_dir: Path) -> tuple[FoldResult, np.ndarray | None] | None:
    done = model_dir / "fold_result.json"
    if not (done.is_file() and (model_dir / CONFIG_NAME).is_file()):
        return None
    result = FoldResult(**json.loads(done.read_text()))
    saved = model_dir / "valid_predictions.npy"
    return result, (np.load(saved) if saved.is_file() else None)


def prepare_out(config: TrainConfig, splits: list[tuple[np.ndarray, np.ndarray]], n: int) -> Path:
    out = Path(config.out)
    record = out / "folds.json"
    if not is_main_process():
        return out
    if out.exists() and any(out.iterdir()):
        if not config.resume:
            raise ValueError(
                f"{out} already exists and is not empty; pass resume=True to continue that run "
                "or choose another `out`"
            )
        if record.is_file():
            saved = json.loads(record.read_text())
            same = saved.get("rows") == n and [sorted(v) for v in saved["valid"]] == [
                valid.tolist() for _, valid in splits
            ]
            if not same:
                raise ValueError(
                    f"{out}: resume=True needs the same data, folds and seed as the first run"
                )
    out.mkdir(parents=True, exist_ok=True)
    record.write_text(
        json.dumps({"rows": n, "valid": [valid.tolist() for _, valid in splits]}) + "\n"
    )
    (out / "train_config.json").write_text(
        json.dumps(config.to_dict(), indent=2, default=str) + "\n"
    )
    return out


def write_oof(out: Path, data: TrainingData, oof: np.ndarray, fold_of: np.ndarray) -> None:
    names = [f"pred_{label}" for label in data.labels]
    truth = (
        [f"true_{label}" for label in data.labels]
        if data.task != "classification"
        else ["true_label"]
    )
    columns = ["row", "fold", *truth, *names]
    table: dict[str, Any] = {"row": np.arange(len(data)), "fold": fold_of}
    if data.task == "classification":
        table["true_label"] = [data.labels[int(i)] for i in data.y]
    else:
        table.update({name: data.y[:, j] for j, name in enumerate(truth)})
    table.update({name: oof[:, j] for j, name in enumerate(names)})
    with TableWriter(out / "oof.csv", columns, names) as writer:
        writer.write(table)
