"""Training under a prompt template: a PooledModel pools the frozen Encoder's vectors, learned
poolers read the text's tokens, and a trained folder reapplies its (user's) template anywhere."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from train_helpers import synthetic

from hiddenpool import Encoder
from hiddenpool.backbone import load_backbone
from hiddenpool.encode.windows import tokenize_windows
from hiddenpool.pooling import templates
from hiddenpool.pooling.templates import Template
from hiddenpool.train import PooledModel, PooledModelConfig, Predictor, TrainConfig, train
from hiddenpool.train.config import CONFIG_NAME
from hiddenpool.train.data import Collator, TextDataset
from hiddenpool.train.predict import predict_logits

TEXTS = [*synthetic(6).texts, "great", "a much longer text about a film " * 4]
TOPIC = 'Topic of "{text}": [MASK] .'


def _model(backbone, spec, max_length=32, **kw):
    config = PooledModelConfig(spec, "regression", ("score",), ("score",), max_length=max_length)
    return PooledModel(backbone, config, **kw).eval()


def _pooled(model, texts):
    batch = model.tokenize(texts)
    spans = {k: batch.pop(k) for k in ("text_mask", "mask_token_mask") if k in batch}
    with torch.no_grad():
        return model.pool(model.forward_features(batch, **spans)).numpy()


@pytest.mark.parametrize(
    ("family", "specs"),
    [
        ("bert", ["promptbert:mask", "echo:mean@-2", "query:max", "promptbert:cls"]),
        ("xlnet", ["promptbert:mask@1,-1", "query:mean(include_prompt=true)"]),
        ("gpt2", ["prompteol:last", "echo:weighted_mean"]),
    ],
)
def test_an_untrained_model_pools_the_encoders_vectors(family, specs, tiny_backbone):
    backbone = tiny_backbone(family)
    for spec in specs:  # max_length 16 cuts the long text: the template must survive alike
        expected = Encoder(backbone, pooling=spec, normalize=False, max_length=16).encode(TEXTS)
        got = _pooled(_model(backbone, spec, max_length=16), TEXTS)
        np.testing.assert_allclose(got, expected, atol=1e-5, rtol=0, err_msg=f"{family} {spec}")


@pytest.mark.slow
def test_on_minilm_the_model_pools_the_encoders_vectors(minilm):
    for spec in ["promptbert:mask", "echo:mean", "query:mean", "promptbert:mean@-4:"]:
        expected = Encoder(minilm, pooling=spec, normalize=False).encode(TEXTS)
        np.testing.assert_allclose(_pooled(_model(minilm, spec, 256), TEXTS), expected, atol=1e-5)


def test_collated_training_batches_equal_the_predict_batches(tiny_backbone):
    """The Trainer's collator pads the template's spans as the Encoder's batching does."""
    backbone = tiny_backbone("xlnet")  # left padding
    model = _model(backbone, "promptbert:mask")
    windows = tokenize_windows(model.tokenizer, TEXTS, 32, template=model.template)
    dataset = TextDataset(windows, np.zeros(len(TEXTS), np.float32), np.arange(len(TEXTS)))
    batch = Collator(model.tokenizer)([dataset[i] for i in range(len(TEXTS))])
    assert batch["mask_token_mask"].sum(1).tolist() == [1] * len(TEXTS)
    batch.pop("labels")
    with torch.no_grad():
        logits = model(**batch).logits.numpy()
    np.testing.assert_allclose(logits, predict_logits(model, TEXTS, batch_size=3), atol=1e-5)


def test_learned_poolers_read_the_texts_tokens_only(tiny_backbone):
    """``query:attention`` against the same pooler run on the text's tokens alone, one text at
    a time: the prompt's tokens get no weight."""
    backbone = tiny_backbone("bert")
    model = _model(backbone, "query:attention")
    with torch.no_grad():
        for p in model.pooling.parameters():
            p.add_(0.1 * torch.randn_like(p))
    got = _pooled(model, TEXTS[:3])
    for i, text in enumerate(TEXTS[:3]):
        batch = model.tokenize([text])
        start, stop = np.flatnonzero(batch["text_mask"][0].numpy())[[0, -1]]
        states = model.forward_features(
            {k: v for k, v in batch.items() if k != "text_mask"},
            batch["text_mask"],
        )
        hidden = states.layer(-1)[:, start : stop + 1]  # the text alone, no padding
        only = type(states)(
            layers={backbone.num_layers: hidden},
            attention_mask=torch.ones(hidden.shape[:2], dtype=torch.bool),
            num_layers=backbone.num_layers,
        )
        with torch.no_grad():
            np.testing.assert_allclose(got[i], model.pooling(only)[0].numpy(), atol=1e-5)


