"""Configuration of a fine-tuning run and of a saved pooled model, as frozen dataclasses.

:class:`PooledModelConfig` is what ``save_pretrained`` writes as ``hiddenpool_model.json``: the
strategy by its spec string, the head type, the label names and the targets, never a pickled object
or an import path. :class:`TrainConfig` is every knob of ``hiddenpool train``; its defaults are the
Feedback Prize 3 recipe scaled to a small model (each default says why).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Literal

__all__ = [
    "CONFIG_NAME",
    "FORMAT",
    "HEAD_WEIGHTS_NAME",
    "TASKS",
    "PooledModelConfig",
    "Task",
    "TrainConfig",
    "is_pooled_model_dir",
]

Task = Literal["regression", "classification", "multilabel"]
TASKS: tuple[str, ...] = ("regression", "classification", "multilabel")
LOSSES: tuple[str, ...] = ("auto", "mse", "smooth_l1", "cross_entropy", "bce")
CONFIG_NAME = "hiddenpool_model.json"
HEAD_WEIGHTS_NAME = "pooled_head.safetensors"
FORMAT = "hiddenpool-pooled-model"
FORMAT_VERSION = 1


def check_task(task: str) -> Task:
    if task not in TASKS:
        raise ValueError(f"unknown task {task!r}; choose from {', '.join(TASKS)}")
    return task  # type: ignore[return-value]


@dataclass(frozen=True)
class PooledModelConfig:
    """What a saved pooled model is, in plain JSON.

    Attributes:
        pooling: the strategy's canonical spec string (``cls@weighted(4:)``).
        task: ``regression`` (one output per target), ``classification`` (one logit per class,
            softmax) or ``multilabel`` (one logit per label, sigmoid).
        labels: one name per output: the targets for regression and multilabel, the classes
            (as strings, sorted) for classification.
        targets: the data columns the labels were read from.
        text_column: the column the texts were read from (predict's default).
        dropout: dropout on the pooled vector before the head.
        msd: multi-sample dropout: number of dropout masks averaged while training (1 = plain).
        loss: ``mse`` or ``smooth_l1`` for regression, ``cross_entropy`` for classification,
            ``bce`` for multilabel.
        max_length: truncation length in tokens used in training (and so at prediction).
    """

    pooling: str
    task: Task
    labels: tuple[str, ...]
    targets: tuple[str, ...]
    text_column: str = "text"
    dropout: float = 0.1
    msd: int = 1
    loss: str = "auto"
    max_length: int = 512

    def __post_init__(self) -> None:
        check_task(self.task)
        if not self.labels:
            raise ValueError("a pooled model needs at least one label")
        if self.task == "classification" and len(self.labels) < 2:
            raise ValueError(f"classification needs at least 2 classes, got {list(self.labels)}")
        if self.msd < 1:
            raise ValueError(f"msd (multi-sample dropout masks) must be >= 1, got {self.msd}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")
        if self.loss not in LOSSES:
            raise ValueError(f"unknown loss {self.loss!r}; choose from {', '.join(LOSSES)}")
        if self.loss != "auto" and self.loss not in _LOSSES_BY_TASK[self.task]:
            valid = ", ".join(_LOSSES_BY_TASK[self.task])
            raise ValueError(f"loss {self.loss!r} does not fit task {self.task}; use {valid}")

    @property
    def num_outputs(self) -> int:
        return len(self.labels)

    @property
    def resolved_loss(self) -> str:
        return _LOSSES_BY_TASK[self.task][0] if self.loss == "auto" else self.loss

    def to_json(self) -> str:
        data = {"format": FORMAT, "format_version": FORMAT_VERSION, **asdict(self)}
        return json.dumps(data, indent=2, ensure_ascii=False) + "\n"

    @classmethod
    def from_json(cls, text: str, where: str = "config") -> PooledModelConfig:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as error:
            raise ValueError(f"{where}: not valid JSON ({error.msg})") from None
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise ValueError(f"{where}: not a hiddenpool model config (no format {FORMAT!r})")
        if data.get("format_version") != FORMAT_VERSION:
            raise ValueError(
                f"{where}: format_version {data.get('format_version')!r} is not supported "
                f"(this hiddenpool reads {FORMAT_VERSION})"
            )
        known = {f.name for f in fields(cls)}
        kwargs = {k: v for k, v in data.items() if k in known}
        for key in ("labels", "targets"):
            kwargs[key] = tuple(kwargs.get(key, ()))
        try:
            return cls(**kwargs)
        except TypeError as error:
            raise ValueError(f"{where}: {error}") from None


_LOSSES_BY_TASK: dict[str, tuple[str, ...]] = {
    "regression": ("mse", "smooth_l1"),
    "classification": ("cross_entropy",),
    "multilabel": ("bce",),
}


def is_pooled_model_dir(path: str | Path) -> bool:
    """Whether ``path`` is a folder written by ``PooledModel.save_pretrained``."""
    return (Path(path) / CONFIG_NAME).is_file()


@dataclass(frozen=True)
class TrainConfig:
    """Every setting of a fine-tuning run (``hiddenpool train`` maps one flag to each field).

    Attributes:
        data: a registered dataset name (``vader-movies``) or a .csv/.tsv/.jsonl/.parquet file.
        model: model folder or hub name; None is the embedded MiniLM-L6.
        pooling: pooling spec, parameter-free or learned (``mean``, ``cls@weighted(4:)``).
        task: regression, classification or multilabel; None takes the dataset's own.
        label_columns: label columns of a file (several for multi-target or multilabel).
        text_column: the text column of a file.
        out: output folder (the model, or one model per fold plus out-of-fold predictions).
    """

    data: str
    model: str | None = None
    pooling: str = "mean"  # FB3's 1st place used mean pooling in 39 of its 47 models
    task: str | None = None
    label_columns: tuple[str, ...] = ()
    text_column: str | None = None  # None: "text", or the registered dataset's own
    out: str = "hiddenpool-model"
    # Cross-validation: folds >= 2 trains one model per fold and scores out-of-fold predictions;
    # folds == 1 holds out valid_fraction for evaluation and early stopping (0: no evaluation).
    folds: int = 1
    valid_fraction: float = 0.1
    fold_seed: int | None = None  # None: the run's seed; fix it to compare runs on equal folds
    # Optimisation. 2e-5 with cosine decay and 10% warm-up is the common FB3 setting.
    epochs: float = 3.0
    max_steps: int = -1  # > 0 overrides epochs (tests, smoke runs)
    lr: float = 2e-5
    head_lr: float | None = None  # None: lr. FB3 kernels often gave the head ~10-100x the base lr
    llrd: float = 1.0  # layer-wise lr decay per block from the top (0.8-0.95 in FB3); 1.0 is off
    weight_decay: float = 0.01
    warmup: float = 0.1  # a fraction of the steps (< 1) or a number of steps
    scheduler: str = "cosine"
    batch_size: int = 16
    eval_batch_size: int | None = None  # None: 2x batch_size (no gradients to keep)
    grad_accum: int = 1
    max_grad_norm: float = 1.0
    # Tricks.
    reinit_layers: int = (
        0  # re-initialise the top N blocks (Zhang et al. 2021, "Revisiting Few-sample BERT")
    )
    freeze_layers: int = 0  # freeze the embeddings and the first N blocks
    freeze_embeddings: bool = False  # freeze the embeddings alone (implied by freeze_layers > 0)
    msd: int = 1  # multi-sample dropout masks on the pooled vector (FB3 used 5)
    dropout: float = 0.1
    loss: str = "auto"  # mse for regression (smooth_l1 was common in FB3), ce, bce
    grad_checkpointing: bool = False
    precision: str = "auto"  # auto: bf16 (or fp16) on CUDA, fp32 on CPU; or fp32, fp16, bf16
    max_length: int | None = None  # None: the model's own (256 for MiniLM)
    # Evaluation, checkpoints, logging.
    metric: str | None = None  # None: mcrmse (several targets), rmse (one), macro_f1 (classes)
    early_stopping: int = 2  # patience in evaluations without improvement; 0 is off
    eval_steps: int | None = None  # None: evaluate (and checkpoint) once per epoch
    logging_steps: int = 50
    save_total_limit: int = 2
    keep_checkpoints: bool = False  # delete a finished fold's checkpoints (its model is saved)
    resume: bool = False
    seed: int = 42
    device: str = "auto"
    num_workers: int = 0
    extra: dict[str, Any] = field(default_factory=dict)  # more TrainingArguments, by name

    def __post_init__(self) -> None:
        if self.task is not None:
            check_task(self.task)
        checks = (
            (self.folds >= 1, f"folds must be >= 1, got {self.folds}"),
            (
                0.0 <= self.valid_fraction < 1.0,
                f"valid_fraction must be in [0, 1), got {self.valid_fraction}",
            ),
            (self.epochs > 0 or self.max_steps > 0, "epochs must be > 0"),
            (self.lr > 0, f"lr must be > 0, got {self.lr}"),
            (0.0 < self.llrd <= 1.0, f"llrd must be in (0, 1], got {self.llrd}"),
            (self.reinit_layers >= 0, f"reinit_layers must be >= 0, got {self.reinit_layers}"),
            (self.freeze_layers >= 0, f"freeze_layers must be >= 0, got {self.freeze_layers}"),
            (self.msd >= 1, f"msd must be >= 1, got {self.msd}"),
            (self.batch_size >= 1, f"batch_size must be >= 1, got {self.batch_size}"),
            (self.grad_accum >= 1, f"grad_accum must be >= 1, got {self.grad_accum}"),
            (
                self.precision in ("auto", "fp32", "fp16", "bf16"),
                f"precision must be auto, fp32, fp16 or bf16, got {self.precision!r}",
            ),
            (self.early_stopping >= 0, f"early_stopping must be >= 0, got {self.early_stopping}"),
        )
        for ok, message in checks:
            if not ok:
                raise ValueError(message)
        if isinstance(self.label_columns, str):
            object.__setattr__(self, "label_columns", (self.label_columns,))

    def replace(self, **changes: Any) -> TrainConfig:
        """A copy with some fields changed."""
        return replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
