"""The spec language: ``[TEMPLATE:]POOLER[+POOLER...][@LAYERS]``, parsed into a :class:`Strategy`.

Grammar::

    spec      := [template ":"] pooler ("+" pooler)* ["@" layers]
    template  := NAME                                       (a registered prompt template)
    pooler    := NAME ["(" key=value ("," key=value)* ")"]
    layers    := COMBINER "(" selection ")" | selection       (combiner defaults to mean)
    selection := item ("," item)*
    item      := INT | [INT] ":" [INT]                      (Python indexing of hidden_states)
    followed by ("|" STAGE)*: post-pooling stages (whiten(k), pca(k), int8...), see
    :mod:`hiddenpool.pooling.stages`

Layer indices are hidden_states indices: 0 is the embedding output, -1 (the default) the last
layer. Examples: ``mean``, ``cls@concat(-4:)``, ``mean@1,-1`` (first-last average),
``gem(p=2)@-2``, ``mean(skip_special=true)``, ``cls@lstm(1:)``; with a template (see
:mod:`hiddenpool.pooling.templates`): ``promptbert:mask``, ``echo:mean``,
``query:mean(include_prompt=true)``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Any

from hiddenpool.pooling.registry import COMBINERS, POOLERS
from hiddenpool.pooling.stages import (
    STAGES,
    StageSpec,
    check_stages,
    parse_stage,
    stages_width,
)
from hiddenpool.pooling.templates import create_template
from hiddenpool.states import CaptureRequest, resolve_layer

__all__ = ["LayerSelection", "PoolerSpec", "Strategy", "parse_strategy"]

LayerItem = int | tuple[int | None, int | None]
_NAME = re.compile(r"^([a-z_][a-z0-9_]*)(?:\((.*)\))?$")
_TRUE, _FALSE = {"true", "1", "yes", "on"}, {"false", "0", "no", "off"}


def _error(spec: str, why: str) -> ValueError:
    return ValueError(f"invalid pooling spec {spec!r}: {why}")


def _convert(spec: str, key: str, raw: str, default: Any) -> Any:
    text = raw.strip().lower()
    if isinstance(default, bool):
        if text in _TRUE | _FALSE:
            return text in _TRUE
        raise _error(spec, f"{key} takes true or false, got {raw!r}")
    try:
        return int(text) if isinstance(default, int) else float(text)
    except ValueError:
        kind = "an integer" if isinstance(default, int) else "a number"
        raise _error(spec, f"{key} takes {kind}, got {raw!r}") from None


def _format_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


@dataclass(frozen=True)
class PoolerSpec:
    """One token pooler and its options (only those that differ from the defaults)."""

    name: str
    options: tuple[tuple[str, Any], ...] = ()

    def __str__(self) -> str:
        if not self.options:
            return self.name
        inner = ",".join(f"{k}={_format_value(v)}" for k, v in self.options)
        return f"{self.name}({inner})"

    @property
    def kwargs(self) -> dict[str, Any]:
        return dict(self.options)


@dataclass(frozen=True)
class LayerSelection:
    """Which hidden_states entries to read and how to combine them."""

    items: tuple[LayerItem, ...] = (-1,)
    combiner: str = "mean"

    def resolve(self, num_layers: int) -> tuple[int, ...]:
        """The selected indices in 0..num_layers, in the written order.

        >>> LayerSelection(((-4, None),)).resolve(6)
        (3, 4, 5, 6)
        """
        indices: list[int] = []
        every = list(range(num_layers + 1))
        for item in self.items:
            if isinstance(item, int):
                indices.append(resolve_layer(item, num_layers))
            else:
                chosen = every[item[0] : item[1]]
                if not chosen:
                    raise ValueError(f"layer slice {_format_item(item)} selects no layer")
                indices.extend(chosen)
        return tuple(indices)

    def __str__(self) -> str:
        inner = ",".join(_format_item(item) for item in self.items)
        return inner if self.combiner == "mean" else f"{self.combiner}({inner})"


def _format_item(item: LayerItem) -> str:
    if isinstance(item, int):
        return str(item)
    start, stop = item
    return f"{'' if start is None else start}:{'' if stop is None else stop}"


@dataclass(frozen=True)
class Strategy:
    """A parsed pooling spec: token poolers (concatenated) over a combination of layers.

    ``str(Strategy)`` is the canonical spec; ``parse_strategy(str(s)) == s``.
    """

    poolers: tuple[PoolerSpec, ...]
    layers: LayerSelection = LayerSelection()
    template: str | None = None  # a registered prompt template the text is placed in

    # post-pooling stages (``| whiten(256)``...), see :mod:`hiddenpool.pooling.stages`
    stages: tuple[StageSpec, ...] = field(default=(), kw_only=True)

    def __str__(self) -> str:
        return self._pooling_str() + "".join(f" | {stage}" for stage in self.stages)

    @property
    def pooling(self) -> Strategy:
        """This strategy without its stages: what one forward pass and a Pooler compute."""
        return replace(self, stages=()) if self.stages else self

    def _pooling_str(self) -> str:
        head = "+".join(str(p) for p in self.poolers)
        if self.template is not None:
            head = f"{self.template}:{head}"
        return head if self.layers == LayerSelection() else f"{head}@{self.layers}"

    @property
    def learned(self) -> bool:
        """Whether it has trainable parameters (needs fine-tuning to mean anything)."""
        return COMBINERS[self.layers.combiner].learned or any(
            POOLERS[p.name].learned for p in self.poolers
        )

    @property
    def needs_pooler(self) -> bool:
        """Whether it reads the model's own pooler_output."""
        return any(POOLERS[p.name].reads == "pooler_output" for p in self.poolers)

    @property
    def needs_attentions(self) -> bool:
        """Whether it reads attention maps (of every layer it selects)."""
        return any(POOLERS[p.name].reads == "attentions" for p in self.poolers)

    def layers_needed(self, num_layers: int) -> frozenset[int]:
        """hidden_states indices (0..num_layers) that capture must keep."""
        return frozenset(self.layers.resolve(num_layers))

    def capture_request(self, num_layers: int) -> CaptureRequest:
        """What capture must keep for this strategy on a model of ``num_layers`` blocks.

        >>> parse_strategy("attn@-2").capture_request(6)
        CaptureRequest(layers=frozenset({5}), attentions=frozenset({5}), pooler_output=False)
        """
        layers = self.layers_needed(num_layers)
        return CaptureRequest(
            layers, layers if self.needs_attentions else frozenset(), self.needs_pooler
        )

    def width(self, hidden_size: int, num_layers: int) -> int:
        """Output width: hidden_size times the poolers' factors, times layers if concatenated;
        then what the stages keep (a binary stage packs 8 dimensions per byte)."""
        per_layer = hidden_size * sum(POOLERS[p.name].factor for p in self.poolers)
        n = len(self.layers.resolve(num_layers))
        pooled = per_layer * n if self.layers.combiner == "concat" else per_layer
        return stages_width(self.stages, pooled)


