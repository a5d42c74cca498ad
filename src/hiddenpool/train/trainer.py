"""Trainer glue: one fold = load, apply the tricks, Hugging Face ``Trainer``, save; K folds = OOF.

Trainer checkpoints live in ``<model>/checkpoints`` until the fold has finished (see
:mod:`.results` for the rest of the run folder).
"""

from __future__ import annotations

import json
import shutil
import sys
import time
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from transformers import (
    EarlyStoppingCallback,
    Trainer,
    TrainerCallback,
    TrainingArguments,
    set_seed,
)

from hiddenpool._runtime import ddp_settings, mixed_precision, resolve_device
from hiddenpool.backbone import load_backbone
from hiddenpool.data import LabelledData
from hiddenpool.encode.windows import Windows, tokenize_windows
from hiddenpool.evaluate.folds import make_folds, make_holdout
from hiddenpool.evaluate.metrics import HIGHER_IS_BETTER, score_predictions
from hiddenpool.pooling import parse_strategy
from hiddenpool.pooling.templates import Template, create_template
from hiddenpool.train.config import PooledModelConfig, TrainConfig
from hiddenpool.train.data import (
    Collator,
    TextDataset,
    TrainingData,
    load_training_data,
    prepare,
)
from hiddenpool.train.metrics import default_metric, predictions_from_logits
from hiddenpool.train.model import PooledModel
from hiddenpool.train.optim import freeze_layers, parameter_groups, reinit_layers
from hiddenpool.train.predict import predict_logits
from hiddenpool.train.results import (
    FoldResult,
    TrainResult,
    finished_fold,
    is_main_process,
    prepare_out,
    write_oof,
)

__all__ = ["FoldResult", "TrainResult", "build_model", "train"]


def _say(verbose: bool, message: str) -> None:
    if verbose and is_main_process():
        print(message, file=sys.stderr, flush=True)


def build_model(
    config: TrainConfig, data: TrainingData, device: str | torch.device = "cpu"
) -> PooledModel:
    """A fresh PooledModel for ``config`` with re-init, freezing and checkpointing applied."""
    backbone = load_backbone(
        config.model,
        device=device,
        trust_remote_code=config.trust_remote_code,
        allow_pickle=config.allow_pickle,
    )
    pooled = PooledModelConfig(
        pooling=config.pooling,
        task=data.task,
        labels=data.labels,
        targets=data.targets,
        text_column=data.text_column,
        dropout=config.dropout,
        msd=config.msd,
        loss=config.loss,
        max_length=config.max_length or backbone.max_length,
    )
    model = PooledModel(backbone, replace(pooled, loss=pooled.resolved_loss))  # saved by name
    reinit_layers(backbone, config.reinit_layers)
    if config.freeze_layers or config.freeze_embeddings:
        freeze_layers(backbone, config.freeze_layers, embeddings=True)
    if config.grad_checkpointing:
        model.gradient_checkpointing_enable()
    return model


def _training_arguments(
    config: TrainConfig, output_dir: Path, metric: str, evaluate: bool
) -> TrainingArguments:
    device = resolve_device(config.device)
    strategy = "no" if not evaluate else ("steps" if config.eval_steps else "epoch")
    save = "steps" if config.eval_steps else "epoch"
    kwargs: dict[str, Any] = dict(
        output_dir=str(output_dir),
        num_train_epochs=config.epochs,
        max_steps=config.max_steps,
        per_device_eval_batch_size=config.eval_batch_size or 2 * config.batch_size,
        gradient_accumulation_steps=config.grad_accum,
        learning_rate=config.lr,
        weight_decay=config.weight_decay,
        warmup_steps=config.warmup if config.warmup < 1 else int(config.warmup),
        lr_scheduler_type=config.scheduler,
        max_grad_norm=config.max_grad_norm,
        eval_strategy=strategy,
        save_strategy=save,
        save_total_limit=config.save_total_limit,
        load_best_model_at_end=evaluate,
        metric_for_best_model=metric if evaluate else None,
        greater_is_better=HIGHER_IS_BETTER[metric] if evaluate else None,
        logging_strategy="steps",
        logging_steps=config.logging_steps,
        seed=config.seed,
        data_seed=config.seed,
        report_to="none",
        # early stopping's patience spent so far comes back with --resume (off by default in
        # transformers: a resumed run counted from zero again and stopped later than the same
        # run uninterrupted)
        restore_callback_states_from_checkpoint=True,
        label_names=["labels"],
        remove_unused_columns=False,
        dataloader_num_workers=config.num_workers,
        dataloader_pin_memory=device.type == "cuda",
        # "auto" on a machine without a GPU is the CPU too: without use_cpu the Trainer starts
        # no gloo process group, and torchrun's processes would train unconnected
        use_cpu=device.type == "cpu",
        # Blocks above the deepest pooled layer are frozen by PooledModel, so none go unused.
        ddp_find_unused_parameters=False,
        **mixed_precision(config.precision, config.device),
        **ddp_settings(config.batch_size, device.type),
    )
    if config.eval_steps:
        kwargs.update(eval_steps=config.eval_steps, save_steps=config.eval_steps)
    kwargs.update(config.extra)
    return TrainingArguments(**kwargs)


