"""One pretraining run: check the output folder, prepare the data once, train, resume, finish.

The output folder while a run is going:

```
OUT/
  .hiddenpool-pretrain/
    run.json          the settings (compared on --resume)
    tokenizer/        the tokenizer trained on the corpus (from scratch)
    data.json         the tokenized streams, written once they are complete
    train.ids/.flags  eval.ids/.flags  (memory-mapped token streams)
    eval_before.json  held-out loss and accuracy before training
    checkpoints/checkpoint-N/   Trainer checkpoints (the last two)
```

When it finishes, OUT holds an ordinary Hugging Face checkpoint (config.json, model.safetensors,
tokenizer files) of the ``*ForMaskedLM`` or ``*ForCausalLM`` model, plus ``pretrain.json`` with
what was trained and the held-out loss and accuracy (masked-token for MLM, next-token for CLM);
the work folder is removed.

Under torchrun every process checks the output folder, then rank 0 prepares the tokenizer and
token streams while the others wait (``main_process_first``) and reuse them; rank 0 alone writes
checkpoints, the final folder and ``pretrain.json``.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch
from transformers import set_seed
from transformers.utils import logging as hf_logging

from hiddenpool._runtime import resolve_device
from hiddenpool.pretrain.config import PretrainConfig
from hiddenpool.pretrain.corpus import corpus_files, is_held_out, iter_documents
from hiddenpool.pretrain.model import check_max_length, continued_model, new_model
from hiddenpool.pretrain.tokens import (
    BlockDataset,
    TokenStream,
    read_stream,
    save_json,
    train_tokenizer,
    write_token_stream,
)
from hiddenpool.pretrain.trainer import (
    MASK_STATE,
    MaskState,
    eval_record,
    masked_eval_set,
    mlm_collator,
    pretrain_trainer,
    say,
    sparse_mlm_logits,
    training_arguments,
    world_size,
)

__all__ = ["RECORD", "WORK", "PretrainResult", "last_checkpoint", "pretrain"]

WORK = ".hiddenpool-pretrain"
RECORD = "pretrain.json"


@dataclass(frozen=True)
class PretrainResult:
    """What a finished run reports (also written to ``OUT/pretrain.json``)."""

    out: Path
    record: dict[str, Any]

    def summary(self) -> str:
        r = self.record
        before, after = r["eval_before"], r["eval_after"]
        clm = r["settings"]["objective"] == "clm"
        kind, accuracy = ("CLM", "next-token") if clm else ("MLM", "masked-token")
        scored = (
            f"{after['predicted_tokens']:,} predicted"
            if clm
            else (f"{after['masked_tokens']:,} masked")
        )
        return (
            f"{self.out}: {r['model']['description']}, {r['train']['global_step']} steps "
            f"in {r['train']['seconds'] / 60:.1f} min; held-out {kind} loss "
            f"{before['loss']:.3f} -> {after['loss']:.3f} (perplexity {after['perplexity']:.1f}), "
            f"{accuracy} accuracy {before['accuracy']:.3f} -> {after['accuracy']:.3f} "
            f"({scored} tokens in {after['blocks']:,} blocks)"
        )


def _check_out(out: Path, config: PretrainConfig, resume: bool) -> bool:
    """Validate the output folder; True when a run should be resumed from it."""
    if out.exists() and not out.is_dir():
        raise ValueError(f"{out}: --out is a file; expected a new or empty folder")
    if not out.exists() or not any(out.iterdir()):
        return False
    work = out / WORK / "run.json"
    if (out / RECORD).is_file():
        raise ValueError(
            f"{out}: already holds a finished pretrained model ({RECORD}); choose another `out`"
        )
    if not work.is_file():
        shown = ", ".join(sorted(p.name for p in out.iterdir())[:4])
        raise ValueError(
            f"{out}: holds other files ({shown}); `out` must be a new or empty folder, or an "
            "unfinished pretraining run with resume=True"
        )
    if not resume:
        raise ValueError(
            f"{out}: holds an unfinished pretraining run; pass resume=True to continue it, or "
            "choose another `out`"
        )
    stored = json.loads(work.read_text(encoding="utf-8"))
    wanted = config.resume_key()
    changed = sorted(k for k in set(stored) | set(wanted) if stored.get(k) != wanted.get(k))
    if changed:
        diffs = "; ".join(f"{k}: was {stored.get(k)!r}, now {wanted.get(k)!r}" for k in changed)
        raise ValueError(f"{out}: resume=True with other settings than the run it holds ({diffs})")
    return True


def _checked(config: PretrainConfig, resume: bool) -> tuple[PretrainConfig, list[Path], bool]:
    """Absolute paths, the corpus files, and whether to resume; refuses bad input up front."""
    out = Path(config.out).expanduser().resolve()
    files = corpus_files(config.corpus)
    config = replace(config, corpus=str(Path(config.corpus).expanduser().resolve()), out=str(out))
    resuming = _check_out(out, config, resume)
    if next(iter_documents(files, config.text_column), None) is None:  # before writing anything
        raise ValueError(f"{config.corpus}: the corpus holds no text (every document is blank)")
    return config, files, resuming


def _training_documents(config: PretrainConfig, files: list[Path], held_out: bool) -> Any:
    fraction = config.eval_fraction
    for document in iter_documents(files, config.text_column):
        if is_held_out(document, fraction) == held_out:
            yield document


def _scratch_tokenizer(config: PretrainConfig, files: list[Path], work: Path, show: bool) -> Any:
    """Train the tokenizer on the training documents once; reuse it on --resume."""
    from transformers import AutoTokenizer

    folder = work / "tokenizer"
    if (folder / "tokenizer_config.json").is_file():
        return AutoTokenizer.from_pretrained(folder)
    if show:
        say(f"training a {config.vocab_size:,}-token byte-level BPE tokenizer")
    documents = _training_documents(config, files, held_out=False)
    decoder = config.objective == "clm"
    tokenizer = train_tokenizer(documents, config.vocab_size, config.max_length, show, decoder)
    if len(tokenizer) <= 5:  # only the special tokens: nothing was read
        raise ValueError(f"{config.corpus}: the corpus holds no text (every document is blank)")
    staged = work / "tokenizer.tmp"
    shutil.rmtree(staged, ignore_errors=True)
    tokenizer.save_pretrained(staged)
    os.replace(staged, folder)
    return tokenizer


def _token_streams(
    config: PretrainConfig, files: list[Path], work: Path, tokenizer: Any, show: bool
) -> tuple[TokenStream, TokenStream]:
    """Tokenize the corpus into train/held-out streams once; reuse them on --resume."""
    data_file = work / "data.json"
    if data_file.is_file():
        data = json.loads(data_file.read_text(encoding="utf-8"))
        return read_stream(data["train"]), read_stream(data["eval"])
    if show:
        say("tokenizing the corpus")
    train = write_token_stream(_training_documents(config, files, False), tokenizer, work / "train")
    held = write_token_stream(_training_documents(config, files, True), tokenizer, work / "eval")
    if train.documents == 0 and held.documents == 0:
        raise ValueError(f"{config.corpus}: the corpus holds no text (every document is blank)")
    content = config.max_length if config.objective == "clm" else config.max_length - 2
    if train.tokens < content or held.tokens < content:
        raise ValueError(
            f"{config.corpus}: too little text for --max-length {config.max_length} and "
            f"--eval-fraction {config.eval_fraction}: {train.tokens:,} training and "
            f"{held.tokens:,} held-out tokens, and each side needs a block of {content}"
        )
    save_json(data_file, {"train": train.to_dict(), "eval": held.to_dict()})
    return train, held


def last_checkpoint(folder: Path, mlm: bool = False) -> Path | None:
    """The newest checkpoint written completely: the Trainer saves trainer_state.json last, then
    (MLM) every process its mask generator's state."""
    if not folder.is_dir():
        return None
    needed = ["trainer_state.json"]
    if mlm:
        needed += [MASK_STATE.format(rank=r) for r in range(world_size())]
    complete = [
        p
        for p in folder.iterdir()
        if p.name.startswith("checkpoint-") and all((p / n).is_file() for n in needed)
    ]
    return max(complete, key=lambda p: int(p.name.split("-")[1]), default=None)


