"""The real MiniLM served with its own pooling gives Encoder's vectors, via the openai client."""

from __future__ import annotations

import base64

import numpy as np
import openai
import pytest
from serve_helpers import running

from hiddenpool.encode import Encoder
from hiddenpool.serve import create_app, load_served_model

TEXTS = [
    "A gripping, beautifully shot film.",
    "Wooden acting and a plot with more holes than a colander.",
    "",
    "Not bad at all!",
    "The soundtrack alone is worth the ticket, though the second half drags on for far too long.",
]


@pytest.mark.slow
def test_minilm_server_equals_encoder():
    served = load_served_model()  # the default model with its own mean pooling + Normalize
    assert served.default.spec == "mean" and served.default.normalize
    expected = Encoder().encode(TEXTS)
    with running(create_app(served)) as port:
        client = openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="unused")
        floats = client.embeddings.create(input=TEXTS, model=served.name, encoding_format="float")
        b64 = client.embeddings.create(input=TEXTS, model=served.name, encoding_format="base64")
    got = np.array([d.embedding for d in floats.data], dtype=np.float32)
    np.testing.assert_allclose(got, expected, atol=1e-6)
    decoded = np.array([np.frombuffer(base64.b64decode(d.embedding), "<f4") for d in b64.data])
    np.testing.assert_array_equal(decoded, got)
