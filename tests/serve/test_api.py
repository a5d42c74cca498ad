"""The endpoints against an independent Encoder: the official openai client, TEI requests."""

from __future__ import annotations

import base64

import numpy as np
import openai
import pytest
from serve_helpers import post, request, running

from hiddenpool.encode import Encoder
from hiddenpool.serve import TRUNCATED_HEADER, create_app, load_served_model
from tiny_models import SENTENCES

TEXTS = [s for s in SENTENCES if s] + ["the plot", "fun fun fun"]


@pytest.fixture(scope="module")
def reference(tiny_st):
    """Vectors computed in-process, one Encoder per normalisation, as a user would."""
    return Encoder(tiny_st), Encoder(tiny_st, normalize=False)


@pytest.fixture(scope="module")
def client(tiny_server):
    return openai.OpenAI(base_url=f"http://127.0.0.1:{tiny_server}/v1", api_key="unused")


def test_openai_client_gets_encoder_vectors_float_and_base64(client, reference):
    encoder, _ = reference
    float_reply = client.embeddings.create(input=TEXTS, model="tiny", encoding_format="float")
    got = np.array([d.embedding for d in float_reply.data], dtype=np.float32)
    np.testing.assert_allclose(got, encoder.encode(TEXTS), atol=1e-6)
    assert [d.index for d in float_reply.data] == list(range(len(TEXTS)))
    assert float_reply.model == "tiny:mean"
    assert float_reply.usage.prompt_tokens == sum(len(t.split()) + 2 for t in TEXTS)
    b64_reply = client.embeddings.create(input=TEXTS, model="tiny", encoding_format="base64")
    decoded = np.array(
        [np.frombuffer(base64.b64decode(d.embedding), "<f4") for d in b64_reply.data]
    )
    np.testing.assert_array_equal(decoded, got)  # the same floats, bit for bit


def test_openai_client_default_encoding_and_one_string(client, reference):
    encoder, _ = reference
    reply = client.embeddings.create(input="the movie was good", model="tiny")
    assert len(reply.data) == 1
    np.testing.assert_allclose(
        reply.data[0].embedding, encoder.encode(["the movie was good"])[0], atol=1e-6
    )


def test_named_strategies_and_dimensions(client, reference, tiny_st):
    _, raw = reference
    reply = client.embeddings.create(input=TEXTS, model="tiny:cls@-2", encoding_format="float")
    unit = raw.encode_many(TEXTS, ["cls@-2"])["cls@-2"]
    unit = unit / np.linalg.norm(unit, axis=1, keepdims=True)
    np.testing.assert_allclose([d.embedding for d in reply.data], unit, atol=1e-6)
    # the spec may be written in any form that parses to a served one
    same = client.embeddings.create(input=TEXTS, model="tiny:mean@1, -1", encoding_format="float")
    assert same.model == "tiny:mean@1,-1"
    cut = client.embeddings.create(input=TEXTS, model="tiny", dimensions=8, encoding_format="float")
    full = raw.encode(TEXTS)[:, :8]
    np.testing.assert_allclose(
        [d.embedding for d in cut.data],
        full / np.linalg.norm(full, axis=1, keepdims=True),
        atol=1e-6,
    )
    with pytest.raises(openai.BadRequestError, match="width 32"):
        client.embeddings.create(input=TEXTS, model="tiny", dimensions=33)


def test_models_lists_served_strategies_with_widths_and_sources(tiny_server):
    status, _, body = request(tiny_server, "GET", "/v1/models")
    assert status == 200
    rows = {m["id"]: m for m in body["data"]}
    assert list(rows) == ["tiny:mean", "tiny:cls@-2", "tiny:mean@1,-1"]
    assert [m["width"] for m in rows.values()] == [32, 32, 32]
    assert rows["tiny:mean"]["default"] and rows["tiny:mean"]["normalize"]
    assert "the model's own is mean" in rows["tiny:cls@-2"]["pooling_source"]


