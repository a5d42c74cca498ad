"""Reading sentence-transformers folders back: the default strategy is the folder's own.

The reference is sentence-transformers itself: ``SentenceTransformer(folder).encode`` must equal
``Encoder(folder).encode`` with the pooling the folder declares, for every layout
sentence-transformers writes (legacy booleans, ``pooling_mode`` strings and lists, a
WeightedLayerPooling layer average).
"""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
from sentence_transformers import SentenceTransformer

from hiddenpool import Encoder, load_backbone
from hiddenpool.backbone.sentence_transformers import read_sentence_transformers_folder
from hiddenpool.export import export_sentence_transformers
from tiny_models import SENTENCES


@pytest.mark.parametrize(
    "spec",
    ["max", "cls", "mean_sqrt_len", "weighted_mean", "last", "cls+mean", "mean@-3:", "max@1,-1"],
)
def test_an_exported_folder_reads_back_as_its_strategy(tiny_dir, tmp_path, spec):
    out = export_sentence_transformers(str(tiny_dir("bert")), spec, tmp_path / "st", False)
    backbone = load_backbone(out)
    ours = Encoder(backbone).encode(SENTENCES)
    theirs = SentenceTransformer(str(out), device="cpu").encode(SENTENCES)
    np.testing.assert_allclose(ours, theirs, atol=1e-5)
    expected = Encoder(str(tiny_dir("bert")), pooling=spec, normalize=False).encode(SENTENCES)
    np.testing.assert_allclose(ours, expected, atol=1e-5)


def test_legacy_boolean_keys_and_pooling_mode_lists(tiny_dir, tmp_path):
    out = export_sentence_transformers(str(tiny_dir("bert")), "mean", tmp_path / "st", False)
    pooling_dirs = [
        p for p in out.iterdir() if (p / "config.json").is_file() and "Pooling" in p.name
    ]
    config_file = pooling_dirs[0] / "config.json"
    base = json.loads(config_file.read_text())
    dim = base["embedding_dimension"]
    for config, spec in [
        ({"pooling_mode_max_tokens": True, "pooling_mode_cls_token": True}, "cls+max"),
        ({"pooling_mode": ["max", "cls"]}, "max+cls"),
        ({"pooling_mode": "mean_sqrt_len_tokens"}, "mean_sqrt_len"),
    ]:
        config_file.write_text(json.dumps({"embedding_dimension": dim, **config}))
        assert read_sentence_transformers_folder(out).pooling == spec
        ours = Encoder(str(out)).encode(SENTENCES)
        theirs = SentenceTransformer(str(out), device="cpu").encode(SENTENCES)
        np.testing.assert_allclose(ours, theirs, atol=1e-5)


def test_a_module_hiddenpool_cannot_reproduce_is_said_out_loud(tiny_dir, tmp_path):
    out = export_sentence_transformers(
        str(tiny_dir("bert")), "mean@sum(1,-1)", tmp_path / "st", False
    )
    info = read_sentence_transformers_folder(out)
    assert info.ignored == ("Dense",)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        load_backbone(out)
    assert any("Dense" in str(w.message) for w in caught)


def test_an_unknown_pooling_mode_is_one_clear_error(tiny_dir, tmp_path):
    out = export_sentence_transformers(str(tiny_dir("bert")), "mean", tmp_path / "st", False)
    pooling_dir = next(p for p in out.iterdir() if "Pooling" in p.name)
    (pooling_dir / "config.json").write_text(json.dumps({"pooling_mode": "median"}))
    with pytest.raises(ValueError, match="unknown pooling_mode \\['median'\\]"):
        load_backbone(out)
