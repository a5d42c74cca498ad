"""The trained tokenizer, the token stream on disk, blocks and whole-word masking."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from transformers import DataCollatorForLanguageModeling

sys.path.insert(0, str(Path(__file__).parent))

from corpus_helpers import documents

from hiddenpool.pretrain.tokens import (
    SEPARATOR,
    WORD_START,
    BlockDataset,
    train_tokenizer,
    write_token_stream,
)


@pytest.fixture(scope="module")
def tokenizer():
    return train_tokenizer(iter(documents(200)), vocab_size=300, max_length=32, show_progress=False)


def test_trained_tokenizer_is_roberta_style(tokenizer) -> None:
    assert tokenizer.is_fast and len(tokenizer) == 300
    assert [tokenizer.convert_ids_to_tokens(i) for i in range(5)] == [
        "<s>", "<pad>", "</s>", "<unk>", "<mask>",
    ]  # fmt: skip
    encoded = tokenizer("the kernel schedules")["input_ids"]
    assert encoded[0] == 0 and encoded[-1] == 2
    assert tokenizer.decode(encoded, skip_special_tokens=True) == "the kernel schedules"
    assert tokenizer.model_max_length == 32


def test_stream_is_the_documents_tokens_joined_by_separators(tokenizer, tmp_path) -> None:
    docs = documents(30, seed=1)
    stream = write_token_stream(iter(docs), tokenizer, tmp_path / "s", batch=7)
    expected: list[int] = []
    for i, doc in enumerate(docs):
        if i:
            expected.append(tokenizer.sep_token_id)
        expected.extend(tokenizer(doc, add_special_tokens=False)["input_ids"])
    assert stream.documents == 30 and stream.tokens == len(expected)
    assert stream.ids().tolist() == expected
    flags = stream.flags()
    assert (flags == SEPARATOR).sum() == 29
    # Byte-level BPE: a token starts a word when it starts with the space marker (or a document).
    tokens = tokenizer.convert_ids_to_tokens(expected)
    reference = [
        SEPARATOR
        if ids == tokenizer.sep_token_id
        else WORD_START
        if tok.startswith("Ġ") or i == 0 or expected[i - 1] == tokenizer.sep_token_id
        else 0
        for i, (ids, tok) in enumerate(zip(expected, tokens, strict=True))
    ]
    assert flags.tolist() == reference


def test_blocks_wrap_consecutive_slices_in_s_and_end_s(tokenizer, tmp_path) -> None:
    stream = write_token_stream(iter(documents(40)), tokenizer, tmp_path / "s")
    blocks = BlockDataset(stream, tokenizer, max_length=16, offsets=False)
    assert len(blocks) == stream.tokens // 14
    ids = stream.ids()
    for index in (0, 1, len(blocks) - 1):
        item = blocks[index]
        assert item["input_ids"] == [0, *ids[index * 14 : (index + 1) * 14].tolist(), 2]
        separators = [int(t == tokenizer.sep_token_id) for t in item["input_ids"][1:-1]]
        assert item["special_tokens_mask"] == [1, *separators, 1]
    with pytest.raises(IndexError):
        blocks[len(blocks)]
    assert len(BlockDataset(stream, tokenizer, 16, offsets=False, limit=3)) == 3


def test_whole_word_masking_masks_every_piece_of_a_word_or_none(tokenizer, tmp_path) -> None:
    # Rare long words split into several pieces.
    docs = [
        f"{d} antidisestablishmentarianism floccinaucinihilipilification" for d in documents(60)
    ]
    stream = write_token_stream(iter(docs), tokenizer, tmp_path / "s")
    blocks = BlockDataset(stream, tokenizer, max_length=32, offsets=True)
    collator = DataCollatorForLanguageModeling(
        tokenizer, mlm_probability=0.3, whole_word_mask=True, mask_replace_prob=1.0,
        random_replace_prob=0.0, seed=0,
    )  # fmt: skip
    batch = collator([blocks[i] for i in range(len(blocks))])
    labels, inputs = batch["labels"], batch["input_ids"]
    flags = stream.flags()
    words_checked = multi_piece = 0
    for row in range(labels.shape[0]):
        row_flags = flags[row * 30 : (row + 1) * 30].tolist()
        masked = (labels[row, 1:-1] != -100).tolist()
        word: list[int] = []
        for position, flag in enumerate([*row_flags, WORD_START]):
            if flag != 0 and word:  # a word ends: all its pieces masked alike
                assert len({masked[p] for p in word}) == 1, (row, word)
                words_checked += 1
                multi_piece += len(word) > 1
                word = []
            if (position < len(row_flags) and flag == WORD_START) or flag == 0:
                word.append(position)
    assert words_checked > 500 and multi_piece > 50
    assert torch.all(inputs[labels != -100] == tokenizer.mask_token_id)
    specials = torch.tensor([blocks[i]["special_tokens_mask"] for i in range(len(blocks))])
    assert not torch.any((labels != -100) & specials.bool())  # never a special token
    share = (labels != -100).float().sum() / (~specials.bool()).sum()
    assert 0.2 < share.item() < 0.45  # about 30% of tokens (whole words round it up)


def test_an_empty_stream_has_no_blocks(tokenizer, tmp_path) -> None:
    stream = write_token_stream(iter([]), tokenizer, tmp_path / "s")
    assert (stream.tokens, stream.documents) == (0, 0)
    assert len(BlockDataset(stream, tokenizer, 16, offsets=False)) == 0
    assert np.asarray(stream.ids()).size == 0
