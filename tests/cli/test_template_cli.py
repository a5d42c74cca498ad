"""Templates on the command line: --pooling TEMPLATE:..., --template NAME='...', bad input."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from hiddenpool import Encoder, load_backbone
from hiddenpool.cli.main import main
from hiddenpool.pooling import templates

pytestmark = pytest.mark.usefixtures("one_thread")
TEXTS = ["the movie was good", "a very long and boring film", "great"]


@pytest.fixture(scope="module")
def bert(tiny_dir) -> str:
    return str(tiny_dir("bert"))


def _input(tmp_path):
    path = tmp_path / "in.txt"
    path.write_text("".join(f"{t}\n" for t in TEXTS), encoding="utf-8")
    return path


def test_embed_takes_registered_and_user_templates(bert, tmp_path):
    out = tmp_path / "out.npz"
    template = 'topic_cli=Topic of "{text}": [MASK] .'
    argv = ["embed", str(_input(tmp_path)), "-o", str(out), "--model", bert, "--no-normalize"]
    argv += ["--pooling", "promptbert:mask", "--pooling", "topic_cli:mask@-2"]
    argv += ["--template", template, "--quiet"]
    assert main(argv) == 0
    saved = np.load(out)
    encoder = Encoder(load_backbone(bert), normalize=False)
    expected = encoder.encode_many(TEXTS, ["promptbert:mask", "topic_cli:mask@-2"])
    for key, vectors in expected.items():
        np.testing.assert_allclose(saved[key], vectors, atol=1e-6)


@pytest.mark.parametrize("backend", ["torch", "onnx"])
def test_embed_chunks_long_texts_in_the_template(backend, bert, tmp_path, monkeypatch):
    monkeypatch.setenv("HIDDENPOOL_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "out.npz"
    argv = ["embed", str(_input(tmp_path)), "-o", str(out), "--model", bert, "--no-normalize"]
    argv += ["--pooling", "query:mean", "--pooling", "echo:cls", "--long", "chunk"]
    argv += ["--max-length", "16", "--stride", "1", "--backend", backend, "--quiet"]
    assert main(argv) == 0
    saved = np.load(out)
    encoder = Encoder(load_backbone(bert), normalize=False, max_length=16, long="chunk", stride=1)
    expected = encoder.encode_many(TEXTS, ["query:mean", "echo:cls"])
    for key, vectors in expected.items():
        np.testing.assert_allclose(saved[key], vectors, atol=1e-5)


def test_strategies_lists_templates_with_text_and_source(capsys):
    assert main(["strategies"]) == 0
    listing = capsys.readouterr().out
    assert 'promptbert                               This sentence : "{text}" means [MASK] .' in (
        listing
    )
    assert "PromptBERT, Jiang et al. 2022" in listing
    assert "Springer et al. 2024" in listing


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--pooling", "nosuch:mean"], "unknown template 'nosuch'"),
        (["--pooling", "x:mean", "--template", "x=no placeholder"], "template 'x': it needs"),
        (["--pooling", "promptbert:mask", "--max-length", "8"], "template 'promptbert' takes"),
        (["--pooling", "promptbert:mask", "--long", "chunk"], "one mask token per window"),
        (["--pooling", "query:mask"], "template 'query' ('query: {text}') has no [MASK]"),
        (["--template", "nameonly"], "--template 'nameonly': write NAME="),
    ],
)
def test_bad_template_input_is_one_line_exit_2_nothing_written(
    extra, message, bert, tmp_path, capsys
):
    out = tmp_path / "out.npy"
    argv = ["embed", str(_input(tmp_path)), "-o", str(out), "--model", bert, *extra]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.txt"]


def test_mask_on_a_model_without_a_mask_token(tiny_dir, tmp_path, capsys):
    out = tmp_path / "out.npy"
    model = str(tiny_dir("gpt2"))
    capsys.readouterr()  # building the tiny model may report progress
    argv = ["embed", str(_input(tmp_path)), "-o", str(out), "--model", model]
    assert main([*argv, "--pooling", "promptbert:mask"]) == 2
    err = capsys.readouterr().err.strip()
    assert "template 'promptbert' holds [MASK], but this model's tokenizer has no mask" in err
    assert len(err.splitlines()) == 1 and not out.exists()


def _labelled(tmp_path):
    data = tmp_path / "d.csv"
    data.write_text("text,label\n" + "".join(f"{t},{i % 2}\n" for i, t in enumerate(TEXTS * 4)))
    return data


def test_train_and_predict_take_a_user_template(bert, tmp_path, capsys):
    data, out = _labelled(tmp_path), tmp_path / "run"
    argv = ["train", str(data), "--model", bert, "--task", "classification", "--quiet"]
    argv += ["--label-column", "label"]
    argv += ["--pooling", "topic_train_cli:mask", "--out", str(out), "--max-steps", "2"]
    argv += ["--template", 'topic_train_cli=Topic of "{text}": [MASK] .', "--valid-fraction", "0"]
    assert main(argv) == 0
    templates._TEMPLATES.pop("topic_train_cli")  # predict runs where it is not registered
    predictions = tmp_path / "p.npy"
    assert main(["predict", str(out), str(_input(tmp_path)), "-o", str(predictions)]) == 0
    from hiddenpool.train import PooledModel

    model = PooledModel.from_pretrained(out)
    with torch.no_grad():
        logits = model(**model.tokenize(TEXTS)).logits
    np.testing.assert_allclose(np.load(predictions), logits.softmax(-1).numpy(), atol=1e-5)


@pytest.mark.parametrize(
    ("family", "extra", "message"),
    [
        ("bert", ["--pooling", "promptbert:mask", "--max-length", "8"], "'promptbert' takes"),
        ("bert", ["--pooling", "nosuch:mean"], "unknown template 'nosuch'"),
        ("bert", ["--pooling", "x:mean", "--template", "x=no text"], "template 'x': it needs"),
        ("gpt2", ["--pooling", "promptbert:mean"], "holds [MASK], but this model's tokenizer"),
    ],
)
def test_train_refuses_bad_templates_before_writing(
    family, extra, message, tiny_dir, tmp_path, capsys
):
    out, model = tmp_path / "run", str(tiny_dir(family))
    capsys.readouterr()  # building the tiny model may report progress
    argv = ["train", str(_labelled(tmp_path)), "--model", model, "--task", "classification"]
    argv += ["--label-column", "label"]
    assert main([*argv, "--out", str(out), *extra]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err
    assert len(err.splitlines()) == 1 and not out.exists()
