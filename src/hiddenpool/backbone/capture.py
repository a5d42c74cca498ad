"""Run a model only as deep as needed and keep only the layers asked for.

Forward hooks on the block list record the requested layers; once the deepest one has fired, a
private exception ends the forward pass, so ``mean@-2`` on a 6-layer model runs 5 blocks. The last
layer is read from the model's own ``last_hidden_state`` (after any final norm), which is what
``output_hidden_states=True`` reports as its last entry.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from typing import Any

from torch import Tensor, nn

from hiddenpool.backbone.families import FamilyFacts
from hiddenpool.states import CaptureRequest, HiddenStates

__all__ = ["capture_hidden_states", "find_blocks", "model_inputs"]


class _StopForward(Exception):
    """Raised by a hook once every requested layer has been recorded."""


def find_blocks(model: nn.Module, facts: FamilyFacts, num_layers: int) -> nn.ModuleList | None:
    """The model's list of transformer blocks, or None when it cannot be found.

    Looks at the family's declared path first, then for the one ModuleList of ``num_layers``
    entries (models that share blocks across layers, such as ALBERT, have none).
    """
    module: Any = model
    for part in facts.layers.split("."):
        module = getattr(module, part, None)
    if isinstance(module, nn.ModuleList) and len(module) == num_layers:
        return module
    candidates = [
        m for m in model.modules() if isinstance(m, nn.ModuleList) and len(m) == num_layers
    ]
    return candidates[0] if len(candidates) == 1 else None


def _accepts(model: nn.Module, name: str) -> bool:
    return name in inspect.signature(model.forward).parameters


def model_inputs(model: nn.Module, facts: FamilyFacts, batch: Mapping[str, Tensor]) -> dict:
    """The keyword arguments for ``model(**...)``: the tokenizer's batch plus positions that
    count real tokens only, so that left padding gives the same states as no padding."""
    kwargs: dict[str, Any] = {
        k: v for k, v in batch.items() if k != "special_tokens_mask" and _accepts(model, k)
    }
    mask = batch["attention_mask"]
    if facts.positions == "from_mask" and _accepts(model, "position_ids"):
        kwargs["position_ids"] = (mask.long().cumsum(dim=1) - 1).clamp(min=0)
    if _accepts(model, "use_cache"):
        kwargs["use_cache"] = False
    return kwargs


def _states(output: Any, seq_first: bool) -> Tensor:
    tensor = output if isinstance(output, Tensor) else output[0]
    return tensor.transpose(0, 1) if seq_first else tensor


def _block_input(args: tuple, kwargs: dict) -> Tensor:
    if args and isinstance(args[0], Tensor):
        return args[0]
    for key in ("hidden_states", "output_h", "x", "hidden_state"):
        value = kwargs.get(key)
        if isinstance(value, Tensor):
            return value
    raise RuntimeError("could not find the hidden states among the first block's inputs")


def _run_hooked(
    model: nn.Module,
    facts: FamilyFacts,
    blocks: nn.ModuleList,
    kwargs: dict[str, Any],
    wanted: list[int],
    num_layers: int,
    run_to_end: bool,
    attentions: bool,
) -> tuple[Any, dict[int, Tensor]]:
    """Run ``model`` with hooks that keep ``wanted`` layers and stop after the deepest one.

    Returns:
        (the model's output, or None when the forward stopped early; kept layers by index).
    """
    kept: dict[int, Tensor] = {}
    deepest = wanted[-1] if wanted else num_layers

    def keep(index: int, states: Tensor) -> None:
        kept[index] = _states(states, facts.seq_first)
        if index == deepest and not run_to_end:
            raise _StopForward

    def on_input(module: nn.Module, args: tuple, kw: dict) -> None:
        keep(0, _block_input(args, kw))

    def on_output(index: int) -> Any:
        return lambda module, args, out: keep(index, out)

    handles = []
    for index in wanted:
        if index == 0:
            handles.append(blocks[0].register_forward_pre_hook(on_input, with_kwargs=True))
        elif index < num_layers:  # the last layer is read from last_hidden_state below
            handles.append(blocks[index - 1].register_forward_hook(on_output(index)))
    output = None
    try:
        output = model(**kwargs, output_attentions=True) if attentions else model(**kwargs)
    except _StopForward:
        pass
    finally:
        for handle in handles:
            handle.remove()
    if output is not None and num_layers in wanted:
        kept[num_layers] = output.last_hidden_state
    return output, kept


def capture_hidden_states(
    model: nn.Module,
    facts: FamilyFacts,
    num_layers: int,
    batch: Mapping[str, Tensor],
    request: CaptureRequest,
) -> HiddenStates:
    """Run ``model`` on ``batch`` and keep the requested hidden_states entries.

    Args:
        model: the base model (``AutoModel``), not a model with a head.
        facts: its family facts.
        num_layers: its number of blocks.
        batch: tokenizer output with ``input_ids`` and ``attention_mask`` (B, T), optionally
            ``special_tokens_mask``.
        request: the hidden_states indices to keep (0 = embedding output, negative from the
            end), the blocks whose attention probabilities to keep (needs an eager attention
            implementation on the model), and whether to run to the end for ``pooler_output``.

    Returns:
        HiddenStates with exactly the requested layers, each (B, T, H).
    """
    resolved = request.resolved(num_layers)
    wanted, wanted_attn = sorted(resolved.layers), sorted(resolved.attentions)
    pooler = request.pooler_output
    if 0 in wanted_attn:
        raise ValueError("layer 0 is the embedding output: it has no attention to pool with")
    blocks = find_blocks(model, facts, num_layers)
    run_to_end = pooler or bool(wanted_attn) or not wanted or wanted[-1] == num_layers
    kwargs = model_inputs(model, facts, batch)
    if blocks is None:  # no block list to hook: fall back to the model's own hidden_states
        output = model(**kwargs, output_hidden_states=True, output_attentions=bool(wanted_attn))
        kept = {i: _states(output.hidden_states[i], False) for i in wanted}
    else:
        output, kept = _run_hooked(
            model, facts, blocks, kwargs, wanted, num_layers, run_to_end, bool(wanted_attn)
        )

    pooled = getattr(output, "pooler_output", None) if pooler else None
    if pooler and pooled is None:
        raise ValueError(f"{facts.name} models have no pooler_output; use cls or another pooler")
    attn = {i: output.attentions[i - 1] for i in wanted_attn} if wanted_attn else {}
    special = batch.get("special_tokens_mask")
    return HiddenStates(
        layers=kept,
        attention_mask=batch["attention_mask"].bool(),
        num_layers=num_layers,
        summary=facts.summary,
        special_tokens_mask=None if special is None else special.bool(),
        pooler_output=pooled,
        attentions=attn,
    )
