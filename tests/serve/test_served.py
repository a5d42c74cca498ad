"""Where each served pooling comes from, and the refusal to guess one."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from serve_helpers import post, running

from hiddenpool.backbone import load_backbone
from hiddenpool.serve import create_app, load_served_model
from hiddenpool.train import PooledModel, PooledModelConfig, Predictor


def test_a_folder_without_pooling_config_is_refused_unless_pooling_is_given(tiny_dir):
    with pytest.raises(ValueError, match=r"no sentence-transformers Pooling module.*identify"):
        load_served_model(tiny_dir("bert"))
    served = load_served_model(tiny_dir("bert"), ["cls"])
    assert served.default.spec == "cls" and not served.default.normalize
    assert "the model names none" in served.default.source


def test_the_models_own_pooling_is_served_and_said_so(tiny_st):
    served = load_served_model(tiny_st)
    assert [(s.name, s.spec, s.normalize) for s in served.strategies] == [
        ("tiny-st:mean", "mean", True)
    ]
    assert "modules.json" in served.default.source
    assert served.lookup(None) is served.lookup("tiny-st") is served.lookup("tiny-st:mean")


@pytest.fixture(scope="module")
def trained_dir(tiny_dir, tmp_path_factory, one_thread):
    """A `hiddenpool train`-style folder: a learned attention pooler and a 2-class head."""
    torch.manual_seed(1)
    config = PooledModelConfig(
        "attention", "classification", labels=("neg", "pos"), targets=("y",), max_length=16
    )
    model = PooledModel(load_backbone(tiny_dir("bert")), config)
    folder = tmp_path_factory.mktemp("trained") / "run"
    model.save_pretrained(folder)
    return folder


def test_a_trained_model_serves_its_pooler_and_its_head(trained_dir):
    texts = ["the movie was good", "bad", "a very long and boring film with bad acting"]
    served = load_served_model(trained_dir, ["mean"])
    assert [s.spec for s in served.strategies] == ["attention", "mean"]
    reference = PooledModel.from_pretrained(trained_dir)
    with torch.inference_mode():
        pooled = reference.pool(reference.forward_features(reference.tokenize(texts)))
    with running(create_app(served)) as port:
        status, _, body = post(port, "/v1/embeddings", {"input": texts, "model": "run"})
        assert status == 200 and body["model"] == "run:attention"
        np.testing.assert_allclose([d["embedding"] for d in body["data"]], pooled, atol=1e-5)
        status, _, body = post(port, "/predict", {"inputs": texts})
        assert status == 200 and body["labels"] == ["neg", "pos"]
        np.testing.assert_allclose(
            body["predictions"], Predictor(trained_dir).predict(texts), atol=1e-6
        )


def test_predict_without_a_trained_head_is_a_404(tiny_st):
    with running(create_app(load_served_model(tiny_st))) as port:
        status, _, body = post(port, "/predict", {"inputs": ["great"]})
    assert status == 404 and "hiddenpool train" in body["error"]["message"]


def test_the_command_refuses_in_one_line_and_exits_2(tiny_dir, capsys):
    from hiddenpool.cli.main import main

    assert main(["serve", str(tiny_dir("bert"))]) == 2
    err = capsys.readouterr().err
    assert err.startswith("hiddenpool serve: error: ") and "--pooling SPEC" in err
    assert len(err.strip().splitlines()) == 1
