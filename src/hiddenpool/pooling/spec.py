"""The spec language: ``[TEMPLATE:]POOLER[+POOLER...][@LAYERS]``, parsed into a :class:`Strategy`.

Grammar::

    spec      := [template ":"] pooler ("+" pooler)* ["@" layers]
    template  := NAME | [NAME] "/" [NAME]                   (a registered prompt template, or
                                                             a query side / document side pair)
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

Query and document sides: ``QTEMPLATE/DTEMPLATE:POOLER...`` embeds queries in the first template
and documents in the second, with the same poolers, layers and stages (so the same width); a side
left empty is the text alone. ``query/passage:mean`` is E5, ``bge/:cls`` BGE (an instruction on
queries only). A spec without ``/`` (``mean``, ``query:mean``) reads both sides alike.
:meth:`Strategy.for_side` gives the one-sided strategy a pass runs; ``include_prompt=true`` on a
side without a template is the plain reduction (every token is the text's).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from hiddenpool.pooling.registry import COMBINERS, POOLERS
from hiddenpool.pooling.stages import (
    STAGES,
    StageSpec,
    check_stages,
    needs_fitting,
    parse_stage,
    stages_width,
)
from hiddenpool.pooling.templates import create_template
from hiddenpool.states import CaptureRequest, resolve_layer

__all__ = ["SIDES", "LayerSelection", "PoolerSpec", "Side", "Strategy", "parse_strategy"]

Side = Literal["query", "document"]
SIDES: tuple[Side, ...] = ("query", "document")

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
        value = int(text) if isinstance(default, int) else float(text)
    except ValueError:
        kind = "an integer" if isinstance(default, int) else "a number"
        raise _error(spec, f"{key} takes {kind}, got {raw!r}") from None
    if not math.isfinite(value):  # nan and inf parse as floats but pool to nan
        raise _error(spec, f"{key} takes a finite number, got {raw!r}")
    return value


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
    # (query template, document template) when the sides differ; ``template`` is then None
    sides: tuple[str | None, str | None] | None = field(default=None, kw_only=True)

    def __post_init__(self) -> None:
        if self.sides is None:
            return
        if self.template is not None:
            raise ValueError("a Strategy has a template or sides (query, document), not both")
        if self.sides[0] == self.sides[1]:  # the same on both sides: symmetric
            object.__setattr__(self, "template", self.sides[0])
            object.__setattr__(self, "sides", None)

    def __str__(self) -> str:
        return self._pooling_str() + "".join(f" | {stage}" for stage in self.stages)

    @property
    def asymmetric(self) -> bool:
        """Whether queries and documents are read in different templates (``query/passage:``)."""
        return self.sides is not None

    def side_template(self, side: Side) -> str | None:
        """The template the texts of ``side`` are placed in (None: the text alone)."""
        if side not in SIDES:
            raise ValueError(f"side must be one of {', '.join(SIDES)}, got {side!r}")
        if self.sides is None:
            return self.template
        return self.sides[SIDES.index(side)]

    def for_side(self, side: Side) -> Strategy:
        """The one-sided strategy that embeds the texts of ``side``: same poolers, layers and
        stages, that side's template (a symmetric strategy is itself).

        >>> str(parse_strategy("bge/:mean(include_prompt=true) | whiten(8)").for_side("document"))
        'mean | whiten(8)'
        """
        template = self.side_template(side)
        if self.sides is None:
            return self
        poolers = self.poolers
        if template is None:  # include_prompt reads every token: all are the text's here
            poolers = tuple(
                replace(p, options=tuple(o for o in p.options if o[0] != "include_prompt"))
                for p in poolers
            )
        return replace(self, poolers=poolers, template=template, sides=None)

    @property
    def pooling(self) -> Strategy:
        """This strategy without its stages: what one forward pass and a Pooler compute."""
        return replace(self, stages=()) if self.stages else self

    def _pooling_str(self) -> str:
        head = "+".join(str(p) for p in self.poolers)
        if self.sides is not None:
            query, document = (name or "" for name in self.sides)
            head = f"{query}/{document}:{head}"
        elif self.template is not None:
            head = f"{self.template}:{head}"
        return head if self.layers == LayerSelection() else f"{head}@{self.layers}"

    @property
    def needs_fitting(self) -> bool:
        """Whether its stages need a fitted state first (see :func:`.stages.needs_fitting`)."""
        return needs_fitting(self.stages)

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


def _split_template(spec: str, text: str) -> tuple[str | tuple[str | None, str | None] | None, str]:
    """``promptbert:mask@-2`` -> ("promptbert", "mask@-2"); ``bge/:cls`` -> (("bge", None),
    "cls"); a colon after '@' is a layer slice."""
    head = re.split(r"[@|]", text, maxsplit=1)[0]
    if ":" not in head:
        return None, text
    name, _, body = text.partition(":")
    if "/" not in name:
        return _template_name(spec, name), body.strip()
    parts = name.split("/")
    if len(parts) != 2:
        raise _error(
            spec,
            f"{name.strip()!r} has {len(parts) - 1} '/': a side pair is QUERY/DOCUMENT "
            "(one '/', either side may be empty), e.g. query/passage:mean",
        )
    query, document = (
        _template_name(spec, part, side) for part, side in zip(parts, SIDES, strict=True)
    )
    return (query, document), body.strip()


def _template_name(spec: str, name: str, side: str = "") -> str | None:
    name = name.strip()
    if side and not name:
        return None
    try:
        return create_template(name).name
    except ValueError as error:
        where = f"the {side} side: " if side else ""
        raise _error(spec, f"{where}{error}") from None


def _check_sides(spec: str, strategy: Strategy) -> None:
    """:func:`_check_template` on each side; an error names the side."""
    if strategy.sides is None:
        _check_template(spec, strategy)
        return
    if strategy.needs_pooler:
        raise _error(spec, "pooler is the model's own output and does not read a template")
    for side in SIDES:
        one = strategy.for_side(side)
        try:
            _check_template(spec, one)
        except ValueError as error:
            why = str(error).removeprefix(f"invalid pooling spec {spec!r}: ")
            where = one.template or "the text alone"
            raise _error(spec, f"the {side} side ({where}): {why}") from None


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
    if isinstance(template, tuple):
        strategy = Strategy(poolers, layers, None, sides=template)
    else:
        strategy = Strategy(poolers, layers, template)
    _check_sides(spec, strategy)
    if strategy.needs_pooler and (len(poolers) > 1 or layers != LayerSelection()):
        raise _error(spec, "pooler is the model's own output: it takes no layers or partners")
    stages = tuple(parse_stage(spec, text) for text in stage_texts)
    check_stages(spec, stages)
    return replace(strategy, stages=stages) if stages else strategy