def _datasets(
    config: PretrainConfig,
    tokenizer: Any,
    train_stream: TokenStream,
    eval_stream: TokenStream,
    model: Any,
    main: bool,
) -> tuple[BlockDataset, Any, Any, bool]:
    """Training blocks, the held-out set (MLM: masked once), the collator, whole-word or not.

    For MLM the model is also switched to logits at masked positions only while training.
    """
    clm = config.objective == "clm"
    whole_word = not clm and config.whole_word_mask and bool(getattr(tokenizer, "is_fast", False))
    if config.whole_word_mask and not whole_word and not clm and main:
        say("--whole-word-mask needs a fast tokenizer (word offsets); masking single tokens")
    wrap = not clm
    train_set = BlockDataset(train_stream, tokenizer, config.max_length, whole_word, wrap=wrap)
    eval_blocks = BlockDataset(
        eval_stream,
        tokenizer,
        config.max_length,
        whole_word,
        limit=config.max_eval_blocks,
        wrap=wrap,
    )
    if clm:
        return train_set, eval_blocks, None, False
    rank = int(os.environ.get("RANK", "0"))
    collator = mlm_collator(tokenizer, config, whole_word, config.seed + 1 + rank)
    eval_set = masked_eval_set(
        eval_blocks, mlm_collator(tokenizer, config, whole_word, config.seed)
    )
    sparse_mlm_logits(model)
    return train_set, eval_set, collator, whole_word


