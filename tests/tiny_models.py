"""Tiny randomly initialised checkpoints of every family, built from config, saved to disk.

Each comes with a real fast tokenizer (a word-level vocabulary) whose post-processor adds the
family's own special tokens in the family's own places, so summary-token and special-token logic
is exercised as with real checkpoints. Nothing is downloaded.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from tokenizers import Tokenizer, models, pre_tokenizers, processors
from transformers import (
    AutoConfig,
    AutoModel,
    PreTrainedTokenizerFast,
)

WORDS = (
    "the a an of to and in is it that this was for on with as by at from be are movie film "
    "good bad great terrible boring fun story plot actors acting love hate not very really "
    "one two three long short sentence text words here there more less some many few"
).split()

SENTENCES = [
    "the movie was good",
    "a very long and boring film with bad acting and a terrible plot that is not fun",
    "great",
    "this story is really fun and the actors love it",
    "",
]


@dataclass(frozen=True)
class Family:
    model_type: str
    specials: tuple[str, ...]  # first is pad
    template: str | None  # tokenizers TemplateProcessing single template
    pad: str
    padding_side: str = "right"
    extra: tuple[tuple[str, object], ...] = ()


FAMILIES = {
    "bert": Family(
        "bert", ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"), "[CLS] $A [SEP]", "[PAD]"
    ),
    "electra": Family(
        "electra",
        ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"),
        "[CLS] $A [SEP]",
        "[PAD]",
        extra=(("embedding_size", 16),),
    ),
    "roberta": Family(
        "roberta", ("<s>", "<pad>", "</s>", "<unk>", "<mask>"), "<s> $A </s>", "<pad>"
    ),
    "mpnet": Family("mpnet", ("<s>", "<pad>", "</s>", "<unk>", "<mask>"), "<s> $A </s>", "<pad>"),
    "deberta-v2": Family(
        "deberta-v2",
        ("[PAD]", "[CLS]", "[SEP]", "[UNK]", "[MASK]"),
        "[CLS] $A [SEP]",
        "[PAD]",
        extra=(
            ("relative_attention", True),
            ("position_biased_input", False),
            ("pos_att_type", ["p2c", "c2p"]),
            ("max_relative_positions", 64),
        ),
    ),
    "xlnet": Family(
        "xlnet",
        ("<pad>", "<unk>", "<s>", "</s>", "<sep>", "<cls>", "<mask>"),
        "$A <sep> <cls>",
        "<pad>",
        padding_side="left",
    ),
    "gpt2": Family("gpt2", ("<|endoftext|>", "<unk>"), None, "<|endoftext|>"),
    "llama": Family("llama", ("<unk>", "<s>", "</s>"), "<s> $A", "</s>"),
}


def _tokenizer(family: Family) -> PreTrainedTokenizerFast:
    vocab = {tok: i for i, tok in enumerate(family.specials + tuple(WORDS))}
    unk = next(t for t in family.specials if "unk" in t.lower())
    backend = Tokenizer(models.WordLevel(vocab, unk_token=unk))
    backend.pre_tokenizer = pre_tokenizers.Whitespace()
    if family.template:
        used = [t for t in family.specials if t in family.template.split()]
        backend.post_processor = processors.TemplateProcessing(
            single=family.template, special_tokens=[(t, vocab[t]) for t in used]
        )
    named = {"pad_token": family.pad, "unk_token": unk}
    for key, token in (
        ("cls_token", "[CLS]"),
        ("cls_token", "<cls>"),
        ("sep_token", "[SEP]"),
        ("sep_token", "<sep>"),
        ("bos_token", "<s>"),
        ("eos_token", "</s>"),
        ("eos_token", "<|endoftext|>"),
        ("mask_token", "[MASK]"),
        ("mask_token", "<mask>"),
    ):
        if token in vocab:
            named[key] = token
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend, padding_side=family.padding_side, model_max_length=64, **named
    )
    return tokenizer


def config_for(name: str, **overrides: object):
    family = FAMILIES[name]
    tokenizer = _tokenizer(family)
    kwargs: dict[str, object] = {
        "vocab_size": len(tokenizer),
        "hidden_size": 32,
        "num_hidden_layers": 3,
        "num_attention_heads": 4,
        "intermediate_size": 37,
        "max_position_embeddings": 80,
        "pad_token_id": tokenizer.pad_token_id,
        "hidden_dropout_prob": 0.0,
        "attention_probs_dropout_prob": 0.0,
    }
    if name == "gpt2":
        kwargs = {
            "vocab_size": len(tokenizer),
            "n_embd": 32,
            "n_layer": 3,
            "n_head": 4,
            "n_positions": 80,
            "pad_token_id": tokenizer.pad_token_id,
            "bos_token_id": tokenizer.eos_token_id,
            "eos_token_id": tokenizer.eos_token_id,
            "resid_pdrop": 0.0,
            "embd_pdrop": 0.0,
            "attn_pdrop": 0.0,
        }
    elif name == "xlnet":
        kwargs = {
            "vocab_size": len(tokenizer),
            "d_model": 32,
            "n_layer": 3,
            "n_head": 4,
            "d_inner": 37,
            "pad_token_id": tokenizer.pad_token_id,
            "dropout": 0.0,
        }
    elif name == "llama":
        kwargs = {
            "vocab_size": len(tokenizer),
            "hidden_size": 32,
            "num_hidden_layers": 3,
            "num_attention_heads": 4,
            "num_key_value_heads": 2,
            "intermediate_size": 37,
            "max_position_embeddings": 80,
            "pad_token_id": tokenizer.pad_token_id,
            "bos_token_id": tokenizer.bos_token_id,
            "eos_token_id": tokenizer.eos_token_id,
        }
    elif name == "roberta" or name == "mpnet":
        kwargs["max_position_embeddings"] = 82  # positions start after the padding index
    kwargs.update(dict(family.extra))
    kwargs.update(overrides)
    return AutoConfig.for_model(family.model_type, **kwargs), tokenizer


ALL_FAMILIES = list(FAMILIES)  # every family name, for parametrised tests


def build_tiny(name: str, folder: Path, head: str = "AutoModel", seed: int = 0, **overrides):
    """Save a tiny random ``name`` model (with ``head``'s class) and tokenizer to ``folder``."""
    import transformers

    config, tokenizer = config_for(name, **overrides)
    torch.manual_seed(seed)
    cls = getattr(transformers, head)
    model = cls.from_config(config) if head.startswith("Auto") else cls(config)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def reference_model(folder: Path):
    """The same checkpoint through plain ``AutoModel``, eval mode."""
    return AutoModel.from_pretrained(folder).eval()
