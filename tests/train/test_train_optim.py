"""Layer-wise lr decay, re-initialisation and freezing, found from each family's structure."""

from __future__ import annotations

import pytest
import torch
from transformers import AutoModel

from hiddenpool.backbone import load_backbone
from hiddenpool.train import (
    PooledModel,
    PooledModelConfig,
    embedding_parameters,
    freeze_layers,
    parameter_groups,
    reinit_layers,
)

FAMILIES = ["bert", "roberta", "gpt2", "deberta-v2", "electra", "mpnet", "llama", "xlnet"]
EMBEDDINGS = {  # what the structural rule must find, written out by hand per family
    "bert": ("embeddings.",),
    "roberta": ("embeddings.",),
    "deberta-v2": ("embeddings.",),
    "mpnet": ("embeddings.",),
    "electra": ("embeddings.", "embeddings_project."),
    "gpt2": ("wte.", "wpe."),
    "llama": ("embed_tokens.",),
    "xlnet": ("mask_emb", "word_embedding."),
}


def _model(tiny_dir, family, spec="cls@weighted(1:)"):
    backbone = load_backbone(tiny_dir(family))
    config = PooledModelConfig(spec, "regression", labels=("y",), targets=("y",))
    return PooledModel(backbone, config)


def _block_params(backbone, index):
    return {id(p) for p in backbone.blocks[index].parameters()}


@pytest.mark.parametrize("family", FAMILIES)
def test_embeddings_are_found_from_the_structure(tiny_dir, family):
    backbone = load_backbone(tiny_dir(family))
    names = list(embedding_parameters(backbone))
    assert names and all(n.startswith(EMBEDDINGS[family]) for n in names)
    for prefix in EMBEDDINGS[family]:
        assert any(n.startswith(prefix) for n in names)
    embedding = backbone.model.get_input_embeddings().weight
    assert any(p is embedding for p in embedding_parameters(backbone).values())


@pytest.mark.parametrize("family", ["bert", "roberta", "gpt2"])
def test_llrd_decays_geometrically_from_the_top_block(tiny_dir, family):
    model = _model(tiny_dir, family)
    lr, decay, num_layers = 1e-3, 0.8, model.backbone.num_layers
    groups = parameter_groups(model, lr, llrd=decay, weight_decay=0.01)
    rate_of = {id(p): g["lr"] for g in groups for p in g["params"]}
    backbone = model.backbone
    for index in range(num_layers):  # block index+1 of L
        rates = sorted({rate_of[i] for i in _block_params(backbone, index)})
        assert rates == [pytest.approx(lr * decay ** (num_layers - 1 - index))]
    rates = sorted({rate_of[id(p)] for p in embedding_parameters(backbone).values()})
    assert rates == [pytest.approx(lr * decay**num_layers)]
    head = [*model.head.parameters(), *model.pooling.parameters()]
    assert {rate_of[id(p)] for p in head} == {lr}
    assert groups[0]["name"] == "head"
    # Every trainable parameter in exactly one group; biases and norms without weight decay.
    listed = [id(p) for g in groups for p in g["params"]]
    assert sorted(listed) == sorted(id(p) for p in model.parameters() if p.requires_grad)
    for g in groups:
        assert all((p.ndim < 2) == (g["weight_decay"] == 0.0) for p in g["params"])


def test_head_lr_and_no_decay(tiny_dir):
    model = _model(tiny_dir, "bert")
    groups = parameter_groups(model, 1e-4, llrd=1.0, head_lr=1e-3)
    assert {g["lr"] for g in groups if g["name"] == "head"} == {1e-3}
    assert {g["lr"] for g in groups if g["name"] != "head"} == {1e-4}


@pytest.mark.parametrize("family", ["bert", "roberta", "gpt2"])
def test_reinit_changes_exactly_the_top_blocks(tiny_dir, family):
    backbone = load_backbone(tiny_dir(family))
    # Drift every weight first, so that a norm reset to ones/zeros is visible as a change.
    with torch.no_grad():
        for p in backbone.model.parameters():
            p.add_(0.5)
    before = {n: p.detach().clone() for n, p in backbone.model.named_parameters()}
    assert reinit_layers(backbone, 2) == [2, 3]
    top = _block_params(backbone, 1) | _block_params(backbone, 2)
    # The model's own initialisation, for reference: a model of the same config built fresh.
    fresh = dict(AutoModel.from_config(backbone.model.config).named_parameters())
    for name, p in backbone.model.named_parameters():
        if id(p) not in top:
            assert torch.equal(p, before[name]), f"{name} changed"
            continue
        assert not torch.equal(p, before[name]), f"{name} unchanged"
        if name.endswith("bias"):
            assert torch.all(p == 0), name
        elif p.ndim == 1:  # LayerNorm weights
            assert torch.all(p == 1), name
        else:  # Linear / Conv1D weights: normal(0, initializer_range), GPT-2's projections scaled
            std = fresh[name].std().item()
            assert abs(p.std().item() - std) < 0.3 * std and abs(p.mean().item()) < std, name


def test_reinit_and_freeze_reject_too_many_blocks(tiny_dir):
    backbone = load_backbone(tiny_dir("bert"))
    with pytest.raises(ValueError, match="has 3 blocks"):
        reinit_layers(backbone, 4)
    with pytest.raises(ValueError, match="has 3 blocks"):
        freeze_layers(backbone, 4)


