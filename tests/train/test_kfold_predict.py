"""K-fold `predict` against fold models averaged by hand with plain transformers and torch.

The reference does not touch hiddenpool: each fold folder is loaded with ``AutoModel`` and
``AutoTokenizer``, its head read from ``pooled_head.safetensors``, each text run alone (no
padding), mean-pooled over its tokens, passed through the linear head, turned into probabilities
for classification, and averaged over the folds.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from safetensors.torch import load_file
from train_helpers import synthetic
from transformers import AutoModel, AutoTokenizer

from hiddenpool.cli.main import main
from hiddenpool.train import Predictor, TrainConfig, train


def _fold_logits(folder, texts: list[str]) -> np.ndarray:
    """(n, K) logits of one fold model, by hand: mean of the last layer, then W x + b."""
    model = AutoModel.from_pretrained(folder).eval()
    tokenizer = AutoTokenizer.from_pretrained(folder)
    head = load_file(folder / "pooled_head.safetensors")
    weight, bias = head["head.fc.weight"].double(), head["head.fc.bias"].double()
    rows = []
    with torch.no_grad():
        for text in texts:
            hidden = model(**tokenizer(text, return_tensors="pt")).last_hidden_state[0]
            rows.append(hidden.double().mean(dim=0) @ weight.T + bias)
    return torch.stack(rows).numpy()


@pytest.mark.parametrize("task", ["regression", "classification"])
def test_kfold_predict_averages_the_fold_models_outputs(tiny_dir, tmp_path, task):
    data = synthetic(36, task=task)
    config = TrainConfig(
        data="synthetic",
        model=str(tiny_dir("bert")),
        out=str(tmp_path / "run"),
        pooling="mean",
        folds=3,
        max_steps=6,
        batch_size=8,
        lr=5e-3,
        head_lr=5e-2,  # the fold models drift apart, so how they are averaged shows
        warmup=0.0,
        logging_steps=100,
        extra={"disable_tqdm": True},
    )
    result = train(config, data=data, verbose=False)
    texts = ["the movie was good", "a boring film with bad acting", "great fun", "not very"]
    folds = sorted(p for p in result.out.glob("fold*") if p.is_dir())
    assert len(folds) == 3
    logits = [_fold_logits(folder, texts) for folder in folds]
    if task == "classification":
        probabilities = [np.exp(z - z.max(1, keepdims=True)) for z in logits]
        outputs = [p / p.sum(axis=1, keepdims=True) for p in probabilities]
    else:
        outputs = logits
    expected = np.mean(outputs, axis=0)

    predictor = Predictor(result.out, device="cpu")
    np.testing.assert_allclose(predictor.predict(texts), expected, rtol=0, atol=1e-5)
    # The same through the command line, written to a file.
    (tmp_path / "texts.txt").write_text("\n".join(texts) + "\n")
    written = tmp_path / "predictions.npy"
    argv = ["predict", str(result.out), str(tmp_path / "texts.txt"), "-o", str(written)]
    assert main([*argv, "--device", "cpu"]) == 0
    np.testing.assert_allclose(np.load(written), expected, rtol=0, atol=1e-5)

    # The reference can tell the plausible wrong answers apart at this tolerance.
    assert np.abs(outputs[0] - expected).max() > 1e-3  # one fold alone
    if task == "classification":
        mean_logits = np.mean(logits, axis=0)
        of_mean = np.exp(mean_logits) / np.exp(mean_logits).sum(axis=1, keepdims=True)
        assert np.abs(of_mean - expected).max() > 1e-5  # softmax of the averaged logits
