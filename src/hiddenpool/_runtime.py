"""Where and how things run: device, dtype, mixed precision, processes, and the cache folder.

Every command resolves ``"auto"`` the same way through these functions: the first CUDA GPU when
there is one, else the CPU; float32 on the CPU, bfloat16 on GPUs that have it, else float16.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # imported where used: cache_root and DTYPES serve torch-free callers too
    import torch

__all__ = [
    "DTYPES",
    "PRECISIONS",
    "cache_root",
    "ddp_settings",
    "mixed_precision",
    "resolve_device",
    "resolve_dtype",
    "world_size",
]

# Each accepted spelling of a weights dtype -> the torch attribute it names.
DTYPES: dict[str, str] = {
    "float32": "float32",
    "fp32": "float32",
    "float16": "float16",
    "fp16": "float16",
    "bfloat16": "bfloat16",
    "bf16": "bfloat16",
}
PRECISIONS = ("auto", "fp32", "fp16", "bf16")


def resolve_device(device: str | torch.device) -> torch.device:
    """``"auto"`` is the first CUDA GPU when there is one, else the CPU."""
    import torch

    if str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def resolve_dtype(dtype: str | torch.dtype, device: torch.device) -> torch.dtype:
    """``"auto"`` is float32 on CPU, bfloat16 on GPUs that have it, else float16.

    >>> import torch
    >>> resolve_dtype("auto", torch.device("cpu"))
    torch.float32
    """
    import torch

    if isinstance(dtype, torch.dtype):
        return dtype
    if dtype == "auto":
        if device.type != "cuda":
            return torch.float32
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    if dtype not in DTYPES:
        raise ValueError(f"dtype {dtype!r} is not one of auto, {', '.join(DTYPES)}")
    return getattr(torch, DTYPES[dtype])


def mixed_precision(precision: str, device: str) -> dict[str, bool]:
    """TrainingArguments flags for ``precision`` (auto, fp32, fp16, bf16) on ``device``.

    fp16/bf16 are GPU features (TrainingArguments rejects them on a CPU-only machine), so on the
    CPU this is always ``{}``; ``"auto"`` is bf16 where the GPU has it, else fp16.
    """
    import torch

    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    if not torch.cuda.is_available() or device == "cpu" or precision == "fp32":
        return {}
    if precision == "auto":
        return {"bf16": True} if torch.cuda.is_bf16_supported() else {"fp16": True}
    return {precision: True}


def world_size() -> int:
    """Processes of this run: ``WORLD_SIZE`` as torchrun and accelerate launch set it."""
    return max(1, int(os.environ.get("WORLD_SIZE", "1")))


def ddp_settings(batch_size: int, device_type: str) -> dict[str, Any]:
    """TrainingArguments for splitting one step's ``batch_size`` over this run's processes.

    Under torchrun or accelerate launch each of N processes takes ``batch_size / N`` of a step,
    so N processes train the steps one process would. The process group must be named: on a
    CPU the Trainer (``use_cpu``) starts none by itself, and N unconnected processes would each
    train the whole run and write the same files at once.

    Raises:
        ValueError: ``batch_size`` does not divide among the processes.
    """
    processes = world_size()
    if batch_size % processes:
        raise ValueError(
            f"`batch_size` {batch_size} is the batch of one step over all {processes} "
            f"processes, so it must divide by {processes}"
        )
    return {
        "per_device_train_batch_size": batch_size // processes,
        "ddp_backend": None if processes == 1 else ("nccl" if device_type == "cuda" else "gloo"),
    }


def cache_root() -> Path:
    """The hiddenpool cache folder (not created).

    Returns:
        ``$HIDDENPOOL_CACHE`` if set, else ``$XDG_CACHE_HOME/hiddenpool``, else
        ``~/.cache/hiddenpool``.
    """
    if os.environ.get("HIDDENPOOL_CACHE"):
        return Path(os.environ["HIDDENPOOL_CACHE"]).expanduser()
    if os.environ.get("XDG_CACHE_HOME"):
        return Path(os.environ["XDG_CACHE_HOME"]).expanduser() / "hiddenpool"
    return Path.home() / ".cache" / "hiddenpool"
