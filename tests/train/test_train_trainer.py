"""Training with the Hugging Face Trainer: the loss falls, K-fold OOF, predict = Trainer, resume."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from train_helpers import synthetic

from hiddenpool.data import LabelledData
from hiddenpool.train import Predictor, TrainConfig, build_model, train
from hiddenpool.train.data import prepare
from hiddenpool.train.model import PooledModel

FAST = {"disable_tqdm": True}


def _config(tiny_dir, tmp_path, **changes):
    base = dict(
        data="synthetic",
        model=str(tiny_dir("bert")),
        out=str(tmp_path / "run"),
        batch_size=8,
        lr=2e-3,
        max_steps=6,
        logging_steps=100,
        warmup=0.0,
        extra=FAST,
    )
    base.update(changes)
    return TrainConfig(**base)


def test_loss_falls_on_a_small_synthetic_task(tiny_dir, tmp_path):
    data = synthetic(64)
    config = _config(
        tiny_dir,
        tmp_path,
        pooling="mean",
        max_steps=40,
        valid_fraction=0.0,
        dropout=0.0,
        scheduler="constant",
    )
    prepared = prepare(data)
    model = build_model(config, prepared).eval()
    model.head.init_bias(torch.as_tensor(prepared.y.mean(axis=0)))
    with torch.no_grad():
        before = model(**model.tokenize(data.texts), labels=torch.as_tensor(prepared.y)).loss.item()
    result = train(config, data=data, verbose=False)
    after = Predictor(result.out).predict(data.texts)
    mse = float(np.mean((after - prepared.y) ** 2))
    assert mse < 0.5 * before, (before, mse)


def test_kfold_out_of_fold_predictions_cover_every_row_once(tiny_dir, tmp_path):
    data = synthetic(30, task="classification")
    result = train(_config(tiny_dir, tmp_path, folds=3, max_steps=2), data=data, verbose=False)
    assert result.oof is not None and not np.isnan(result.oof).any()
    assert result.oof.shape == (30, 3) and np.allclose(result.oof.sum(axis=1), 1.0)
    assert len(result.folds) == 3 and {"accuracy", "macro_f1"} <= set(result.overall)
    valid = json.loads((result.out / "folds.json").read_text())["valid"]
    assert sorted(i for fold in valid for i in fold) == list(range(30))
    lines = (result.out / "oof.csv").read_text().splitlines()
    assert lines[0].split(",")[:3] == ["row", "fold", "true_label"] and len(lines) == 31
    folds = [int(line.split(",")[1]) for line in lines[1:]]
    assert sorted(folds) == sorted(k for k, fold in enumerate(valid) for _ in fold)
    for k in range(3):
        assert (result.out / f"fold{k}" / "hiddenpool_model.json").is_file()
        assert not (result.out / f"fold{k}" / "checkpoints").exists()  # removed once finished
    summary = result.summary()
    assert "out-of-fold" in summary and "fold 2" in summary
    metrics = json.loads((result.out / "metrics.json").read_text())
    assert metrics["metric"] == "accuracy" and len(metrics["folds"]) == 3


@pytest.mark.parametrize("task", ["regression", "classification", "multi"])
def test_predict_on_the_saved_model_reproduces_the_trainer(tiny_dir, tmp_path, task):
    data = synthetic(24, task=task)
    spec = "attention" if task == "classification" else "cls@weighted(1:)"
    result = train(
        _config(tiny_dir, tmp_path, pooling=spec, valid_fraction=0.25, msd=3),
        data=data,
        verbose=False,
    )
    held = np.asarray(json.loads((result.out / "folds.json").read_text())["valid"][0])
    from_trainer = np.load(result.out / "valid_predictions.npy")
    again = Predictor(result.out).predict([data.texts[i] for i in held], batch_size=4)
    np.testing.assert_allclose(again, from_trainer, rtol=1e-5, atol=1e-6)
    assert result.overall and result.metric in result.overall


def test_resume_continues_from_the_last_checkpoint(tiny_dir, tmp_path, monkeypatch):
    data = synthetic(32)
    config = _config(
        tiny_dir, tmp_path, max_steps=4, eval_steps=2, valid_fraction=0.25, early_stopping=0
    )
    calls = {"n": 0}
    forward = PooledModel.forward

    def crash_on_step_three(
        self, input_ids, attention_mask, token_type_ids=None, special_tokens_mask=None, labels=None
    ):
        if self.training:
            calls["n"] += 1
            if calls["n"] == 3:
                raise RuntimeError("simulated crash")
        return forward(self, input_ids, attention_mask, token_type_ids, special_tokens_mask, labels)

    monkeypatch.setattr(PooledModel, "forward", crash_on_step_three)
    with pytest.raises(RuntimeError, match="simulated crash"):
        train(config, data=data, verbose=False)
    checkpoint = tmp_path / "run" / "checkpoints" / "checkpoint-2"
    assert checkpoint.is_dir() and not (tmp_path / "run" / "hiddenpool_model.json").exists()
    first_log = json.loads((checkpoint / "trainer_state.json").read_text())["log_history"]
    monkeypatch.setattr(PooledModel, "forward", forward)

    with pytest.raises(ValueError, match="pass resume=True"):
        train(config, data=data, verbose=False)
    result = train(config.replace(resume=True, keep_checkpoints=True), data=data, verbose=False)
    state = json.loads(
        (tmp_path / "run" / "checkpoints" / "checkpoint-4" / "trainer_state.json").read_text()
    )
    assert state["global_step"] == 4
    assert state["log_history"][: len(first_log)] == first_log  # carried over, not recomputed
    assert (result.out / "hiddenpool_model.json").is_file()
    again = train(config.replace(resume=True), data=data, verbose=False)  # finished: skipped
    assert again.folds[0].metrics == result.folds[0].metrics


def test_tricks_together_on_a_decoder(tiny_dir, tmp_path):
    result = train(
        TrainConfig(data="synthetic"),
        data=synthetic(16),
        verbose=False,
        model=str(tiny_dir("gpt2")),
        out=str(tmp_path / "kw"),
        max_steps=2,
        batch_size=8,
        extra=FAST,
        pooling="cls@weighted(1:)",
        llrd=0.9,
        reinit_layers=1,
        freeze_layers=1,
        msd=2,
        grad_checkpointing=True,
    )
    assert result.folds[0].metrics and (tmp_path / "kw" / "hiddenpool_model.json").is_file()


@pytest.mark.parametrize(
    "labels,task,message",
    [
        (np.array([1.0, np.nan, 2.0, 0.0]), "regression", "row 2, label column 'y' is nan"),
        (np.array([[1.0, 0.0], [0.5, 1.0], [0, 0], [1, 1]]), "multilabel", "must be 0 or 1"),
        (np.array(["a", "a", "a", "a"]), "classification", "at least 2 classes"),
    ],
)
def test_bad_labels_fail_in_one_line(labels, task, message):
    names = ("y",) if labels.ndim == 1 else ("y", "z")
    data = LabelledData(
        ["a", "b", "c", "d"],
        labels,
        names,
        "classification" if labels.dtype.kind == "U" else "regression",
        "mem",
    )
    with pytest.raises(ValueError, match=message):
        prepare(data, task)


def test_same_seed_same_model(tiny_dir, tmp_path):
    data = synthetic(24)
    runs = [
        train(
            _config(tiny_dir, tmp_path, out=str(tmp_path / f"s{i}"), pooling="attention", msd=2),
            data=data,
            verbose=False,
        )
        for i in range(2)
    ]
    first, second = (np.load(r.out / "valid_predictions.npy") for r in runs)
    np.testing.assert_array_equal(first, second)


def test_early_stopping_stops_when_the_metric_stalls(tiny_dir, tmp_path):
    # An lr of 1e-30 leaves every weight as it was, so the metric never improves.
    config = _config(
        tiny_dir,
        tmp_path,
        lr=1e-30,
        head_lr=1e-30,
        max_steps=20,
        eval_steps=1,
        early_stopping=2,
        valid_fraction=0.25,
    )
    result = train(config, data=synthetic(32), verbose=False)
    assert result.folds[0].steps == 3  # best at step 1, then two evaluations without improvement