def test_tei_embed_normalize_and_model(tiny_server, reference):
    encoder, raw = reference
    status, _, body = post(tiny_server, "/embed", {"inputs": TEXTS})
    assert status == 200
    np.testing.assert_allclose(np.array(body), encoder.encode(TEXTS), atol=1e-6)
    status, _, body = post(tiny_server, "/embed", {"inputs": "great", "normalize": False})
    np.testing.assert_allclose(np.array(body), raw.encode(["great"]), atol=1e-6)
    status, _, body = post(tiny_server, "/embed", {"inputs": ["great"], "model": "tiny:nope"})
    assert (
        status == 404
        and body["error_type"] == "Validation"
        and "served: tiny:mean" in body["error"]
    )


def test_too_long_inputs_truncate_with_header_or_refuse(tiny_st, one_thread):
    served = load_served_model(tiny_st, max_length=6)
    long_text = "the movie was good and the story was fun"
    with running(create_app(served)) as port:
        status, headers, body = post(port, "/v1/embeddings", {"input": [long_text, "great"]})
        assert status == 200 and headers[TRUNCATED_HEADER.lower()] == "1"
        expected = Encoder(tiny_st, max_length=6).encode([long_text, "great"])
        np.testing.assert_allclose([d["embedding"] for d in body["data"]], expected, atol=1e-6)
        assert body["usage"]["prompt_tokens"] == 6 + 3
        status, headers, _ = post(port, "/v1/embeddings", {"input": ["great"]})
        assert TRUNCATED_HEADER.lower() not in headers
        tokenizer = served.encoder.backbone.tokenizer
        ids = [tokenizer(t, add_special_tokens=False)["input_ids"] for t in (long_text, "great")]
        status, headers, body = post(port, "/v1/embeddings", {"input": ids})
        assert status == 200 and headers[TRUNCATED_HEADER.lower()] == "1"
        np.testing.assert_allclose([d["embedding"] for d in body["data"]], expected, atol=1e-6)
        refused = {"input": ["great", long_text], "truncate": False}
        status, _, body = post(port, "/v1/embeddings", refused)
        assert status == 413 and body["error"]["code"] == "input_too_long"
        assert "input[1]" in body["error"]["message"]
        status, _, body = post(port, "/embed", {"inputs": [long_text], "truncate": False})
        assert status == 413 and "6 tokens" in body["error"]


def test_metrics_in_prometheus_format(tiny_server):
    post(tiny_server, "/v1/embeddings", {"input": ["great", "bad"]})
    status, headers, text = request(tiny_server, "GET", "/metrics")
    assert status == 200 and headers["content-type"].startswith("text/plain")
    for name in (
        'hiddenpool_requests_total{route="/v1/embeddings",status="200"}',
        "hiddenpool_queue_depth 0.0",
        "hiddenpool_batch_texts_bucket",
        "hiddenpool_tokens_total",
        "hiddenpool_tokens_per_second",
        'hiddenpool_request_latency_seconds_bucket{le="0.005",route="/v1/embeddings"}',
    ):
        assert name in text, name


def test_docs_and_health(tiny_server):
    assert request(tiny_server, "GET", "/health")[0] == 200
    status, _, page = request(tiny_server, "GET", "/docs")
    assert status == 200 and "swagger" in page.lower()
    status, _, schema = request(tiny_server, "GET", "/openapi.json")
    assert {"/v1/embeddings", "/embed", "/predict", "/v1/models"} <= set(schema["paths"])


def test_token_ids_are_this_models_tokens(client, reference):
    encoder, _ = reference
    tokenizer = encoder.backbone.tokenizer
    ids = [tokenizer(text, add_special_tokens=False)["input_ids"] for text in TEXTS]
    reply = client.embeddings.create(input=ids, model="tiny", encoding_format="float")
    np.testing.assert_allclose([d.embedding for d in reply.data], encoder.encode(TEXTS), atol=1e-6)
    assert reply.usage.prompt_tokens == sum(len(one) + 2 for one in ids)  # + [CLS] [SEP]
    one = client.embeddings.create(input=ids[1], model="tiny", encoding_format="float")
    np.testing.assert_allclose(one.data[0].embedding, encoder.encode(TEXTS[1:2])[0], atol=1e-6)
    b64 = client.embeddings.create(input=ids, model="tiny:cls@-2")  # the client's base64 default
    unit = encoder.encode_many(TEXTS, ["cls@-2"])["cls@-2"]
    np.testing.assert_allclose([d.embedding for d in b64.data], unit, atol=1e-6)
