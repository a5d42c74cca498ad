"""The side per request: ``input_type`` on /v1/embeddings (the openai client's ``extra_body``),
``prompt_name`` on TEI's /embed; documents by default; vectors equal the Encoder's sides."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import openai
import pytest
from serve_helpers import post, request, running

from hiddenpool.encode import Encoder
from hiddenpool.serve import EngineSettings, ServeSettings, create_app, load_served_model
from tiny_models import SENTENCES

TEXTS = [s for s in SENTENCES if s] + ["who made the film?"]
SPECS = ["query/passage:mean", "bge/:cls@-2", "mean"]


@pytest.fixture(scope="module")
def server(tiny_st, one_thread):
    served = load_served_model(tiny_st, SPECS, served_name="tiny")
    with running(create_app(served)) as port:
        yield port


@pytest.fixture(scope="module")
def client(server):
    return openai.OpenAI(base_url=f"http://127.0.0.1:{server}/v1", api_key="unused")


@pytest.fixture(scope="module")
def encoder(tiny_st):
    return Encoder(tiny_st)  # its Normalize, as served


def _vectors(reply) -> np.ndarray:
    return np.array([d.embedding for d in reply.data], dtype=np.float32)


@pytest.mark.parametrize("spec", SPECS)
def test_openai_input_type_picks_the_side(spec, client, encoder):
    model = f"tiny:{spec}"
    query = client.embeddings.create(input=TEXTS, model=model, extra_body={"input_type": "query"})
    np.testing.assert_allclose(_vectors(query), encoder.encode_query(TEXTS, spec), atol=1e-6)
    for extra in ({"input_type": "document"}, None):  # document is the default
        reply = client.embeddings.create(input=TEXTS, model=model, extra_body=extra)
        np.testing.assert_allclose(_vectors(reply), encoder.encode_document(TEXTS, spec), atol=1e-6)


def test_tei_prompt_name_picks_the_side(server, encoder):
    spec = "query/passage:mean"
    for side in ("query", "document"):
        status, _, body = post(
            server, "/embed", {"inputs": TEXTS, "model": f"tiny:{spec}", "prompt_name": side}
        )
        assert status == 200
        np.testing.assert_allclose(body, encoder.encode(TEXTS, spec, side=side), atol=1e-6)
    status, _, body = post(server, "/embed", {"inputs": TEXTS, "model": f"tiny:{spec}"})
    np.testing.assert_allclose(body, encoder.encode_document(TEXTS, spec), atol=1e-6)


def test_concurrent_queries_and_documents_get_their_own_side(server, encoder):
    jobs = [(spec, side) for spec in SPECS for side in ("query", "document")] * 2
    bodies = [{"input": TEXTS, "model": f"tiny:{s}", "input_type": side} for s, side in jobs]
    with ThreadPoolExecutor(8) as pool:
        replies = list(pool.map(lambda body: post(server, "/v1/embeddings", body), bodies))
    for (spec, side), (status, _, reply) in zip(jobs, replies, strict=True):
        assert status == 200
        got = [d["embedding"] for d in reply["data"]]
        np.testing.assert_allclose(got, encoder.encode(TEXTS, spec, side=side), atol=1e-6)


def test_requests_queued_together_run_each_on_its_own_side(tiny_st, encoder, one_thread):
    """'mean' on the query side and bge/:cls@-2 on the document side read the same input (the
    text alone); packed into one run on one side, one of them would read the other template."""
    served = load_served_model(tiny_st, SPECS, served_name="tiny")
    gate, runs, embed = threading.Event(), [], served.embed

    def held(*args, **kwargs):
        runs.append(kwargs.get("side"))
        gate.wait(timeout=60)
        return embed(*args, **kwargs)

    served.embed = held  # type: ignore[method-assign]
    jobs = [("mean", "query"), ("mean", "query"), ("bge/:cls@-2", "document")]
    bodies = [{"input": TEXTS, "model": f"tiny:{s}", "input_type": side} for s, side in jobs]
    settings = ServeSettings(engine=EngineSettings(max_wait_ms=0))
    with running(create_app(served, settings)) as port, ThreadPoolExecutor(4) as pool:
        first = pool.submit(post, port, "/v1/embeddings", bodies[0])
        _wait_for(lambda: len(runs) == 1)  # the first runs, held: the others queue together
        rest = [pool.submit(post, port, "/v1/embeddings", body) for body in bodies[1:]]
        _wait_for(lambda: request(port, "GET", "/health")[2]["queued_texts"] == 2 * len(TEXTS))
        gate.set()
        replies = [first.result(), *(f.result() for f in rest)]
    for (spec, side), (status, _, reply) in zip(jobs, replies, strict=True):
        assert status == 200, reply
        got = [d["embedding"] for d in reply["data"]]
        np.testing.assert_allclose(got, encoder.encode(TEXTS, spec, side=side), atol=1e-6)
    assert sorted(runs) == ["document", "query", "query"]  # the queued two: one run each


def _wait_for(condition, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_unknown_sides_are_refused_naming_the_field(server, client):
    with pytest.raises(openai.BadRequestError) as error:
        client.embeddings.create(input=TEXTS, model="tiny", extra_body={"input_type": "passage"})
    assert "input_type" in str(error.value)
    status, _, body = post(server, "/embed", {"inputs": TEXTS, "prompt_name": "passage"})
    assert status == 422 and body["error"].startswith("prompt_name")


def test_token_ids_take_no_side_template(server, tiny_st):
    ids = [[7, 8, 9], [10, 11]]
    status, _, body = post(
        server,
        "/v1/embeddings",
        {"input": ids, "model": "tiny:query/passage:mean", "input_type": "query"},
    )
    assert status == 400 and body["error"]["code"] == "token_ids_with_template"
    assert "query text" in body["error"]["message"]
    status, _, body = post(  # bge's document side is the text alone: ids are fine
        server, "/v1/embeddings", {"input": ids, "model": "tiny:bge/:cls@-2"}
    )
    assert status == 200 and len(body["data"]) == 2