@pytest.mark.parametrize("spec", ["promptbert:attention@-2", "promptbert:mask@weighted(1:)"])
def test_learned_parts_under_a_template_get_gradients(spec, tiny_backbone, tiny_dir):
    model = _model(load_backbone(tiny_dir("bert")), spec).train()
    out = model(**model.tokenize(TEXTS[:4]), labels=torch.tensor([1.0, -1.0, 0.0, 2.0]))
    out.loss.backward()
    learned = {n: p for n, p in model.named_parameters() if n.startswith(("pooling.", "head."))}
    # The bias of an attention scorer's last layer shifts every token's score alike, which the
    # softmax ignores: its gradient is zero up to float rounding (exactly zero on some CPUs).
    shift = {n for n in learned if n.endswith("score.3.bias")}
    assert len(learned) > len(shift)
    for name, parameter in learned.items():
        assert parameter.grad is not None, name
        size = float(parameter.grad.abs().sum())
        assert size < 1e-6 if name in shift else size > 0, (name, size)


def test_a_batch_without_the_templates_spans_is_refused(tiny_backbone):
    model = _model(tiny_backbone("bert"), "promptbert:mask")
    batch = model.tokenize(TEXTS[:2])
    batch.pop("mask_token_mask")
    with pytest.raises(ValueError, match=r"lacks the template's spans .*tokenise with model"):
        model(**batch)


@pytest.fixture(scope="module")
def trained_topic(tiny_dir, tmp_path_factory):
    """A model trained through train() with a user's template, and what it predicted."""
    before = dict(templates._TEMPLATES)
    templates.register_template("topic_train", TOPIC)
    out = tmp_path_factory.mktemp("topic") / "model"
    config = TrainConfig(
        data="synthetic",
        model=str(tiny_dir("bert")),
        out=str(out),
        pooling="topic_train:mask@-2",
        batch_size=8,
        max_steps=3,
        valid_fraction=0.0,
        max_length=24,
        extra={"disable_tqdm": True},
    )
    train(config, data=synthetic(24), verbose=False)
    model = PooledModel.from_pretrained(out)
    reference = []
    with torch.no_grad():  # one text at a time, no padding: the reference
        for text in TEXTS:
            reference.append(model(**model.tokenize([text])).logits.numpy()[0])
    templates._TEMPLATES.clear()
    templates._TEMPLATES.update(before)
    return out, np.stack(reference)


def test_the_trained_folder_saves_its_template(trained_topic):
    out, _ = trained_topic
    saved = json.loads((out / CONFIG_NAME).read_text())
    assert saved["pooling"] == "topic_train:mask@-2"
    assert saved["template"]["name"] == "topic_train" and saved["template"]["text"] == TOPIC


def test_predict_reapplies_a_user_template_in_a_fresh_registry(trained_topic):
    out, reference = trained_topic
    assert "topic_train" not in templates.TEMPLATES  # as in a new process
    got = Predictor(out, device="cpu").predict(TEXTS, batch_tokens=40)
    np.testing.assert_allclose(got, reference, atol=1e-5)
    assert templates.TEMPLATES["topic_train"].text == TOPIC


def test_serve_and_export_reapply_it_too(trained_topic, tmp_path):
    from hiddenpool.export import export_sentence_transformers
    from hiddenpool.serve.served import load_served_model

    out, reference = trained_topic
    served = load_served_model(out, device="cpu")
    assert served.default.spec == "topic_train:mask@-2"
    np.testing.assert_allclose(served.predict(TEXTS, batch_tokens=64), reference, atol=1e-5)
    model = PooledModel.from_pretrained(out)
    expected = _pooled(model, TEXTS)
    vectors = served.embed(TEXTS, [served.default.spec], batch_tokens=64).vectors
    np.testing.assert_allclose(vectors[served.default.spec], expected, atol=1e-5)
    templates._TEMPLATES.pop("topic_train")
    folder = export_sentence_transformers(out, None, tmp_path / "st", normalize=False)
    templates._TEMPLATES.pop("topic_train")  # the exported folder carries it on its own
    st = pytest.importorskip("sentence_transformers")
    loaded = st.SentenceTransformer(str(folder), device="cpu", trust_remote_code=True)
    # the export truncates at the backbone's max_length, not the trained one: texts that fit
    fits = slice(0, len(TEXTS) - 1)
    np.testing.assert_allclose(loaded.encode(TEXTS[fits]), expected[fits], atol=1e-5)


def test_a_saved_template_that_clashes_with_a_registered_one_is_one_error(trained_topic):
    out, _ = trained_topic
    templates.register_template("topic_train", "another {text}")
    with pytest.raises(ValueError, match="the model's saved template: template 'topic_train'"):
        PooledModel.from_pretrained(out)


def test_a_config_naming_another_template_is_refused(tiny_backbone):
    config = PooledModelConfig(
        "query:mean", "regression", ("s",), ("s",), template=Template("passage", "passage: {text}")
    )
    with pytest.raises(ValueError, match="reads template 'query', but the config holds"):
        PooledModel(tiny_backbone("bert"), config)
