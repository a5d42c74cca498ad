"""embed_file: chunked, resumable, and the same bytes as an uninterrupted run."""

from __future__ import annotations

import numpy as np
import pytest

from hiddenpool import Encoder
from hiddenpool.encode.files import embed_file
from hiddenpool.io import PartialOutput
from tiny_models import WORDS

pytestmark = pytest.mark.usefixtures("one_thread")


def _lines(n: int) -> list[str]:
    rng = np.random.default_rng(0)
    return [" ".join(rng.choice(WORDS, rng.integers(0, 30))) for _ in range(n)]


def test_resumed_run_reports_and_writes_what_an_uninterrupted_one_does(
    tiny_backbone, tmp_path, monkeypatch
):
    lines = _lines(50)
    source = tmp_path / "in.txt"
    source.write_text("\n".join(lines) + "\n", encoding="utf-8")
    encoder = Encoder(tiny_backbone("bert"), max_length=16)
    specs = ["mean", "cls@concat(-2:)"]
    whole = embed_file(source, tmp_path / "whole.npz", encoder, specs, chunk_size=8)
    assert (whole.texts, whole.resumed_texts) == (50, 0)
    assert whole.truncated == sum(len(t.split()) > 14 for t in lines)

    real_add = PartialOutput.add

    def crash_after_third(self, index, *args, **kwargs):
        real_add(self, index, *args, **kwargs)
        if index == 2:
            raise RuntimeError("power cut")

    monkeypatch.setattr(PartialOutput, "add", crash_after_third)
    with pytest.raises(RuntimeError, match="power cut"):
        embed_file(source, tmp_path / "out.npz", encoder, specs, chunk_size=8)
    monkeypatch.setattr(PartialOutput, "add", real_add)
    resumed = embed_file(source, tmp_path / "out.npz", encoder, specs, chunk_size=8)
    assert resumed.resumed_texts == 24 and resumed.texts == 50
    assert (resumed.tokens, resumed.truncated) == (whole.tokens, whole.truncated)
    assert (tmp_path / "out.npz").read_bytes() == (tmp_path / "whole.npz").read_bytes()
    with np.load(tmp_path / "out.npz") as data:
        np.testing.assert_allclose(data["mean"], encoder.encode(lines, batch_size=1), atol=1e-5)


def test_a_run_that_fails_before_any_chunk_leaves_no_work_folder(tiny_backbone, tmp_path):
    source = tmp_path / "in.jsonl"
    source.write_text('{"text": 1}\n', encoding="utf-8")
    with pytest.raises(ValueError, match=r"row 1 \(line 1\), column 'text'"):
        embed_file(source, tmp_path / "out.npy", Encoder(tiny_backbone("bert")))
    assert list(tmp_path.iterdir()) == [source]
