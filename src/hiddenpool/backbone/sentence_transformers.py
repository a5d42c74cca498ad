"""Read a sentence-transformers model folder without importing sentence-transformers.

A folder with ``modules.json`` names a Transformer module (the checkpoint, often at the root),
optionally a WeightedLayerPooling module (an average over layers), a Pooling module (its modes as
``pooling_mode``, or six legacy booleans), and optionally Normalize. We turn those into a pooling
spec (``mean@3,4,5,6`` for a layer average), a max length and a normalisation default. Modules we
cannot express (Dense projections, layer weights that are not an average) are listed in
``ignored`` so that loading can say so instead of returning vectors the folder would not give.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from safetensors import safe_open

__all__ = ["SentenceTransformersDefaults", "read_sentence_transformers_folder"]

# sentence-transformers' mode names (``pooling_mode``) -> our pooler names.
_MODE_NAMES = {
    "cls": "cls",
    "max": "max",
    "mean": "mean",
    "mean_sqrt_len_tokens": "mean_sqrt_len",
    "weightedmean": "weighted_mean",
    "lasttoken": "last",
}
# Legacy boolean keys; sentence-transformers concatenates enabled legacy modes in this order.
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
        ignored: modules of the folder that ``pooling`` and ``normalize`` do not reproduce.
    """

    transformer_path: Path
    pooling: str | None
    normalize: bool
    max_length: int | None
    ignored: tuple[str, ...] = ()


def _read_json(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as error:
        raise ValueError(f"{path}: not readable JSON ({error})") from None
    if not isinstance(data, (dict, list)):
        raise ValueError(f"{path}: expected a JSON object")
    return data if isinstance(data, dict) else {"modules": data}


def _pooling_spec(config: dict, where: Path) -> str | None:
    """Our poolers for a Pooling module's config, concatenated in its order."""
    if "pooling_mode" in config:
        raw = config["pooling_mode"]
        modes = [raw] if isinstance(raw, str) else list(raw)
        unknown = [m for m in modes if m not in _MODE_NAMES]
        if unknown:
            raise ValueError(
                f"{where}: unknown pooling_mode {unknown}; expected {', '.join(_MODE_NAMES)}"
            )
        names = [_MODE_NAMES[m] for m in modes]
    else:
        names = [name for key, name in _MODES if config.get(key)]
    return "+".join(names) or None


def _layer_average(folder: Path) -> str | None:
    """``@i,j,...`` for a WeightedLayerPooling that averages layers, else None.

    Weight ``k`` scales ``hidden_states[layer_start + k]`` and the result is divided by the
    sum of the weights, so equal weights on some layers and zeros elsewhere are an average.
    """
    config = _read_json(folder / "config.json")
    start = int(config.get("layer_start", 4))
    count = int(config.get("num_hidden_layers", 12)) + 1 - start
    weights = np.ones(count)
    weights_file = folder / "model.safetensors"
    if weights_file.is_file():
        with safe_open(str(weights_file), framework="numpy") as tensors:
            weights = np.asarray(tensors.get_tensor("layer_weights"), dtype=np.float64)
    kept = np.flatnonzero(weights != 0)
    if len(kept) == 0 or not np.allclose(weights[kept], weights[kept[0]]):
        return None
    return "@" + ",".join(str(start + int(k)) for k in kept)


def read_sentence_transformers_folder(folder: Path) -> SentenceTransformersDefaults | None:
    """Defaults from ``folder/modules.json``, or None when the folder is not one."""
    modules_file = folder / "modules.json"
    if not modules_file.is_file():
        return None
    modules = _read_json(modules_file)["modules"]
    transformer_path, pooling, layers, normalize = folder, None, "", False
    ignored: list[str] = []
    for module in modules:
        kind = str(module.get("type", "")).rsplit(".", 1)[-1]
        path = folder / str(module.get("path", ""))
        if kind == "Transformer":
            transformer_path = path
        elif kind == "WeightedLayerPooling":
            average = _layer_average(path)
            layers = average or ""
            if average is None:
                ignored.append(f"{kind} (learned layer weights)")
        elif kind == "Pooling":
            pooling = _pooling_spec(_read_json(path / "config.json"), path)
        elif kind == "Normalize":
            normalize = True
        else:
            ignored.append(kind or str(module.get("type")))
    if pooling and layers:
        pooling += layers
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
        ignored=tuple(ignored),
    )