def _parse_pooler(spec: str, text: str) -> PoolerSpec:
    match = _NAME.match(text.strip())
    if not match:
        raise _error(spec, f"{text!r} is not NAME or NAME(key=value,...)")
    name, inner = match.group(1), match.group(2)
    entry = POOLERS.get(name)
    if entry is None and name in STAGES:
        raise _error(
            spec, f"{name} is a stage: it comes after pooling, e.g. 'mean | {text.strip()}'"
        )
    if entry is None:
        raise _error(spec, f"unknown pooler {name!r}; choose from {', '.join(POOLERS)}")
    options: dict[str, Any] = {}
    for part in filter(None, (p.strip() for p in (inner or "").split(","))):
        key, sep, raw = part.partition("=")
        key = key.strip()
        if not sep or key not in entry.options:
            valid = ", ".join(entry.options) or "none"
            raise _error(spec, f"{name} takes key=value options from: {valid}; got {part!r}")
        options[key] = _convert(spec, key, raw, entry.options[key])
    kept = tuple((k, v) for k, v in sorted(options.items()) if v != entry.options[k])
    return PoolerSpec(name, kept)


def _parse_int(spec: str, text: str) -> int | None:
    text = text.strip()
    if not text:
        return None
    try:
        return int(text)
    except ValueError:
        raise _error(spec, f"layer {text!r} is not an integer index") from None


