"""Prompt templates end to end: token positions against hand-built references on every family,
truncation that keeps the template, padding invariance, one forward pass per template."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
from transformers import AutoModel, PreTrainedTokenizerFast

from hiddenpool import Encoder
from hiddenpool.encode.windows import tokenize_windows
from hiddenpool.pooling.templates import create_template
from tiny_models import ALL_FAMILIES, SENTENCES

TEXT = "the movie was good"
BERT_LIKE = ("bert", "electra", "roberta", "mpnet", "deberta-v2")
# Hand-counted on the tiny word-level tokenizers (Whitespace pre-tokenizer, so ':' '"' '.' are
# tokens of their own): promptbert reads 'This sentence : " the movie was good " means [MASK] .'
# = 12 content tokens, text at 4..8, mask at 10; echo's second copy sits at content 12..16;
# query 'query : the movie was good' puts the text at content 2..6. BERT-likes and llama add
# one token in front, XLNet two at the end, GPT-2 none.
LEAD = {"bert": 1, "electra": 1, "roberta": 1, "mpnet": 1, "deberta-v2": 1, "llama": 1}
MASKED_FAMILIES = [*BERT_LIKE, "xlnet"]


def _span(windows, key, i=0):
    start, stop = windows.spans[key]
    return int(start[i]), int(stop[i])


@pytest.mark.parametrize("family", ALL_FAMILIES)
def test_text_and_mask_positions_match_a_hand_count(family, tiny_backbone):
    tokenizer = tiny_backbone(family).tokenizer
    lead = LEAD.get(family, 0)
    cases = [("echo", (12, 16)), ("query", (2, 6))]
    if family in MASKED_FAMILIES:
        cases.append(("promptbert", (4, 8)))
    for name, (start, stop) in cases:
        windows = tokenize_windows(tokenizer, [TEXT], 64, template=create_template(name))
        assert _span(windows, "text_mask") == (lead + start, lead + stop), (family, name)
        tokens = tokenizer.convert_ids_to_tokens(windows.features["input_ids"][0])
        assert tokens[lead + start : lead + stop] == TEXT.split()
        if name == "promptbert":
            assert _span(windows, "mask_token_mask") == (lead + 10, lead + 11)
            assert tokens[lead + 10] == tokenizer.mask_token


def test_minilm_wordpiece_positions_match_a_hand_tokenisation(minilm):
    windows = tokenize_windows(
        minilm.tokenizer, ["Tokenization isn't easy!"], 64, template=create_template("promptbert")
    )
    expected = (
        '[CLS] this sentence : " token ##ization isn \' t easy ! " means [MASK] . [SEP]'
    ).split()
    assert minilm.tokenizer.convert_ids_to_tokens(windows.features["input_ids"][0]) == expected
    assert _span(windows, "text_mask") == (5, 12)
    assert _span(windows, "mask_token_mask") == (14, 15)


def _trained(kind: str) -> PreTrainedTokenizerFast:
    """A small real tokenizer trained here: byte-level BPE (RoBERTa/GPT-2) or a sentencepiece
    Unigram with Metaspace (T5/XLNet/ALBERT), with <s> </s> <mask> specials."""
    corpus = [s for s in SENTENCES if s] * 20 + ["This sentence means in one word rewrite"] * 20
    specials = ["<pad>", "<s>", "</s>", "<unk>", "<mask>"]
    if kind == "bpe":
        backend = Tokenizer(models.BPE())
        backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        backend.decoder = decoders.ByteLevel()
        trainer = trainers.BpeTrainer(
            vocab_size=300,
            special_tokens=specials,
            initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        )
    else:
        backend = Tokenizer(models.Unigram())
        backend.pre_tokenizer = pre_tokenizers.Metaspace()
        backend.decoder = decoders.Metaspace()
        trainer = trainers.UnigramTrainer(
            vocab_size=400, special_tokens=specials, unk_token="<unk>"
        )
    backend.train_from_iterator(corpus, trainer)
    backend.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>",
        special_tokens=[("<s>", backend.token_to_id("<s>")), ("</s>", backend.token_to_id("</s>"))],
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=backend,
        pad_token="<pad>",
        bos_token="<s>",
        eos_token="</s>",
        unk_token="<unk>",
        mask_token="<mask>",
    )


@pytest.mark.parametrize("kind", ["bpe", "unigram"])
def test_leading_space_tokenizers_align_with_a_separate_tokenisation(kind):
    tokenizer = _trained(kind)
    text = "a very long film"
    # sentencepiece marks every word start itself; byte-level BPE keeps the space in the token
    spaced = f" {text}" if kind == "bpe" else text
    cases = [
        ("echo", f"Rewrite the sentence: {text}, rewritten sentence:", spaced),
        ("query", "query:", spaced),
    ]
    if kind == "bpe":  # the quote is a pre-token of its own: the text starts a word
        cases.append(("promptbert", 'This sentence : "', text))
    for name, before, inside in cases:
        windows = tokenize_windows(tokenizer, [text], 64, template=create_template(name))
        ids = windows.features["input_ids"][0]
        # Reference: the tokens before the text and of the text, tokenised on their own.
        start = 1 + len(tokenizer(before, add_special_tokens=False)["input_ids"])
        count = len(tokenizer(inside, add_special_tokens=False)["input_ids"])
        assert _span(windows, "text_mask") == (start, start + count), (kind, name)
        assert tokenizer.decode(ids[start : start + count]).strip() == text, (kind, name)


@pytest.mark.parametrize("kind", ["bpe", "unigram"])
def test_the_mask_token_is_found_by_id_and_characters(kind):
    tokenizer = _trained(kind)
    text = "a <mask> in the text is not the template's"
    windows = tokenize_windows(tokenizer, [text], 64, template=create_template("promptbert"))
    ids = windows.features["input_ids"][0]
    masks = [i for i, t in enumerate(ids) if t == tokenizer.mask_token_id]
    assert len(masks) == 2
    assert _span(windows, "mask_token_mask") == (masks[1], masks[1] + 1)
    start, stop = _span(windows, "text_mask")
    assert start < masks[0] < stop <= masks[1]


@pytest.mark.parametrize("name", ["promptbert", "echo"])
def test_truncation_cuts_the_text_and_keeps_the_template(name, minilm):
    template = create_template(name)
    long_text = " ".join(["really"] * 200) + " end"
    windows = tokenize_windows(minilm.tokenizer, [long_text, "short one"], 40, template=template)
    ids = windows.features["input_ids"]
    tokens = minilm.tokenizer.convert_ids_to_tokens(ids[0])
    assert len(ids[0]) <= 40
    assert windows.truncated.tolist() == [True, False]
    start, stop = _span(windows, "text_mask")
    assert stop > start and set(tokens[start:stop]) == {"really"}
    if name == "promptbert":
        assert tokens[-5:] == ['"', "means", "[MASK]", ".", "[SEP]"]
        assert _span(windows, "mask_token_mask") == (len(tokens) - 3, len(tokens) - 2)
    else:  # both copies cut alike; the second copy, pooled, survives whole
        first = tokens.index(",")
        assert tokens[first:stop][:5] == [",", "re", "##written", "sentence", ":"]
        assert stop == len(tokens) - 1 and tokens[-1] == "[SEP]"
        assert tokens[6:first] == tokens[start:stop]


def test_shortened_texts_are_counted_once_across_passes(minilm):
    long_text = " ".join(["really"] * 60)
    encoder = Encoder(minilm, max_length=40)
    texts = [long_text, "short one", " ".join(["fine"] * 30)]  # the last fits alone, not echoed
    result = encoder.embed(texts, ["mean", "promptbert:mask", "echo:mean"])
    assert result.num_passes == 3
    assert result.num_truncated == 2
    assert encoder.embed(texts, ["mean"]).num_truncated == 1


def test_a_template_longer_than_max_length_is_one_error(minilm):
    with pytest.raises(ValueError, match="template 'promptbert' takes 10 tokens without any text"):
        Encoder(minilm, pooling="promptbert:mask", max_length=8).encode(["x"])


@pytest.mark.parametrize("family", ["gpt2", "llama"])
def test_mask_on_a_model_without_mask_token_names_the_template(family, tiny_backbone):
    encoder = Encoder(tiny_backbone(family))
    with pytest.raises(ValueError, match="template 'promptbert' holds \\[MASK\\], but this model"):
        encoder.pooler("promptbert:mean")


def _specs(family: str) -> list[str]:
    specs = ["echo:mean", "query:max", "query:mean(include_prompt=true)", "prompteol:last"]
    specs += ["echo:cls", "query:weighted_mean@-2:"]
    if family in MASKED_FAMILIES:
        specs += ["promptbert:mask", "promptbert:mean@1,-1", "promptbert:cls"]
    return specs


def _encode(encoder: Encoder, texts, side: str, batch_size: int) -> dict[str, np.ndarray]:
    tokenizer = encoder.backbone.tokenizer
    old = tokenizer.padding_side
    tokenizer.padding_side = side
    try:
        return encoder.encode_many(
            texts, _specs(encoder.backbone.facts.name), batch_size=batch_size
        )
    finally:
        tokenizer.padding_side = old


@pytest.mark.parametrize("family", ALL_FAMILIES)
def test_alone_batched_left_and_right_padding_agree(family, tiny_backbone, one_thread):
    encoder = Encoder(tiny_backbone(family), normalize=False)
    alone = [_encode(encoder, [text], "right", 1) for text in SENTENCES]
    for side in ("right", "left"):
        batched = _encode(encoder, SENTENCES, side, batch_size=len(SENTENCES))
        for spec in batched:
            expected = np.stack([a[spec][0] for a in alone])
            np.testing.assert_allclose(
                batched[spec], expected, atol=1e-5, rtol=1e-5, err_msg=f"{family} {spec} {side}"
            )


@pytest.mark.parametrize("family", ["bert", "xlnet"])
def test_vectors_equal_a_naive_forward_pass(family, tiny_backbone, tiny_dir, one_thread):
    """mask, mean over the text and cls under the template, against AutoModel on one string."""
    backbone = tiny_backbone(family)
    encoder = Encoder(backbone, normalize=False)
    got = encoder.encode_many([TEXT], ["promptbert:mask", "promptbert:mean", "promptbert:cls"])
    model = AutoModel.from_pretrained(tiny_dir(family)).eval()
    string = f'This sentence : "{TEXT}" means {backbone.tokenizer.mask_token} .'
    with torch.no_grad():
        out = model(**backbone.tokenizer(string, return_tensors="pt"), output_hidden_states=True)
    last = out.hidden_states[-1][0]
    lead = LEAD.get(family, 0)
    cls = 0 if family == "bert" else last.shape[0] - 1
    np.testing.assert_allclose(got["promptbert:mask"][0], last[lead + 10].numpy(), atol=1e-5)
    mean = last[lead + 4 : lead + 8].mean(dim=0).numpy()
    np.testing.assert_allclose(got["promptbert:mean"][0], mean, atol=1e-5)
    np.testing.assert_allclose(got["promptbert:cls"][0], last[cls].numpy(), atol=1e-5)


def test_one_forward_pass_per_template_and_grouping_changes_nothing(minilm):
    encoder = Encoder(minilm)
    calls: list[int] = []
    backend = encoder.backend

    def counting(batch, poolers):
        calls.append(len(poolers))
        return backend(batch, poolers)

    encoder.backend = counting  # type: ignore[assignment]
    texts = ["A man plays a guitar.", "Tokenization isn't easy!", ""]
    specs = ["promptbert:mask", "mean", "promptbert:mean@-2", "echo:mean", "cls", "mean@-4:"]
    result = encoder.embed(texts, specs, batch_size=8)
    assert result.num_passes == 3 and len(calls) == 3
    assert sorted(calls) == [1, 2, 3]
    encoder.backend = backend
    for spec in specs:
        np.testing.assert_allclose(result.vectors[spec], encoder.encode_many(texts, [spec])[spec])
    plain = encoder.embed(texts, ["mean", "cls"])
    assert plain.num_passes == 1
    assert result.num_tokens > plain.num_tokens


def test_templates_chunk_long_texts_on_minilm(minilm):
    """A long text in windows of the template (MiniLM's WordPiece); a text that fits is one
    window, as in truncate mode; mask, one token per window, is refused."""
    long_text = "Tokenization isn't easy, but a long review goes on and on. " * 30
    specs = ["echo:mean", "promptbert:max@-2"]
    chunked = Encoder(minilm, long="chunk", max_length=64, normalize=False)
    result = chunked.embed([long_text, "short one"], specs)
    windows = tokenize_windows(
        minilm.tokenizer, [long_text], 64, "chunk", chunked.stride, create_template("echo")
    )
    assert result.num_truncated == 1 and windows.num_windows > 3
    truncated = Encoder(minilm, max_length=64, normalize=False).encode_many(["short one"], specs)
    for spec in specs:
        np.testing.assert_allclose(result.vectors[spec][1], truncated[spec][0], atol=1e-5)
        assert np.isfinite(result.vectors[spec][0]).all()
    with pytest.raises(ValueError, match="template 'promptbert' has one mask token per window"):
        chunked.encode_many(["x"], ["promptbert:mask"])
