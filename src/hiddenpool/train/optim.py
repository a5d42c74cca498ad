"""Optimiser groups and the layer tricks of Feedback Prize 3, found from the model's structure.

Nothing here matches parameter names such as ``encoder.layer.{i}``: blocks come from
:attr:`Backbone.blocks` (the family's declared block list), and the embeddings are the base
model's input-embeddings module together with its siblings before the blocks, at the level where
the paths to the two part (BERT: ``embeddings``; ELECTRA: ``embeddings`` and
``embeddings_project``; GPT-2: ``wte``, ``wpe``, ``drop``; XLNet: ``word_embedding`` and
``mask_emb``). So every trick works alike for BERT, RoBERTa, DeBERTa, MPNet, ELECTRA and decoders.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from typing import Any

import torch
from torch import nn

from hiddenpool.backbone import Backbone
from hiddenpool.pooling import Strategy

__all__ = [
    "block_of_parameter",
    "embedding_parameters",
    "freeze_layers",
    "parameter_groups",
    "reinit_layers",
    "unused_modules",
]

logger = logging.getLogger(__name__)


def _blocks(backbone: Backbone, what: str) -> nn.ModuleList:
    blocks = backbone.blocks
    if blocks is None:
        raise ValueError(
            f"{backbone.name}: no list of {backbone.num_layers} transformer blocks was found "
            f"(models that share one block, like ALBERT, have none), so {what} cannot apply"
        )
    return blocks


def _path_of(root: nn.Module, target: nn.Module) -> list[str]:
    for name, module in root.named_modules():
        if module is target:
            return name.split(".") if name else []
    raise ValueError(f"{type(target).__name__} is not inside {type(root).__name__}")


def embedding_parameters(backbone: Backbone) -> dict[str, nn.Parameter]:
    """The embedding parameters: the input embeddings and their siblings before the blocks.

    Returns:
        Qualified name (in the base model) -> parameter, in registration order.
    """
    base = backbone.model
    blocks = _blocks(backbone, "finding the embeddings")
    embeddings = base.get_input_embeddings()
    emb_path, blocks_path = _path_of(base, embeddings), _path_of(base, blocks)
    common: list[str] = []
    for a, b in zip(emb_path, blocks_path, strict=False):
        if a != b:
            break
        common.append(a)
    ancestor = base.get_submodule(".".join(common)) if common else base
    prefix = "".join(f"{p}." for p in common)
    found = {f"{prefix}{n}": p for n, p in ancestor.named_parameters(recurse=False)}
    stop = blocks_path[len(common)]  # the child of the ancestor that holds the blocks
    for child_name, child in ancestor.named_children():
        if child_name == stop:
            break
        found.update({f"{prefix}{child_name}.{n}": p for n, p in child.named_parameters()})
    return found


def block_of_parameter(backbone: Backbone) -> dict[str, int | None]:
    """Each base-model parameter's depth: 0 embeddings, i block i (1..L), None anything else
    (final norm, the model's pooler, DeBERTa's shared relative embeddings)."""
    base = backbone.model
    blocks = _blocks(backbone, "layer-wise learning rates")
    depth_of = {id(p): 0 for p in embedding_parameters(backbone).values()}
    for index, block in enumerate(blocks, start=1):
        depth_of.update({id(p): index for p in block.parameters()})
    return {name: depth_of.get(id(p)) for name, p in base.named_parameters()}


def unused_modules(backbone: Backbone, strategy: Strategy) -> list[nn.Module]:
    """Backbone modules no pooled vector depends on: blocks above the deepest pooled layer and the
    final norm when the run stops early, the model's own pooler unless ``strategy`` reads it."""
    base, num_layers = backbone.model, backbone.num_layers
    unused: list[nn.Module] = []
    pooler = getattr(base, "pooler", None)
    if isinstance(pooler, nn.Module) and not strategy.needs_pooler:
        unused.append(pooler)
    deepest = max(strategy.layers_needed(num_layers))
    stops_early = not (strategy.needs_pooler or strategy.needs_attentions) and deepest < num_layers
    blocks = backbone.blocks
    if stops_early and blocks is not None:
        unused.extend(blocks[deepest:])
        norm = backbone.facts.final_norm
        if norm is not None:
            with contextlib.suppress(AttributeError):
                unused.append(base.get_submodule(norm))
    return unused