def _model_and_data(
    config: PretrainConfig, files: list[Path], args: Any, resuming: bool, show: bool
) -> tuple[Any, Any, list[str], str, TokenStream, TokenStream]:
    """The model, its tokenizer and the token streams; rank 0 prepares, the others reuse."""
    work = Path(config.out) / WORK
    main = args.process_index == 0
    if config.continued:  # load before anything is written: a bad --from leaves OUT untouched
        model, tokenizer, fresh, description = continued_model(config)
    set_seed(config.seed)
    with args.main_process_first(desc="preparing the corpus", local=False):
        work.mkdir(parents=True, exist_ok=True)
        if main and not resuming:
            save_json(work / "run.json", config.resume_key())
        if config.continued:
            if fresh and main:
                head = "causal-LM" if config.objective == "clm" else "MLM"
                say(
                    f"--from {config.from_model}: the checkpoint has no {head} head; a freshly "
                    f"initialised one is trained ({', '.join(fresh)})"
                )
        else:
            tokenizer = _scratch_tokenizer(config, files, work, show)
            set_seed(config.seed)  # the same initial weights however the tokenizer was got
            model, description = new_model(config, tokenizer)
            fresh = []
        check_max_length(model, config.max_length)
        train_stream, eval_stream = _token_streams(config, files, work, tokenizer, show)
    return model, tokenizer, fresh, description, train_stream, eval_stream


