"""One padded batch -> pooled vectors in PyTorch: the reference every other backend matches.

A backend is a callable ``backend(batch, poolers) -> {strategy: (B, width) float32}``, where
``batch`` holds (B, T) int64 arrays: the tokenizer's outputs plus ``pool_mask``, the tokens each
window pools (see :mod:`.windows`). Vectors are not yet normalised. :mod:`.onnx` checks its
export against :class:`TorchBackend`; :mod:`.backends` picks one by name.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Protocol

import numpy as np
import torch

from hiddenpool.backbone import Backbone
from hiddenpool.pooling import Pooler, Strategy
from hiddenpool.states import CaptureRequest

__all__ = ["Backend", "TorchBackend"]

_SPANS = ("text_mask", "mask_token_mask")  # a prompt template's spans, see HiddenStates


class Backend(Protocol):
    """What the Encoder calls once per batch.

    ``batch_tokens`` is the padded-token budget per batch that suits it (see bench/README.md).
    """

    name: str
    batch_tokens: int

    def __call__(
        self, batch: Mapping[str, np.ndarray], poolers: Sequence[Pooler]
    ) -> dict[Strategy, np.ndarray]: ...


class TorchBackend:
    """The backbone in PyTorch: early-exit capture of the union of layers, then every pooler."""

    name = "torch"

    def __init__(self, backbone: Backbone) -> None:
        self.backbone = backbone
        # CPUs: a few thousand tokens keep activations in cache; GPUs want far larger batches.
        self.batch_tokens = 4096 if backbone.device.type == "cpu" else 65_536

    def __call__(
        self, batch: Mapping[str, np.ndarray], poolers: Sequence[Pooler]
    ) -> dict[Strategy, np.ndarray]:
        backbone = self.backbone
        num_layers = backbone.num_layers
        request = CaptureRequest.union(p.strategy.capture_request(num_layers) for p in poolers)
        device = backbone.device
        tensors = {k: torch.from_numpy(v).to(device) for k, v in batch.items()}
        pool_mask = tensors.pop("pool_mask").bool()
        text_mask, mask_token_mask = (
            tensors.pop(k).bool() if k in tensors else None for k in _SPANS
        )
        with torch.inference_mode():
            states = backbone.capture(tensors, request)
            states = replace(
                states,
                attention_mask=pool_mask,
                text_mask=text_mask,
                mask_token_mask=mask_token_mask,
            )
            return {p.strategy: p(states).to(torch.float32).cpu().numpy() for p in poolers}
