"""The Hugging Face Trainer set up for pretraining: MLM masking with fixed held-out masks, or
next-token prediction; held-out accuracy, bf16 on CPUs, DDP under torchrun, log lines.

Under ``torchrun``/``accelerate launch`` the Trainer runs DDP (gloo on CPUs, nccl on GPUs): each
process takes ``batch_size / N`` blocks of every step's batch (accelerate shards one seeded order),
so N processes see the batches one process would; checkpoints are written by rank 0.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from transformers import (
    DataCollatorForLanguageModeling,
    Trainer,
    TrainerCallback,
    TrainingArguments,
)
from transformers.trainer_callback import PrinterCallback

from hiddenpool._runtime import ddp_settings, mixed_precision, world_size
from hiddenpool.pretrain.config import PretrainConfig
from hiddenpool.pretrain.tokens import BlockDataset

__all__ = [
    "MASK_STATE",
    "MaskState",
    "eval_record",
    "masked_eval_set",
    "mlm_collator",
    "pretrain_trainer",
    "say",
    "sparse_mlm_logits",
    "training_arguments",
    "world_size",
]

_LOGGED = ("loss", "learning_rate", "eval_loss", "eval_accuracy")
MASK_STATE = "mask_rng_{rank}.pt"  # the training masks' generator, in each checkpoint


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
            if state.is_world_process_zero:
                say(f"{when}: {cells}")


class MaskState(TrainerCallback):
    """Saves the training masks' generator with each checkpoint, and restores it on resume.

    Masks drawn from the global RNG do not come back on resume: the Trainer restores it only
    after it has collated the first resumed batch. So the collator draws from its own
    generator, and each checkpoint of step k stores that generator as it was before batch k + 1
    (accelerate's loader has usually collated that batch already, one ahead), one file per
    process: the resumed run masks every batch as the uninterrupted one did.
    """

    def __init__(self, collator: _Collator, rank: int) -> None:
        if collator.mlm is None:
            raise ValueError("MaskState needs an MLM collator")
        self.collator = collator
        self.name = MASK_STATE.format(rank=rank)
        collator.mlm.create_rng("pt")

    def on_save(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        folder = Path(args.output_dir) / f"checkpoint-{state.global_step}"
        folder.mkdir(parents=True, exist_ok=True)
        record = {
            "batch": state.global_step,
            "state": self.collator.state_before(state.global_step),
        }
        staged = folder / f".{self.name}.tmp"
        torch.save(record, staged)
        os.replace(staged, folder / self.name)  # its presence marks the checkpoint complete

    @staticmethod
    def restore_all(trainer: Trainer, checkpoint: Path) -> None:
        """Restore every MaskState callback of ``trainer`` from ``checkpoint``."""
        for callback in trainer.callback_handler.callbacks:
            if isinstance(callback, MaskState):
                callback.restore(checkpoint)

    def restore(self, checkpoint: Path) -> None:
        record = torch.load(checkpoint / self.name, weights_only=True)
        self.collator.resume_at(int(record["batch"]), record["state"])


def sparse_mlm_logits(model: Any) -> bool:
    """Train an MLM computing vocabulary logits only at masked positions (about 15% of them).

    The full head multiplies every position by the (hidden x vocab) matrix although only masked
    ones enter the loss; this is the same loss (token mean of cross-entropy over the masked
    positions) for about a sixth of that matmul. Evaluation keeps the model's own forward. The
    override lives on the instance, so the saved checkpoint is the ordinary class. Returns False
    (and changes nothing) for a model whose MLM head is not ``lm_head`` or ``cls``.
    """
    head = getattr(model, "lm_head", None) or getattr(model, "cls", None)
    base = getattr(model, "base_model", None)
    if head is None or base is None or base is model:
        return False
    full = model.forward

    def forward(
        input_ids: Any = None, attention_mask: Any = None, labels: Any = None, **kwargs: Any
    ) -> Any:
        if not model.training or labels is None:
            return full(input_ids=input_ids, attention_mask=attention_mask, labels=labels, **kwargs)
        from transformers.modeling_outputs import MaskedLMOutput

        hidden = base(input_ids=input_ids, attention_mask=attention_mask, **kwargs)[0]
        chosen = labels != -100
        logits = head(hidden[chosen])  # (masked tokens, vocab)
        loss = F.cross_entropy(logits.float(), labels[chosen])
        return MaskedLMOutput(loss=loss, logits=logits)

    model.forward = forward
    return True


class _Collator:
    """Masks training batches; passes held-out batches (masked once up front) and CLM blocks.

    Training batches are numbered from 0; the mask generator's state before each of the last
    few is kept for :class:`MaskState`.
    """

    def __init__(self, mlm: DataCollatorForLanguageModeling | None) -> None:
        self.mlm = mlm
        self.batches = 0
        self._before: dict[int, torch.Tensor] = {}

    def __call__(self, examples: list[dict[str, Any]]) -> dict[str, Any]:
        if "labels" in examples[0] or self.mlm is None:
            return {k: torch.stack([e[k] for e in examples]) for k in examples[0]}
        generator = self.mlm.generator
        if isinstance(generator, torch.Generator):
            self._before[self.batches] = generator.get_state()
            self._before.pop(self.batches - 4, None)
        self.batches += 1
        return self.mlm(examples)

    def state_before(self, batch: int) -> torch.Tensor:
        """The mask generator's state before training batch ``batch`` (0-based) was masked."""
        if batch in self._before:
            return self._before[batch]
        if batch != self.batches or self.mlm is None:
            raise ValueError(f"no mask state for batch {batch} (at batch {self.batches})")
        generator: Any = self.mlm.generator
        return generator.get_state()

    def resume_at(self, batch: int, state: torch.Tensor) -> None:
        if self.mlm is None:
            raise ValueError("only an MLM collator has a mask state to resume")
        generator: Any = self.mlm.generator
        generator.set_state(state)
        self.batches = batch
        self._before.clear()


def mlm_collator(
    tokenizer: Any, config: PretrainConfig, whole_word: bool, seed: int
) -> DataCollatorForLanguageModeling:
    """BERT's masking: ``mlm_probability`` of tokens, 80% ``<mask>``, 10% random, 10% kept,
    drawn from the collator's own generator seeded with ``seed``.

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


def _next_token_accuracy(prediction: Any) -> dict[str, float]:
    """The argmax at position t against the token at t + 1 (the model's own shift)."""
    predicted, labels = prediction.predictions[:, :-1], prediction.label_ids[:, 1:]
    scored = labels != -100
    return {
        "accuracy": float((predicted[scored] == labels[scored]).mean()),
        "predicted_tokens": int(scored.sum()),
    }


def _argmax(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    return logits.argmax(dim=-1)  # keeps (B, T) ids instead of (B, T, vocab) logits


def eval_record(metrics: dict[str, float], blocks: int) -> dict[str, Any]:
    """Held-out loss, perplexity and accuracy from ``Trainer.evaluate``.

    MLM: masked-token accuracy over ``masked_tokens``; CLM: next-token accuracy over
    ``predicted_tokens``.
    """
    loss = float(metrics["eval_loss"])
    record: dict[str, Any] = {
        "loss": loss,
        "perplexity": float(np.exp(min(loss, 50.0))),
        "accuracy": float(metrics["eval_accuracy"]),
    }
    for key in ("masked_tokens", "predicted_tokens"):
        if f"eval_{key}" in metrics:
            record[key] = int(metrics[f"eval_{key}"])
    record["blocks"] = blocks
    return record


def _precision(precision: str, device: torch.device) -> dict[str, Any]:
    """``mixed_precision``'s flags, plus bf16 autocast on a CPU (TrainingArguments has it)."""
    if device.type == "cpu" and precision == "bf16":
        return {"bf16": True}
    if device.type == "cpu" and precision == "fp16":
        raise ValueError("precision='fp16' needs a GPU; on a CPU choose bf16 or fp32")
    return dict(mixed_precision(precision, str(device)))


def training_arguments(
    config: PretrainConfig, checkpoints: Path, device: torch.device, show: bool
) -> TrainingArguments:
    """The run's TrainingArguments (creating them sets up DDP under torchrun).

    Raises:
        ValueError: ``batch_size`` does not divide among the processes.
    """
    processes = ddp_settings(config.batch_size, device.type)
    per_device = processes["per_device_train_batch_size"]
    return TrainingArguments(
        output_dir=str(checkpoints),
        num_train_epochs=config.epochs,
        max_steps=config.max_steps,
        per_device_eval_batch_size=per_device,
        learning_rate=config.learning_rate,
        weight_decay=config.weight_decay,
        warmup_steps=config.warmup,
        lr_scheduler_type="linear",
        eval_strategy="steps",
        eval_steps=config.evaluate_every,
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
        ddp_find_unused_parameters=False,
        **_precision(config.precision, device),
        **processes,
    )


def pretrain_trainer(
    config: PretrainConfig,
    args: TrainingArguments,
    model: Any,
    train_set: BlockDataset,
    eval_set: Any,
    collator: DataCollatorForLanguageModeling | None,
    show: bool,
    lines: bool,
) -> Trainer:
    """A Trainer that checkpoints every ``save_steps`` (the last two kept) and evaluates.

    ``collator`` masks MLM batches (its generator checkpointed, see :class:`MaskState`); None
    for CLM, whose blocks are stacked as they are.
    """
    clm = config.objective == "clm"
    collate = _Collator(collator)
    trainer = Trainer(
        model=model,
        args=args,
        train_dataset=train_set,
        eval_dataset=eval_set,
        data_collator=collate,
        compute_metrics=_next_token_accuracy if clm else _accuracy,
        preprocess_logits_for_metrics=_argmax,
    )
    if not show:
        trainer.remove_callback(PrinterCallback)
    if lines:
        trainer.add_callback(_LogLines())
    if collator is not None:
        trainer.add_callback(MaskState(collate, args.process_index))
    return trainer
