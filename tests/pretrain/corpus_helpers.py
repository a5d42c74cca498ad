"""A small synthetic corpus with structure an MLM can learn in a few steps (fixed phrases)."""

from __future__ import annotations

import random
from pathlib import Path

from hiddenpool.pretrain import PretrainConfig

PHRASES = (
    "the kernel schedules every runnable thread",
    "a driver registers its interrupt handler",
    "the page cache keeps recently read blocks",
    "userspace talks to the device through ioctl",
    "memory barriers order loads and stores",
    "the scheduler balances load across processors",
)


def documents(n: int, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    return [". ".join(rng.sample(PHRASES, k=rng.randint(2, 4))) + "." for _ in range(n)]


def write_corpus(path: Path, n: int = 300, seed: int = 0, paragraphs: bool = True) -> Path:
    """``n`` documents, separated by blank lines (each wrapped over two lines) or one a line."""
    path.parent.mkdir(parents=True, exist_ok=True)
    docs = documents(n, seed)
    if paragraphs:
        text = "\n\n".join(d.replace(". ", ".\n", 1) for d in docs) + "\n"
    else:
        text = "\n".join(docs) + "\n"
    path.write_text(text, encoding="utf-8")
    return path


TINY = [
    "--size", "tiny", "--vocab-size", "300", "--max-length", "32", "--batch-size", "8",
    "--eval-fraction", "0.1", "--max-eval-blocks", "16", "--quiet",
]  # fmt: skip


def tiny_config(corpus: Path, out: Path, **overrides: object) -> PretrainConfig:
    """A tiny pretraining run of a few seconds (30 steps of 8 blocks of 32 tokens)."""
    settings: dict[str, object] = dict(
        size="tiny",
        vocab_size=300,
        max_length=32,
        batch_size=8,
        eval_fraction=0.1,
        max_eval_blocks=16,
        max_steps=30,
        save_steps=10,
        lr=5e-3,
    )
    settings.update(overrides)
    return PretrainConfig(corpus=str(corpus), out=str(out), **settings)  # type: ignore[arg-type]
