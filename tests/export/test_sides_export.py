"""Two-sided specs exported to sentence-transformers: ``encode_query`` / ``encode_document`` of
the folder give hiddenpool's ``encode_query`` / ``encode_document``."""

from __future__ import annotations

import json

import numpy as np
import pytest

from hiddenpool import Encoder
from hiddenpool.export import export_sentence_transformers, exports_natively, load_instruction
from hiddenpool.export.native import native_side_prompts
from hiddenpool.pooling import templates
from tiny_models import SENTENCES

st = pytest.importorskip("sentence_transformers")

pytestmark = pytest.mark.usefixtures("one_thread")
TEXTS = [t for t in SENTENCES if t]
BGE = templates.TEMPLATES["bge"].text.removesuffix("{text}")

NATIVE = [  # every side a prefix prompt (or the text alone) read over the whole input
    ("bert", "bge/:cls", (BGE, "")),
    ("bert", "query/passage:mean(include_prompt=true)@-2:", ("query: ", "passage: ")),
    ("roberta", "bge/:meanmax(include_prompt=true)", (BGE, "")),
    ("gpt2", "/passage:last", ("", "passage: ")),
]
MODULE = [  # the text's own tokens, or a mask: hiddenpool's module, routed by task
    ("bert", "query/passage:mean"),
    ("bert", "promptbert/echo:mean@-2"),
    ("xlnet", "bge/:mean@1,-1"),
    ("gpt2", "search_query/search_document:max"),
]


def _both_sides(model, backbone, spec, normalize=False):
    encoder = Encoder(backbone, normalize=normalize)
    for side, method in (("query", model.encode_query), ("document", model.encode_document)):
        got = method(TEXTS, convert_to_numpy=True, batch_size=3)
        expected = encoder.encode(TEXTS, spec, side=side)
        np.testing.assert_allclose(got, expected, atol=1e-5, err_msg=f"{spec} {side}")
    document = encoder.encode_document(TEXTS, spec)
    np.testing.assert_allclose(model.encode(TEXTS), document, atol=1e-5)  # the default side


@pytest.mark.parametrize(("family", "spec", "prefixes"), NATIVE)
def test_sides_that_are_prompts_export_natively(family, spec, prefixes, tiny_backbone, tmp_path):
    backbone = tiny_backbone(family)
    assert exports_natively(spec) and native_side_prompts(spec) == prefixes
    out = export_sentence_transformers(backbone, spec, tmp_path / "st", normalize=False)
    types = [m["type"] for m in json.loads((out / "modules.json").read_text())]
    assert all(t.startswith("sentence_transformers.") for t in types)
    config = json.loads((out / "config_sentence_transformers.json").read_text())
    assert config["prompts"] == {"query": prefixes[0], "document": prefixes[1]}
    assert config["default_prompt_name"] == "document"
    assert "encode_query(texts) / .encode_document(texts)" in load_instruction(out)
    model = st.SentenceTransformer(str(out), device="cpu")  # no trust_remote_code
    _both_sides(model, backbone, spec)


@pytest.mark.parametrize(("family", "spec"), MODULE)
def test_other_sides_export_through_hiddenpools_module(family, spec, tiny_backbone, tmp_path):
    backbone = tiny_backbone(family)
    assert not exports_natively(spec)
    out = export_sentence_transformers(backbone, spec, tmp_path / "st", normalize=False)
    assert "trust_remote_code=True" in load_instruction(out)
    assert "encode_query(texts) / .encode_document(texts)" in load_instruction(out)
    model = st.SentenceTransformer(str(out), device="cpu", trust_remote_code=True)
    _both_sides(model, backbone, spec)


def test_a_symmetric_prompt_reads_the_same_on_both_sides(tiny_backbone, tmp_path):
    backbone = tiny_backbone("bert")
    spec = "query:cls"  # ST fills a missing side's prompt with "": both must be written
    out = export_sentence_transformers(backbone, spec, tmp_path / "st", normalize=False)
    assert "encode_query" not in load_instruction(out)  # one side
    model = st.SentenceTransformer(str(out), device="cpu")
    expected = Encoder(backbone, normalize=False).encode(TEXTS, spec)
    for method in (model.encode_query, model.encode_document, model.encode):
        np.testing.assert_allclose(method(TEXTS), expected, atol=1e-5)


def test_a_users_query_template_travels_with_the_folder(tiny_backbone, tmp_path, monkeypatch):
    backbone = tiny_backbone("bert")
    templates.register_template("ask_test", "Question: {text} Answer: [MASK].")
    spec = "ask_test/:mean"
    encoder = Encoder(backbone, normalize=False)
    expected = encoder.encode_query(TEXTS, spec)
    out = export_sentence_transformers(backbone, spec, tmp_path / "st", normalize=False)
    monkeypatch.delitem(templates._TEMPLATES, "ask_test")  # as in a fresh process
    model = st.SentenceTransformer(str(out), device="cpu", trust_remote_code=True)
    np.testing.assert_allclose(model.encode_query(TEXTS), expected, atol=1e-5)


@pytest.mark.slow
@pytest.mark.parametrize("spec", ["bge/:cls", "query/passage:mean"])
def test_minilm_sides_reproduce_hiddenpool(spec, minilm, tmp_path):
    out = export_sentence_transformers(minilm, spec, tmp_path / "st")
    model = st.SentenceTransformer(str(out), device="cpu", trust_remote_code=True)
    _both_sides(model, minilm, spec, normalize=True)
