"""The Hugging Face Trainer set up for MLM: masking, fixed held-out masks, accuracy, log lines."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np
import torch
from transformers import (
    DataCollatorForLanguageModeling,
    Trainer,
    TrainerCallback,
    TrainingArguments,
)
from transformers.trainer_callback import PrinterCallback

from hiddenpool._runtime import mixed_precision
from hiddenpool.pretrain.config import PretrainConfig
from hiddenpool.pretrain.tokens import BlockDataset

__all__ = ["eval_record", "masked_eval_set", "mlm_collator", "mlm_trainer", "say"]

_LOGGED = ("loss", "learning_rate", "eval_loss", "eval_accuracy")


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


class _LogLines(TrainerCallback):
    """Off a terminal: one flushed line per log and evaluation, instead of progress bars."""

    def on_log(self, args: Any, state: Any, control: Any, logs: Any = None, **kwargs: Any) -> None:
        shown = {k: v for k, v in (logs or {}).items() if k in _LOGGED}
        if shown:
            cells = ", ".join(
                f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}" for k, v in shown.items()
            )
            when = f"step {state.global_step}/{state.max_steps}" if state.max_steps else "start"
            say(f"{when}: {cells}")


class _Collator:
    """Masks training batches; passes held-out batches that were masked once up front."""

    def __init__(self, mlm: DataCollatorForLanguageModeling) -> None:
        self.mlm = mlm

    def __call__(self, examples: list[dict[str, Any]]) -> dict[str, Any]:
        if "labels" in examples[0]:
            return {k: torch.stack([e[k] for e in examples]) for k in examples[0]}
        return self.mlm(examples)


def mlm_collator(
    tokenizer: Any, config: PretrainConfig, whole_word: bool, seed: int | None = None
) -> DataCollatorForLanguageModeling:
    """BERT's masking: ``mlm_probability`` of tokens, 80% ``<mask>``, 10% random, 10% kept.

    With whole-word masking every piece of a chosen word is masked; transformers 5 then replaces
    them all by ``<mask>`` (it has no random or kept words for whole words).
    """
    return DataCollatorForLanguageModeling(
        tokenizer=tokenizer,
        mlm_probability=config.mlm_probability,
        whole_word_mask=whole_word,
        mask_replace_prob=1.0 if whole_word else 0.8,
        random_replace_prob=0.0 if whole_word else 0.1,
        seed=seed,
    )


def masked_eval_set(
    dataset: BlockDataset, collator: DataCollatorForLanguageModeling
) -> list[dict[str, torch.Tensor]]:
    """Mask the held-out blocks once (a seeded collator), so every evaluation sees the same."""
    items: list[dict[str, torch.Tensor]] = []
    for start in range(0, len(dataset), 64):
        batch = collator([dataset[i] for i in range(start, min(start + 64, len(dataset)))])
        for row in range(batch["input_ids"].shape[0]):
            items.append({k: v[row] for k, v in batch.items()})
    return items


def _accuracy(prediction: Any) -> dict[str, float]:
    predicted, labels = prediction.predictions, prediction.label_ids
    masked = labels != -100
    return {
        "accuracy": float((predicted[masked] == labels[masked]).mean()),
        "masked_tokens": int(masked.sum()),
    }


def _argmax(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    return logits.argmax(dim=-1)  # keeps (B, T) ids instead of (B, T, vocab) logits


def eval_record(metrics: dict[str, float], blocks: int) -> dict[str, Any]:
    """Held-out MLM loss, perplexity and masked-token accuracy from ``Trainer.evaluate``."""
    loss = float(metrics["eval_loss"])
    return {
        "loss": loss,
        "perplexity": float(np.exp(min(loss, 50.0))),
        "accuracy": float(metrics["eval_accuracy"]),
        "masked_tokens": int(metrics["eval_masked_tokens"]),
        "blocks": blocks,
    }


def mlm_trainer(
    config: PretrainConfig,
    model: Any,
    train_set: BlockDataset,
    eval_set: list[dict[str, torch.Tensor]],
    collator: DataCollatorForLanguageModeling,
    checkpoints: Path,
    device: torch.device,
    show: bool,
    lines: bool,
) -> Trainer:
    """A Trainer that checkpoints (and evaluates) every ``save_steps``, keeping the last two."""
    precision: dict[str, Any] = dict(mixed_precision(config.precision, str(device)))
    args = TrainingArguments(
        output_dir=str(checkpoints),
        num_train_epochs=config.epochs,
        max_steps=config.max_steps,
        per_device_train_batch_size=config.batch_size,
        per_device_eval_batch_size=config.batch_size,
        learning_rate=config.learning_rate,
        weight_decay=config.weight_decay,
        warmup_steps=config.warmup,
        lr_scheduler_type="linear",
        eval_strategy="steps",
        eval_steps=config.save_steps,
        save_strategy="steps",
        save_steps=config.save_steps,
        save_total_limit=2,  # a kill while writing one leaves the previous one complete
        logging_strategy="steps",
        logging_steps=config.logging_steps,
        seed=config.seed,
        data_seed=config.seed,
        report_to="none",
        remove_unused_columns=False,
        dataloader_drop_last=True,
        disable_tqdm=not show,
        use_cpu=device.type == "cpu",
        dataloader_pin_memory=device.type == "cuda",
        **precision,
    )
    trainer = Trainer(
        model=model,
        args=args,
        train_dataset=train_set,
        eval_dataset=eval_set,
        data_collator=_Collator(collator),
        compute_metrics=_accuracy,
        preprocess_logits_for_metrics=_argmax,
    )
    if not show:
        trainer.remove_callback(PrinterCallback)
    if lines:
        trainer.add_callback(_LogLines())
    return trainer
