"""Export a model + strategy as a folder that ``SentenceTransformer(folder)`` loads.

Strategies sentence-transformers' own modules express (see :mod:`hiddenpool.export.native`: token
poolers it has, over any layer average, sum or trained ``weighted(...)`` combination) become its
Transformer [+ WeightedLayerPooling] + Pooling [+ Dense] modules, loadable by plain
``SentenceTransformer(folder)`` without hiddenpool. Everything else (concat, attn, gem, min,
skip_special, learned poolers...) becomes one
:class:`~hiddenpool.export.st_module.HiddenpoolPooling` module: sentence-transformers imports it
from the installed hiddenpool package, and since 5.x asks for ``trust_remote_code=True`` before
importing any module class that is not its own.
"""

from __future__ import annotations

import copy
import json
import os
import shutil
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import save_file
from torch import nn
from transformers import PreTrainedModel

from hiddenpool.backbone import Backbone, load_backbone
from hiddenpool.backbone.capture import find_blocks
from hiddenpool.export.native import NativePlan, native_plan, prompts_config
from hiddenpool.pooling import Pooler, Strategy, parse_strategy
from hiddenpool.postprocess import FittedStages, stateless_stages

__all__ = ["QUANTIZATION_RANGES", "export_sentence_transformers", "load_instruction"]

QUANTIZATION_RANGES = "quantization_ranges.npy"  # int8/uint8: ranges=np.load(...) at query time

_ST = "sentence_transformers."
_MODULES = f"{_ST}sentence_transformer.modules"
_HIDDENPOOL_MODULE = "hiddenpool.export.st_module.HiddenpoolPooling"


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
    # it reads texts cut at the length it was trained with, which may be below the backbone's
    return replace(trained.backbone, max_length=trained.max_length), trained.pooling.eval()