def freeze_layers(backbone: Backbone, num_blocks: int, embeddings: bool = True) -> list[str]:
    """Set ``requires_grad=False`` on the embeddings and the first ``num_blocks`` blocks.

    Returns:
        Names of the frozen parameters.
    """
    blocks = _blocks(backbone, "freezing layers")
    if num_blocks > len(blocks):
        raise ValueError(f"freeze_layers={num_blocks} but {backbone.name} has {len(blocks)} blocks")
    frozen: list[str] = []
    if embeddings or num_blocks > 0:
        for name, param in embedding_parameters(backbone).items():
            param.requires_grad_(False)
            frozen.append(name)
    frozen_ids = {id(p) for block in blocks[:num_blocks] for p in block.parameters()}
    for name, param in backbone.model.named_parameters():
        if id(param) in frozen_ids:
            param.requires_grad_(False)
            frozen.append(name)
    return frozen


def _clear_init_flags(module: nn.Module) -> None:
    # transformers marks loaded weights `_is_hf_initialized`; its init functions then skip them,
    # so without clearing the marks `_init_weights` silently leaves a loaded block unchanged.
    for item in (module, *module.parameters(recurse=False), *module.buffers(recurse=False)):
        if hasattr(item, "_is_hf_initialized"):
            delattr(item, "_is_hf_initialized")


@torch.no_grad()
def reinit_layers(backbone: Backbone, num_blocks: int) -> list[int]:
    """Re-initialise the top ``num_blocks`` blocks with the model's own ``_init_weights``
    (normal(0, config.initializer_range) Linear/Embedding weights, zero biases, unit LayerNorms).

    Returns:
        The re-initialised blocks, as hidden_states indices (1..L).
    """
    if num_blocks == 0:
        return []
    blocks = _blocks(backbone, "re-initialising layers")
    if num_blocks > len(blocks):
        raise ValueError(f"reinit_layers={num_blocks} but {backbone.name} has {len(blocks)} blocks")
    init = getattr(backbone.model, "_init_weights", None)
    if init is None:
        raise ValueError(
            f"{type(backbone.model).__name__} has no _init_weights to re-initialise with"
        )
    first = len(blocks) - num_blocks
    for block in blocks[first:]:
        # Children before parents, as transformers' own initialisation goes: a parent's rule
        # (GPT-2 scales its residual projections by 1/sqrt(2 L)) has the last word.
        for module in reversed(list(block.modules())):
            _clear_init_flags(module)
            init(module)
    return list(range(first + 1, len(blocks) + 1))


def _named_trainable(module: nn.Module, prefix: str) -> Iterator[tuple[str, nn.Parameter]]:
    for name, param in module.named_parameters():
        if param.requires_grad:
            yield f"{prefix}{name}", param


def parameter_groups(
    model: Any,
    lr: float,
    llrd: float = 1.0,
    weight_decay: float = 0.0,
    head_lr: float | None = None,
) -> list[dict[str, Any]]:
    """AdamW parameter groups with layer-wise learning-rate decay.

    The pooling module and head train at ``head_lr`` (default ``lr``); block i of L at
    ``lr * llrd ** (L - i)`` (the top block at ``lr``); the embeddings at ``lr * llrd ** L``;
    other backbone parameters (final norm, DeBERTa's relative embeddings) at ``lr``. Biases, norms
    and other 1-D parameters get no weight decay. Frozen parameters are left out.

    Args:
        model: a :class:`~hiddenpool.train.model.PooledModel`.

    Returns:
        Groups with ``params``, ``lr``, ``weight_decay`` and a readable ``name``, head first.
    """
    backbone: Backbone = model.backbone
    num_layers = backbone.num_layers
    depth = (
        block_of_parameter(backbone)
        if llrd != 1.0
        else {name: None for name, _ in backbone.model.named_parameters()}
    )
    buckets: dict[tuple[str, float, float], list[nn.Parameter]] = {}

    def add(name: str, rate: float, param: nn.Parameter) -> None:
        decay = 0.0 if param.ndim < 2 else weight_decay
        buckets.setdefault((name, rate, decay), []).append(param)

    top = head_lr if head_lr is not None else lr
    for prefix, module in (("pooling.", model.pooling), ("head.", model.head)):
        for _, param in _named_trainable(module, prefix):
            add("head", top, param)
    for name, param in _named_trainable(backbone.model, ""):
        d = depth.get(name)
        if d is None:
            add("backbone", lr, param)
        else:
            label = "embeddings" if d == 0 else f"block {d}"
            add(label, lr * llrd ** (num_layers - d), param)
    return [
        {"params": params, "lr": rate, "weight_decay": decay, "name": name}
        for (name, rate, decay), params in buckets.items()
    ]
