"""Causal-LM pretraining end to end on tiny decoders: the held-out metrics against a hand-written
loop, the folder as an ordinary ``*ForCausalLM`` checkpoint, and the vectors hiddenpool pools from
left-padded batches against plain transformers run one text at a time."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from transformers import (
    AutoModel,
    AutoModelForCausalLM,
    AutoTokenizer,
    RobertaConfig,
    RobertaForMaskedLM,
)

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parents[2] / "bench"))

from corpus_helpers import documents, tiny_config, write_corpus
from decoder_padding import reference

from hiddenpool import Encoder
from hiddenpool.backbone import load_backbone
from hiddenpool.pretrain import PretrainConfig, is_held_out, iter_documents, pretrain
from hiddenpool.pretrain.trainer import sparse_mlm_logits


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _tiny_clm(corpus: Path, out: Path, **overrides: object) -> PretrainConfig:
    return tiny_config(corpus, out, **{"objective": "clm", "save_steps": 15, **overrides})


@pytest.fixture(scope="module")
def gpt2(tmp_path_factory):
    folder = tmp_path_factory.mktemp("clm")
    corpus = write_corpus(folder / "corpus.txt")
    return pretrain(  # 96 positions: room for echo's two copies of a text
        _tiny_clm(corpus, folder / "gpt2", max_length=96), show_progress=False, log_lines=False
    )


def _held_out_blocks(result, tokenizer, length: int, limit: int) -> torch.Tensor:
    """The held-out blocks rebuilt by hand: held-out documents joined by </s>, cut in blocks."""
    settings = result.record["settings"]
    docs = [
        d
        for d in iter_documents([Path(settings["corpus"])])
        if is_held_out(d, settings["eval_fraction"])
    ]
    ids: list[int] = []
    for i, doc in enumerate(docs):
        if i:
            ids.append(tokenizer.eos_token_id)
        ids.extend(tokenizer(doc, add_special_tokens=False)["input_ids"])
    blocks = len(ids) // length
    return torch.tensor(ids[: blocks * length]).view(blocks, length)[:limit]


def test_clm_learns_and_its_held_out_metrics_match_a_hand_written_loop(gpt2) -> None:
    record = gpt2.record
    assert record["model"]["architecture"] == "GPT2LMHeadModel"
    before, after = record["eval_before"], record["eval_after"]
    assert after["loss"] < before["loss"] - 1.5  # from ln(300) = 5.7 towards the phrases
    assert after["accuracy"] > before["accuracy"] + 0.1
    assert after["predicted_tokens"] == 16 * 95  # every position but the last of 16 blocks
    assert after["perplexity"] == pytest.approx(np.exp(after["loss"]))
    model = AutoModelForCausalLM.from_pretrained(gpt2.out).eval()
    tokenizer = AutoTokenizer.from_pretrained(gpt2.out)
    blocks = _held_out_blocks(gpt2, tokenizer, 96, 16)
    assert blocks.shape == (16, 96)
    with torch.no_grad():
        logits = model(input_ids=blocks).logits  # (B, T, V)
    predicted, target = logits[:, :-1], blocks[:, 1:]
    loss = F.cross_entropy(predicted.reshape(-1, predicted.shape[-1]), target.reshape(-1))
    accuracy = (predicted.argmax(-1) == target).float().mean()
    assert after["loss"] == pytest.approx(loss.item(), abs=1e-4)
    assert after["accuracy"] == pytest.approx(accuracy.item(), abs=1e-6)
    steps = [e["step"] for e in record["train"]["log_history"] if "eval_loss" in e]
    assert steps == [15, 30, 30]  # at each checkpoint, then the final evaluation
    assert record["train"]["tokens_seen"] == 30 * 8 * 96


def test_the_folder_is_a_causal_lm_whose_tokenizer_pads_left(gpt2) -> None:
    names = sorted(p.name for p in gpt2.out.iterdir())
    assert {"config.json", "model.safetensors", "tokenizer.json", "pretrain.json"} <= set(names)
    tokenizer = AutoTokenizer.from_pretrained(gpt2.out)
    assert tokenizer.padding_side == "left" and tokenizer.pad_token == "<pad>"
    assert tokenizer.eos_token == "</s>" and tokenizer.pad_token_id != tokenizer.eos_token_id
    text = "the kernel schedules every runnable thread"
    ids = tokenizer(text)["input_ids"]
    assert tokenizer.decode(ids) == text  # no special tokens added: the last token is the text's
    batch = tokenizer([text, "a driver"], padding=True)
    assert batch["input_ids"][1][0] == tokenizer.pad_token_id  # padded on the left
    backbone = load_backbone(gpt2.out)
    assert backbone.facts.name == "gpt2" and backbone.facts.summary == "last"
    assert backbone.tokenizer.padding_side == "left"


def _reference(folder: Path, strings: list[str], spans: list[tuple[int, int]] | None) -> dict:
    """Plain transformers, one text at a time (bench/decoder_padding.py): the last token and the
    mean over every token or over a character span; nothing here is long enough to truncate."""
    tokenizer = AutoTokenizer.from_pretrained(folder)
    assert max(len(tokenizer(s)["input_ids"]) for s in strings) < 96
    return reference(folder, strings, spans)


def test_pooled_vectors_of_left_padded_batches_match_one_text_at_a_time(gpt2) -> None:
    texts = [d[: 12 + 5 * i] for i, d in enumerate(documents(6, seed=5))]  # lengths differ
    encoder = Encoder(gpt2.out)
    assert encoder.backbone.tokenizer.padding_side == "left"
    got = {spec: encoder.encode(texts, spec, batch_size=6) for spec in (
        "last", "mean", "echo:mean", "prompteol:last",
    )}  # fmt: skip
    plain = _reference(gpt2.out, texts, None)
    np.testing.assert_allclose(got["last"], plain["last"], atol=1e-5, rtol=0)
    np.testing.assert_allclose(got["mean"], plain["mean"], atol=1e-5, rtol=0)
    prefix = "Rewrite the sentence: "
    echo = [f"{prefix}{t}, rewritten sentence: {t}" for t in texts]
    second = [(len(e) - len(t), len(e)) for e, t in zip(echo, texts, strict=True)]
    np.testing.assert_allclose(
        got["echo:mean"], _reference(gpt2.out, echo, second)["mean"], atol=1e-5, rtol=0
    )
    eol = [f'This sentence : "{t}" means in one word:"' for t in texts]
    np.testing.assert_allclose(
        got["prompteol:last"], _reference(gpt2.out, eol, None)["last"], atol=1e-5, rtol=0
    )
    assert not np.allclose(got["last"], got["mean"], atol=1e-3)  # the poolers differ


def test_llama_style_from_scratch_trains_and_loads(tmp_path) -> None:
    corpus = write_corpus(tmp_path / "corpus.txt", n=150)
    result = pretrain(
        _tiny_clm(corpus, tmp_path / "llama", architecture="llama", max_steps=6, save_steps=100),
        show_progress=False,
        log_lines=False,
    )
    assert result.record["model"]["architecture"] == "LlamaForCausalLM"
    assert result.record["eval_after"]["loss"] < result.record["eval_before"]["loss"]
    backbone = load_backbone(result.out)
    assert backbone.facts.name == "llama" and backbone.num_layers == 2
    vectors = Encoder(backbone).encode(["a driver", "the page cache keeps blocks"], "last")
    model = AutoModel.from_pretrained(result.out).eval()
    tokenizer = AutoTokenizer.from_pretrained(result.out)
    with torch.no_grad():
        expected = model(**tokenizer(["a driver"], return_tensors="pt")).last_hidden_state[0, -1]
    np.testing.assert_allclose(vectors[0], expected.numpy(), atol=1e-5, rtol=0)


def test_clm_refuses_an_encoder_and_an_mlm_architecture(tmp_path) -> None:
    with pytest.raises(ValueError, match="architecture='roberta' cannot train objective='clm'"):
        _tiny_clm(tmp_path / "c.txt", tmp_path / "o", architecture="roberta")
    with pytest.raises(ValueError, match="objective='gan' is unknown; expected one of mlm, clm"):
        _tiny_clm(tmp_path / "c.txt", tmp_path / "o", objective="gan")


def test_mlm_logits_at_masked_positions_only_give_the_full_heads_loss_and_gradient() -> None:
    config = RobertaConfig(
        vocab_size=120, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
        intermediate_size=64, max_position_embeddings=40, hidden_dropout_prob=0.0,
        attention_probs_dropout_prob=0.0,
    )  # fmt: skip
    full = RobertaForMaskedLM(config).train()
    sparse = RobertaForMaskedLM(config).train()
    sparse.load_state_dict(full.state_dict())
    assert sparse_mlm_logits(sparse)
    input_ids = torch.randint(5, 120, (4, 20))
    labels = torch.full_like(input_ids, -100)
    chosen = torch.rand(4, 20) < 0.15
    chosen[0, 3] = True
    labels[chosen] = input_ids[chosen]
    mask = torch.ones_like(input_ids)
    expected = full(input_ids=input_ids, attention_mask=mask, labels=labels)
    got = sparse(input_ids=input_ids, attention_mask=mask, labels=labels)
    assert got.logits.shape == (int(chosen.sum()), 120)
    torch.testing.assert_close(got.loss, expected.loss, atol=1e-6, rtol=1e-6)
    expected.loss.backward()
    got.loss.backward()
    for (name, p), q in zip(full.named_parameters(), sparse.parameters(), strict=True):
        torch.testing.assert_close(q.grad, p.grad, atol=1e-6, rtol=1e-5, msg=name)
    sparse.eval()
    assert sparse(input_ids=input_ids, attention_mask=mask).logits.shape == (4, 20, 120)
