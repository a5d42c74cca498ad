"""``embed --side query|document`` (and embed_file's ``side``) give the Encoder's vectors."""

from __future__ import annotations

import numpy as np
import pytest

from hiddenpool import Encoder
from hiddenpool.cli.main import main
from hiddenpool.encode.files import embed_file

pytestmark = pytest.mark.usefixtures("one_thread")

TEXTS = ["the movie was good", "", "a long and boring film " * 6, "great", "Größe 🎬 émoji"]
SPECS = ["query/passage:mean", "bge/:cls@-2", "max"]


@pytest.fixture(scope="module")
def model(tiny_dir) -> str:
    return str(tiny_dir("bert"))


def _texts(folder):
    path = folder / "in.txt"
    path.write_text("".join(f"{t}\n" for t in TEXTS), encoding="utf-8")
    return path


def _embed(source, out, model, *extra) -> int:
    pooling = [a for spec in SPECS for a in ("--pooling", spec)]
    return main(["embed", str(source), "-o", str(out), "--model", model, *pooling, *extra])


@pytest.mark.parametrize("side", ["query", "document"])
def test_each_side_writes_the_encoders_vectors_of_that_side(side, model, tmp_path):
    out = tmp_path / "out.npz"
    extra = [] if side == "document" else ["--side", side]  # document is the default
    assert _embed(_texts(tmp_path), out, model, "--quiet", *extra) == 0
    encoder = Encoder(model)
    with np.load(out) as got:
        for spec in SPECS:
            expected = encoder.encode(TEXTS, spec, side=side)
            np.testing.assert_allclose(got[spec], expected, atol=1e-6, err_msg=spec)
    one_sided = {"query": "query:mean", "document": "passage:mean"}[side]
    with np.load(out) as got:
        np.testing.assert_allclose(
            got["query/passage:mean"], encoder.encode(TEXTS, one_sided), atol=1e-6
        )


def test_a_run_interrupted_on_one_side_does_not_resume_on_the_other(model, tmp_path):
    encoder = Encoder(model)
    out, source = tmp_path / "out.npz", _texts(tmp_path)
    embed, calls = encoder.embed, []

    def interrupted(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:  # the early check, the first chunk, then Ctrl-C
            raise KeyboardInterrupt
        return embed(*args, **kwargs)

    encoder.embed = interrupted  # type: ignore[method-assign]
    with pytest.raises(KeyboardInterrupt):
        embed_file(source, out, encoder, SPECS, side="query", chunk_size=2)
    encoder.embed = embed  # type: ignore[method-assign]
    with pytest.raises(ValueError, match=r"different settings \(.*side"):
        embed_file(source, out, encoder, SPECS, side="document", chunk_size=2)
    summary = embed_file(source, out, encoder, SPECS, side="query", chunk_size=2)
    assert summary.resumed_texts == 2
    with np.load(out) as got:
        for spec in SPECS:
            np.testing.assert_allclose(got[spec], encoder.encode_query(TEXTS, spec), atol=1e-6)


def test_an_unknown_side_is_one_line(model, tmp_path, capsys):
    with pytest.raises(SystemExit) as stopped:
        _embed(_texts(tmp_path), tmp_path / "out.npz", model, "--side", "passage")
    assert stopped.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith("hiddenpool embed: error: argument --side: invalid choice: 'passage'")
    assert not (tmp_path / "out.npz").exists()


def test_a_side_template_needing_a_mask_is_one_line_on_a_model_without_one(
    tiny_dir, tmp_path, capsys
):
    out = tmp_path / "out.npy"
    argv = ["embed", str(_texts(tmp_path)), "-o", str(out), "--model", str(tiny_dir("gpt2"))]
    capsys.readouterr()  # building the tiny model may print
    for side in ("query", "document"):  # the query side's [MASK] fails either side
        assert main([*argv, "--pooling", "promptbert/passage:mean", "--side", side]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and "template 'promptbert' holds [MASK]" in err[0], err
        assert not out.exists() and not list(tmp_path.glob(".out.npy*"))


def test_the_query_side_is_refused_on_ray_in_one_line(model, tmp_path, capsys):
    out = tmp_path / "out.npz"
    assert _embed(_texts(tmp_path), out, model, "--side", "query", "--engine", "ray") == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        "hiddenpool embed: error: --side query runs on the local engine; drop --engine ray"
    ]
    assert not out.exists()