@pytest.mark.parametrize("family", ["bert", "roberta", "gpt2", "electra"])
def test_freeze_embeddings_and_first_blocks(tiny_dir, family):
    model = _model(tiny_dir, family)
    backbone = model.backbone
    freeze_layers(backbone, 2)
    frozen = {id(p) for p in embedding_parameters(backbone).values()}
    frozen |= _block_params(backbone, 0) | _block_params(backbone, 1)
    for name, p in backbone.model.named_parameters():
        if id(p) in frozen:
            assert not p.requires_grad, name
    assert all(p.requires_grad for p in backbone.blocks[2].parameters())
    assert all(p.requires_grad for p in model.head.parameters())
    names = [g["name"] for g in parameter_groups(model, 1e-3, llrd=0.9)]
    assert "embeddings" not in names and "block 1" not in names and "block 3" in names


def test_freeze_embeddings_only(tiny_dir):
    backbone = load_backbone(tiny_dir("bert"))
    freeze_layers(backbone, 0, embeddings=True)
    assert not any(p.requires_grad for p in backbone.model.embeddings.parameters())
    assert all(p.requires_grad for p in backbone.blocks[0].parameters())


def _drifted_checkpoint(tiny_dir, folder):
    """A copy of the tiny BERT with every weight moved by +0.5, so that a block re-initialised
    to N(0, initializer_range), zero biases and unit norms cannot pass for a loaded one."""
    import shutil

    from safetensors.torch import load_file, save_file

    shutil.copytree(tiny_dir("bert"), folder)
    weights = {k: v + 0.5 for k, v in load_file(folder / "model.safetensors").items()}
    save_file(weights, folder / "model.safetensors", metadata={"format": "pt"})
    return weights


def _assert_freshly_initialised(name, value, init_std):
    """BERT's _init_weights: zero biases, unit LayerNorm weights, N(0, init_std) matrices."""
    if name.endswith("bias"):
        assert torch.all(value == 0), name
    elif "LayerNorm" in name:
        assert torch.all(value == 1), name
    else:
        assert abs(value.std().item() - init_std) < 0.25 * init_std, name
        assert abs(value.mean().item()) < 0.25 * init_std, name


def test_train_builds_the_optimiser_and_the_layers_it_was_asked_for(
    tiny_dir, tmp_path, monkeypatch
):
    # Through train(), on the Trainer it builds: llrd, head lr, re-initialised and frozen layers.
    import json

    from safetensors.torch import load_file
    from train_helpers import synthetic

    import hiddenpool.train.trainer as trainer_module
    from hiddenpool.train import TrainConfig, train

    loaded = _drifted_checkpoint(tiny_dir, tmp_path / "drifted")
    built = []

    class Recording(trainer_module.Trainer):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            start = {n: p.detach().clone() for n, p in self.model.base.named_parameters()}
            built.append((self, start))

    monkeypatch.setattr(trainer_module, "Trainer", Recording)
    lr, head_lr, llrd, decay = 1e-3, 5e-3, 0.8, 0.01
    config = TrainConfig(
        data="synthetic",
        model=str(tmp_path / "drifted"),
        out=str(tmp_path / "run"),
        pooling="mean",
        lr=lr,
        head_lr=head_lr,
        llrd=llrd,
        weight_decay=decay,
        reinit_layers=1,
        freeze_layers=1,
        max_steps=3,
        batch_size=8,
        warmup=0.0,
        scheduler="constant",
        valid_fraction=0.0,
        logging_steps=100,
        extra={"disable_tqdm": True},
    )
    train(config, data=synthetic(24), verbose=False)
    ((trainer, start),) = built
    model = trainer.model
    num_layers = json.loads((tmp_path / "drifted" / "config.json").read_text())["num_hidden_layers"]
    assert num_layers == 3

    # Expected per parameter, by BERT's names: block k (0-based) of L at lr * llrd ** (L - 1 - k);
    # the embeddings and block 0 frozen (freeze_layers=1); the pooler unused by mean, frozen.
    def expected_lr(name):
        if name.startswith(("embeddings.", "encoder.layer.0.", "pooler.")):
            return None
        k = int(name.split(".")[2])
        return lr * llrd ** (num_layers - 1 - k)

    group_of = {}
    for group in trainer.optimizer.param_groups:
        for param in group["params"]:
            assert id(param) not in group_of, "a parameter in two groups"
            group_of[id(param)] = group
    trainable = 0
    for name, param in model.base.named_parameters():
        rate = expected_lr(name)
        if rate is None:
            assert not param.requires_grad and id(param) not in group_of, name
            continue
        trainable += 1
        group = group_of[id(param)]
        assert group["lr"] == pytest.approx(rate, rel=1e-12), name  # constant schedule
        assert group["weight_decay"] == (0.0 if param.ndim < 2 else decay), name
    head = [*model.head.parameters(), *model.pooling.parameters()]
    assert head and all(group_of[id(p)]["lr"] == pytest.approx(head_lr) for p in head)
    assert len(group_of) == trainable + len(head)  # nothing else is optimised

    saved = load_file(tmp_path / "run" / "model.safetensors")
    init_std = json.loads((tmp_path / "drifted" / "config.json").read_text())["initializer_range"]
    for name, value in start.items():
        before = loaded[name] if name in loaded else loaded[f"bert.{name}"]
        if name.startswith("encoder.layer.2."):  # re-initialised when the Trainer got it
            _assert_freshly_initialised(name, value, init_std)
        else:
            assert torch.equal(value, before), f"{name} was not the checkpoint's"
        if expected_lr(name) is None:  # frozen: the trained model still holds the loaded weights
            assert torch.equal(saved[name], before), f"{name} moved while frozen"
        else:
            assert not torch.equal(saved[name], value), f"{name} did not train"
