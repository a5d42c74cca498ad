"""Which strategies sentence-transformers' own modules express, and how.

sentence-transformers has three modules that, chained, reproduce a large part of the spec language
exactly, so the exported folder loads with plain ``SentenceTransformer(folder)``:

- ``WeightedLayerPooling`` reads every hidden_states entry from ``layer_start`` up (the Transformer
  module returns them when its config has ``output_hidden_states``) and returns
  ``sum(w_i * h_i) / sum(w)``. Weights 1 on the selected layers (a layer written twice counts
  twice) and 0 elsewhere give the ``mean`` combiner; a trained ``weighted(...)`` combiner's
  softmax gives its convex combination.
- ``Pooling`` with one or several of its modes, concatenated in the order given: ``mean``,
  ``max``, ``cls`` (first real token), ``lasttoken``, ``mean_sqrt_len_tokens``,
  ``weightedmean``; so ``meanmax`` and ``cls+mean`` are native too.
- ``Dense`` with the weight ``n * I`` and no activation: every native pooling mode is positively
  homogeneous (``pool(n * x) = n * pool(x)``), so the ``sum`` combiner of n layers is their mean,
  pooled, times n.

Everything else (``concat``, ``min``, ``sum`` over tokens, ``gem``, ``attn``, ``pooler``,
``skip_special``, learned poolers, the vector-level combiners) needs hiddenpool's module.

Prompt templates: sentence-transformers' ``prompts`` are prefixes (``prompt + text``), so a
template that is a prefix followed by ``{text}`` (``query``, ``passage``, a user's ``Topic:
{text}``) is written as its default prompt, with ``Pooling(include_prompt=True)``, when every
pooler reads the whole input: ``cls``, ``first``, ``last``, or a token reduction with
``include_prompt=true``. Its ``include_prompt=False`` is not hiddenpool's default (it drops the
prompt's tokens by count, [CLS] with them, and still pools the trailing [SEP], where hiddenpool
pools the text's own tokens), and it has no mask token or second copy: ``query:mean``,
``promptbert:*`` and ``echo:*`` need hiddenpool's module.

Query and document sides: a two-sided spec whose every side is such a prompt or the text alone
(``bge/:cls``, ``query/passage:mean(include_prompt=true)``) is written as the prompts ``query``
and ``document`` that ``encode_query`` / ``encode_document`` pick (``document`` the default); a
symmetric template is written under both names too, so either method reads it.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, replace

import torch

from hiddenpool.backbone import Backbone
from hiddenpool.pooling import POOLERS, Pooler, Strategy, parse_strategy
from hiddenpool.pooling.layers import WeightedLayers
from hiddenpool.pooling.spec import SIDES
from hiddenpool.pooling.templates import TEXT, create_template

__all__ = [
    "NATIVE_COMBINERS",
    "NATIVE_POOLERS",
    "NativePlan",
    "exports_natively",
    "native_plan",
    "native_pooling_modes",
    "native_prompt",
    "native_side_prompts",
    "prompts_config",
]

# hiddenpool pooler -> sentence-transformers Pooling modes (cls is resolved per family).
NATIVE_POOLERS: dict[str, tuple[str, ...]] = {
    "cls": ("cls",),
    "first": ("cls",),  # sentence-transformers' cls is the first real token
    "last": ("lasttoken",),
    "mean": ("mean",),
    "max": ("max",),
    "mean_sqrt_len": ("mean_sqrt_len_tokens",),
    "weighted_mean": ("weightedmean",),
    "meanmax": ("mean", "max"),
}
# weighted: native once trained (an untrained one is not exported at all).
NATIVE_COMBINERS = ("mean", "sum", "weighted")


@dataclass(frozen=True)
class NativePlan:
    """sentence-transformers modules that reproduce one strategy on one model.

    Attributes:
        depth: blocks the exported model keeps (the model is cut above the deepest layer read,
            when no final norm follows its blocks).
        pooling_modes: Pooling modes, concatenated in this order.
        layer_start: first hidden_states index WeightedLayerPooling reads.
        layer_weights: its weights over hidden_states ``layer_start..depth``, or None when the cut
            model's last layer alone is pooled (no WeightedLayerPooling module).
        scale: a ``Dense(scale * I)`` after pooling when not 1 (the ``sum`` combiner).
        prompt: the template as sentence-transformers' default prompt (name, prefix).
        side_prompts: a two-sided spec's (query prefix, document prefix); "" for the text alone.
    """

    depth: int
    pooling_modes: tuple[str, ...]
    layer_start: int = 0
    layer_weights: tuple[float, ...] | None = None
    scale: float = 1.0
    prompt: tuple[str, str] | None = None  # (name, prefix): the default prompt, if templated
    side_prompts: tuple[str, str] | None = None


def exports_natively(strategy: str | Strategy) -> bool:
    """Whether ``hiddenpool export`` writes ``strategy`` with sentence-transformers' own modules.

    True for every model: a ``weighted(...)`` combiner counts as native because it is exported only
    from a trained model, whose fitted weights are then written.

    >>> [exports_natively(s) for s in ("mean@-4:", "cls+mean@sum(1,-1)", "cls@concat(-4:)")]
    [True, True, False]
    """
    strategy = parse_strategy(strategy)
    if strategy.template is not None and native_prompt(strategy) is None:
        return False
    if strategy.asymmetric and native_side_prompts(strategy) is None:
        return False
    return strategy.layers.combiner in NATIVE_COMBINERS and all(
        p.name in NATIVE_POOLERS and not p.options for p in _without_prompt(strategy).poolers
    )


def _without_prompt(strategy: Strategy) -> Strategy:
    """The strategy without its template and its poolers' include_prompt option."""
    poolers = tuple(
        replace(p, options=tuple(o for o in p.options if o[0] != "include_prompt"))
        for p in strategy.poolers
    )
    return replace(strategy, poolers=poolers, template=None, sides=None)


