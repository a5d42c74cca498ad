"""Templates exported to sentence-transformers through hiddenpool's module: the same vectors."""

from __future__ import annotations

import json

import numpy as np
import pytest

from hiddenpool import Encoder
from hiddenpool.export import export_sentence_transformers, exports_natively
from hiddenpool.export.native import native_prompt
from hiddenpool.pooling import templates
from tiny_models import SENTENCES

st = pytest.importorskip("sentence_transformers")

pytestmark = pytest.mark.usefixtures("one_thread")
TEXTS = [t for t in SENTENCES if t]
CASES = [
    ("bert", "promptbert:mask"),
    ("bert", "query:mean"),
    ("roberta", "promptbert:mean@-2:"),
    ("xlnet", "echo:mean"),
    ("xlnet", "promptbert:cls"),
    ("gpt2", "prompteol:last"),
    ("gpt2", "echo:max@1,-1"),
]


@pytest.mark.parametrize(("family", "spec"), CASES)
def test_template_folders_reproduce_hiddenpool_vectors(family, spec, tiny_backbone, tmp_path):
    backbone = tiny_backbone(family)
    assert not exports_natively(spec)
    out = export_sentence_transformers(backbone, spec, tmp_path / "st", normalize=False)
    model = st.SentenceTransformer(str(out), device="cpu", trust_remote_code=True)
    got = model.encode(TEXTS, convert_to_numpy=True, batch_size=3)  # mixed lengths per batch
    expected = Encoder(backbone, pooling=spec, normalize=False).encode(TEXTS)
    np.testing.assert_allclose(got, expected, atol=1e-5)


def test_a_user_template_travels_with_the_folder(tiny_backbone, tmp_path, monkeypatch):
    backbone = tiny_backbone("bert")
    templates.register_template("review_test", 'Review: "{text}" overall [MASK] .')
    spec = "review_test:mask"
    expected = Encoder(backbone, pooling=spec, normalize=False).encode(TEXTS)
    out = export_sentence_transformers(backbone, spec, tmp_path / "st", normalize=False)
    config = json.loads((out / "0_HiddenpoolPooling" / "hiddenpool_module.json").read_text())
    assert config["template"] == {
        "name": "review_test",
        "text": 'Review: "{text}" overall [MASK] .',
    }
    monkeypatch.delitem(templates._TEMPLATES, "review_test")  # as in a fresh process
    model = st.SentenceTransformer(str(out), device="cpu", trust_remote_code=True)
    np.testing.assert_allclose(model.encode(TEXTS), expected, atol=1e-5)


NATIVE = [
    ("bert", "query:mean(include_prompt=true)"),
    ("bert", "passage:cls+max(include_prompt=true)@-2:"),
    ("xlnet", "query:cls"),
    ("roberta", "query:meanmax(include_prompt=true)@1,-1"),
    ("gpt2", "passage:last"),
]


@pytest.mark.parametrize(("family", "spec"), NATIVE)
def test_prefix_templates_reading_the_whole_input_export_as_prompts(
    family, spec, tiny_backbone, tmp_path
):
    backbone = tiny_backbone(family)
    assert exports_natively(spec)
    out = export_sentence_transformers(backbone, spec, tmp_path / "st", normalize=False)
    types = [m["type"] for m in json.loads((out / "modules.json").read_text())]
    assert all(t.startswith("sentence_transformers.") for t in types)
    config = json.loads((out / "config_sentence_transformers.json").read_text())
    name = spec.split(":")[0]
    prompt = f"{name}: "  # also as query and document: ST would fill a missing one with ""
    assert config == {
        "prompts": {name: prompt, "query": prompt, "document": prompt},
        "default_prompt_name": name,
    }
    model = st.SentenceTransformer(str(out), device="cpu")  # no trust_remote_code
    got = model.encode(TEXTS, convert_to_numpy=True, batch_size=3)
    expected = Encoder(backbone, pooling=spec, normalize=False).encode(TEXTS)
    np.testing.assert_allclose(got, expected, atol=1e-5)


def test_which_templates_are_sentence_transformers_prompts():
    assert native_prompt("query:cls") == ("query", "query: ")
    assert native_prompt("query:mean") is None  # its include_prompt=False would pool [SEP]
    assert native_prompt("query:cls+mean") is None
    assert native_prompt("promptbert:mask") is None  # the text is not at the end
    assert native_prompt("echo:mean(include_prompt=true)") is None  # two copies
    assert native_prompt("mean") is None


TRAINED = [
    ("promptbert:mask", False),  # hiddenpool's module, the text inside the template
    ("promptbert:attention", False),  # a learned pooler, trained weights exported
    ("query:mean(include_prompt=true)", True),  # a prefix: sentence-transformers' own prompt
]


@pytest.mark.parametrize(("spec", "native"), TRAINED)
def test_a_templated_trained_folder_exports_the_length_it_was_trained_with(
    spec, native, tiny_backbone, tmp_path
):
    # The case the fix of the trained max_length was about: the text is far longer than the
    # 20 tokens the model was trained on (the backbone's own limit is 64), inside a template.
    import torch

    from hiddenpool.train import PooledModel, PooledModelConfig, Predictor

    backbone = tiny_backbone("bert")
    trained_length = 20
    assert backbone.max_length > 2 * trained_length
    config = PooledModelConfig(
        spec, "regression", labels=("y",), targets=("y",), max_length=trained_length
    )
    model = PooledModel(backbone, config).eval()
    with torch.no_grad():  # a trained head and pooler, not their initial values
        for param in [*model.head.parameters(), *model.pooling.parameters()]:
            param.add_(torch.randn_like(param) * 0.1)
    saved = model.save_pretrained(tmp_path / "trained")
    out = export_sentence_transformers(saved, None, tmp_path / "st", normalize=False)
    assert exports_natively(spec) == native
    texts = [" ".join(SENTENCES), SENTENCES[1], "great"]  # the first two pass 20 tokens
    assert len(backbone.tokenizer(texts[0])["input_ids"]) > trained_length + 10
    st_model = st.SentenceTransformer(str(out), device="cpu", trust_remote_code=True)
    got = st_model.encode(texts, convert_to_numpy=True, batch_size=2)

    reloaded = PooledModel.from_pretrained(saved)  # the trained folder, as predict loads it
    batch = reloaded.tokenize(texts)
    spans = {k: batch.pop(k) for k in ("text_mask", "mask_token_mask") if k in batch}
    with torch.no_grad():
        expected = reloaded.pool(reloaded.forward_features(batch, **spans)).numpy()
    np.testing.assert_allclose(got, expected, atol=1e-5)
    if not any(True for _ in reloaded.pooling.parameters()):
        # parameter-free: the Encoder at the trained length gives the same vectors
        encoder = Encoder(backbone, pooling=spec, normalize=False, max_length=trained_length)
        np.testing.assert_allclose(encoder.encode(texts), expected, atol=1e-5)
    # predict's values are the trained head on exactly these vectors.
    weight, bias = reloaded.head.fc.weight.detach().numpy(), reloaded.head.fc.bias.detach().numpy()
    predicted = Predictor(saved, device="cpu").predict(texts)
    np.testing.assert_allclose(predicted, got @ weight.T + bias, atol=1e-5)
