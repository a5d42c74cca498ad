"""Tokenise texts into the windows the model runs on, and say which tokens each window pools.

``long="truncate"`` gives one window per text: its first ``max_length`` tokens (what
sentence-transformers and the tokenizer's own truncation give). ``long="chunk"`` covers a long
text with overlapping windows of ``max_length`` tokens, each with the family's special tokens,
where consecutive windows share ``stride`` content tokens (the tokenizer's ``stride``, as in
Hugging Face's question-answering pipelines).

Ownership: every token of the document is pooled from exactly one window, so overlaps are never
counted twice. A token in the overlap of windows k and k+1 belongs to the window where it sits
further from the edge: the first ``stride // 2`` overlap tokens to window k, the rest to k+1.
The document's leading special tokens ([CLS], <s>) are pooled from the first window, its trailing
ones ([SEP], </s>, XLNet's <sep> <cls>) from the last; the special tokens the other windows add
are run through the model (they give context) but not pooled.

With a prompt template (:mod:`hiddenpool.pooling.templates`) each text becomes one window: the
text placed in the template, tokenised with the fast tokenizer's offset mapping, so the tokens of
the text (``text_mask``) and the template's mask token (``mask_token_mask``) are found by
characters whatever the tokenizer (WordPiece, byte-level BPE with its leading-space tokens,
sentencepiece). A text too long for ``max_length`` is cut, never the template: the closing
quote, the mask token and echo's second copy always survive.

A template with ``long="chunk"``: a text that fits stays one window, exactly as above. A longer
one is cut into chunks of its own tokens (as tokenised alone), consecutive chunks sharing
``stride`` tokens, each chunk as long as the template around it (every copy of it, for echo)
allows within ``max_length``; each chunk is placed in the template and tokenised. Ownership is
as for plain windows, counted in the text's tokens: each window's ``text_mask`` covers only the
text tokens it owns (of its last copy), so a reduction over the text merged across windows
counts every text token once. The template's tokens are read in every window (they give
context) but pooled by no reduction, which is why ``include_prompt=true`` and ``mask`` (one
token per window) do not merge across windows (see :mod:`.merge`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Literal

import numpy as np
from transformers import PreTrainedTokenizerBase

from hiddenpool.encode.unicode import check_unicode

if TYPE_CHECKING:
    from hiddenpool.pooling.templates import Rendered, Template

__all__ = [
    "LONG_MODES",
    "LongMode",
    "Windows",
    "check_template",
    "default_stride",
    "special_counts",
    "tokenize_template",
    "tokenize_template_chunks",
    "tokenize_windows",
]

LongMode = Literal["truncate", "chunk"]
LONG_MODES: tuple[str, ...] = ("truncate", "chunk")
_PROBE = "a"  # any text that tokenises to content tokens only
_BOOKKEEPING = {"overflow_to_sample_mapping", "overflowing_tokens", "num_truncated_tokens"}


@dataclass(frozen=True)
class Windows:
    """Token windows of ``num_texts`` texts, ready to pad into batches.

    Attributes:
        features: tokenizer output per window, key -> one token list per window
            (``input_ids``, ``attention_mask``, ``special_tokens_mask``, maybe ``token_type_ids``).
        doc: (N,) the text each window belongs to; a text's windows are consecutive.
        index: (N,) the window's place in its text (0 = first).
        count: (num_texts,) windows per text (at least 1).
        lengths: (N,) tokens in each window, special tokens included.
        pool_start: (N,) first token the window pools (window coordinates, before padding).
        pool_stop: (N,) one past the last token the window pools.
        truncated: (num_texts,) texts longer than one window (in truncate mode: cut).
        spans: batch key -> ((N,) start, (N,) stop) of further token spans to pad into (B, T)
            masks: under a template, ``text_mask`` (the text's tokens) and ``mask_token_mask``
            (the template's mask token).
    """

    features: dict[str, list[list[int]]]
    doc: np.ndarray
    index: np.ndarray
    count: np.ndarray
    lengths: np.ndarray
    pool_start: np.ndarray
    pool_stop: np.ndarray
    truncated: np.ndarray
    spans: Mapping[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)

    @classmethod
    def one_per_text(
        cls,
        features: dict[str, list[list[int]]],
        lengths: np.ndarray,
        truncated: np.ndarray,
        spans: Mapping[str, tuple[np.ndarray, np.ndarray]] | None = None,
    ) -> Windows:
        """Windows of texts that each fit in one window, pooled over all of its tokens."""
        n = int(lengths.shape[0])
        return cls(
            features=features,
            doc=np.arange(n, dtype=np.int64),
            index=np.zeros(n, dtype=np.int64),
            count=np.ones(n, dtype=np.int64),
            lengths=lengths,
            pool_start=np.zeros(n, dtype=np.int64),
            pool_stop=lengths.copy(),
            truncated=truncated,
            spans=dict(spans or {}),
        )

    @property
    def num_texts(self) -> int:
        return int(self.count.shape[0])

    @property
    def num_windows(self) -> int:
        return int(self.doc.shape[0])

    @property
    def num_tokens(self) -> int:
        """Tokens the model runs on (special tokens included, padding excluded)."""
        return int(self.lengths.sum())

    def pooled_counts(self, skip_special: bool) -> np.ndarray:
        """(N,) number of tokens each window's reductions pool (under a template, the text's
        tokens it owns), optionally without special tokens."""
        start, stop = self.spans.get("text_mask", (self.pool_start, self.pool_stop))
        counts = (stop - start).astype(np.int64)
        if skip_special:
            special = self.features["special_tokens_mask"]
            for i in np.flatnonzero(self.count[self.doc] > 1):
                counts[i] -= sum(special[i][start[i] : stop[i]])
        return counts


def special_counts(tokenizer: PreTrainedTokenizerBase) -> tuple[int, int]:
    """(special tokens before the text, after it) that the tokenizer adds to one sequence.

    >>> special_counts(bert_tokenizer)  # doctest: +SKIP
    (1, 1)
    """
    mask = tokenizer(_PROBE, return_special_tokens_mask=True)["special_tokens_mask"]
    if 0 not in mask:
        raise ValueError(f"the tokenizer turns {_PROBE!r} into special tokens only")
    before = mask.index(0)
    after = len(mask) - 1 - max(i for i, m in enumerate(mask) if m == 0)
    return before, after


def default_stride(max_length: int, num_special: int) -> int:
    """Content tokens shared by consecutive windows when none is given: an eighth of a window."""
    return max(0, (max_length - num_special) // 8)


def _check(max_length: int, stride: int, num_special: int) -> int:
    content = max_length - num_special
    if content < 1:
        raise ValueError(
            f"max_length {max_length} leaves no room for text next to {num_special} special tokens"
        )
    if not 0 <= stride < content:
        raise ValueError(
            f"stride {stride} must be >= 0 and < {content} (max_length {max_length} minus "
            f"{num_special} special tokens): it is the overlap between consecutive windows"
        )
    return content


def tokenize_windows(
    tokenizer: PreTrainedTokenizerBase,
    texts: Sequence[str],
    max_length: int,
    long: str = "truncate",
    stride: int | None = None,
    template: Template | None = None,
) -> Windows:
    """Tokenise ``texts`` into windows of at most ``max_length`` tokens.

    Args:
        tokenizer: a Hugging Face tokenizer (fast for ``long="chunk"``).
        texts: the texts.
        max_length: window length in tokens, special tokens included.
        long: ``"truncate"`` (one window per text) or ``"chunk"`` (overlapping windows).
        stride: content tokens shared by consecutive windows (chunk only); None takes
            :func:`default_stride`.
        template: place each text in this prompt template first (with ``long="chunk"``, each
            chunk of a long text; see the module docstring).

    Returns:
        Windows in text order, with the tokens each window pools.

    Raises:
        ValueError: a text (named by its index) or the template is not valid Unicode (a lone
            surrogate), where the tokenizer itself raises a bare TypeError.
    """
    try:
        return _tokenize_windows(tokenizer, texts, max_length, long, stride, template)
    except TypeError:  # only when the tokenizer refuses: the normal path checks nothing
        check_unicode(texts, template)
        raise


def _tokenize_windows(
    tokenizer: PreTrainedTokenizerBase,
    texts: Sequence[str],
    max_length: int,
    long: str,
    stride: int | None,
    template: Template | None,
) -> Windows:
    if long not in LONG_MODES:
        raise ValueError(f"long must be one of {', '.join(LONG_MODES)}, got {long!r}")
    if template is not None:
        if long == "chunk":
            return tokenize_template_chunks(tokenizer, texts, max_length, template, stride)
        return tokenize_template(tokenizer, texts, max_length, template)
    before, after = special_counts(tokenizer)
    if stride is None:
        stride = default_stride(max_length, before + after) if long == "chunk" else 0
    content = _check(max_length, stride if long == "chunk" else 0, before + after)
    n = len(texts)
    encoded = (
        tokenizer(
            list(texts),
            truncation=True,
            max_length=max_length,
            stride=stride if long == "chunk" else 0,
            return_overflowing_tokens=True,
            return_special_tokens_mask=True,
        )
        if n
        else {"input_ids": [], "attention_mask": [], "special_tokens_mask": []}
    )
    features = {k: v for k, v in encoded.items() if k not in _BOOKKEEPING}
    if not n or "overflow_to_sample_mapping" in encoded:
        doc = np.asarray(encoded.get("overflow_to_sample_mapping", []), dtype=np.int64)
    elif long == "chunk":
        raise ValueError("long='chunk' needs a fast (Rust) tokenizer for overlapping windows")
    else:  # a slow tokenizer returns the first window and what it cut off
        doc = np.arange(n, dtype=np.int64)
    count = np.bincount(doc, minlength=n).astype(np.int64)
    first = np.concatenate(([0], np.cumsum(count)[:-1])) if n else np.zeros(0, np.int64)
    index = np.arange(doc.shape[0], dtype=np.int64) - first[doc]
    truncated = count > 1
    if "num_truncated_tokens" in encoded:
        truncated = np.asarray(encoded["num_truncated_tokens"]).reshape(-1) > 0
    if long == "truncate" and doc.shape[0] > n:
        keep = np.flatnonzero(index == 0)
        features = {k: [v[i] for i in keep] for k, v in features.items()}
        doc, index, count = doc[keep], index[keep], np.ones(n, dtype=np.int64)
    lengths = np.fromiter((len(ids) for ids in features["input_ids"]), np.int64, len(doc))
    step = content - stride
    is_first, is_last = index == 0, index == count[doc] - 1
    pool_start = np.where(is_first, 0, before + stride // 2)
    pool_stop = np.where(is_last, lengths, before + step + stride // 2)
    return Windows(
        features=features,
        doc=doc,
        index=index,
        count=count,
        lengths=lengths,
        pool_start=pool_start.astype(np.int64),
        pool_stop=pool_stop.astype(np.int64),
        truncated=truncated,
    )


def _mask_token(tokenizer: PreTrainedTokenizerBase, template: Template) -> str | None:
    if not getattr(tokenizer, "is_fast", False):
        raise ValueError(
            f"template {template.name!r} needs a fast (Rust) tokenizer: spans come from its "
            "offset mapping"
        )
    if not template.has_mask:
        return None
    token = tokenizer.mask_token if tokenizer.mask_token_id is not None else None
    if token is None:
        from hiddenpool.pooling.templates import list_templates

        raise ValueError(
            f"template {template.name!r} holds [MASK], but this model's tokenizer has no mask "
            f"token; pick a template without one ({', '.join(list_templates(mask=False))})"
        )
    return str(token)


def _encode(tokenizer: PreTrainedTokenizerBase, strings: list[str]) -> dict[str, list]:
    return dict(
        tokenizer(
            strings, return_offsets_mapping=True, return_special_tokens_mask=True, verbose=False
        )
        if strings
        else {
            k: [] for k in ("input_ids", "attention_mask", "special_tokens_mask", "offset_mapping")
        }
    )


def _fit(
    tokenizer: PreTrainedTokenizerBase,
    template: Template,
    text: str,
    mask_token: str | None,
    max_length: int,
) -> tuple[Rendered, dict[str, list]]:
    """Cut ``text`` token by token until the template around it fits ``max_length``."""
    offsets = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True, verbose=False)[
        "offset_mapping"
    ]
    keep = len(offsets)
    while True:
        rendered = template.render(text[: offsets[keep - 1][1]] if keep else "", mask_token)
        one = _encode(tokenizer, [rendered.string])
        excess = len(one["input_ids"][0]) - max_length
        if excess <= 0:
            return rendered, {k: v[0] for k, v in one.items()}
        if keep == 0:  # unreachable once the empty template fits; kept as a guard
            raise ValueError(f"template {template.name!r} does not fit max_length {max_length}")
        keep = max(0, keep - math.ceil(excess / template.copies))


def _spans(
    encoded: Mapping[str, list], rendered: Rendered, mask_token_id: int | None, name: str
) -> tuple[int, int, int]:
    """(text start, text stop, mask token) in token positions; -1 for no mask token."""
    inside = [
        j
        for j, (start, stop) in enumerate(encoded["offset_mapping"])
        if stop > start
        and not encoded["special_tokens_mask"][j]
        and start < rendered.text_stop
        and stop > rendered.text_start
    ]
    text = (inside[0], inside[-1] + 1) if inside else (0, 0)
    if rendered.mask_start < 0:
        return text[0], text[1], -1
    for j, (start, stop) in enumerate(encoded["offset_mapping"]):
        hit = start < rendered.mask_stop and stop > rendered.mask_start
        if hit and encoded["input_ids"][j] == mask_token_id:
            return text[0], text[1], j
    raise ValueError(f"template {name!r}: the tokenizer split the mask token; it cannot be read")


def check_template(
    tokenizer: PreTrainedTokenizerBase,
    template: Template,
    max_length: int,
    long: str = "truncate",
    stride: int | None = None,
) -> str | None:
    """ValueError naming the template unless it fits this tokenizer; returns its mask token.

    A template needs a fast tokenizer, a mask token when it holds ``[MASK]`` and room for itself
    within ``max_length``; with ``long="chunk"``, room for more than ``stride`` text tokens (in
    each copy of the text) next to it.
    """
    if long not in LONG_MODES:
        raise ValueError(f"long must be one of {', '.join(LONG_MODES)}, got {long!r}")
    mask_token = _mask_token(tokenizer, template)
    try:
        alone = len(tokenizer(template.render("", mask_token).string)["input_ids"])
    except TypeError:
        check_unicode((), template)
        raise
    if alone > max_length:
        raise ValueError(
            f"template {template.name!r} takes {alone} tokens without any text, more than "
            f"max_length {max_length}"
        )
    if long == "chunk":
        content = _room(tokenizer, template, mask_token, max_length)
        if not 0 <= (stride or 0) < content:
            raise ValueError(
                f"template {template.name!r} leaves {max(content, 0)} text tokens per window "
                f"at max_length {max_length} (the text appears {template.copies}x); stride "
                f"{stride or 0} must be >= 0 and below that: raise max_length or lower stride"
            )
    return mask_token


def _room(
    tokenizer: PreTrainedTokenizerBase, template: Template, mask: str | None, max_length: int
) -> int:
    """Text tokens a window holds next to the template, in each copy of the text. The template
    is measured around a one-token text: around an empty one its quotes may merge (``""``)."""
    probe = len(tokenizer(_PROBE, add_special_tokens=False)["input_ids"])
    around = len(tokenizer(template.render(_PROBE, mask).string)["input_ids"])
    return (max_length - around + probe * template.copies) // template.copies


def tokenize_template(
    tokenizer: PreTrainedTokenizerBase,
    texts: Sequence[str],
    max_length: int,
    template: Template,
) -> Windows:
    """One window per text: the text placed in ``template``, cut (never the template) to fit.

    Args:
        tokenizer: a fast Hugging Face tokenizer (its offset mapping locates the text).
        texts: the texts.
        max_length: tokens per window, special tokens included.
        template: the prompt template.

    Returns:
        Windows that pool every real token (``pool_start``/``pool_stop``), with ``spans``
        ``text_mask`` (the text's tokens, its last copy) and, when the template holds one,
        ``mask_token_mask``.
    """
    mask_token = check_template(tokenizer, template, max_length)
    n = len(texts)
    rendered = [template.render(text, mask_token) for text in texts]
    encoded = _encode(tokenizer, [r.string for r in rendered])
    rows = [{k: v[i] for k, v in encoded.items()} for i in range(n)]
    truncated = np.zeros(n, dtype=bool)
    for i in range(n):
        if len(rows[i]["input_ids"]) > max_length:
            rendered[i], rows[i] = _fit(tokenizer, template, texts[i], mask_token, max_length)
            truncated[i] = True
    mask_id = tokenizer.mask_token_id
    found = [_spans(row, r, mask_id, template.name) for row, r in zip(rows, rendered, strict=True)]
    spans = np.array(found, dtype=np.int64).reshape(n, 3)
    keys = [k for k in encoded if k != "offset_mapping"]
    features = {k: [row[k] for row in rows] for k in keys}
    lengths = np.fromiter((len(row["input_ids"]) for row in rows), np.int64, n)
    extra = {"text_mask": (spans[:, 0], spans[:, 1])}
    if template.has_mask:
        extra["mask_token_mask"] = (spans[:, 2], spans[:, 2] + 1)
    return Windows.one_per_text(features, lengths, truncated, extra)


def _chunk_windows(
    tokenizer: PreTrainedTokenizerBase,
    template: Template,
    text: str,
    mask_token: str | None,
    max_length: int,
    stride: int,
) -> list[tuple[Rendered, dict[str, list]]]:
    """A long ``text`` in chunks of its own tokens, each placed in ``template``; each
    Rendered's text range is the characters that window owns (of the text's last copy)."""
    offsets = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True, verbose=False)[
        "offset_mapping"
    ]
    n = len(offsets)
    content = _room(tokenizer, template, mask_token, max_length)
    chunks: list[tuple[int, Rendered, dict[str, list]]] = []  # (first token, rendered, encoded)
    start = 0
    while True:
        stop = min(n, start + content)
        while True:  # a token may split or merge with its neighbours inside the template
            piece = text[offsets[start][0] : offsets[stop - 1][1]]
            rendered = template.render(piece, mask_token)
            one = {k: v[0] for k, v in _encode(tokenizer, [rendered.string]).items()}
            excess = len(one["input_ids"]) - max_length
            if excess <= 0:
                break
            stop -= math.ceil(excess / template.copies)
            if stop - start <= stride:
                raise ValueError(
                    f"template {template.name!r}: a chunk of {stop - start} text tokens does not "
                    f"fit max_length {max_length}; raise max_length or lower stride"
                )
        chunks.append((start, rendered, one))
        if stop >= n:
            break
        start = stop - stride
    # Ownership in the text's tokens: the first stride // 2 overlap tokens to the earlier window.
    owned = [0] + [first + stride // 2 for first, _, _ in chunks[1:]] + [n]
    windows = []
    for k, (first, rendered, encoded) in enumerate(chunks):
        base = rendered.text_start - offsets[first][0]  # text characters -> rendered characters
        lo, hi = offsets[owned[k]][0], offsets[owned[k + 1] - 1][1]
        windows.append((replace(rendered, text_start=base + lo, text_stop=base + hi), encoded))
    return windows


def tokenize_template_chunks(
    tokenizer: PreTrainedTokenizerBase,
    texts: Sequence[str],
    max_length: int,
    template: Template,
    stride: int | None = None,
) -> Windows:
    """Texts placed in ``template``; a text too long for one window is chunked, each chunk in
    the template (see the module docstring).

    Args:
        tokenizer: a fast Hugging Face tokenizer.
        texts: the texts.
        max_length: tokens per window, special tokens included.
        template: the prompt template.
        stride: text tokens shared by consecutive chunks; None takes an eighth of the text
            tokens a window holds.

    Returns:
        Windows of every text, a text's windows consecutive, each pooling its whole window
        (``pool_start``/``pool_stop``: ``cls``, ``first``, ``last`` read it), with ``text_mask``
        the text tokens it owns and ``mask_token_mask`` its template's mask token.
    """
    mask_token = check_template(tokenizer, template, max_length)
    content = _room(tokenizer, template, mask_token, max_length)
    stride = default_stride(content, 0) if stride is None else stride
    check_template(tokenizer, template, max_length, "chunk", stride)
    rendered = [template.render(text, mask_token) for text in texts]
    encoded = _encode(tokenizer, [r.string for r in rendered])
    doc: list[int] = []
    found: list[tuple[int, int, int]] = []
    rows: list[dict[str, list]] = []
    for i, text in enumerate(texts):
        row = {k: v[i] for k, v in encoded.items()}
        pieces = [(rendered[i], row)]
        if len(row["input_ids"]) > max_length:
            pieces = _chunk_windows(tokenizer, template, text, mask_token, max_length, stride)
        for piece, piece_row in pieces:
            doc.append(i)
            rows.append(piece_row)
            found.append(_spans(piece_row, piece, tokenizer.mask_token_id, template.name))
    n = len(rows)
    docs = np.asarray(doc, dtype=np.int64)
    count = np.bincount(docs, minlength=len(texts)).astype(np.int64)
    first = np.concatenate(([0], np.cumsum(count)[:-1])) if len(texts) else np.zeros(0, np.int64)
    spans = np.array(found, dtype=np.int64).reshape(n, 3)
    lengths = np.fromiter((len(row["input_ids"]) for row in rows), np.int64, n)
    extra = {"text_mask": (spans[:, 0], spans[:, 1])}
    if template.has_mask:
        extra["mask_token_mask"] = (spans[:, 2], spans[:, 2] + 1)
    keys = [k for k in encoded if k != "offset_mapping"]
    return Windows(
        features={k: [row[k] for row in rows] for k in keys},
        doc=docs,
        index=np.arange(n, dtype=np.int64) - first[docs],
        count=count,
        lengths=lengths,
        pool_start=np.zeros(n, dtype=np.int64),
        pool_stop=lengths.copy(),
        truncated=count > 1,
        spans=extra,
    )
