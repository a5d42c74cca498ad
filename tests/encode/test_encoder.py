"""Encoder on the real MiniLM: equals sentence-transformers, keeps order, one pass for many."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from hiddenpool import Encoder
from hiddenpool.backbone import default_model_path
from hiddenpool.encode import tokenize_windows
from hiddenpool.pooling.templates import register_template

TEXTS = [
    "A gripping, beautifully shot film.",
    "The plot never comes together and the acting is wooden.",
    "ok",
    "",
    "This is a long review. " * 80,  # over 256 tokens: truncated the same way by both
    "Ein deutscher Satz mit Umlauten: Größe, Übermut.",
    "emoji 🎬🍿 and punctuation!!! ???",
]

ST_MODES = {
    "mean": "mean",
    "cls": "cls",
    "max": "max",
    "mean_sqrt_len": "mean_sqrt_len_tokens",
    "weighted_mean": "weightedmean",
    "last": "lasttoken",
}


@pytest.fixture(scope="module")
def sentence_transformer():
    st = pytest.importorskip("sentence_transformers")
    return st.SentenceTransformer(str(default_model_path()), device="cpu")


@pytest.fixture(scope="module")
def encoder(minilm):
    return Encoder(minilm)


@pytest.mark.slow
def test_default_encoder_equals_sentence_transformers_encode(encoder, sentence_transformer):
    assert str(encoder.strategy) == "mean" and encoder.normalize and encoder.max_length == 256
    expected = sentence_transformer.encode(TEXTS, convert_to_numpy=True)
    got = encoder.encode(TEXTS)
    assert got.dtype == np.float32 and got.shape == (len(TEXTS), 384)
    np.testing.assert_allclose(got, expected, atol=1e-5, rtol=0)


@pytest.mark.slow
@pytest.mark.parametrize("spec", list(ST_MODES))
def test_token_poolers_equal_sentence_transformers_pooling(spec, encoder, sentence_transformer):
    from sentence_transformers.sentence_transformer.modules import Pooling

    features = sentence_transformer.tokenize(TEXTS)
    with torch.no_grad():
        features = sentence_transformer[0](features)
        expected = Pooling(384, pooling_mode=ST_MODES[spec])(features)["sentence_embedding"]
    got = encoder.encode_many(TEXTS, [spec])[spec]
    np.testing.assert_allclose(got, encoder_normalized(expected.numpy(), encoder), atol=1e-5)


def encoder_normalized(vectors: np.ndarray, encoder: Encoder) -> np.ndarray:
    if not encoder.normalize:
        return vectors
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


@pytest.mark.slow
def test_encode_many_equals_separate_encodes_and_keeps_order(minilm):
    encoder = Encoder(minilm, normalize=False)
    specs = ["mean", "cls@concat(-4:)", "mean@1,-1", "max@-2", "pooler", "attn@-1"]
    with pytest.warns(UserWarning, match="never trained"):
        together = encoder.encode_many(TEXTS, specs, batch_size=3)
    for spec in specs:
        alone = np.stack(
            [Encoder(minilm, pooling=spec, normalize=False).encode([t])[0] for t in TEXTS]
        )
        np.testing.assert_allclose(together[spec], alone, atol=1e-5)


def test_empty_input_gives_an_empty_matrix_of_the_right_width(minilm):
    out = Encoder(minilm, pooling="meanmax").encode([])
    assert out.shape == (0, 768)


@pytest.mark.parametrize(
    ("texts", "message"),
    [
        ("just one string", "not one string"),
        (["ok", 3], r"texts\[1\] is int, expected str"),
        (  # a str can hold a lone surrogate (json.loads('"\\ud800"')); the tokenizer cannot
            ["ok", "bad \ud800 text"],
            r"^texts\[1\] is not valid Unicode: a lone surrogate '\\ud800' at character 4; "
            "expected text UTF-8 can encode",
        ),
    ],
)
def test_bad_texts_are_named(minilm, texts, message):
    with pytest.raises(ValueError, match=message) as refused:
        Encoder(minilm).encode(texts)
    error = refused.value  # and no tokenizer TypeError shown beneath it
    assert error.__context__ is None or error.__suppress_context__


@pytest.mark.parametrize("long", ["truncate", "chunk"])
@pytest.mark.parametrize("spec", ["mean", "promptbert:mask"])
def test_a_lone_surrogate_is_named_on_every_tokenisation_path(minilm, spec, long):
    texts = ["ok", "a long text " * 200, "fine", "bad \udc80"]  # chunk mode windows the long one
    with pytest.raises(ValueError, match=r"^texts\[3\] is not valid Unicode: .* at character 4"):
        Encoder(minilm, long=long).encode(texts, spec)
    # train and predict tokenise through tokenize_windows too
    with pytest.raises(ValueError, match=r"^texts\[3\] is not valid Unicode"):
        tokenize_windows(minilm.tokenizer, texts, 128)


def test_a_template_with_a_lone_surrogate_is_named(minilm):
    register_template("odd", "\udcff {text}")  # as argv's undecodable bytes reach Python
    with pytest.raises(ValueError, match=r"^template 'odd' is not valid Unicode: .* character 0"):
        Encoder(minilm).encode(["ok"], "odd:mean")


def test_learned_strategies_are_refused_with_the_way_forward(minilm):
    with pytest.raises(ValueError, match="learned parameters: train it first"):
        Encoder(minilm, pooling="attention").encode(["x"])
