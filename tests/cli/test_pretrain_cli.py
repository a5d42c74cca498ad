"""``hiddenpool pretrain`` from the command line: the result in every command, and each bad input
as one line with nothing overwritten (kill -9 and --resume: tests/pretrain/test_pretrain_resume.py).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

sys.path.insert(0, str(Path(__file__).parents[1] / "pretrain"))

from corpus_helpers import TINY, documents, write_corpus

from hiddenpool.cli.main import main


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _one_line_error(code: int, err: str, fragment: str) -> None:
    assert code == 2, err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("hiddenpool pretrain: error:"), err
    assert fragment in lines[0], lines[0]


def _run(argv: list[str], capsys) -> tuple[int, str, str]:
    code = main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture(scope="module")
def pretrained(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("pretrained")
    corpus = write_corpus(folder / "corpus.txt")
    code = main(["pretrain", str(corpus), "--out", str(folder / "mlm"), *TINY, "--max-steps", "4"])
    assert code == 0
    return folder / "mlm"


def test_the_pretrained_folder_in_every_command(pretrained, tmp_path, capsys) -> None:
    code, out, _ = _run(["inspect", str(pretrained), "--json"], capsys)
    assert code == 0
    anatomy = json.loads(out)
    assert anatomy["family"] == "roberta" and anatomy["saved_as"] == ["RobertaForMaskedLM"]
    assert any(group.startswith("lm_head") for group in anatomy["discarded_on_load"])
    assert "freshly initialised" in anatomy["pooler"]
    assert anatomy["summary_token"].startswith("<s>")

    texts = documents(40, seed=3)
    (tmp_path / "texts.txt").write_text("\n".join(texts) + "\n")
    vectors = tmp_path / "v.npy"
    code, _, err = _run(
        ["embed", str(tmp_path / "texts.txt"), "-o", str(vectors), "--model", str(pretrained),
         "--pooling", "mean@-2", "--quiet"],
        capsys,
    )  # fmt: skip
    assert code == 0, err
    assert np.load(vectors).shape == (40, 64)

    rows = ["text,score"] + [f'"{t}",{t.count("kernel") - t.count("memory")}' for t in texts]
    (tmp_path / "data.csv").write_text("\n".join(rows) + "\n")
    code, _, err = _run(
        ["compare", str(tmp_path / "data.csv"), "--task", "regression", "--label-column",
         "score", "--model", str(pretrained), "--strategies", "mean", "cls", "--folds", "2",
         "--out", str(tmp_path / "cmp"), "--quiet"],
        capsys,
    )  # fmt: skip
    assert code == 0, err
    results = json.loads((tmp_path / "cmp" / "results.json").read_text())
    assert results["model"] == str(pretrained)

    code, _, err = _run(
        ["train", str(tmp_path / "data.csv"), "--task", "regression", "--label-column", "score",
         "--model", str(pretrained), "--pooling", "mean", "--folds", "2", "--max-steps", "2",
         "--batch-size", "8", "--out", str(tmp_path / "run"), "--quiet"],
        capsys,
    )  # fmt: skip
    assert code == 0, err
    code, _, err = _run(
        ["predict", str(tmp_path / "run"), str(tmp_path / "texts.txt"), "-o",
         str(tmp_path / "p.csv")],
        capsys,
    )  # fmt: skip
    assert code == 0, err
    assert len((tmp_path / "p.csv").read_text().strip().splitlines()) == 41  # header + 40

    code, _, err = _run(
        ["export", str(pretrained), "--pooling", "mean@-2", "-o", str(tmp_path / "st")], capsys
    )
    assert code == 0, err
    from sentence_transformers import SentenceTransformer

    exported = SentenceTransformer(str(tmp_path / "st"), device="cpu")
    np.testing.assert_allclose(
        exported.encode(texts[:5]), np.load(vectors)[:5], rtol=1e-4, atol=1e-5
    )


def test_empty_corpus_is_one_line_and_creates_nothing(tmp_path, capsys) -> None:
    corpus = tmp_path / "empty.txt"
    corpus.write_text("\n  \n\n")
    code, _, err = _run(["pretrain", str(corpus), "--out", str(tmp_path / "out"), *TINY], capsys)
    _one_line_error(code, err, "the corpus holds no text")
    assert not (tmp_path / "out").exists()
    folder = tmp_path / "blank"
    folder.mkdir()
    (folder / "a.jsonl").write_text('{"text": "  "}\n')
    code, _, err = _run(["pretrain", str(folder), "--out", str(tmp_path / "out"), *TINY], capsys)
    _one_line_error(code, err, "the corpus holds no text")
    assert not (tmp_path / "out").exists()


def test_unknown_size_is_one_line(tmp_path, capsys) -> None:
    corpus = write_corpus(tmp_path / "c.txt", n=20)
    code, _, err = _run(
        ["pretrain", str(corpus), "--out", str(tmp_path / "out"), "--size", "huge"], capsys
    )
    _one_line_error(code, err, "--size 'huge' is unknown; expected one of tiny, small, base")
    assert not (tmp_path / "out").exists()


def test_from_a_decoder_is_not_mlm_capable(tiny_dir, tmp_path, capsys) -> None:
    corpus = write_corpus(tmp_path / "c.txt", n=20)
    gpt2 = tiny_dir("gpt2")
    capsys.readouterr()  # building the tiny model prints its own progress
    code, _, err = _run(
        ["pretrain", str(corpus), "--out", str(tmp_path / "out"), "--from",
         str(gpt2), "--max-steps", "1", "--quiet"],
        capsys,
    )  # fmt: skip
    _one_line_error(code, err, "not an MLM-capable checkpoint")
    assert not (tmp_path / "out").exists()


def test_an_output_folder_holding_something_else_is_left_alone(tmp_path, capsys) -> None:
    corpus = write_corpus(tmp_path / "c.txt", n=20)
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    code, _, err = _run(["pretrain", str(corpus), "--out", str(out), *TINY, "--resume"], capsys)
    _one_line_error(code, err, "holds other files (notes.txt); --out must be a new or empty")
    assert [p.name for p in out.iterdir()] == ["notes.txt"]
    assert (out / "notes.txt").read_text() == "mine"


def test_a_finished_run_is_not_overwritten(pretrained, capsys) -> None:
    before = (pretrained / "model.safetensors").read_bytes()
    code, _, err = _run(
        ["pretrain", str(pretrained.parent / "corpus.txt"), "--out", str(pretrained), *TINY],
        capsys,
    )
    _one_line_error(code, err, "already holds a finished pretrained model")
    assert (pretrained / "model.safetensors").read_bytes() == before


def test_tokenizer_train_with_from_is_refused(tmp_path, capsys) -> None:
    corpus = write_corpus(tmp_path / "c.txt", n=20)
    code, _, err = _run(
        ["pretrain", str(corpus), "--out", str(tmp_path / "o"), "--from", "minilm",
         "--tokenizer", "train"],
        capsys,
    )  # fmt: skip
    _one_line_error(code, err, "--tokenizer train cannot go with --from")


@pytest.fixture(scope="module")
def decoder(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("decoder")
    corpus = write_corpus(folder / "corpus.txt")
    code = main(
        ["pretrain", str(corpus), "--out", str(folder / "gpt2"), "--objective", "clm", *TINY,
         "--max-steps", "4"]
    )  # fmt: skip
    assert code == 0
    return folder / "gpt2"


def test_the_pretrained_decoder_in_every_command(decoder, tmp_path, capsys) -> None:
    code, out, _ = _run(["inspect", str(decoder), "--json"], capsys)
    assert code == 0
    anatomy = json.loads(out)
    assert anatomy["family"] == "gpt2" and anatomy["saved_as"] == ["GPT2LMHeadModel"]
    assert anatomy["padding_side"] == "left"

    texts = documents(30, seed=4)
    (tmp_path / "texts.txt").write_text("\n".join(texts) + "\n")
    vectors = tmp_path / "v.npy"
    code, _, err = _run(
        ["embed", str(tmp_path / "texts.txt"), "-o", str(vectors), "--model", str(decoder),
         "--pooling", "last", "--quiet"],
        capsys,
    )  # fmt: skip
    assert code == 0, err
    assert np.load(vectors).shape == (30, 64)
    code, out, err = _run(
        ["identify", str(vectors), str(tmp_path / "texts.txt"), "--model", str(decoder)], capsys
    )
    assert code == 0, err
    assert "last" in out.split("\n", 2)[0] + out, out

    rows = ["text,score"] + [f'"{t}",{t.count("kernel") - t.count("memory")}' for t in texts]
    (tmp_path / "data.csv").write_text("\n".join(rows) + "\n")
    code, _, err = _run(
        ["compare", str(tmp_path / "data.csv"), "--task", "regression", "--label-column",
         "score", "--model", str(decoder), "--strategies", "last", "mean", "--folds", "2",
         "--out", str(tmp_path / "cmp"), "--quiet"],
        capsys,
    )  # fmt: skip
    assert code == 0, err
    code, _, err = _run(
        ["train", str(tmp_path / "data.csv"), "--task", "regression", "--label-column", "score",
         "--model", str(decoder), "--pooling", "last", "--folds", "2", "--max-steps", "2",
         "--batch-size", "8", "--out", str(tmp_path / "run"), "--quiet"],
        capsys,
    )  # fmt: skip
    assert code == 0, err

    code, _, err = _run(
        ["export", str(decoder), "--pooling", "last", "-o", str(tmp_path / "st")], capsys
    )
    assert code == 0, err
    from sentence_transformers import SentenceTransformer

    exported = SentenceTransformer(str(tmp_path / "st"), device="cpu")
    np.testing.assert_allclose(
        exported.encode(texts[:5]), np.load(vectors)[:5], rtol=1e-4, atol=1e-5
    )

    sys.path.insert(0, str(Path(__file__).parents[1] / "serve"))
    from serve_helpers import request, running

    from hiddenpool.serve import create_app, load_served_model

    with running(create_app(load_served_model(decoder, ["last"]))) as port:
        status, _, body = request(port, "POST", "/v1/embeddings", {"input": texts[:3]})
    assert status == 200, body
    served = np.array([item["embedding"] for item in body["data"]], dtype=np.float32)
    np.testing.assert_allclose(served, np.load(vectors)[:3], rtol=1e-4, atol=1e-5)


def test_clm_from_an_encoder_is_one_line(tmp_path, capsys) -> None:
    corpus = write_corpus(tmp_path / "c.txt", n=20)
    code, _, err = _run(
        ["pretrain", str(corpus), "--out", str(tmp_path / "out"), "--objective", "clm",
         "--from", "minilm", "--max-steps", "1", "--quiet"],
        capsys,
    )  # fmt: skip
    _one_line_error(code, err, "--from minilm: a bert encoder, not a decoder")
    assert not (tmp_path / "out").exists()


def test_clm_continued_from_a_tiny_gpt2_trains_it(tiny_dir, tmp_path, capsys) -> None:
    corpus = write_corpus(tmp_path / "c.txt", n=200)
    gpt2 = tiny_dir("gpt2")
    capsys.readouterr()
    out = tmp_path / "out"
    code, stdout, err = _run(
        ["pretrain", str(corpus), "--out", str(out), "--objective", "clm", "--from", str(gpt2),
         "--max-length", "32", "--batch-size", "4", "--max-steps", "2", "--eval-fraction", "0.1",
         "--max-eval-blocks", "4", "--quiet"],
        capsys,
    )  # fmt: skip
    assert code == 0, err
    assert "held-out CLM loss" in stdout
    record = json.loads((out / "pretrain.json").read_text())
    assert record["model"]["architecture"] == "GPT2LMHeadModel" and record["model"]["from"]
    from transformers import AutoTokenizer

    assert AutoTokenizer.from_pretrained(out).padding_side == "left"