def _resume_point(folder: Path) -> tuple[Path | None, list[Path]]:
    """The last complete checkpoint in ``folder`` (None: none), and the incomplete ones.

    The Trainer writes a checkpoint's ``trainer_state.json`` last, after the weights, optimiser,
    scheduler and RNG states, so a checkpoint whose state does not parse was cut short (a kill
    while saving); the Trainer itself would resume from it and fail on the missing state.
    """
    complete: list[tuple[int, Path]] = []
    incomplete: list[Path] = []
    candidates = sorted(folder.glob("checkpoint-*")) if folder.is_dir() else []
    for path in candidates:
        step = path.name.removeprefix("checkpoint-")
        if not (path.is_dir() and step.isdigit()):
            continue
        try:
            json.loads((path / "trainer_state.json").read_text())
        except (OSError, ValueError):
            incomplete.append(path)
        else:
            complete.append((int(step), path))
    return (max(complete)[1] if complete else None), incomplete


def _run_trainer(trainer: Trainer, resume_from: Path | None, evaluate: bool) -> tuple[int, float]:
    """Train (from ``resume_from`` if given); returns (optimiser steps, samples per second).

    A checkpoint already at the last step (a run stopped after training, before its model was
    saved) is not handed to ``Trainer.train``, which would take one more step when the last step
    falls inside an epoch: its weights (the best checkpoint's, when evaluating) are loaded
    instead, as the finished run would have ended.
    """
    state = json.loads((resume_from / "trainer_state.json").read_text()) if resume_from else {}
    finished = 0 < state.get("max_steps", 0) <= state.get("global_step", 0)
    if resume_from is None or not finished:
        output = trainer.train(resume_from_checkpoint=str(resume_from) if resume_from else None)
        return int(output.global_step), float(output.metrics.get("train_samples_per_second", 0))
    best = state.get("best_model_checkpoint") if evaluate else None
    best_folder = resume_from.parent / Path(best).name if best else resume_from
    trainer._load_from_checkpoint(str(best_folder if best_folder.is_dir() else resume_from))
    return int(state["global_step"]), 0.0


def _train_fold(
    config: TrainConfig,
    data: TrainingData,
    windows: Windows,
    fold: int,
    train_rows: np.ndarray,
    valid_rows: np.ndarray,
    model_dir: Path,
    metric: str,
    verbose: bool,
) -> tuple[FoldResult, np.ndarray | None]:
    set_seed(config.seed)
    device = resolve_device(config.device)
    model = build_model(config, data, device=device)
    if data.task == "regression":
        model.head.init_bias(torch.as_tensor(data.y[train_rows].mean(axis=0)))
    evaluate = len(valid_rows) > 0
    checkpoints = model_dir / "checkpoints"
    args = _training_arguments(config, checkpoints, metric, evaluate)
    optimizer = torch.optim.AdamW(
        parameter_groups(model, config.lr, config.llrd, config.weight_decay, config.head_lr),
        lr=config.lr,
    )

    def compute_metrics(prediction: Any) -> dict[str, float]:
        logits = prediction.predictions
        logits = logits[0] if isinstance(logits, tuple) else logits
        predictions = predictions_from_logits(data.task, logits)
        return score_predictions(data.task, prediction.label_ids, predictions)

    valid_set = TextDataset(windows, data.y, valid_rows) if evaluate else None
    callbacks: list[TrainerCallback] = (
        [EarlyStoppingCallback(config.early_stopping)] if evaluate and config.early_stopping else []
    )
    trainer = Trainer(
        model=model,
        args=args,
        train_dataset=TextDataset(windows, data.y, train_rows),
        eval_dataset=valid_set,
        data_collator=Collator(model.tokenizer),
        compute_metrics=compute_metrics if evaluate else None,
        callbacks=callbacks,
        optimizers=(optimizer, None),
    )
    resume_from, incomplete = _resume_point(checkpoints) if config.resume else (None, [])
    for partial in incomplete:  # half written when the run was killed: never resumed from
        if trainer.is_world_process_zero():
            shutil.rmtree(partial, ignore_errors=True)
    removed = ", ".join(p.name for p in incomplete)
    _say(
        verbose,
        f"fold {fold}: training on {len(train_rows)} rows, validating on {len(valid_rows)}"
        + (f" (resuming from {resume_from.name})" if resume_from else "")
        + (f"; removed the incomplete {removed}" if removed else ""),
    )
    start = time.perf_counter()
    steps, samples_per_second = _run_trainer(trainer, resume_from, evaluate)
    seconds = time.perf_counter() - start
    predictions, metrics = None, {}
    if valid_set is not None:
        model.eval()  # the best checkpoint, batched as predict and embed batch
        logits = predict_logits(model, [data.texts[i] for i in valid_rows])
        predictions = predictions_from_logits(data.task, logits)
        metrics = score_predictions(data.task, data.y[valid_rows], predictions)
        metrics = {metric: metrics[metric], **{k: v for k, v in metrics.items() if k != metric}}
    main = trainer.is_world_process_zero()
    if main:
        model.save_pretrained(model_dir)
    if main and predictions is not None:
        np.save(model_dir / "valid_predictions.npy", predictions)
    result = FoldResult(
        fold=fold,
        metrics=metrics,
        model_dir=str(model_dir),
        train_rows=len(train_rows),
        valid_rows=len(valid_rows),
        seconds=seconds,
        train_samples_per_second=samples_per_second,
        steps=steps,
    )
    if main:
        (model_dir / "fold_result.json").write_text(json.dumps(asdict(result), indent=2) + "\n")
    if main and not config.keep_checkpoints:
        shutil.rmtree(checkpoints, ignore_errors=True)
    return result, predictions


