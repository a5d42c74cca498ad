"""PooledModel: forward contract, gradient flow through capture, multi-sample dropout, save/load."""

from __future__ import annotations

import json

import pytest
import torch
from train_helpers import synthetic

from hiddenpool.backbone import load_backbone
from hiddenpool.pooling import COMBINERS, POOLERS
from hiddenpool.pooling.learned import AttentionPool
from hiddenpool.train import PooledModel, PooledModelConfig
from hiddenpool.train.config import CONFIG_NAME

# Every learned pooler and combiner of the registry, plus parameter-free references.
LEARNED = sorted(
    [f"{name}" for name, entry in POOLERS.items() if entry.learned]
    + [f"cls@{name}(1:)" for name, entry in COMBINERS.items() if entry.learned]
)
SPECS = ["mean", "cls@concat(-2:)", "meanmax@-2", *LEARNED]


def _model(tiny_dir, spec="mean", task="regression", labels=("score",), family="bert", **kw):
    backbone = load_backbone(tiny_dir(family))
    config = PooledModelConfig(spec, task, labels=labels, targets=("score",), max_length=32, **kw)
    return PooledModel(backbone, config)


def _batch(model, n=4):
    return model.tokenize(synthetic(n).texts)


def test_learned_list_is_not_empty():
    assert {"attention", "conv1d", "gem_learned", "cls@weighted(1:)", "cls@lstm(1:)"} <= set(
        LEARNED
    )


@pytest.mark.parametrize(
    "task,labels,target",
    [
        ("regression", ("score",), torch.tensor([1.0, -1.0, 0.0, 2.0])),
        ("regression", ("a", "b"), torch.randn(4, 2)),
        ("classification", ("neg", "pos", "mixed"), torch.tensor([0, 1, 2, 1])),
        (
            "multilabel",
            ("x", "y", "z"),
            torch.tensor([[1.0, 0, 1], [0, 0, 1], [1, 1, 1], [0, 0, 0]]),
        ),
    ],
)
def test_forward_returns_loss_and_logits(tiny_dir, task, labels, target):
    model = _model(tiny_dir, "mean", task, labels)
    out = model(**_batch(model), labels=target)
    assert out.logits.shape == (4, len(labels)) and out.logits.dtype == torch.float32
    assert out.loss.ndim == 0 and torch.isfinite(out.loss)
    assert set(out.keys()) == {"loss", "logits"}
    assert model(**_batch(model)).loss is None  # no labels, no loss


@pytest.mark.parametrize(
    "spec", ["mean", "cls@weighted(1:)", "attention@-2", "cls@layer_attention(1:)"]
)
@pytest.mark.parametrize("family", ["bert", "gpt2"])
def test_every_trainable_parameter_gets_a_gradient(tiny_dir, family, spec):
    model = _model(tiny_dir, spec, family=family).train()
    model(**_batch(model), labels=torch.tensor([1.0, -1.0, 0.0, 2.0])).loss.backward()
    # The bias of an attention pooler's last score layer adds one number to every token's score,
    # which the softmax over tokens cancels: its gradient is zero but for rounding, so whether
    # it came out as exactly 0 depended on the order of float operations (it did in a full run).
    shifts = [m.score[-1].bias for m in model.modules() if isinstance(m, AttentionPool)]
    assert all(bias.grad.abs().max() < 1e-6 for bias in shifts)
    cancels = {id(bias) for bias in shifts}
    missing = [
        n
        for n, p in model.named_parameters()
        if p.requires_grad
        and id(p) not in cancels
        and (p.grad is None or not p.grad.abs().sum() > 0)
    ]
    assert missing == []


def test_early_exit_freezes_the_blocks_it_never_runs(tiny_dir):
    model = _model(tiny_dir, "mean@-2")  # tiny models have 3 blocks: block 3 never runs
    blocks = model.backbone.blocks
    assert all(not p.requires_grad for p in blocks[2].parameters())
    assert all(p.requires_grad for p in blocks[1].parameters())
    assert not any(p.requires_grad for p in model.base.pooler.parameters())  # BERT's own pooler


def test_gradient_checkpointing_keeps_gradients_of_captured_layers(tiny_dir):
    grads = []
    for checkpointing in (False, True):
        torch.manual_seed(0)
        model = _model(tiny_dir, "cls@weighted(1:)", dropout=0.0).train()
        if checkpointing:
            model.gradient_checkpointing_enable()
        model(**_batch(model), labels=torch.tensor([1.0, -1.0, 0.0, 2.0])).loss.backward()
        grads.append({n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None})
    assert grads[0].keys() == grads[1].keys()
    for name in grads[0]:
        torch.testing.assert_close(grads[0][name], grads[1][name], rtol=1e-4, atol=1e-6)


def test_gradient_checkpointing_refuses_models_without_it(tiny_dir):
    with pytest.raises(ValueError, match="does not support gradient checkpointing"):
        _model(tiny_dir, family="mpnet").gradient_checkpointing_enable()


def test_multi_sample_dropout_averages_logits_and_losses(tiny_dir):
    model = _model(tiny_dir, "mean", dropout=0.5, msd=5).train()
    pooled = torch.randn(4, model.pooling.width)
    labels = torch.tensor([1.0, -1.0, 0.0, 2.0])
    torch.manual_seed(3)
    logits, loss = model.head(pooled, labels)
    torch.manual_seed(3)  # the same five masks, drawn one after the other
    samples = [model.head.fc(model.head.dropout(pooled)) for _ in range(5)]
    torch.testing.assert_close(logits, torch.stack(samples).mean(0))
    expected = torch.stack(
        [torch.nn.functional.mse_loss(z, labels.view(-1, 1)) for z in samples]
    ).mean()
    torch.testing.assert_close(loss, expected)
    model.eval()
    torch.testing.assert_close(model.head(pooled)[0], model.head.fc(pooled))  # eval: no dropout


@pytest.mark.parametrize("spec", SPECS)
def test_save_and_load_give_identical_predictions(tiny_dir, tmp_path, spec):
    model = _model(tiny_dir, spec, "classification", ("neg", "pos", "mixed"))
    with torch.no_grad():  # move every learned weight away from its initial value
        for p in model.parameters():
            p.add_(0.01 * torch.randn_like(p))
    model.eval()
    batch = _batch(model, 5)
    expected = model(**batch).logits
    model.save_pretrained(tmp_path / "saved")
    saved = json.loads((tmp_path / "saved" / CONFIG_NAME).read_text())
    assert saved["pooling"] == spec and saved["task"] == "classification"
    assert saved["labels"] == ["neg", "pos", "mixed"] and saved["targets"] == ["score"]
    assert not list((tmp_path / "saved").glob("*.bin")) and not list(
        (tmp_path / "saved").glob("*.pkl")
    )
    loaded = PooledModel.from_pretrained(tmp_path / "saved")
    assert not loaded.training
    assert torch.equal(loaded(**loaded.tokenize(synthetic(5).texts)).logits, expected)


def test_loading_a_folder_that_is_not_a_pooled_model(tiny_dir, tmp_path):
    with pytest.raises(ValueError, match="is not a hiddenpool model"):
        PooledModel.from_pretrained(tiny_dir("bert"))
    with pytest.raises(FileNotFoundError, match="no such model folder"):
        PooledModel.from_pretrained(tmp_path / "absent")
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / CONFIG_NAME).write_text('{"format": "something-else"}')
    with pytest.raises(ValueError, match="not a hiddenpool model config"):
        PooledModel.from_pretrained(tmp_path / "bad")
