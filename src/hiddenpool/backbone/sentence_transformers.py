"""Read a sentence-transformers model folder without importing sentence-transformers.

A folder with ``modules.json`` names a Transformer module (the checkpoint, often at the root), a
Pooling module whose ``config.json`` holds six booleans, and optionally Normalize. We turn those
into a pooling spec, a max length and a normalisation default.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

__all__ = ["SentenceTransformersDefaults", "read_sentence_transformers_folder"]

# sentence-transformers concatenates its enabled modes in this order.
_MODES = (
    ("pooling_mode_cls_token", "cls"),
    ("pooling_mode_max_tokens", "max"),
    ("pooling_mode_mean_tokens", "mean"),
    ("pooling_mode_mean_sqrt_len_tokens", "mean_sqrt_len"),
    ("pooling_mode_weightedmean_tokens", "weighted_mean"),
    ("pooling_mode_lasttoken", "last"),
)


@dataclass(frozen=True)
class SentenceTransformersDefaults:
    """What a sentence-transformers folder says about how to use its model.

    Attributes:
        transformer_path: folder of the Hugging Face checkpoint inside the model folder.
        pooling: our spec for its Pooling module (``None`` when it has none).
        normalize: whether a Normalize module follows pooling.
        max_length: its ``max_seq_length``, when set.
    """

    transformer_path: Path
    pooling: str | None
    normalize: bool
    max_length: int | None


def _read_json(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as error:
        raise ValueError(f"{path}: not readable JSON ({error})") from None
    if not isinstance(data, (dict, list)):
        raise ValueError(f"{path}: expected a JSON object")
    return data if isinstance(data, dict) else {"modules": data}


def _pooling_spec(config: dict) -> str | None:
    modes = [name for key, name in _MODES if config.get(key)]
    if not modes:
        return None
    return "+".join(modes)


def read_sentence_transformers_folder(folder: Path) -> SentenceTransformersDefaults | None:
    """Defaults from ``folder/modules.json``, or None when the folder is not one."""
    modules_file = folder / "modules.json"
    if not modules_file.is_file():
        return None
    modules = _read_json(modules_file)["modules"]
    transformer_path, pooling, normalize = folder, None, False
    for module in modules:
        kind = str(module.get("type", "")).rsplit(".", 1)[-1]
        path = folder / str(module.get("path", ""))
        if kind == "Transformer":
            transformer_path = path
        elif kind == "Pooling":
            pooling = _pooling_spec(_read_json(path / "config.json"))
        elif kind == "Normalize":
            normalize = True
    max_length = None
    for name in ("sentence_bert_config.json", "sentence_xlnet_config.json"):
        config_file = transformer_path / name
        if config_file.is_file():
            max_length = _read_json(config_file).get("max_seq_length")
            break
    return SentenceTransformersDefaults(
        transformer_path=transformer_path,
        pooling=pooling,
        normalize=normalize,
        max_length=int(max_length) if max_length else None,
    )
