"""Pretraining end to end on a tiny model: from scratch, continued from MiniLM, and the result
loaded by transformers and by hiddenpool."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import torch
from transformers import AutoModelForMaskedLM, AutoTokenizer, RobertaForMaskedLM

sys.path.insert(0, str(Path(__file__).parent))

from corpus_helpers import tiny_config, write_corpus

from hiddenpool.backbone import load_backbone
from hiddenpool.pretrain import RECORD, PretrainConfig, pretrain


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny models: thread synchronisation dominates
    yield
    torch.set_num_threads(before)


def _tiny(corpus: Path, out: Path, **overrides: object) -> PretrainConfig:
    return tiny_config(corpus, out, **overrides)


@pytest.fixture(scope="module")
def scratch(tmp_path_factory):
    folder = tmp_path_factory.mktemp("scratch")
    corpus = write_corpus(folder / "corpus.txt")
    result = pretrain(_tiny(corpus, folder / "mlm", whole_word_mask=True), show_progress=False)
    return result


def test_from_scratch_learns_and_leaves_an_ordinary_mlm_checkpoint(scratch) -> None:
    out, record = scratch.out, scratch.record
    assert sorted(p.name for p in out.iterdir()) == [
        "config.json", "model.safetensors", RECORD, "tokenizer.json", "tokenizer_config.json",
    ]  # fmt: skip
    assert json.loads((out / RECORD).read_text()) == record
    assert record["model"]["architecture"] == "RobertaForMaskedLM"
    assert (record["model"]["num_layers"], record["model"]["hidden_size"]) == (2, 64)
    assert record["train"]["global_step"] == 30 and record["train"]["whole_word_mask"]
    before, after = record["eval_before"], record["eval_after"]
    assert before["masked_tokens"] == after["masked_tokens"] > 50  # the same fixed masks
    assert after["loss"] < before["loss"] - 1.0  # from ln(300) = 5.7 towards the phrases
    assert after["accuracy"] >= before["accuracy"]
    assert record["corpus"]["train_documents"] + record["corpus"]["eval_documents"] == 300
    assert "held-out MLM loss" in scratch.summary()


def test_transformers_loads_it_with_the_trained_mlm_head(scratch) -> None:
    model = AutoModelForMaskedLM.from_pretrained(scratch.out).eval()
    assert type(model).__name__ == "RobertaForMaskedLM"
    untrained = RobertaForMaskedLM(model.config).eval()
    tokenizer = AutoTokenizer.from_pretrained(scratch.out)
    batch = tokenizer(
        ["the page cache keeps recently read blocks", "memory barriers order loads and stores"],
        return_tensors="pt",
        padding=True,
    )
    labels = batch["input_ids"].clone()
    inputs = batch["input_ids"].clone()
    inputs[:, 3] = tokenizer.mask_token_id
    keep = torch.zeros_like(labels, dtype=torch.bool)
    keep[:, 3] = True
    labels[~keep] = -100
    with torch.no_grad():
        trained_loss = model(
            input_ids=inputs, attention_mask=batch["attention_mask"], labels=labels
        )
        random_loss = untrained(
            input_ids=inputs, attention_mask=batch["attention_mask"], labels=labels
        )
    assert trained_loss.loss < random_loss.loss - 1.0


def test_hiddenpool_loads_it_as_a_base_model(scratch) -> None:
    backbone = load_backbone(scratch.out)
    assert backbone.facts.name == "roberta" and backbone.num_layers == 2
    assert backbone.pooler_status == "fresh"  # RobertaForMaskedLM has no pooler
    assert any(k.startswith("lm_head.") for k in backbone.discarded)
    reference = RobertaForMaskedLM.from_pretrained(scratch.out).eval()
    batch = backbone.tokenize(["memory barriers order loads and stores", "a driver"])
    inputs = {k: v for k, v in batch.items() if k in ("input_ids", "attention_mask")}
    with torch.no_grad():
        expected = reference(**inputs, output_hidden_states=True).hidden_states
        got = backbone.model(**inputs, output_hidden_states=True).hidden_states
    for layer in range(3):
        torch.testing.assert_close(got[layer], expected[layer])


@pytest.mark.slow
def test_continued_from_minilm_adds_an_mlm_head_and_says_so(tmp_path, capsys) -> None:
    corpus = write_corpus(tmp_path / "corpus.txt", n=120)
    result = pretrain(
        PretrainConfig(
            corpus=str(corpus),
            out=str(tmp_path / "minilm-mlm"),
            from_model="minilm",
            max_length=32,
            batch_size=4,
            max_steps=2,
            save_steps=100,  # no checkpoint: saving MiniLM's optimiser state takes seconds
            eval_fraction=0.1,
            max_eval_blocks=8,
            whole_word_mask=True,
        ),
        show_progress=False,
        log_lines=False,
    )
    fresh = result.record["model"]["fresh_head"]
    assert fresh and all(k.startswith("cls.predictions.") for k in fresh)
    assert "cls.predictions.transform.dense.weight" in fresh
    assert "the checkpoint has no MLM head; a freshly initialised one" in capsys.readouterr().err
    assert result.record["model"]["architecture"] == "BertForMaskedLM"
    assert result.record["train"]["whole_word_mask"]  # MiniLM's fast WordPiece has offsets
    _, info = AutoModelForMaskedLM.from_pretrained(result.out, output_loading_info=True)
    assert not info["missing_keys"]  # the head is saved now
    original = load_backbone("minilm")
    tuned = load_backbone(result.out)
    assert (tuned.num_layers, tuned.hidden_size) == (6, 384)
    assert tuned.tokenizer.get_vocab() == original.tokenizer.get_vocab()
    assert any(k.startswith("cls.predictions.") for k in tuned.discarded)
    changed = [
        name
        for name, p in tuned.model.named_parameters()
        if not torch.equal(p, original.model.get_parameter(name))
    ]
    assert changed  # two steps of training moved the encoder
