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
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from transformers import PreTrainedTokenizerBase

__all__ = [
    "LONG_MODES",
    "LongMode",
    "Windows",
    "default_stride",
    "special_counts",
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
    """

    features: dict[str, list[list[int]]]
    doc: np.ndarray
    index: np.ndarray
    count: np.ndarray
    lengths: np.ndarray
    pool_start: np.ndarray
    pool_stop: np.ndarray
    truncated: np.ndarray

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
        """(N,) number of tokens each window pools, optionally without special tokens."""
        counts = (self.pool_stop - self.pool_start).astype(np.int64)
        if skip_special:
            special = self.features["special_tokens_mask"]
            for i in np.flatnonzero(self.count[self.doc] > 1):
                counts[i] -= sum(special[i][self.pool_start[i] : self.pool_stop[i]])
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
) -> Windows:
    """Tokenise ``texts`` into windows of at most ``max_length`` tokens.

    Args:
        tokenizer: a Hugging Face tokenizer (fast for ``long="chunk"``).
        texts: the texts.
        max_length: window length in tokens, special tokens included.
        long: ``"truncate"`` (one window per text) or ``"chunk"`` (overlapping windows).
        stride: content tokens shared by consecutive windows (chunk only); None takes
            :func:`default_stride`.

    Returns:
        Windows in text order, with the tokens each window pools.
    """
    if long not in LONG_MODES:
        raise ValueError(f"long must be one of {', '.join(LONG_MODES)}, got {long!r}")
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
