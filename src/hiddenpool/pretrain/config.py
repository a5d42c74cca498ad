"""Settings of one pretraining run, and the model sizes ``--size`` names."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

__all__ = ["ARCHITECTURES", "OBJECTIVES", "SIZES", "ModelSize", "PretrainConfig"]

OBJECTIVES = ("mlm", "clm")
# From scratch: the encoder MLM trains, and the two decoder shapes CLM trains (GPT-2: learned
# positions, LayerNorm, GELU; Llama: rotary positions, RMSNorm, SwiGLU).
ARCHITECTURES = {"mlm": ("roberta",), "clm": ("gpt2", "llama")}


@dataclass(frozen=True)
class ModelSize:
    """A transformer shape for training from scratch (RoBERTa, GPT-2 or Llama).

    Attributes:
        num_layers: transformer blocks.
        hidden_size: width.
        num_heads: attention heads (hidden_size must divide by it).
        intermediate_size: feed-forward width (4 x hidden, as in BERT).
    """

    num_layers: int
    hidden_size: int
    num_heads: int
    intermediate_size: int


SIZES: dict[str, ModelSize] = {
    # Seconds on a CPU: for tests and smoke runs.
    "tiny": ModelSize(num_layers=2, hidden_size=64, num_heads=2, intermediate_size=256),
    # Minutes on 2 CPU cores for a few thousand steps: the raw MLM model of the pooling study.
    "small": ModelSize(num_layers=4, hidden_size=256, num_heads=4, intermediate_size=1024),
    # RoBERTa-base's shape: needs a GPU.
    "base": ModelSize(num_layers=12, hidden_size=768, num_heads=12, intermediate_size=3072),
}


@dataclass(frozen=True)
class PretrainConfig:
    """Everything that defines a pretraining run; saved with it, compared on ``--resume``.

    Attributes:
        corpus: a .txt/.csv/.tsv/.jsonl/.parquet file or a folder of them.
        out: output folder (a Hugging Face ``*ForMaskedLM`` / ``*ForCausalLM`` checkpoint when
            done).
        objective: ``"mlm"`` (masked language modelling, encoders) or ``"clm"`` (next-token
            prediction, decoders).
        from_model: continue from this checkpoint (name, folder) instead of training from scratch.
        architecture: the model from scratch: ``roberta`` for MLM; ``gpt2`` or ``llama`` for CLM;
            None picks the first.
        size: the shape from scratch (``SIZES``).
        tokenizer: ``"train"`` a byte-level BPE on the corpus, or ``"from-model"``; None picks
            ``from-model`` with ``from_model`` and ``train`` without.
        vocab_size: vocabulary of a trained tokenizer (8k is plenty for one domain).
        max_length: tokens per training block (positions of a new model: this + 2, RoBERTa's).
        mlm_probability: share of tokens masked (BERT's 15%; MLM only).
        whole_word_mask: mask every piece of a chosen word (needs a fast tokenizer).
        epochs: passes over the training blocks (ignored when ``max_steps`` > 0).
        max_steps: optimiser steps; -1 runs ``epochs``.
        eval_fraction: share of documents held out (by a hash of their text).
        max_eval_blocks: cap on held-out blocks evaluated; None evaluates the whole split.
        text_column: text column of table files.
        batch_size: blocks per optimiser step, over all processes (under torchrun each of N
            processes takes ``batch_size / N``, so the run is the same whatever N).
        lr: peak learning rate; None: 5e-4 from scratch, 5e-5 continued.
        warmup: share of steps of linear warm-up.
        weight_decay: AdamW weight decay.
        save_steps: checkpoint every this many steps.
        eval_steps: evaluate the held-out split every this many steps; None: at each checkpoint.
        logging_steps: log the training loss every this many steps.
        seed: seeds initialisation, data order and the held-out masks.
        device: ``auto``, ``cpu``, ``cuda``...
        precision: ``auto``, ``fp32``, ``fp16``, ``bf16``. On a CPU ``bf16`` is autocast (its loss
            follows fp32's; whether it is faster depends on the CPU and the model's size),
            ``auto`` is fp32 and ``fp16`` is refused.
    """

    corpus: str
    out: str
    objective: str = "mlm"
    from_model: str | None = None
    architecture: str | None = None
    size: str = "small"
    tokenizer: str | None = None
    vocab_size: int = 8000
    max_length: int = 128
    mlm_probability: float = 0.15
    whole_word_mask: bool = False
    epochs: float = 1.0
    max_steps: int = -1
    eval_fraction: float = 0.02
    max_eval_blocks: int | None = 1000
    text_column: str | None = None
    batch_size: int = 32
    lr: float | None = None
    warmup: float = 0.06
    weight_decay: float = 0.01
    save_steps: int = 500
    eval_steps: int | None = None
    logging_steps: int = 50
    seed: int = 0
    device: str = "auto"
    precision: str = "auto"

    def __post_init__(self) -> None:
        self._check_objective()
        if self.size not in SIZES:
            raise ValueError(f"size={self.size!r} is unknown; expected one of {', '.join(SIZES)}")
        if self.tokenizer not in (None, "train", "from-model"):
            raise ValueError(f"tokenizer={self.tokenizer!r}: expected train or from-model")
        if self.from_model is None and self.tokenizer == "from-model":
            raise ValueError(
                "tokenizer='from-model' needs `from_model` (from scratch it is trained)"
            )
        if self.from_model is not None and self.tokenizer == "train":
            raise ValueError(
                "tokenizer='train' cannot go with `from_model`: the model's embeddings belong "
                "to its own tokenizer; drop one of them"
            )
        checks = {
            "vocab_size": (self.vocab_size, 256 + 5),
            "max_length": (self.max_length, 8),
            "batch_size": (self.batch_size, 1),
            "save_steps": (self.save_steps, 1),
            "logging_steps": (self.logging_steps, 1),
            "max_eval_blocks": (1 if self.max_eval_blocks is None else self.max_eval_blocks, 1),
            "eval_steps": (1 if self.eval_steps is None else self.eval_steps, 1),
        }
        for flag, (value, least) in checks.items():
            if value < least:
                raise ValueError(f"`{flag}` must be at least {least}, got {value}")
        if not 0.0 < self.mlm_probability < 1.0:
            raise ValueError(f"`mlm_probability` must be in (0, 1), got {self.mlm_probability}")
        if not 0.0 < self.eval_fraction < 1.0:
            raise ValueError(f"`eval_fraction` must be in (0, 1), got {self.eval_fraction}")
        if self.max_steps <= 0 and self.epochs <= 0:
            raise ValueError("give `epochs` > 0 or `max_steps` > 0")

    def _check_objective(self) -> None:
        if self.objective not in OBJECTIVES:
            raise ValueError(
                f"objective={self.objective!r} is unknown; expected one of {', '.join(OBJECTIVES)}"
            )
        allowed = ARCHITECTURES[self.objective]
        if self.architecture is not None and self.architecture not in allowed:
            raise ValueError(
                f"architecture={self.architecture!r} cannot train objective={self.objective!r}; "
                f"expected one of {', '.join(allowed)}"
            )
        if self.architecture is not None and self.from_model is not None:
            raise ValueError(
                "`architecture` names a model from scratch; with `from_model` the checkpoint's "
                "own architecture is trained: drop one of them"
            )

    @property
    def continued(self) -> bool:
        return self.from_model is not None

    @property
    def model_architecture(self) -> str:
        """The architecture trained from scratch (``roberta``, ``gpt2`` or ``llama``)."""
        return self.architecture or ARCHITECTURES[self.objective][0]

    @property
    def evaluate_every(self) -> int:
        return self.eval_steps or self.save_steps

    @property
    def learning_rate(self) -> float:
        if self.lr is not None:
            return self.lr
        return 5e-5 if self.continued else 5e-4

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def resume_key(self) -> dict[str, Any]:
        """What must match for ``--resume`` to continue a run (everything but where it runs)."""
        record = self.to_dict()
        for key in ("device", "precision", "logging_steps", "eval_steps"):
            record.pop(key)
        return record
