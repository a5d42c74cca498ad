"""Export a model + strategy as a folder that ``SentenceTransformer(folder)`` loads.

Strategies sentence-transformers expresses itself (cls, first, mean, max, mean_sqrt_len,
weighted_mean, last, on one layer) become its own Transformer + Pooling modules, loadable by plain
``SentenceTransformer(folder)`` without hiddenpool. Everything else (layer combinations, attn, gem,
meanmax, skip_special...) becomes one :class:`~hiddenpool.export.st_module.HiddenpoolPooling`
module: sentence-transformers imports it from the installed hiddenpool package, and since 5.x asks
for ``trust_remote_code=True`` before importing any module class that is not its own.
"""

from __future__ import annotations

import copy
import json
import os
import shutil
import tempfile
from pathlib import Path

from torch import nn
from transformers import PreTrainedModel

from hiddenpool.backbone import Backbone, load_backbone
from hiddenpool.backbone.capture import find_blocks
from hiddenpool.pooling import Pooler, Strategy, parse_strategy

__all__ = ["export_sentence_transformers", "native_depth", "native_pooling_mode"]

_MODULES = "sentence_transformers.sentence_transformer.modules"
_NATIVE = {
    "mean": "mean",
    "max": "max",
    "mean_sqrt_len": "mean_sqrt_len_tokens",
    "weighted_mean": "weightedmean",
    "last": "lasttoken",
    "first": "cls",  # sentence-transformers' cls is the first real token
}


def native_depth(strategy: Strategy, backbone: Backbone) -> int | None:
    """How many blocks a natively exported model keeps, or None when it cannot be native.

    A single layer ``k`` below the last is native too: a copy of the model cut after block ``k``
    has hidden_states[k] as its last_hidden_state — exactly, when no final norm follows the blocks.
    """
    layers = strategy.layers.resolve(backbone.num_layers)
    if len(strategy.poolers) != 1 or len(layers) != 1 or layers[0] == 0:
        return None
    if layers[0] < backbone.num_layers and (backbone.facts.final_norm or backbone.blocks is None):
        return None
    return layers[0]


def native_pooling_mode(strategy: Strategy, backbone: Backbone) -> str | None:
    """sentence-transformers' pooling_mode for ``strategy``, or None when it has no equivalent."""
    if native_depth(strategy, backbone) is None:
        return None
    pooler = strategy.poolers[0]
    if pooler.options:
        return None
    if pooler.name == "cls":
        return "cls" if backbone.facts.summary == "first" else "lasttoken"
    return _NATIVE.get(pooler.name)


def _truncated(backbone: Backbone, depth: int) -> PreTrainedModel:
    """The model itself, or a copy cut after block ``depth`` (its upper blocks dropped)."""
    if depth == backbone.num_layers:
        return backbone.model
    model = copy.deepcopy(backbone.model)
    blocks = find_blocks(model, backbone.facts, backbone.num_layers)
    for module in model.modules():
        for name, child in module.named_children():
            if child is blocks:
                setattr(module, name, nn.ModuleList(list(child)[:depth]))
    model.config.num_hidden_layers = depth
    return model


def _trained_pooler(model: str | Path | Backbone | None) -> tuple[Backbone, Pooler] | None:
    """The backbone and trained pooler of a PooledModel folder, or None for other models."""
    if model is None or isinstance(model, Backbone):
        return None
    from hiddenpool.train.config import is_pooled_model_dir

    if not is_pooled_model_dir(model):
        return None
    from hiddenpool.train import PooledModel

    trained = PooledModel.from_pretrained(model)
    return trained.backbone, trained.pooling.eval()


def _write_json(path: Path, data: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")


def _write_folder(
    folder: Path, backbone: Backbone, strategy: Strategy, normalize: bool, pooler: Pooler | None
) -> None:
    mode = None if pooler is not None else native_pooling_mode(strategy, backbone)
    if mode is not None:
        _truncated(
            backbone, native_depth(strategy, backbone) or backbone.num_layers
        ).save_pretrained(folder)
        backbone.tokenizer.save_pretrained(folder)
        _write_json(folder / "sentence_bert_config.json", {"max_seq_length": backbone.max_length})
        _write_json(
            folder / "1_Pooling" / "config.json",
            {"embedding_dimension": backbone.hidden_size, "pooling_mode": mode},
        )
        modules = [
            {"idx": 0, "name": "0", "path": "", "type": f"{_MODULES}.Transformer"},
            {"idx": 1, "name": "1", "path": "1_Pooling", "type": f"{_MODULES}.Pooling"},
        ]
    else:
        from hiddenpool.export.st_module import HiddenpoolPooling

        HiddenpoolPooling(backbone, str(strategy), backbone.max_length, pooler).save(
            str(folder / "0_HiddenpoolPooling")
        )
        modules = [
            {
                "idx": 0,
                "name": "0",
                "path": "0_HiddenpoolPooling",
                "type": "hiddenpool.export.st_module.HiddenpoolPooling",
            }
        ]
    if normalize:
        modules.append(
            {
                "idx": len(modules),
                "name": str(len(modules)),
                "path": "",
                "type": f"{_MODULES}.Normalize",
            }
        )
    _write_json(folder / "modules.json", modules)


def export_sentence_transformers(
    model: str | Path | Backbone | None,
    pooling: str | Strategy | None,
    output: str | Path,
    normalize: bool | None = None,
) -> Path:
    """Write a sentence-transformers folder reproducing hiddenpool's vectors for ``pooling``.

    Args:
        model: a model folder, a folder saved by ``PooledModel.save_pretrained`` (its trained
            pooler is exported, learned or not; the head is not: the folder gives the pooled
            vectors), a loaded Backbone, or None for the default model.
        pooling: the strategy (None: the model's default, or the trained model's own).
        output: the folder to create; it must not exist yet (nothing is overwritten).
        normalize: add a Normalize module (None: the model's default).

    Returns:
        The folder, complete: it is written beside its final name and renamed into place.
    """
    trained = _trained_pooler(model)
    if trained is not None:
        backbone, pooler = trained
        strategy = pooler.strategy
        if pooling is not None and parse_strategy(pooling) != strategy:
            raise ValueError(f"{model} was trained with --pooling {strategy}, not {pooling}")
    else:
        backbone = model if isinstance(model, Backbone) else load_backbone(model)
        strategy, pooler = parse_strategy(pooling or backbone.pooling), None
        if strategy.learned:
            raise ValueError(
                f"{strategy} has learned parameters: train it (hiddenpool train) and export the "
                "trained model's folder"
            )
    target = Path(output)
    if target.exists():
        raise ValueError(f"{target}: already exists; choose a new folder")
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        normalized = backbone.normalize if normalize is None else normalize
        _write_folder(staging, backbone, strategy, normalized, pooler)
        os.replace(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return target
