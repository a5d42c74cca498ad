"""The server's request bodies, fuzzed in-process: any body is answered, never with a 5xx.

Random JSON (near-valid OpenAI and TEI bodies with wrong types, empty and long texts, lone
surrogates, token ids in and out of range, unknown and malformed MODEL:SPEC names, odd
dimensions) and random bytes go to /v1/embeddings, /embed and /predict of a served tiny model.
Each answer is a 2xx whose vectors match the inputs in number, or a 4xx whose body has the API's
error shape (OpenAI's ``{"error": {"message", ...}}``, TEI's ``{"error", "error_type"}``) and a
one-line message.

Bugs this found, fixed in serve/schemas.py and serve/app.py (kept below as explicit examples): a
text with a lone surrogate reached the tokenizer and raised TypeError (a 500 behind uvicorn); a
body that is not UTF-8 got FastAPI's ``{"detail": ...}`` instead of the API's error shape.
"""

from __future__ import annotations

import json
from collections import Counter

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from asgi_client import AsgiClient
from hiddenpool.serve import ServeSettings, create_app, load_served_model

COUNTS: Counter[str] = Counter()
pytestmark = pytest.mark.usefixtures("one_thread")
SPECS = ["mean", "cls | binary", "query/passage:mean", "mean | truncate(8) | normalize"]

_text = st.one_of(
    st.text(max_size=12),
    st.sampled_from(["", " ", "\ud800", "a\udc80", "the movie", "[CLS]", "\x00", "a " * 150]),
)
_ids = st.lists(st.integers(-5, 100), max_size=6)
_input = st.one_of(
    _text,
    st.lists(_text, max_size=4),
    _ids,
    st.lists(_ids, max_size=3),
    st.none() | st.booleans() | st.floats() | st.integers(),
    st.lists(st.one_of(_text, st.integers(), st.none(), _ids), max_size=3),
    st.dictionaries(st.text(max_size=3), _text, max_size=2),
)
_model = st.one_of(
    st.none(),
    st.sampled_from(
        [f"t:{s}" for s in SPECS] + ["t", "t:", ":", "x", "t:mean@", "t:((", "t:\ud800"]
    ),
    st.text(max_size=8),
)
_any = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 10**20),
    st.floats(),
    st.text(max_size=6),
    st.lists(st.integers(), max_size=2),
)
_openai = st.fixed_dictionaries(
    {"input": _input},
    optional={
        "model": _model,
        "encoding_format": st.sampled_from(["float", "base64", "x"]) | _any,
        "dimensions": st.integers(-2, 40) | _any,
        "truncate": _any,
        "input_type": st.sampled_from(["query", "document", "x"]) | _any,
    },
)
_tei = st.fixed_dictionaries(
    {"inputs": _input},
    optional={
        "model": _model,
        "normalize": _any,
        "truncate": _any,
        "prompt_name": st.sampled_from(["query", "document"]) | _any,
    },
)
_routes = st.sampled_from(["/v1/embeddings", "/embed", "/predict"])
_request = st.one_of(
    _openai.map(lambda body: ("/v1/embeddings", body)),
    _tei.map(lambda body: ("/embed", body)),
    _tei.map(lambda body: ("/predict", body)),
    st.tuples(_routes, _any | st.dictionaries(st.text(max_size=5), _any, max_size=3)),
)


@pytest.fixture(scope="module")
def client(tiny_dir):
    served = load_served_model(tiny_dir("bert"), SPECS, served_name="t")
    settings_ = ServeSettings(max_inputs=8, max_input_chars=200, max_body_bytes=4096)
    with AsgiClient(create_app(served, settings_)) as running:
        yield running


def answered(path: str, sent: object, status: int, reply: object) -> None:
    """The property: a 2xx with one vector per input, or a 4xx in the route's error shape."""
    assert status < 500, (path, sent, status, reply)
    if status >= 400:
        COUNTS[f"{status}"] += 1
        if path == "/embed":
            assert isinstance(reply, dict) and isinstance(reply.get("error"), str), reply
            message = reply["error"]
        else:
            assert isinstance(reply, dict) and isinstance(reply.get("error"), dict), reply
            message = reply["error"]["message"]
        assert isinstance(message, str) and message and "\n" not in message, reply
        return
    COUNTS["200"] += 1
    assert status == 200 and isinstance(sent, dict), (path, sent, status)
    given = sent.get("input", sent.get("inputs"))
    many = isinstance(given, list) and not all(isinstance(x, int) for x in given)
    count = len(given) if many else 1
    vectors = reply["data"] if path == "/v1/embeddings" else reply
    assert len(vectors) == count


def test_json_bodies_are_answered_without_a_5xx(client):
    @settings(settings.get_profile("fuzz"), max_examples=300)
    @given(_request)
    @example(("/embed", {"inputs": "a\udc80", "model": "t"}))  # a lone surrogate: was a 500
    @example(("/v1/embeddings", {"input": ["ok", "\ud800"]}))
    def check(request: tuple[str, object]) -> None:
        COUNTS["json"] += 1
        path, body = request
        data = json.dumps(body).encode()
        status, _, reply = client.post(path, raw=data)
        answered(path, body, status, reply)

    check()
    assert COUNTS["json"] >= 300  # 300 drawn + 2 explicit
    assert COUNTS["200"] > 20 and COUNTS["400"] > 20  # both paths exercised


def test_raw_bytes_are_answered_without_a_5xx(client):
    @settings(settings.get_profile("fuzz"), max_examples=100)
    @given(st.sampled_from(["/v1/embeddings", "/embed"]), st.binary(max_size=50))
    @example("/embed", b"\xb1\n\xc4\xdc`\xffv")  # not UTF-8: was FastAPI's {"detail": ...}
    def check(path: str, data: bytes) -> None:
        COUNTS["bytes"] += 1
        status, _, reply = client.post(path, raw=data)
        answered(path, data, status, reply)

    check()
    assert COUNTS["bytes"] >= 100  # 100 drawn + 1 explicit
