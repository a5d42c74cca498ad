"""Inputs given as token ids, as OpenAI's embeddings API allows (``input: [[101, 2023], ...]``).

OpenAI's token arrays are ids of the model's own tokenizer. Here each list is one input: ids of
the served model's tokenizer, without special tokens; the server adds the special tokens the
tokenizer adds to a text (``[CLS] ... [SEP]`` for BERT, none for GPT-2) and cuts the ids, never
the specials, at ``max_length`` as the tokenizer's truncation does. So ``tokenizer(text,
add_special_tokens=False)["input_ids"]`` sent as ids gives the vector of ``text``. Nothing is
decoded back to text; prompt templates (which place text inside a prompt) do not apply.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from transformers import PreTrainedTokenizerBase

from hiddenpool.encode.windows import Windows, special_counts

__all__ = ["id_windows", "vocabulary_size"]

_PROBE = "a"  # one text whose encoding shows the special tokens around any text


def vocabulary_size(tokenizer: PreTrainedTokenizerBase) -> int:
    """Valid ids are 0 .. size - 1 (added tokens included)."""
    return len(tokenizer)


def id_windows(
    tokenizer: PreTrainedTokenizerBase, ids: Sequence[Sequence[int]], max_length: int
) -> Windows:
    """One window per id list: the tokenizer's special tokens around the ids, cut to fit.

    Args:
        tokenizer: the served model's tokenizer.
        ids: token ids per input, without special tokens.
        max_length: tokens per window, special tokens included.
    """
    before, after = special_counts(tokenizer)
    probe = tokenizer(_PROBE, return_special_tokens_mask=True)
    probe_ids = list(probe["input_ids"])
    prefix, suffix = probe_ids[:before], probe_ids[len(probe_ids) - after :]
    room = max_length - before - after
    if room < 1:
        raise ValueError(f"max_length {max_length} leaves no room next to the special tokens")
    n = len(ids)
    input_ids = [prefix + list(one[:room]) + suffix for one in ids]
    lengths = np.fromiter((len(row) for row in input_ids), np.int64, n)
    features: dict[str, list[list[int]]] = {
        "input_ids": input_ids,
        "attention_mask": [[1] * len(row) for row in input_ids],
        "special_tokens_mask": [
            [1] * before + [0] * (len(row) - before - after) + [1] * after for row in input_ids
        ],
    }
    if "token_type_ids" in probe:  # one sequence: the type id of the probe's first token
        type_id = int(probe["token_type_ids"][0])
        features["token_type_ids"] = [[type_id] * len(row) for row in input_ids]
    truncated = np.fromiter((len(one) > room for one in ids), bool, n)
    return Windows.one_per_text(features, lengths, truncated)
