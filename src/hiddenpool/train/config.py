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

from hiddenpool.pooling.templates import Template

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
        template: the prompt template of ``pooling`` (``promptbert:mask``), its text included,
            so that a folder trained with a user's template predicts, serves and exports where
            that template is not registered; None for the text alone.
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
    template: Template | None = None

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
            if kwargs.get("template") is not None:
                kwargs["template"] = Template(**kwargs["template"])
            return cls(**kwargs)
        except (TypeError, ValueError) as error:
            raise ValueError(f"{where}: {error}") from None


_LOSSES_BY_TASK: dict[str, tuple[str, ...]] = {
    "regression": ("mse", "smooth_l1"),
    "classification": ("cross_entropy",),
    "multilabel": ("bce",),
}


def is_pooled_model_dir(path: str | Path) -> bool:
    """Whether ``path`` is a folder written by ``PooledModel.save_pretrained``."""
    return (Path(path) / CONFIG_NAME).is_file()


# Sections of ``hiddenpool train --help``; settings without one are listed first.
_CV = "cross-validation and evaluation"
_OPTIM = "optimisation"
_TRICKS = "tricks"
_RUN = "run"
_PRECISION_NAMES = {"float32": "fp32", "float16": "fp16", "bfloat16": "bf16"}


def _setting(default: Any, help: str, group: str | None = None, **more: Any) -> Any:
    """A field with the text that documents it on the command line (``field.metadata``).

    ``more`` may hold ``metavar`` and ``choices``; ``hiddenpool.cli.dataclass_options`` turns
    each field into an option.
    """
    return field(default=default, metadata={"help": help, "group": group, **more})


