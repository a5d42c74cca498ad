"""The ASGI application: OpenAI- and TEI-compatible embeddings, predictions, health, metrics.

Routes are thin: check the request, pick the served strategy, hand the texts to the
:class:`~hiddenpool.serve.engine.Engine` (which batches them with other requests' texts) and
shape the answer. Every bad request gets a 4xx JSON error in the route's API shape; the server
keeps serving.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from hiddenpool.pooling.spec import Side
from hiddenpool.serve.engine import Engine, EngineSettings, Kind, QueueFull, Rows
from hiddenpool.serve.guard import Guard
from hiddenpool.serve.metrics import CONTENT_TYPE, ServeMetrics
from hiddenpool.serve.schemas import (
    ApiError,
    EmbeddingRequest,
    PredictRequest,
    TeiEmbedRequest,
    error_body,
)
from hiddenpool.serve.served import ServedModel, ServedStrategy, normalized

__all__ = ["TRUNCATED_HEADER", "ServeSettings", "create_app"]

TRUNCATED_HEADER = "X-Hiddenpool-Truncated"


@dataclass(frozen=True)
class ServeSettings:
    """Limits and batching of one server.

    Attributes:
        engine: batching and queue settings.
        max_inputs: texts per request (OpenAI's own limit is 2048).
        max_input_chars: characters per text.
        max_body_bytes: bytes per request body.
        api_key: a bearer token every route but ``/health`` requires; None: no auth.
    """

    engine: EngineSettings = field(default_factory=EngineSettings)
    max_inputs: int = 2048
    max_input_chars: int = 100_000
    max_body_bytes: int = 8 * 1024 * 1024
    api_key: str | None = None


def _texts(value: Any, name: str) -> list[str]:
    """A request's texts as a list, refusing empty lists."""
    if isinstance(value, str):
        return [value]
    if not value:
        message = f"{name} must not be empty: give a text or a list of texts"
        raise ApiError(400, message, param=name)
    return list(value)


def _inputs(value: Any, name: str, vocabulary: int) -> tuple[Kind, list[Any]]:
    """OpenAI's ``input``: texts, or token ids (one list of ints, or a list of them).

    Token ids must be ids of the served model's tokenizer (see :mod:`.token_ids`).
    """
    texts = _texts(value, name)
    if isinstance(texts[0], str):
        return "embed", texts
    single = isinstance(texts[0], int)
    lists: list[list[int]] = [texts] if single else texts
    for i, ids in enumerate(lists):
        for j, token in enumerate(ids):
            if not 0 <= token < vocabulary:
                where = f"{name}[{j}]" if single else f"{name}[{i}][{j}]"
                raise ApiError(
                    400,
                    f"{where} is token id {token}; this model's tokenizer has ids 0 to "
                    f"{vocabulary - 1}",
                    param=name,
                    code="invalid_token_id",
                )
    return "ids", [list(ids) for ids in lists]


def _served_vectors(
    strategy: ServedStrategy, pooled: np.ndarray, dimensions: int | None
) -> np.ndarray:
    """A strategy's vectors from pooled ones, cut to ``dimensions`` (then re-normalised when
    the strategy's vectors are unit length)."""
    if strategy.stages is None:  # cut first, then the model's normalisation
        vectors = pooled if dimensions is None else pooled[:, :dimensions]
        return normalized(np.ascontiguousarray(vectors)) if strategy.normalize else vectors
    vectors = strategy.finish(pooled)
    if dimensions is not None:
        vectors = vectors[:, :dimensions]
        if strategy.unit:
            vectors = normalized(np.ascontiguousarray(vectors))
    return vectors


def _validation_message(error: RequestValidationError) -> str:
    problems = error.errors()
    for problem in problems:
        if problem.get("type") == "json_invalid":
            reason = problem.get("ctx", {}).get("error", "parse error")
            return f"the body is not valid JSON ({reason})"
    for problem in problems:  # a validator's own message (texts UTF-8 cannot hold)
        if problem.get("type") == "value_error":
            return str(problem.get("ctx", {}).get("error", problem.get("msg", "invalid")))
    fields = []
    for problem in problems:
        loc = [str(p) for p in problem.get("loc", ()) if p != "body"]
        fields.append(loc[0] if loc else "body")
    field = fields[0] if fields else "body"
    if field == "input":
        return (
            "input must be a string or a list of strings, or token ids (a list of ints, or a "
            "list of lists of ints)"
        )
    if field == "inputs":
        return f"{field} must be a string or a list of strings"
    first = problems[0] if problems else {}
    return f"{field}: {first.get('msg', 'invalid')}"


class _Routes:
    """The handlers, bound to one served model, engine and settings."""

    def __init__(self, served: ServedModel, engine: Engine, settings: ServeSettings) -> None:
        self.served = served
        self.engine = engine
        self.settings = settings

    def strategy(self, requested: str | None, field: str = "model") -> ServedStrategy:
        try:
            return self.served.lookup(requested)
        except KeyError as error:
            raise ApiError(404, str(error.args[0]), param=field, code="model_not_found") from None

    def check_limits(self, texts: list[Any], field: str) -> None:
        limit = self.settings.max_inputs
        if len(texts) > limit:
            raise ApiError(
                413,
                f"{len(texts)} inputs in one request; the limit is {limit} (max_inputs)",
                param=field,
                code="max_inputs",
            )
        chars = self.settings.max_input_chars
        for i, text in enumerate(texts):
            if len(text) > chars:
                unit = "characters" if isinstance(text, str) else "token ids"
                raise ApiError(
                    413,
                    f"{field}[{i}] has {len(text)} {unit}; the limit is {chars} (max_input_chars)",
                    param=field,
                    code="max_input_chars",
                )

    async def run(
        self, texts: list[Any], spec: str, kind: Kind = "embed", side: Side = "document"
    ) -> Rows:
        try:
            return await self.engine.submit(texts, spec, kind, side)
        except QueueFull as error:
            raise ApiError(
                429, str(error), code="queue_full", headers={"Retry-After": str(error.retry_after)}
            ) from None
        except RuntimeError as error:
            raise ApiError(503, str(error), code="shutting_down") from None

    def refuse_truncated(self, rows: Rows, truncate: bool | None, field: str) -> None:
        if truncate is False and rows.truncated.any():
            first = int(np.flatnonzero(rows.truncated)[0])
            raise ApiError(
                413,
                f"{field}[{first}] is longer than the model's {self.served.max_length} tokens and "
                "the request asked not to truncate (truncate: false)",
                param=field,
                code="input_too_long",
            )

    def headers(self, rows: Rows) -> dict[str, str]:
        count = int(rows.truncated.sum())
        return {TRUNCATED_HEADER: str(count)} if count else {}

    async def openai(self, body: EmbeddingRequest) -> Response:
        kind, inputs = _inputs(body.input, "input", self.served.vocabulary_size)
        strategy = self.strategy(body.model)
        self.check_limits(inputs, "input")
        self.check_dimensions(strategy, body.dimensions)
        side: Side = body.input_type or "document"
        if kind == "ids" and self.served.template_of(strategy.spec, side) is not None:
            raise ApiError(
                400,
                f"{strategy.name} places {side} text in a prompt template; token-id inputs take "
                "none: send text, or pick a strategy without a template",
                param="input",
                code="token_ids_with_template",
            )
        rows = await self.run(inputs, strategy.pooling, kind, side)
        self.refuse_truncated(rows, body.truncate, "input")
        vectors = _served_vectors(strategy, rows.values, body.dimensions)
        data = [
            {"object": "embedding", "index": i, "embedding": _encode(v, body.encoding_format)}
            for i, v in enumerate(vectors)
        ]
        content = {
            "object": "list",
            "data": data,
            "model": strategy.name,
            "usage": {"prompt_tokens": rows.tokens, "total_tokens": rows.tokens},
        }
        return _json(content, self.headers(rows))

    def check_dimensions(self, strategy: ServedStrategy, dimensions: int | None) -> None:
        if dimensions is None:
            return
        if strategy.dtype != "float32":
            raise ApiError(
                400,
                f"dimensions cuts float vectors; {strategy.name} gives {strategy.dtype} values",
                param="dimensions",
            )
        if dimensions > strategy.width:
            raise ApiError(
                400,
                f"dimensions {dimensions} is more than {strategy.name}'s width {strategy.width}",
                param="dimensions",
            )

    async def tei(self, body: TeiEmbedRequest) -> Response:
        texts = _texts(body.inputs, "inputs")
        strategy = self.strategy(body.model)
        self.check_limits(texts, "inputs")
        if strategy.stages is not None and "normalize" in body.model_fields_set:
            raise ApiError(
                400,
                f"{strategy.name} ends in its own stages, which decide its output; normalize "
                "applies to strategies without stages (add '| normalize' to the spec)",
                param="normalize",
            )
        rows = await self.run(texts, strategy.pooling, side=body.prompt_name or "document")
        self.refuse_truncated(rows, body.truncate, "inputs")
        if strategy.stages is not None:
            vectors = strategy.finish(rows.values)
        else:
            vectors = normalized(rows.values) if body.normalize else rows.values
        return _json(vectors.tolist(), self.headers(rows))

    async def predict(self, body: PredictRequest) -> Response:
        model = self.served.predictor
        if model is None:
            raise ApiError(
                404,
                f"{self.served.name} has no trained head: /predict serves models saved by "
                "`hiddenpool train`",
                code="no_head",
            )
        texts = _texts(body.inputs, "inputs")
        self.check_limits(texts, "inputs")
        rows = await self.run(texts, "", "predict")
        config = model.pooled_config
        content = {
            "model": self.served.name,
            "task": config.task,
            "labels": list(config.labels),
            "predictions": rows.values.tolist(),
        }
        return _json(content, {})

    def models(self) -> dict[str, Any]:
        return {
            "object": "list",
            "data": [
                {
                    "id": s.name,
                    "object": "model",
                    "created": 0,
                    "owned_by": "hiddenpool",
                    "spec": s.spec,
                    "width": s.width,
                    "normalize": s.normalize,
                    "dtype": s.dtype,
                    "pooling_source": s.source,
                    "default": s is self.served.default,
                }
                for s in self.served.strategies
            ],
        }


def _encode(vector: np.ndarray, encoding: str) -> Any:
    """float: JSON numbers (integers for an int8/uint8/binary strategy); base64: little-endian
    float32 bytes, always (OpenAI's clients decode base64 as float32; integers are exact in it)."""
    if encoding == "base64":
        return base64.b64encode(vector.astype("<f4").tobytes()).decode("ascii")
    return vector.tolist()


def _json(content: Any, headers: dict[str, str]) -> Response:
    text = json.dumps(content, separators=(",", ":"), allow_nan=False)
    return Response(text.encode("utf-8"), media_type="application/json", headers=headers)


def create_app(served: ServedModel, settings: ServeSettings | None = None) -> FastAPI:
    """The FastAPI application serving ``served`` (the engine starts with the app's lifespan).

    >>> app = create_app(load_served_model())  # doctest: +SKIP
    >>> uvicorn.run(app, host="127.0.0.1", port=8080)  # doctest: +SKIP
    """
    settings = settings or ServeSettings()
    metrics = ServeMetrics()
    engine = Engine(served, settings.engine, metrics)
    routes = _Routes(served, engine, settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await engine.start()
        try:
            yield
        finally:
            await engine.stop()

    app = FastAPI(
        title="hiddenpool serve",
        description=f"Embeddings of {served.name} with any hiddenpool pooling strategy "
        "(OpenAI- and text-embeddings-inference-compatible).",
        lifespan=lifespan,
    )
    app.state.engine = engine
    app.state.metrics = metrics
    app.state.served = served

    @app.exception_handler(ApiError)
    async def api_error(request: Request, error: ApiError) -> Response:
        return JSONResponse(
            error_body(error, request.url.path), error.status, headers=error.headers
        )

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, error: StarletteHTTPException) -> Response:
        """FastAPI's own refusals (a body it cannot parse, an unknown route) in the API's shape."""
        message = str(error.detail)
        if error.status_code == 400:  # FastAPI could not decode the body
            message = f"the body is not valid JSON ({message.lower()}; send UTF-8 JSON)"
        wrapped = ApiError(error.status_code, message, code="invalid_request")
        return JSONResponse(
            error_body(wrapped, request.url.path), error.status_code, headers=error.headers
        )

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, error: RequestValidationError) -> Response:
        status = 422 if request.url.path.rstrip("/") == "/embed" else 400
        wrapped = ApiError(status, _validation_message(error), code="invalid_request")
        return JSONResponse(error_body(wrapped, request.url.path), status)

    @app.post("/v1/embeddings", response_model=None, summary="OpenAI-compatible embeddings")
    async def embeddings(body: EmbeddingRequest) -> Response:
        return await routes.openai(body)

    @app.post("/embed", response_model=None, summary="text-embeddings-inference-compatible")
    async def embed(body: TeiEmbedRequest) -> Response:
        return await routes.tei(body)

    @app.post("/predict", response_model=None, summary="a trained model's head predictions")
    async def predict(body: PredictRequest) -> Response:
        return await routes.predict(body)

    @app.get("/v1/models", summary="the served strategies and their widths")
    async def models() -> dict[str, Any]:
        return routes.models()

    @app.get("/health", summary="liveness (no API key needed)")
    async def health() -> dict[str, Any]:
        return {"status": "ok", "model": served.name, "queued_texts": engine.queued_texts}

    @app.get("/metrics", summary="Prometheus metrics")
    async def prometheus() -> Response:
        return Response(metrics.render(), media_type=CONTENT_TYPE)

    known = {route.path for route in app.routes if hasattr(route, "path")}
    app.add_middleware(Guard, settings=settings, metrics=metrics, known=known)
    app.state.started = time.time()
    return app
