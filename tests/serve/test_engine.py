"""Batching across requests, back-pressure, bad input, the API key."""

from __future__ import annotations

import json
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from serve_helpers import post, request, running

from hiddenpool.encode import Encoder
from hiddenpool.serve import EngineSettings, ServeSettings, create_app, load_served_model

WORDS = "the movie was good bad great story plot fun".split()


def _texts(i: int) -> list[str]:
    return [" ".join(WORDS[(i + k) % len(WORDS)] for k in range(1 + i % 5 + j)) for j in range(3)]


def _wait_for(condition, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


@pytest.fixture
def gated(tiny_st, one_thread):
    """A served model whose runs are recorded and can be held at a gate."""
    served = load_served_model(tiny_st, ["mean", "cls"], served_name="tiny")
    calls: list[list[str]] = []
    gate = threading.Event()
    gate.set()
    run = served.embed

    def embed(texts, specs, batch_tokens, sizes=None, **kwargs):
        calls.append(list(texts))
        gate.wait(timeout=60)
        return run(texts, specs, batch_tokens, sizes, **kwargs)

    served.embed = embed  # type: ignore[method-assign]
    return served, calls, gate


def test_concurrent_requests_share_batches_and_get_their_own_rows(gated, tiny_st):
    served, calls, _ = gated
    settings = ServeSettings(engine=EngineSettings(max_wait_ms=500, max_group_tokens=4096))
    requests = [{"input": _texts(i), "model": "tiny:cls" if i % 2 else "tiny"} for i in range(8)]
    with running(create_app(served, settings)) as port, ThreadPoolExecutor(8) as pool:
        replies = list(pool.map(lambda body: post(port, "/v1/embeddings", body), requests))
    assert len(calls) < len(requests)  # fewer model runs than requests
    assert max(len(c) for c in calls) > 3  # some run held texts of several requests
    encoder = Encoder(tiny_st)
    for body, (status, _, reply) in zip(requests, replies, strict=True):
        assert status == 200
        spec = "cls" if body["model"] == "tiny:cls" else "mean"
        expected = encoder.encode_many(body["input"], [spec])[spec]
        expected /= np.linalg.norm(expected, axis=1, keepdims=True)
        np.testing.assert_allclose([d["embedding"] for d in reply["data"]], expected, atol=1e-6)
        # usage counts this request's tokens only (word-level tokenizer: words + [CLS] [SEP])
        assert reply["usage"]["prompt_tokens"] == sum(len(t.split()) + 2 for t in body["input"])


def test_a_lone_client_is_not_held_for_the_batch_wait(gated):
    served, calls, _ = gated
    # a ten-minute wait: a request held for it would fail post()'s 60 s timeout; a lone client's
    # last batch held one request, so the model never waits for a second
    settings = ServeSettings(engine=EngineSettings(max_wait_ms=600_000))
    with running(create_app(served, settings)) as port:
        for i in range(3):
            assert post(port, "/v1/embeddings", {"input": _texts(i)})[0] == 200
    assert [len(c) for c in calls] == [3, 3, 3]


def test_the_model_waits_for_as_many_requests_as_its_last_batch_held(gated):
    served, calls, gate = gated
    gate.clear()
    settings = ServeSettings(engine=EngineSettings(max_wait_ms=5_000))
    with running(create_app(served, settings)) as port, ThreadPoolExecutor(4) as pool:
        first = [pool.submit(post, port, "/v1/embeddings", {"input": _texts(0)})]
        _wait_for(lambda: len(calls) == 1)  # one lone request runs, held at the gate
        first += [pool.submit(post, port, "/v1/embeddings", {"input": _texts(i)}) for i in (1, 2)]
        _wait_for(lambda: request(port, "GET", "/health")[2]["queued_texts"] == 6)
        gate.set()
        assert [f.result()[0] for f in first] == [200] * 3  # runs: 1 request, then 2
        later = []
        for i in (3, 4):  # two clients, 0.2 s apart: the model waits for the second
            later.append(pool.submit(post, port, "/v1/embeddings", {"input": _texts(i)}))
            time.sleep(0.2)
        assert [f.result()[0] for f in later] == [200, 200]
    assert [len(c) for c in calls] == [3, 6, 6]


def test_full_queue_answers_429_with_retry_after_then_serves_again(gated):
    served, calls, gate = gated
    gate.clear()  # the model is busy: requests pile up
    settings = ServeSettings(engine=EngineSettings(max_wait_ms=0, max_queue=6), max_inputs=3)
    with running(create_app(served, settings)) as port, ThreadPoolExecutor(8) as pool:
        pending = [pool.submit(post, port, "/v1/embeddings", {"input": _texts(0)})]
        _wait_for(lambda: len(calls) == 1)  # the first request runs, held at the gate
        pending += [pool.submit(post, port, "/v1/embeddings", {"input": _texts(i)}) for i in (1, 2)]
        _wait_for(lambda: request(port, "GET", "/health")[2]["queued_texts"] == 6)
        status, headers, body = post(port, "/v1/embeddings", {"input": ["one more"]})
        assert status == 429
        assert int(headers["retry-after"]) >= 1
        assert (
            body["error"]["type"] == "rate_limit_error"
            and "max_queue 6" in body["error"]["message"]
        )
        gate.set()
        assert [f.result()[0] for f in pending] == [200, 200, 200]
        assert post(port, "/v1/embeddings", {"input": ["one more"]})[0] == 200
        metrics = request(port, "GET", "/metrics")[2]
    assert "hiddenpool_rejected_total 1.0" in metrics


@pytest.fixture(scope="module")
def small_limits(tiny_served):
    settings = ServeSettings(max_inputs=64, max_input_chars=500, max_body_bytes=1024 * 1024)
    with running(create_app(tiny_served, settings)) as port:
        yield port


@pytest.mark.parametrize(
    ("raw", "status", "needle"),
    [
        (b'{"input": ["a", ', 400, "not valid JSON"),
        (b'{"input": 5}', 400, "input must be a string or a list of strings"),
        (b'{"input": ["a", 5]}', 400, "input must be a string or a list of strings"),
        (b'{"input": [[1, 2], [7, -1]]}', 400, "input[1][1] is token id -1"),
        (b'{"input": [3, 99999]}', 400, "input[1] is token id 99999"),
        (b'{"input": [[1], [2, 3.5]]}', 400, "token ids (a list of ints"),
        (b'{"input": []}', 400, "must not be empty"),
        (b'{"input": "great", "model": "tiny:max@-4:"}', 404, "served: tiny:mean, tiny:cls@-2"),
        (b'{"input": "great", "model": "other"}', 404, "not served here"),
        (b'{"input": "great", "encoding_format": "int8"}', 400, "encoding_format"),
        (b'{"input": ["' + b"x" * 501 + b'"]}', 413, "max_input_chars"),
        (json.dumps({"input": ["a"] * 100_000}).encode(), 413, "100000 inputs"),
        (json.dumps({"input": ["a"] * 65}).encode(), 413, "limit is 64 (max_inputs)"),
        (b'{"input": "' + b"y" * (10 * 1024 * 1024) + b'"}', 413, "max_body_bytes"),
    ],
)
def test_bad_input_is_a_4xx_openai_error_and_the_server_keeps_serving(
    small_limits, raw, status, needle
):
    got, _, body = post(small_limits, "/v1/embeddings", None, raw=raw)
    assert got == status
    assert set(body["error"]) == {"message", "type", "param", "code"}
    assert needle in body["error"]["message"]
    assert post(small_limits, "/v1/embeddings", {"input": ["great"]})[0] == 200


def test_empty_string_is_embedded_as_the_encoder_does(small_limits, tiny_st):
    status, _, body = post(small_limits, "/v1/embeddings", {"input": ["", "great"]})
    assert status == 200
    np.testing.assert_allclose(
        [d["embedding"] for d in body["data"]], Encoder(tiny_st).encode(["", "great"]), atol=1e-6
    )


def test_tei_bad_input_has_tei_error_shape(small_limits):
    status, _, body = post(small_limits, "/embed", None, raw=b'{"inputs": 5}')
    assert status == 422 and body == {
        "error": "inputs must be a string or a list of strings",
        "error_type": "Validation",
    }


def test_clients_that_disconnect_mid_request_do_not_hurt_others(small_limits):
    port = small_limits
    body = json.dumps({"input": ["great"] * 10}).encode()
    head = (
        f"POST /v1/embeddings HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode()
    with socket.create_connection(("127.0.0.1", port)) as sock:  # half a body, then gone
        sock.sendall(head + body[: len(body) // 2])
    with socket.create_connection(("127.0.0.1", port)) as sock:  # a whole request, then gone
        sock.sendall(head + body)
    with socket.create_connection(("127.0.0.1", port)) as sock:  # half the headers, then gone
        sock.sendall(head[:20])
    for _ in range(3):
        assert post(port, "/v1/embeddings", {"input": ["great", "bad"]})[0] == 200


def test_api_key_is_required_everywhere_but_health(tiny_served):
    settings = ServeSettings(api_key="s3cret")
    with running(create_app(tiny_served, settings)) as port:
        body = {"input": ["great"]}
        status, headers, reply = post(port, "/v1/embeddings", body)
        assert status == 401 and reply["error"]["type"] == "authentication_error"
        assert headers["www-authenticate"] == "Bearer"
        wrong = {"Authorization": "Bearer s3cres"}
        assert post(port, "/v1/embeddings", body, headers=wrong)[0] == 401
        right = {"Authorization": "Bearer s3cret"}
        assert post(port, "/v1/embeddings", body, headers=right)[0] == 200
        assert post(port, "/embed", {"inputs": "great"})[0] == 401
        for path in ("/v1/models", "/metrics", "/docs"):
            assert request(port, "GET", path)[0] == 401
            assert request(port, "GET", path, headers=right)[0] == 200
        assert request(port, "GET", "/health")[0] == 200


def test_prompt_templates_batch_apart_with_their_own_token_counts(tiny_st, one_thread):
    from hiddenpool.encode import tokenize_windows
    from hiddenpool.pooling.templates import create_template

    served = load_served_model(tiny_st, ["mean", "query:mean"], served_name="tiny")
    calls: list[list[str]] = []
    run = served.embed

    def embed(texts, specs, batch_tokens, sizes=None, **kwargs):
        calls.append(list(specs))
        return run(texts, specs, batch_tokens, sizes, **kwargs)

    served.embed = embed  # type: ignore[method-assign]
    settings = ServeSettings(engine=EngineSettings(max_wait_ms=300))
    requests = [
        {"input": _texts(i), "model": "tiny:query:mean" if i % 2 else "tiny"} for i in range(4)
    ]
    with running(create_app(served, settings)) as port, ThreadPoolExecutor(4) as pool:
        replies = list(pool.map(lambda body: post(port, "/v1/embeddings", body), requests))
        ids = {"input": [[1, 2, 3]], "model": "tiny:query:mean"}
        status, _, refused = post(port, "/v1/embeddings", ids)
        assert status == 400 and refused["error"]["code"] == "token_ids_with_template"
    assert all(len(set(specs)) == 1 for specs in calls)  # a template never shares a pass
    encoder = Encoder(tiny_st)
    tokenizer = encoder.backbone.tokenizer
    for body, (status, _, reply) in zip(requests, replies, strict=True):
        templated = body["model"] == "tiny:query:mean"
        spec = "query:mean" if templated else "mean"
        expected = encoder.encode_many(body["input"], [spec])[spec]
        np.testing.assert_allclose([d["embedding"] for d in reply["data"]], expected, atol=1e-6)
        template = create_template("query") if templated else None
        windows = tokenize_windows(tokenizer, body["input"], encoder.max_length, template=template)
        assert status == 200 and reply["usage"]["prompt_tokens"] == windows.num_tokens