def _parse_layers(spec: str, text: str) -> LayerSelection:
    text = text.strip()
    combiner = "mean"
    match = re.match(r"^([a-z_][a-z0-9_]*)\((.*)\)$", text)
    if match:
        combiner, text = match.group(1), match.group(2)
        if combiner not in COMBINERS:
            raise _error(spec, f"unknown combiner {combiner!r}; choose from {', '.join(COMBINERS)}")
    if not text.strip():
        raise _error(spec, "no layers after '@'")
    items: list[LayerItem] = []
    for part in text.split(","):
        if ":" in part:
            start, _, stop = part.partition(":")
            if ":" in stop:
                raise _error(spec, f"layer slice {part!r} takes no step")
            items.append((_parse_int(spec, start), _parse_int(spec, stop)))
        else:
            value = _parse_int(spec, part)
            if value is None:
                raise _error(spec, "empty layer index")
            items.append(value)
    return LayerSelection(tuple(items), combiner)


def _split_template(spec: str, text: str) -> tuple[str | None, str]:
    """``promptbert:mask@-2`` -> ("promptbert", "mask@-2"); a colon after '@' is a layer slice."""
    head = re.split(r"[@|]", text, maxsplit=1)[0]
    if ":" not in head:
        return None, text
    name, _, body = text.partition(":")
    try:
        return create_template(name.strip()).name, body.strip()
    except ValueError as error:
        raise _error(spec, str(error)) from None


def _check_template(spec: str, strategy: Strategy) -> None:
    """Options and poolers that only make sense inside (or outside) a template."""
    names = {p.name for p in strategy.poolers}
    prompt = any(p.kwargs.get("include_prompt") for p in strategy.poolers)
    if strategy.template is None:
        if "mask" in names:
            raise _error(spec, "mask reads a template's mask token: give one, e.g. promptbert:mask")
        if prompt:
            raise _error(spec, "include_prompt only applies inside a template, e.g. query:mean")
        return
    template = create_template(strategy.template)
    if "mask" in names and not template.has_mask:
        raise _error(
            spec,
            f"template {template.name!r} ({template.text!r}) has no [MASK] to pool; "
            "use a token pooler or a template with [MASK]",
        )
    if strategy.needs_pooler:
        raise _error(spec, "pooler is the model's own output and does not read a template")


def parse_strategy(spec: str | Strategy) -> Strategy:
    """Parse a spec string; a Strategy is returned as it is.

    >>> str(parse_strategy("cls@concat(-4:)"))
    'cls@concat(-4:)'
    >>> parse_strategy("gem(p=3)@mean(-1)") == parse_strategy("gem")
    True
    """
    if isinstance(spec, Strategy):
        return spec
    if not isinstance(spec, str) or not spec.strip():
        raise ValueError(f"a pooling spec is a non-empty string such as 'mean', got {spec!r}")
    pooling_text, *stage_texts = spec.split("|")
    if not pooling_text.strip():
        raise _error(spec, "stages come after a pooling spec, e.g. 'mean | whiten(256)'")
    template, body = _split_template(spec, pooling_text.strip())
    head, at, tail = body.partition("@")
    poolers = tuple(_parse_pooler(spec, part) for part in head.split("+"))
    layers = _parse_layers(spec, tail) if at else LayerSelection()
    strategy = Strategy(poolers, layers, template)
    _check_template(spec, strategy)
    if strategy.needs_pooler and (len(poolers) > 1 or layers != LayerSelection()):
        raise _error(spec, "pooler is the model's own output: it takes no layers or partners")
    stages = tuple(parse_stage(spec, text) for text in stage_texts)
    check_stages(spec, stages)
    return replace(strategy, stages=stages) if stages else strategy