def pretrain(
    config: PretrainConfig,
    resume: bool = False,
    show_progress: bool | None = None,
    log_lines: bool | None = None,
) -> PretrainResult:
    """Pretrain (or continue pretraining) a masked or causal language model on a corpus.

    Args:
        config: the run's settings.
        resume: continue an unfinished run in ``config.out`` from its last complete checkpoint.
        show_progress: progress bars; None: only on a terminal.
        log_lines: without bars, print a line per log and evaluation to stderr (for log
            files); None: whenever there are no bars.

    Returns:
        The finished run (also in ``OUT/pretrain.json``).

    Raises:
        ValueError: bad settings, an empty corpus, a ``--from`` without a head for the
            objective, or an output folder that holds something else (nothing is overwritten).
        FileNotFoundError: the corpus or the ``--from`` model does not exist.

    >>> pretrain(PretrainConfig("docs/", "runs/mlm", size="tiny", max_steps=20))  # doctest: +SKIP
    """
    config, files, resuming = _checked(config, resume)
    out = Path(config.out)
    work = out / WORK
    device = resolve_device(config.device)
    args = training_arguments(config, work / "checkpoints", device, False)  # sets up DDP
    main = args.process_index == 0
    show = main and (sys.stderr.isatty() if show_progress is None else show_progress)
    lines = main and ((not show) if log_lines is None else log_lines)
    args.disable_tqdm = not show
    args.distributed_state.wait_for_everyone()  # every process checked `out` before it changes
    started = time.perf_counter()
    model, tokenizer, fresh, description, train_stream, eval_stream = _model_and_data(
        config, files, args, resuming, show
    )
    train_set, eval_set, collator, whole_word = _datasets(
        config, tokenizer, train_stream, eval_stream, model, main
    )
    trainer = pretrain_trainer(config, args, model, train_set, eval_set, collator, show, lines)
    steps_per_epoch = max(1, len(train_set) // config.batch_size)
    if show or lines:
        say(
            f"{description}: {len(train_set):,} training blocks of {config.max_length} tokens, "
            f"{len(eval_set):,} held-out; {steps_per_epoch:,} steps per epoch"
            + (f"; {args.world_size} processes" if args.world_size > 1 else "")
        )
    progress_was_on = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()  # "Writing model shards" at every checkpoint
    staged = work / "final"
    try:
        before_file = work / "eval_before.json"
        if before_file.is_file():
            before = json.loads(before_file.read_text(encoding="utf-8"))
        else:
            # Every process takes part. accelerate marks a model it prepared for evaluation as
            # prepared, and then does not wrap it in DDP for training: each process trained its
            # own copy on its shard (accelerate 1.15). Hence a Trainer of its own, and the mark
            # taken off again.
            judge = pretrain_trainer(config, args, model, train_set, eval_set, None, False, False)
            before = eval_record(judge.evaluate(), len(eval_set))
            if getattr(model, "_is_accelerate_prepared", False):
                del model._is_accelerate_prepared
            if main:
                save_json(before_file, before)
        clm = config.objective == "clm"
        checkpoint = last_checkpoint(work / "checkpoints", not clm) if resuming else None
        if checkpoint is not None:
            MaskState.restore_all(trainer, checkpoint)
            if main:
                say(f"resuming from {checkpoint.name}")
        elif resuming and main:
            say("no complete checkpoint yet: training starts from step 0")
        train_start = time.perf_counter()
        output = trainer.train(resume_from_checkpoint=str(checkpoint) if checkpoint else None)
        train_seconds = time.perf_counter() - train_start
        after = eval_record(trainer.evaluate(), len(eval_set))
        if main:
            shutil.rmtree(staged, ignore_errors=True)
            model.save_pretrained(staged)
            tokenizer.save_pretrained(staged)
    finally:
        if progress_was_on:
            hf_logging.enable_progress_bar()
    tokens_seen = int(output.global_step) * config.batch_size * config.max_length
    record: dict[str, Any] = {
        "model": {
            "description": description,
            "architecture": type(model).__name__,
            "from": config.from_model,
            "size": None if config.continued else config.size,
            "num_layers": int(model.config.num_hidden_layers),
            "hidden_size": int(model.config.hidden_size),
            "vocab_size": len(tokenizer),
            "parameters": int(sum(p.numel() for p in model.parameters())),
            "fresh_head": fresh,
        },
        "corpus": {
            "path": config.corpus,
            "files": len(files),
            "train_documents": train_stream.documents,
            "train_tokens": train_stream.tokens,
            "eval_documents": eval_stream.documents,
            "eval_tokens": eval_stream.tokens,
        },
        "train": {
            "global_step": int(output.global_step),
            "resumed_from": checkpoint.name if checkpoint else None,
            "epochs": round(output.global_step / steps_per_epoch, 3),
            "train_blocks": len(train_set),
            "batch_size": config.batch_size,
            "processes": args.world_size,
            "tokens_seen": tokens_seen,
            "tokens_per_second": round(tokens_seen / max(train_seconds, 1e-9), 1),
            "precision": "bf16" if args.bf16 else "fp16" if args.fp16 else "fp32",
            "learning_rate": config.learning_rate,
            "train_loss": float(output.training_loss),
            "seconds": round(train_seconds, 1),
            "total_seconds": round(time.perf_counter() - started, 1),
            "whole_word_mask": whole_word,
            "device": str(device),
            "threads": torch.get_num_threads(),
            "machine": f"{platform.machine()}, {os.cpu_count()} CPUs",
            "log_history": [_log_entry(e) for e in trainer.state.log_history],
        },
        "eval_before": before,
        "eval_after": after,
        "settings": config.to_dict(),
    }
    if main:
        for path in staged.iterdir():
            os.replace(path, out / path.name)
        save_json(out / RECORD, record)  # last: its presence means the folder is complete
        shutil.rmtree(work, ignore_errors=True)
    args.distributed_state.wait_for_everyone()  # nobody returns before the folder is complete
    return PretrainResult(out=out, record=record)


def _log_entry(entry: dict[str, Any]) -> dict[str, Any]:
    """One Trainer log line: step, training or held-out loss, learning rate (no runtimes)."""
    kept = ("step", "epoch", "loss", "learning_rate", "eval_loss", "eval_accuracy")
    return {k: entry[k] for k in kept if k in entry}