def _template_of(pooling: str) -> Template | None:
    """The prompt template ``pooling`` places each text in (None: the text alone)."""
    strategy = parse_strategy(pooling)
    return create_template(strategy.template) if strategy.template is not None else None


def train(
    config: TrainConfig | None = None,
    data: LabelledData | TrainingData | None = None,
    verbose: bool = True,
    **overrides: Any,
) -> TrainResult:
    """Fine-tune a pooled model, with K-fold cross-validation when ``config.folds >= 2``.

    Args:
        config: the run's settings; keyword ``overrides`` replace fields (or build one).
        data: in-memory data instead of ``config.data``.
        verbose: print one line per fold to stderr (the Trainer logs its own progress).

    Returns:
        The per-fold and overall metrics, the out-of-fold predictions and the model folders.

    >>> result = train(data="vader-movies", pooling="mean", folds=5, epochs=1)  # doctest: +SKIP
    >>> print(result.summary())  # doctest: +SKIP
    """
    if config is None:
        config = TrainConfig(**overrides)
    elif overrides:
        config = config.replace(**overrides)
    template = _template_of(config.pooling)  # an unknown one fails before anything runs
    if data is None:
        prepared = load_training_data(config)
    elif isinstance(data, LabelledData):
        prepared = prepare(data, config.task)
    else:
        prepared = data
    metric = config.metric or default_metric(prepared.task, len(prepared.labels))
    if metric not in HIGHER_IS_BETTER:
        raise ValueError(f"unknown metric {metric!r}; choose from {', '.join(HIGHER_IS_BETTER)}")
    fold_seed = config.seed if config.fold_seed is None else config.fold_seed
    n, y, task = len(prepared), prepared.y, prepared.task  # compare's folds for the same seed
    splits = (
        [make_holdout(n, config.valid_fraction, fold_seed, y, task)]
        if config.folds == 1
        else make_folds(n, config.folds, fold_seed, y, task)
    )
    # The tokenizer and max length, as every fold will see them. Loaded before anything is
    # written, so a refused checkpoint leaves no output folder behind to block the next try.
    probe = load_backbone(
        config.model, trust_remote_code=config.trust_remote_code, allow_pickle=config.allow_pickle
    )
    # Each text in the prompt template of the pooling, if any, as Encoder tokenises it.
    windows = tokenize_windows(
        probe.tokenizer,
        prepared.texts,
        config.max_length or probe.max_length,
        template=template,
    )
    del probe
    out = prepare_out(config, splits, len(prepared))
    results: list[FoldResult] = []
    oof = np.full((len(prepared), len(prepared.labels)), np.nan)
    fold_of = np.full(len(prepared), -1, dtype=np.int64)
    for fold, (train_rows, valid_rows) in enumerate(splits):
        model_dir = out if config.folds == 1 else out / f"fold{fold}"
        finished = finished_fold(model_dir) if config.resume else None
        if finished is not None:
            _say(verbose, f"fold {fold}: already trained, skipped (--resume)")
            result, predictions = finished
        else:
            result, predictions = _train_fold(
                config,
                prepared,
                windows,
                fold,
                train_rows,
                valid_rows,
                model_dir,
                metric,
                verbose,
            )
        results.append(result)
        if predictions is not None:
            oof[valid_rows] = predictions
            fold_of[valid_rows] = fold
        shown = "  ".join(f"{k} {v:.4f}" for k, v in result.metrics.items())
        _say(verbose, f"fold {fold}: {shown or 'done'} -> {model_dir}")

    overall: dict[str, float] = {}
    validated = fold_of >= 0
    if validated.any():
        overall = score_predictions(prepared.task, prepared.y[validated], oof[validated])
        overall = {metric: overall[metric], **{k: v for k, v in overall.items() if k != metric}}
    if config.folds > 1 and is_main_process():
        write_oof(out, prepared, oof, fold_of)
    summary = {
        "task": prepared.task,
        "metric": metric,
        "overall": overall,
        "folds": [asdict(r) for r in results],
        "labels": list(prepared.labels),
    }
    if is_main_process():
        (out / "metrics.json").write_text(json.dumps(summary, indent=2) + "\n")
    return TrainResult(
        out=out,
        task=prepared.task,
        metric=metric,
        folds=tuple(results),
        overall=overall,
        oof=oof if validated.any() else None,
        labels=prepared.labels,
    )
