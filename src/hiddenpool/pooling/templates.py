"""Prompt templates: the text is placed inside a template before the model reads it.

A template is a string with ``{text}`` where the text goes (``echo`` has it twice) and, for
PromptBERT-style reading, ``[MASK]`` where the model's own mask token goes (``<mask>`` on
RoBERTa/MPNet). In a spec the template is a prefix: ``promptbert:mask``, ``echo:mean@-2``.

What a strategy under a template reads (decided here, used by tokenisation and the poolers):

- ``mask``: the hidden state at the template's mask token;
- token reductions (``mean``, ``max``, ...): the tokens of the inserted text only (for a text
  that appears twice, its last copy), unless ``include_prompt=true`` (every real token);
- ``cls``, ``first``, ``last``: positions of the WHOLE input as the model sees it, so ``cls`` is
  still the family's summary token (the summary of template and text together) and
  ``prompteol:last`` reads the token after the template's closing quote.

Retrieval models read queries and documents in different templates (E5 ``query: `` /
``passage: ``, BGE an instruction on queries only); :data:`SIDE_PAIRS` registers the published
pairs and :func:`side_pairs` lists them as specs (``query/passage:mean``, ``bge/:cls``).

Importing this module does not import torch. Templates are registered explicitly below;
:func:`register_template` adds a user's.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

__all__ = [
    "MASK",
    "SIDE_PAIRS",
    "TEMPLATES",
    "TEXT",
    "Rendered",
    "SidePair",
    "Template",
    "create_template",
    "list_templates",
    "register_template",
    "side_pairs",
]

TEXT = "{text}"
MASK = "[MASK]"
_PLACEHOLDER = re.compile(r"\{[^{}]*\}")
_NAME = re.compile(r"^[a-z_][a-z0-9_]*$")


@dataclass(frozen=True)
class Rendered:
    """One text inside a template, as characters.

    Attributes:
        string: the input the tokenizer reads.
        text_start: first character of the (last copy of the) inserted text in ``string``.
        text_stop: one past its last character.
        mask_start: first character of the mask token in ``string``; -1 without one.
        mask_stop: one past its last character; -1 without one.
    """

    string: str
    text_start: int
    text_stop: int
    mask_start: int = -1
    mask_stop: int = -1


@dataclass(frozen=True)
class Template:
    """A registered template: its name in specs, its text, where it comes from.

    Attributes:
        name: the spec prefix (``promptbert`` in ``promptbert:mask``).
        text: the template, with ``{text}`` once or more and at most one ``[MASK]``.
        source: the paper or convention it comes from.
        reads: the pooler its source reads it with; empty for ``mask`` when the template holds
            a mask token, else ``mean`` (see :attr:`pooler`).
    """

    name: str
    text: str
    source: str = "user"
    reads: str = ""

    def __post_init__(self) -> None:
        why = _problem(self.text)
        if why:
            raise ValueError(f"template {self.name!r}: {why}")
        if not _NAME.match(self.name):
            raise ValueError(
                f"template name {self.name!r}: use lower-case letters, digits and _ "
                "(it is a spec prefix, as in NAME:mean)"
            )

    @property
    def has_mask(self) -> bool:
        """Whether the template holds a mask token (needed to pool ``mask``)."""
        return MASK in self.text

    @property
    def pooler(self) -> str:
        """The pooler this template is meant to be read with (``promptbert`` -> ``mask``)."""
        return self.reads or ("mask" if self.has_mask else "mean")

    @property
    def copies(self) -> int:
        """How many times the text appears (pooling reads the last copy)."""
        return self.text.count(TEXT)

    def render(self, text: str, mask_token: str | None = None) -> Rendered:
        """Place ``text`` in the template; ``mask_token`` replaces ``[MASK]``.

        >>> create_template("query").render("hi")
        Rendered(string='query: hi', text_start=7, text_stop=9, mask_start=-1, mask_stop=-1)
        """
        if self.has_mask and not mask_token:
            raise ValueError(f"template {self.name!r} needs a mask token; this model has none")
        parts: list[str] = []
        length, text_start, mask_start, mask_stop = 0, -1, -1, -1
        for piece in re.split(r"(\{text\}|\[MASK\])", self.text):
            if piece == TEXT:
                text_start, piece = length, text
            elif piece == MASK:
                piece = str(mask_token)
                mask_start, mask_stop = length, length + len(piece)
            parts.append(piece)
            length += len(piece)
        return Rendered("".join(parts), text_start, text_start + len(text), mask_start, mask_stop)


def _problem(text: str) -> str | None:
    """Why ``text`` is not a valid template, or None."""
    if TEXT not in text:
        return f"it needs a {TEXT} placeholder where the text goes, got {text!r}"
    others = sorted({p for p in _PLACEHOLDER.findall(text) if p != TEXT})
    if others:
        shown = ", ".join(p if p.isprintable() else repr(p) for p in others)  # one line
        return f"unknown placeholder {shown}: the only one is {TEXT}"
    if "{" in text.replace(TEXT, "") or "}" in text.replace(TEXT, ""):
        return f"a lone brace; write the text's place as {TEXT}"
    if text.count(MASK) > 1:
        return f"{MASK} appears {text.count(MASK)} times; a template holds at most one"
    return None


_TEMPLATES: dict[str, Template] = {}
TEMPLATES: Mapping[str, Template] = MappingProxyType(_TEMPLATES)


def register_template(
    name: str | Template, text: str | None = None, source: str = "user"
) -> Template:
    """Add a template under ``name`` (validated: ``{text}`` present, no other placeholder).

    Registering the same name with the same text again is allowed; another text is an error.

    >>> register_template("topic", 'Topic of "{text}": [MASK].').has_mask
    True
    """
    if isinstance(name, Template):
        template = name
    else:
        if text is None:
            raise ValueError(f"template {name!r}: give its text, with {TEXT} where the text goes")
        template = Template(name, text, source)
    known = _TEMPLATES.get(template.name)
    if known is not None and known.text != template.text:
        raise ValueError(
            f"template {template.name!r} is already registered as {known.text!r}; pick another name"
        )
    _TEMPLATES[template.name] = known or template
    return _TEMPLATES[template.name]


def create_template(name: str) -> Template:
    """The registered template called ``name``; ValueError naming the choices otherwise."""
    template = _TEMPLATES.get(name)
    if template is None:
        raise ValueError(f"unknown template {name!r}; choose from {', '.join(_TEMPLATES)}")
    return template


def list_templates(mask: bool | None = None) -> list[str]:
    """Registered template names, optionally only those with (or without) a mask token."""
    return [n for n, t in _TEMPLATES.items() if mask is None or t.has_mask == mask]


for _template in (
    Template(
        "promptbert",
        'This sentence : "{text}" means [MASK] .',
        "PromptBERT, Jiang et al. 2022 (arXiv:2201.04337)",
    ),
    Template(
        "prompteol",
        'This sentence : "{text}" means in one word:"',
        "PromptEOL, Jiang et al. 2023 (arXiv:2307.16645); read with last, for decoders",
        reads="last",
    ),
    Template(
        "echo",
        "Rewrite the sentence: {text}, rewritten sentence: {text}",
        "Echo embeddings, Springer et al. 2024 (arXiv:2402.15449); pools the second copy",
    ),
    Template("query", "query: {text}", "E5 query prefix (Wang et al. 2022, arXiv:2212.03533)"),
    Template("passage", "passage: {text}", "E5 passage prefix (Wang et al. 2022)"),
    Template(
        "bge",
        "Represent this sentence for searching relevant passages: {text}",
        "BGE English query instruction for retrieval, on queries only (Xiao et al. 2023, "
        "C-Pack, arXiv:2309.07597; BAAI/bge-*-en-v1.5 model cards)",
    ),
    Template(
        "search_query",
        "search_query: {text}",
        "Nomic Embed query prefix (Nussbaum et al. 2024, arXiv:2402.01613)",
    ),
    Template(
        "search_document",
        "search_document: {text}",
        "Nomic Embed document prefix (Nussbaum et al. 2024, arXiv:2402.01613)",
    ),
):
    register_template(_template)


@dataclass(frozen=True)
class SidePair:
    """A published query/document template pair and the poolers its model reads it with.

    Attributes:
        query: the query side's template; None for the text alone.
        document: the document side's template; None for the text alone.
        poolers: the poolers swept with it (its model's own first).
        source: where the pair comes from.
    """

    query: str | None
    document: str | None
    poolers: tuple[str, ...]
    source: str

    @property
    def prefix(self) -> str:
        """The spec's side prefix, ``query/passage`` or ``bge/``."""
        return f"{self.query or ''}/{self.document or ''}"

    def has_mask(self) -> bool:
        """Whether either side's template holds a mask token."""
        return any(create_template(n).has_mask for n in (self.query, self.document) if n)


_EVERY_TOKEN = "mean(include_prompt=true)"
SIDE_PAIRS: tuple[SidePair, ...] = (
    SidePair("query", "passage", (_EVERY_TOKEN, "mean", "cls"), "E5 (mean over every token)"),
    SidePair(
        "bge", None, ("cls", _EVERY_TOKEN, "mean"), "BGE (cls; the instruction on queries only)"
    ),
    SidePair("search_query", "search_document", (_EVERY_TOKEN, "mean", "cls"), "Nomic Embed"),
)


def side_pairs(mask_token: bool = True) -> list[str]:
    """Specs of the registered query/document template pairs, each with the poolers swept with
    it; without a mask token (``mask_token=False``: GPT-2, XLNet-likes) pairs holding
    ``[MASK]`` are left out.

    >>> side_pairs()[:2]
    ['query/passage:mean(include_prompt=true)', 'query/passage:mean']
    """
    return [
        f"{pair.prefix}:{pooler}"
        for pair in SIDE_PAIRS
        if mask_token or not pair.has_mask()
        for pooler in pair.poolers
    ]
