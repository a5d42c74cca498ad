"""Tokenizer training and the tokenized corpus: a memory-mapped token stream cut into blocks.

Documents are tokenized in batches and appended to two flat files, never held whole: token ids,
and one flag per token (a new word, the rest of a word, or a separator). Documents are packed
RoBERTa-style ("full sentences"): each block is ``<s>`` + ``max_length - 2`` consecutive tokens
of the stream + ``</s>``, with ``</s>`` between documents. For a decoder (causal LM) a block is
``max_length`` consecutive tokens of the stream, GPT-2's packing: no padding anywhere, and the
end-of-text token between documents. The word flags come from the fast tokenizer's offsets (a gap
before a token starts a new word) and feed whole-word masking.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from transformers import PreTrainedTokenizerBase

__all__ = [
    "SPECIAL_TOKENS",
    "BlockDataset",
    "TokenStream",
    "read_stream",
    "save_json",
    "train_tokenizer",
    "write_token_stream",
]

SPECIAL_TOKENS = ("<s>", "<pad>", "</s>", "<unk>", "<mask>")  # RoBERTa's ids 0..4
WORD_START, WORD_REST, SEPARATOR = 1, 0, 2


def train_tokenizer(
    documents: Iterable[str],
    vocab_size: int,
    max_length: int,
    show_progress: bool,
    decoder: bool = False,
) -> PreTrainedTokenizerBase:
    """Train a byte-level BPE tokenizer (RoBERTa's and GPT-2's) on the documents.

    Args:
        documents: the training documents, streamed.
        vocab_size: vocabulary size, special tokens included.
        max_length: the model's maximum input length in tokens.
        show_progress: the tokenizers library's progress bar.
        decoder: a GPT-2-style tokenizer for a causal LM instead of RoBERTa's.

    Returns:
        A fast ``RobertaTokenizer`` (``<s> <pad> </s> <unk> <mask>`` = ids 0..4); with
        ``decoder`` a ``GPT2Tokenizer`` over the same vocabulary that adds no special tokens
        (a text's last real token is its own, as in GPT-2), ``</s>`` ends a text, ``<pad>`` pads
        and padding is on the left, where decoders want it.
    """
    from tokenizers import ByteLevelBPETokenizer
    from transformers import GPT2Tokenizer, RobertaTokenizer

    bpe = ByteLevelBPETokenizer(add_prefix_space=False, trim_offsets=True)
    bpe.train_from_iterator(
        documents,
        vocab_size=vocab_size,
        min_frequency=2,
        show_progress=show_progress,
        special_tokens=list(SPECIAL_TOKENS),
    )
    with tempfile.TemporaryDirectory() as folder:
        bpe.save_model(folder)
        if decoder:
            return GPT2Tokenizer(
                vocab=os.path.join(folder, "vocab.json"),
                merges=os.path.join(folder, "merges.txt"),
                unk_token="<unk>",
                bos_token="<s>",
                eos_token="</s>",
                pad_token="<pad>",
                model_max_length=max_length,
                padding_side="left",
            )
        tokenizer = RobertaTokenizer(
            vocab=os.path.join(folder, "vocab.json"),
            merges=os.path.join(folder, "merges.txt"),
            model_max_length=max_length,
        )
    return tokenizer


def _first_not_none(*ids: int | None) -> int | None:
    return next((i for i in ids if i is not None), None)


def _word_flags(offsets: list[tuple[int, int]]) -> list[int]:
    flags = []
    previous_end = -1
    for start, end in offsets:
        flags.append(WORD_START if start != previous_end else WORD_REST)
        previous_end = end
    return flags


@dataclass(frozen=True)
class TokenStream:
    """A tokenized slice of the corpus on disk.

    Attributes:
        prefix: path prefix of ``<prefix>.ids`` and ``<prefix>.flags``.
        tokens: tokens in the stream (separators included).
        documents: documents it holds.
        dtype: numpy dtype of the ids file.
    """

    prefix: Path
    tokens: int
    documents: int
    dtype: str

    def ids(self) -> np.ndarray:
        if self.tokens == 0:
            return np.zeros(0, dtype=self.dtype)
        return np.memmap(f"{self.prefix}.ids", dtype=self.dtype, mode="r", shape=(self.tokens,))

    def flags(self) -> np.ndarray:
        if self.tokens == 0:
            return np.zeros(0, dtype=np.uint8)
        return np.memmap(f"{self.prefix}.flags", dtype=np.uint8, mode="r", shape=(self.tokens,))

    def to_dict(self) -> dict[str, Any]:
        return {
            "prefix": str(self.prefix),
            "tokens": self.tokens,
            "documents": self.documents,
            "dtype": self.dtype,
        }


def write_token_stream(
    documents: Iterable[str], tokenizer: PreTrainedTokenizerBase, prefix: Path, batch: int = 512
) -> TokenStream:
    """Tokenize documents into ``<prefix>.ids`` / ``<prefix>.flags``, streaming.

    Args:
        documents: the documents, in order.
        tokenizer: a tokenizer with a separator token; word flags need a fast one (a slow one
            flags every token as a word start).
        prefix: path prefix of the two files (overwritten).
        batch: documents tokenized at once.

    Returns:
        The stream's description.
    """
    dtype = np.uint16 if len(tokenizer) <= np.iinfo(np.uint16).max else np.int32
    sep = _first_not_none(tokenizer.sep_token_id, tokenizer.eos_token_id)
    if sep is None:
        raise ValueError(f"{tokenizer.name_or_path}: the tokenizer has no separator token")
    fast = bool(getattr(tokenizer, "is_fast", False))
    tokens = count = 0
    with open(f"{prefix}.ids", "wb") as ids_file, open(f"{prefix}.flags", "wb") as flags_file:

        def flush(texts: list[str]) -> None:
            nonlocal tokens, count
            encoded = tokenizer(
                texts,
                add_special_tokens=False,
                return_offsets_mapping=fast,
                return_attention_mask=False,
                verbose=False,
            )
            ids: list[int] = []
            flags: list[int] = []
            for i, doc_ids in enumerate(encoded["input_ids"]):
                if count + i > 0:
                    ids.append(sep)
                    flags.append(SEPARATOR)
                ids.extend(doc_ids)
                flags.extend(
                    _word_flags(encoded["offset_mapping"][i])
                    if fast
                    else [WORD_START] * len(doc_ids)
                )
            ids_file.write(np.asarray(ids, dtype=dtype).tobytes())
            flags_file.write(np.asarray(flags, dtype=np.uint8).tobytes())
            tokens += len(ids)
            count += len(texts)

        pending: list[str] = []
        for text in documents:
            pending.append(text)
            if len(pending) == batch:
                flush(pending)
                pending = []
        if pending:
            flush(pending)
    return TokenStream(prefix=prefix, tokens=tokens, documents=count, dtype=np.dtype(dtype).name)


def read_stream(record: dict[str, Any]) -> TokenStream:
    return TokenStream(
        prefix=Path(record["prefix"]),
        tokens=int(record["tokens"]),
        documents=int(record["documents"]),
        dtype=str(record["dtype"]),
    )


class BlockDataset(torch.utils.data.Dataset):
    """Fixed-length examples cut from a token stream (a map-style dataset for the Trainer).

    MLM items (``wrap=True``) have ``input_ids`` and ``special_tokens_mask`` (the ``<s>``/``</s>``
    it was wrapped in and the document separators), and with ``offsets=True`` an
    ``offset_mapping`` rebuilt from the word flags, which is what
    ``DataCollatorForLanguageModeling`` reads to mask whole words. CLM items (``wrap=False``) are
    ``max_length`` tokens of the stream with ``labels`` equal to them but for the first, which
    no position predicts (the model shifts).

    Args:
        stream: the tokenized corpus.
        tokenizer: gives the ``<s>``/``</s>`` (``[CLS]``/``[SEP]``) ids.
        max_length: tokens per block, special tokens included.
        offsets: add ``offset_mapping`` (for whole-word masking).
        limit: at most this many blocks (the first ones), or None for all.
        wrap: wrap each block in ``<s>``/``</s>`` (MLM); False for a causal LM.
    """

    def __init__(
        self,
        stream: TokenStream,
        tokenizer: PreTrainedTokenizerBase,
        max_length: int,
        offsets: bool,
        limit: int | None = None,
        wrap: bool = True,
    ) -> None:
        self.ids = stream.ids()
        self.flags = stream.flags()
        self.wrap = wrap
        self.content = max_length - 2 if wrap else max_length
        first = (
            tokenizer.cls_token_id if tokenizer.cls_token_id is not None else tokenizer.bos_token_id
        )
        last = (
            tokenizer.sep_token_id if tokenizer.sep_token_id is not None else tokenizer.eos_token_id
        )
        if wrap and (first is None or last is None):
            raise ValueError(f"{tokenizer.name_or_path}: the tokenizer has no <s>/</s> tokens")
        self.first, self.last = int(first or 0), int(last or 0)
        self.offsets = offsets
        blocks = stream.tokens // self.content
        self.length = blocks if limit is None else min(blocks, limit)

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> dict[str, Any]:
        if not 0 <= index < self.length:
            raise IndexError(index)
        span = slice(index * self.content, (index + 1) * self.content)
        if not self.wrap:
            block = torch.from_numpy(self.ids[span].astype(np.int64))
            labels = block.clone()
            # The model shifts: position t predicts labels[t + 1], so labels[0] is never a
            # target. Marking it ignored makes the Trainer's token count (num_items_in_batch,
            # which counts labels before the shift) the true one: with it counted, every loss
            # was T/(T-1) too small.
            labels[0] = -100
            return {"input_ids": block, "labels": labels}
        ids = [self.first, *self.ids[span].astype(np.int64).tolist(), self.last]
        flags = self.flags[span]
        special = [1, *(flags == SEPARATOR).astype(np.int64).tolist(), 1]
        item: dict[str, Any] = {"input_ids": ids, "special_tokens_mask": special}
        if self.offsets:
            item["offset_mapping"] = list(_offsets(flags))
        return item


def _offsets(flags: np.ndarray) -> Iterator[tuple[int, int]]:
    """Character spans that reproduce the word boundaries: a gap before every word start."""
    yield (0, 0)  # <s>
    cursor = 0
    for flag in flags.tolist():
        start = cursor + 1 if flag != WORD_REST else cursor
        cursor = start + 1
        yield (start, cursor)
    yield (0, 0)  # </s>


def save_json(path: Path, record: dict[str, Any]) -> None:
    """Write JSON atomically (a temporary file renamed into place)."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, path)
