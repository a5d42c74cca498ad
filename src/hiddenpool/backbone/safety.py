"""What loading refuses unless asked: code shipped with a checkpoint, and pickled weights.

Both can run arbitrary code on load. The refusal says why and how to opt in.
"""

from __future__ import annotations

import json
from pathlib import Path

__all__ = ["check_local_checkpoint", "remote_code_refusal"]

_SAFE = ("model*.safetensors",)  # not a head saved beside the model (pooled_head.safetensors)
_PICKLE = ("pytorch_model*.bin", "*.pt", "*.pth", "*.ckpt")


def remote_code_refusal(name: str) -> str:
    return (
        f"{name}: this checkpoint ships its own model code, which would run on load; "
        "hiddenpool runs it only when asked: pass trust_remote_code=True after reading that code"
    )


def check_local_checkpoint(folder: Path, allow_pickle: bool, trust_remote_code: bool) -> None:
    """Refuse a local checkpoint that needs remote code or has only pickled weights.

    Raises:
        ValueError: one line naming the folder, the reason and the opt-in.
    """
    try:
        config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as error:
        raise ValueError(f"{folder / 'config.json'}: not readable JSON ({error})") from None
    if config.get("auto_map") and not trust_remote_code:
        raise ValueError(remote_code_refusal(str(folder)))
    has_safe = any(any(folder.glob(p)) for p in _SAFE)
    pickled = sorted(f.name for p in _PICKLE for f in folder.glob(p))
    if not has_safe and pickled and not allow_pickle:
        raise ValueError(
            f"{folder}: only pickled weights ({', '.join(pickled)}), and unpickling can run "
            "arbitrary code; convert them to safetensors, or pass allow_pickle=True if you trust "
            "the file"
        )
    if not has_safe and not pickled:
        raise FileNotFoundError(f"{folder}: no weights (*.safetensors) next to config.json")
