"""`hiddenpool identify`: name the strategy behind vectors made elsewhere, or say none matches."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from hiddenpool.cli.main import main
from hiddenpool.encode import Encoder
from tiny_models import SENTENCES

TEXTS = [s for s in SENTENCES if s] + ["the plot", "fun fun fun", "not very good", "bad bad"]


@pytest.fixture(scope="module")
def files(tiny_dir, tmp_path_factory):
    folder = tmp_path_factory.mktemp("identify")
    (folder / "texts.txt").write_text("\n".join(TEXTS) + "\n")
    return folder, tiny_dir("bert")


def _identify(capsys, vectors_path, texts_path, model, *extra):
    status = main(["identify", str(vectors_path), str(texts_path), "--model", str(model), *extra])
    return status, capsys.readouterr()


def test_names_a_layer_average_and_its_normalisation(files, capsys, one_thread):
    folder, model = files
    # made "elsewhere": an independent torch computation of mean pooling over layers 1 and 2
    from hiddenpool.backbone import load_backbone

    backbone = load_backbone(model)
    batch = backbone.tokenize(TEXTS)
    out = backbone.model(
        **{k: v for k, v in batch.items() if k != "special_tokens_mask"}, output_hidden_states=True
    )
    layers = (out.hidden_states[1] + out.hidden_states[-1]) / 2
    mask = batch["attention_mask"].unsqueeze(-1).float()
    raw = ((layers * mask).sum(1) / mask.sum(1)).detach().numpy()
    np.save(folder / "raw.npy", raw)
    status, out_text = _identify(capsys, folder / "raw.npy", folder / "texts.txt", model)
    assert status == 0, out_text.err
    assert "identified: mean@1,-1, not normalised" in out_text.out
    unit = raw / np.linalg.norm(raw, axis=1, keepdims=True)
    table = pa.table({"id": list(range(len(TEXTS))), "embedding": unit.tolist()})
    pq.write_table(table, folder / "unit.parquet")
    status, out_text = _identify(capsys, folder / "unit.parquet", folder / "texts.txt", model)
    assert status == 0 and "identified: mean@1,-1, L2-normalised" in out_text.out


def test_says_which_strategies_are_indistinguishable(files, capsys, one_thread):
    folder, model = files
    np.save(folder / "cls.npy", Encoder(model, pooling="cls@-2").encode(TEXTS))
    # a random tiny model's layers barely move the summary token: a tight tolerance tells them
    # apart, and BERT's summary token is its first token, so cls and first stay the same vector
    status, out_text = _identify(
        capsys, folder / "cls.npy", folder / "texts.txt", model, "--tolerance", "1e-10"
    )
    assert status == 0 and "identified: cls@2, not normalised" in out_text.out
    assert out_text.out.rstrip().endswith("equally close within tolerance: first@2")


def test_says_none_matches_and_exits_1(files, capsys, one_thread):
    folder, model = files
    rng = np.random.default_rng(0)
    projected = Encoder(model).encode(TEXTS) @ rng.normal(size=(32, 32))  # a Dense layer, say
    np.save(folder / "dense.npy", projected)
    status, out_text = _identify(capsys, folder / "dense.npy", folder / "texts.txt", model)
    assert status == 1
    assert "no strategy matches within 0.0001; the closest is" in out_text.out


def test_rows_that_do_not_fit_the_texts_are_an_error(files, capsys):
    folder, model = files
    np.save(folder / "short.npy", np.zeros((3, 32), np.float32))
    status, out_text = _identify(capsys, folder / "short.npy", folder / "texts.txt", model)
    assert status == 2 and "has 3 rows but" in out_text.err