def _write_json(path: Path, data: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")


def _module(modules: list[dict[str, Any]], kind: str, path: str) -> None:
    name = str(len(modules))
    modules.append({"idx": len(modules), "name": name, "path": path, "type": kind})


def _save_weights(folder: Path, tensors: dict[str, torch.Tensor]) -> None:
    """A module's ``model.safetensors``, where sentence-transformers' Module looks for it."""
    folder.mkdir(parents=True, exist_ok=True)
    save_file(tensors, folder / "model.safetensors", metadata={"format": "pt"})


def _write_native(folder: Path, backbone: Backbone, plan: NativePlan) -> list[dict[str, Any]]:
    """Transformer [-> WeightedLayerPooling] -> Pooling [-> Dense(scale * I)]."""
    _truncated(backbone, plan.depth).save_pretrained(folder)
    backbone.tokenizer.save_pretrained(folder)
    transformer: dict[str, Any] = {"max_seq_length": backbone.max_length}
    if plan.layer_weights is not None:  # the Transformer module returns every hidden_states entry
        transformer["config_kwargs"] = {"output_hidden_states": True}
    _write_json(folder / "sentence_bert_config.json", transformer)
    modules: list[dict[str, Any]] = []
    _module(modules, f"{_MODULES}.Transformer", "")
    hidden = backbone.hidden_size
    if plan.layer_weights is not None:
        path = f"{len(modules)}_WeightedLayerPooling"
        layers = {
            "embedding_dimension": hidden,
            "layer_start": plan.layer_start,
            "num_hidden_layers": plan.depth,
        }
        _write_json(folder / path / "config.json", layers)
        weights = torch.tensor(plan.layer_weights, dtype=torch.float32)
        _save_weights(folder / path, {"layer_weights": weights})
        _module(modules, f"{_MODULES}.WeightedLayerPooling", path)
    path = f"{len(modules)}_Pooling"
    modes = plan.pooling_modes
    mode: str | list[str] = modes[0] if len(modes) == 1 else list(modes)  # concatenated in order
    pooling: dict[str, Any] = {"embedding_dimension": hidden, "pooling_mode": mode}
    prompts = prompts_config(plan)
    if prompts is not None:  # the template(s) as prompts, pooled with their tokens
        pooling["include_prompt"] = True
        _write_json(folder / "config_sentence_transformers.json", prompts)
    _write_json(folder / path / "config.json", pooling)
    _module(modules, f"{_MODULES}.Pooling", path)
    if plan.scale != 1.0:  # the sum of n layers: their mean, pooled, times n
        width = hidden * len(modes)
        path = f"{len(modules)}_Dense"
        dense = {
            "in_features": width,
            "out_features": width,
            "bias": False,
            "activation_function": "torch.nn.modules.linear.Identity",
        }
        _write_json(folder / path / "config.json", dense)
        _save_weights(folder / path, {"linear.weight": torch.eye(width) * plan.scale})
        _module(modules, f"{_MODULES}.Dense", path)
    return modules


def _write_dense(
    folder: Path, modules: list[dict[str, Any]], weight: np.ndarray, bias: np.ndarray
) -> None:
    """sentence-transformers' Dense: ``y = x @ weight.T + bias``, identity activation."""
    path = f"{len(modules)}_Dense"
    out_features, in_features = weight.shape
    dense = {
        "in_features": int(in_features),
        "out_features": int(out_features),
        "bias": True,
        "activation_function": "torch.nn.modules.linear.Identity",
    }
    _write_json(folder / path / "config.json", dense)
    tensors = {
        "linear.weight": torch.from_numpy(np.ascontiguousarray(weight, dtype=np.float32)),
        "linear.bias": torch.from_numpy(np.ascontiguousarray(bias, dtype=np.float32)),
    }
    _save_weights(folder / path, tensors)
    _module(modules, f"{_MODULES}.Dense", path)


def _write_stages(folder: Path, modules: list[dict[str, Any]], fitted: FittedStages) -> None:
    """Each linear stage as a Dense layer (identity activation, fitted weight and bias), each
    normalize as Normalize; a quantisation has no module: its ranges are saved beside them."""
    width = fitted.in_width
    for stage in fitted.stages:
        if stage.weight is not None and stage.bias is not None:
            _write_dense(folder, modules, stage.weight.T, stage.bias)
            width = int(stage.weight.shape[1])
        elif stage.spec.name == "truncate":
            k = stage.spec.k or width
            _write_dense(folder, modules, np.eye(width)[:k], np.zeros(k))
            width = k
        elif stage.spec.name == "normalize":
            _module(modules, f"{_MODULES}.Normalize", "")
        elif stage.ranges is not None:
            np.save(folder / QUANTIZATION_RANGES, stage.ranges)


def _write_folder(
    folder: Path,
    backbone: Backbone,
    strategy: Strategy,
    normalize: bool,
    pooler: Pooler | None,
    fitted: FittedStages | None = None,
) -> None:
    strategy = strategy.pooling
    plan = native_plan(strategy, backbone, pooler)
    if plan is not None:
        modules = _write_native(folder, backbone, plan)
    else:
        from hiddenpool.export.st_module import HiddenpoolPooling

        path = "0_HiddenpoolPooling"
        HiddenpoolPooling(backbone, str(strategy), backbone.max_length, pooler).save(
            str(folder / path)
        )
        modules = []
        _module(modules, _HIDDENPOOL_MODULE, path)
    if normalize:
        _module(modules, f"{_MODULES}.Normalize", "")
    if fitted is not None:
        _write_stages(folder, modules, fitted)
    _write_json(folder / "modules.json", modules)


def load_instruction(folder: str | Path) -> str:
    """How to load an exported folder, e.g. for ``hiddenpool export`` to print.

    Returns:
        ``SentenceTransformer('DIR')`` with a comment naming its modules when they are all
        sentence-transformers' own, else the call with ``trust_remote_code=True`` and a comment
        saying the folder uses hiddenpool's module.
    """
    modules = json.loads((Path(folder) / "modules.json").read_text(encoding="utf-8"))
    kinds = [str(module["type"]) for module in modules]
    sides = "; .encode_query(texts) / .encode_document(texts) for its two sides"
    sides = sides if _two_sided(Path(folder), modules) else ""
    if all(kind.startswith(_ST) for kind in kinds):
        names = " -> ".join(kind.rsplit(".", 1)[-1] for kind in kinds)
        return (
            f"SentenceTransformer({str(folder)!r})  # sentence-transformers' modules: {names}"
            + sides
        )
    return (
        f"SentenceTransformer({str(folder)!r}, trust_remote_code=True)  # hiddenpool's module "
        "(hiddenpool must be installed)" + sides
    )


def _two_sided(folder: Path, modules: list[dict[str, Any]]) -> bool:
    """Whether the folder reads queries and documents differently (its prompts, or the spec
    hiddenpool's module runs)."""
    config = folder / "config_sentence_transformers.json"
    if config.is_file():
        prompts = json.loads(config.read_text(encoding="utf-8")).get("prompts", {})
        if prompts.get("query", "") != prompts.get("document", ""):
            return True
    for module in modules:
        spec_file = folder / str(module["path"]) / "hiddenpool_module.json"
        if module["type"] == _HIDDENPOOL_MODULE and spec_file.is_file():
            pooling = json.loads(spec_file.read_text(encoding="utf-8"))["pooling"]
            return parse_strategy(pooling).asymmetric
    return False


def export_sentence_transformers(
    model: str | Path | Backbone | None,
    pooling: str | Strategy | None,
    output: str | Path,
    normalize: bool | None = None,
    stages: FittedStages | None = None,
) -> Path:
    """Write a sentence-transformers folder reproducing hiddenpool's vectors for ``pooling``.

    Args:
        model: a model folder, a folder saved by ``PooledModel.save_pretrained`` (its trained
            backbone and pooler are exported, a ``weighted(...)`` combiner's fitted weights
            natively; the head is not: the folder gives the pooled vectors), a loaded Backbone,
            or None for the default model.
        pooling: the strategy (None: the model's default, or the trained model's own).
        output: the folder to create; it must not exist yet (nothing is overwritten).
        normalize: add a Normalize module (None: the model's default).
        stages: the fitted stages of a ``pooling`` whose stages need fitting (``| whiten(256)``,
            ``| int8``...; the others are built here): each
            linear stage becomes a Dense layer after pooling and normalisation, ``normalize`` a
            Normalize module; int8/uint8 ranges are saved as ``quantization_ranges.npy``.

    Returns:
        The folder, complete: it is written beside its final name and renamed into place.
    """
    trained = _trained_pooler(model)
    if trained is not None:
        backbone, pooler = trained
        strategy = pooler.strategy
        if pooling is not None and parse_strategy(pooling) != strategy:
            raise ValueError(f"{model} was trained with pooling={str(strategy)!r}, not {pooling!r}")
    else:
        backbone = model if isinstance(model, Backbone) else load_backbone(model)
        strategy, pooler = parse_strategy(pooling or backbone.pooling), None
        if strategy.learned:
            raise ValueError(
                f"{strategy} has learned parameters: train it (hiddenpool train) and export the "
                "trained model's folder"
            )
    _check_stages(strategy, stages)
    if stages is None and strategy.stages:  # none needs fitting: truncate, normalize, binary...
        width = strategy.pooling.width(backbone.hidden_size, backbone.num_layers)
        stages = stateless_stages(strategy, width)
    target = Path(output)
    if target.exists():
        raise ValueError(f"{target}: already exists; choose a new folder")
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        normalized = backbone.normalize if normalize is None else normalize
        _write_folder(staging, backbone, strategy, normalized, pooler, stages)
        os.replace(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return target


def _check_stages(strategy: Strategy, stages: FittedStages | None) -> None:
    if strategy.needs_fitting and stages is None:
        raise ValueError(
            f"{strategy} has stages to fit: give their fitted state (embed --fit writes one)"
        )
    if stages is not None and stages.strategy != strategy:
        raise ValueError(f"the fitted stages are those of {stages.strategy}, not of {strategy}")


def quantization_instruction(folder: str | Path, precision: str) -> str:
    """How to get the quantised vectors of an exported folder with sentence-transformers."""
    if precision in ("binary", "ubinary"):
        return f"{precision} vectors: model.encode(texts, precision={precision!r})"
    return (
        f"{precision} vectors: quantize_embeddings(model.encode(texts), {precision!r}, "
        f"ranges=np.load({str(Path(folder) / QUANTIZATION_RANGES)!r})) "
        "(from sentence_transformers.quantization; encode(..., precision=...) alone would "
        "calibrate on each batch)"
    )