def native_side_prompts(strategy: str | Strategy) -> tuple[str, str] | None:
    """(query prefix, document prefix) of a two-sided spec whose every side is a
    sentence-transformers prompt (:func:`native_prompt`) or the text alone (""), else None.

    >>> native_side_prompts("bge/:cls")
    ('Represent this sentence for searching relevant passages: ', '')
    >>> native_side_prompts("query/passage:mean") is None  # the text's own tokens
    True
    """
    strategy = parse_strategy(strategy)
    prefixes: list[str] = []
    for side in SIDES:
        one = strategy.for_side(side)
        found = native_prompt(one) if one.template is not None else (side, "")
        if found is None:
            return None
        prefixes.append(found[1])
    return prefixes[0], prefixes[1]


def prompts_config(plan: NativePlan) -> dict[str, object] | None:
    """config_sentence_transformers.json's ``prompts`` and ``default_prompt_name`` for
    ``plan``: ``query`` and ``document`` always (sentence-transformers fills a missing one with
    "", which ``encode_query`` / ``encode_document`` would then read), or None for no prompt."""
    if plan.side_prompts is not None:
        query, document = plan.side_prompts
        return {
            "prompts": {"query": query, "document": document},
            "default_prompt_name": "document",
        }
    if plan.prompt is None:
        return None
    name, prefix = plan.prompt
    prompts = {name: prefix, "query": prefix, "document": prefix}
    return {"prompts": prompts, "default_prompt_name": name}