@dataclass(frozen=True)
class TrainConfig:
    """Every setting of a fine-tuning run; ``hiddenpool train`` has one option per field.

    Each field's ``metadata["help"]`` says what it does (and is the option's help); comments
    give the reasons for the defaults.
    """

    data: str = field(
        metadata={
            "help": "registered dataset name (vader-movies) or .csv/.tsv/.jsonl/.parquet file"
        }
    )
    model: str | None = _setting(None, "model folder or hub name (default: the embedded MiniLM-L6)")
    # FB3's 1st place used mean pooling in 39 of its 47 models.
    pooling: str = _setting("mean", "pooling spec, parameter-free or learned (cls@weighted(4:))")
    task: str | None = _setting(
        None, "regression, classification or multilabel (default: the dataset's own)", choices=TASKS
    )
    label_columns: tuple[str, ...] = _setting(
        (), "label column(s) of a file; several for multi-target or multilabel", metavar="C"
    )
    text_column: str | None = _setting(
        None, "text column of a file (default: text, or the registered dataset's own)"
    )
    out: str = _setting(
        "hiddenpool-model",
        "output folder: the model, or one model per fold and the out-of-fold predictions",
    )
    # folds >= 2 trains one model per fold and scores out-of-fold predictions; folds == 1
    # holds out valid_fraction for evaluation and early stopping (0: no evaluation).
    folds: int = _setting(1, "K >= 2: K-fold cross-validation with out-of-fold predictions", _CV)
    valid_fraction: float = _setting(
        0.1, "fraction held out for evaluation when folds is 1; 0: none", _CV
    )
    # Fix it to compare runs on equal folds.
    fold_seed: int | None = _setting(None, "seed of the split (default: the run's seed)", _CV)
    metric: str | None = _setting(
        None,
        "checkpoint metric: rmse, mcrmse, spearman, accuracy, macro_f1 "
        "(default: mcrmse for several targets, rmse for one, macro_f1 for classes)",
        _CV,
    )
    early_stopping: int = _setting(2, "patience in evaluations without improvement; 0: off", _CV)
    eval_steps: int | None = _setting(
        None, "evaluate and checkpoint every N steps (default: every epoch)", _CV, metavar="N"
    )
    # No gradients to keep, so twice the training batch fits.
    eval_batch_size: int | None = _setting(None, "evaluation batch (default: 2x batch_size)", _CV)
    # 2e-5 with cosine decay and 10% warm-up is the common FB3 setting.
    epochs: float = _setting(3.0, "training epochs", _OPTIM)
    max_steps: int = _setting(-1, "training steps; > 0 overrides epochs (smoke runs)", _OPTIM)
    lr: float = _setting(2e-5, "peak learning rate of the backbone", _OPTIM)
    # FB3 kernels often gave the head ~10-100x the base lr.
    head_lr: float | None = _setting(None, "learning rate of pooler + head (default: lr)", _OPTIM)
    # 0.8-0.95 in FB3.
    llrd: float = _setting(
        1.0, "layer-wise lr decay per block from the top, e.g. 0.9; 1: off", _OPTIM
    )
    weight_decay: float = _setting(0.01, "AdamW weight decay", _OPTIM)
    warmup: float = _setting(0.1, "warm-up: a fraction of the steps (< 1) or a number", _OPTIM)
    scheduler: str = _setting("cosine", "cosine, linear, constant, ...", _OPTIM)
    batch_size: int = _setting(16, "texts per optimiser step, over all processes", _OPTIM)
    grad_accum: int = _setting(1, "gradient accumulation steps", _OPTIM)
    max_grad_norm: float = _setting(1.0, "gradient clipping norm", _OPTIM)
    seed: int = _setting(42, "seed of the run", _OPTIM)
    # Zhang et al. 2021, "Revisiting Few-sample BERT Fine-tuning".
    reinit_layers: int = _setting(0, "re-initialise the top N blocks", _TRICKS, metavar="N")
    freeze_layers: int = _setting(
        0, "freeze the embeddings and the first N blocks", _TRICKS, metavar="N"
    )
    freeze_embeddings: bool = _setting(
        False, "freeze the embeddings (implied by freezing layers)", _TRICKS
    )
    # FB3 used 5.
    msd: int = _setting(
        1, "multi-sample dropout: K dropout masks on the pooled vector", _TRICKS, metavar="K"
    )
    dropout: float = _setting(0.1, "dropout before the head", _TRICKS)
    # smooth_l1 was common in FB3.
    loss: str = _setting(
        "auto",
        "auto (mse, cross_entropy or bce by task), mse, smooth_l1, cross_entropy, bce",
        _TRICKS,
        choices=LOSSES,
    )
    grad_checkpointing: bool = _setting(False, "activation checkpointing", _TRICKS)
    precision: str = _setting(
        "auto",
        "auto (bf16, else fp16, on CUDA; fp32 on CPU), fp32, fp16 or bf16",
        _TRICKS,
        metavar="PRECISION",
    )
    max_length: int | None = _setting(None, "tokens per text (default: the model's own)", _OPTIM)
    resume: bool = _setting(
        False, "continue a crashed run in the output folder from its last checkpoint", _RUN
    )
    keep_checkpoints: bool = _setting(
        False, "keep a finished fold's checkpoints (its model is saved anyway)", _RUN
    )
    save_total_limit: int = _setting(2, "checkpoints kept while a fold trains", _RUN)
    logging_steps: int = _setting(50, "log every N steps", _RUN, metavar="N")
    device: str = _setting("auto", "auto, cpu, cuda, cuda:1, ...", _RUN)
    num_workers: int = _setting(0, "data loader worker processes", _RUN)
    trust_remote_code: bool = _setting(False, "allow code shipped with the checkpoint to run")
    allow_pickle: bool = _setting(
        False, "accept pickled weights (pytorch_model.bin) when no safetensors exist"
    )
    # More TrainingArguments, by name (Python only).
    extra: dict[str, Any] = field(default_factory=dict, metadata={"help": None})

    def __post_init__(self) -> None:
        if self.task is not None:
            check_task(self.task)
        precision = _PRECISION_NAMES.get(self.precision, self.precision)
        object.__setattr__(self, "precision", precision)
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