def native_prompt(strategy: str | Strategy) -> tuple[str, str] | None:
    """(name, prefix) when ``strategy``'s template is a sentence-transformers prompt, else None.

    The template must be a prefix followed by ``{text}`` once, without [MASK], and every pooler
    must read the whole input (position poolers, or ``include_prompt=true``).

    >>> native_prompt("query:mean(include_prompt=true)"), native_prompt("query:mean")
    (('query', 'query: '), None)
    """
    strategy = parse_strategy(strategy)
    if strategy.template is None:
        return None
    template = create_template(strategy.template)
    prefix = template.text.removesuffix(TEXT)
    if template.has_mask or TEXT in prefix or not template.text.endswith(TEXT):
        return None
    # a token reduction (it has the include_prompt option) must be given include_prompt=true
    reductions = [p for p in strategy.poolers if "include_prompt" in POOLERS[p.name].options]
    if not all(p.kwargs.get("include_prompt") for p in reductions):
        return None
    return template.name, prefix


def native_pooling_modes(strategy: str | Strategy, backbone: Backbone) -> tuple[str, ...] | None:
    """sentence-transformers' Pooling modes for ``strategy``'s poolers, in order, or None when
    ``strategy`` does not export natively (``cls`` is ``lasttoken`` in XLNet and decoders)."""
    strategy = parse_strategy(strategy)
    if not exports_natively(strategy):
        return None
    modes: list[str] = []
    for spec in _without_prompt(strategy).poolers:
        if spec.name == "cls" and backbone.facts.summary == "last":
            modes.append("lasttoken")
        else:
            modes.extend(NATIVE_POOLERS[spec.name])
    return tuple(modes)


def _layer_weights(strategy: Strategy, num_layers: int, pooler: Pooler | None) -> dict[int, float]:
    """hidden_states index -> its weight in the layer combination (before any normalisation)."""
    layers = strategy.layers.resolve(num_layers)
    if strategy.layers.combiner != "weighted":
        return {index: float(count) for index, count in Counter(layers).items()}
    if pooler is None or not isinstance(pooler.combiner, WeightedLayers):
        raise ValueError(f"{strategy}: the weighted combiner is exported from a trained model only")
    softmax = torch.softmax(pooler.combiner.logits.detach().float().cpu(), dim=0).tolist()
    weights: dict[int, float] = {}
    for index, weight in zip(layers, softmax, strict=True):
        weights[index] = weights.get(index, 0.0) + weight
    return weights


def native_plan(
    strategy: str | Strategy, backbone: Backbone, pooler: Pooler | None = None
) -> NativePlan | None:
    """The modules that reproduce ``strategy`` on ``backbone``, or None when there are none.

    Args:
        strategy: the strategy to export.
        backbone: the model it runs on (its family says which token ``cls`` is, and whether the
            model can be cut above the deepest layer read).
        pooler: the trained pooler, whose fitted weights a ``weighted(...)`` combiner needs.

    Returns:
        The plan; on MiniLM-L6 (6 blocks, no final norm) ``mean@1,-1`` is depth 6, layer_start 1,
        layer_weights (1, 0, 0, 0, 0, 1); ``max@-2`` is the model cut to depth 5, pooled alone.
    """
    strategy = parse_strategy(strategy)
    modes = native_pooling_modes(strategy, backbone)
    if modes is None:
        return None
    num_layers = backbone.num_layers
    weights = _layer_weights(strategy, num_layers, pooler)
    # A copy cut after block k has hidden_states[k] as its last layer, unless a final norm follows.
    cut = backbone.blocks is not None and not backbone.facts.final_norm
    depth = max(1, *weights) if cut else num_layers
    summed = strategy.layers.combiner == "sum"
    scale = float(len(strategy.layers.resolve(num_layers))) if summed else 1.0
    prompt = native_prompt(strategy)
    sides = native_side_prompts(strategy) if strategy.asymmetric else None
    if set(weights) == {depth}:
        return NativePlan(depth, modes, depth, None, scale, prompt, sides)
    start = min(weights)
    layer_weights = tuple(weights.get(index, 0.0) for index in range(start, depth + 1))
    return NativePlan(depth, modes, start, layer_weights, scale, prompt, sides)
