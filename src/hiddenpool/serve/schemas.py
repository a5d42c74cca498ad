"""Request bodies of the three APIs, and errors shaped as each API's clients expect.

- ``POST /v1/embeddings`` follows OpenAI's embeddings API, so the official ``openai`` client
  works with ``base_url`` pointed here (errors: ``{"error": {"message", "type", "param",
  "code"}}``).
- ``POST /embed`` follows text-embeddings-inference (``inputs``, ``normalize``, ``truncate``;
  errors: ``{"error", "error_type"}``).
- ``POST /predict`` returns the trained head's predictions of a ``hiddenpool train`` model.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = ["ApiError", "EmbeddingRequest", "PredictRequest", "TeiEmbedRequest", "error_body"]

_TEI_TYPES = {400: "Validation", 401: "Unauthorized", 413: "Validation", 422: "Validation"}
_TEI_TYPES.update({404: "Validation", 429: "Overloaded", 500: "Backend", 503: "Unhealthy"})


class ApiError(Exception):
    """An error answered with ``status`` and a JSON body in the route's API shape.

    Args:
        status: HTTP status.
        message: what was wrong and what is expected.
        param: the request field at fault, if one.
        code: a short machine-readable code (``max_inputs``, ``queue_full``, ...).
        headers: extra response headers (``Retry-After``).
    """

    def __init__(
        self,
        status: int,
        message: str,
        *,
        param: str | None = None,
        code: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.param = param
        self.code = code
        self.headers = headers or {}


def error_body(error: ApiError, path: str) -> dict[str, Any]:
    """The JSON error body for ``path``: TEI's shape on ``/embed``, OpenAI's elsewhere."""
    if path.rstrip("/") == "/embed":
        return {"error": error.message, "error_type": _TEI_TYPES.get(error.status, "Validation")}
    kind = "invalid_request_error"
    if error.status == 401:
        kind = "authentication_error"
    elif error.status == 429:
        kind = "rate_limit_error"
    elif error.status >= 500:
        kind = "server_error"
    return {
        "error": {"message": error.message, "type": kind, "param": error.param, "code": error.code}
    }


def _unicode(value: Any, name: str) -> Any:
    """``value`` (a text or a list of them) if UTF-8 can hold every text: JSON's ``\\ud800``
    escapes give lone surrogates, which no tokenizer can read."""
    texts = [value] if isinstance(value, str) else value
    for i, text in enumerate(texts):
        if isinstance(text, str):
            try:
                text.encode("utf-8")
            except UnicodeEncodeError as error:
                where = name if isinstance(value, str) else f"{name}[{i}]"
                raise ValueError(
                    f"{where} holds a lone surrogate {text[error.start]!r} (an unpaired JSON "
                    "escape such as \\ud800): send valid Unicode text"
                ) from None
    return value


class EmbeddingRequest(BaseModel):
    """OpenAI's embeddings request; token-id inputs are ids of the served model's tokenizer."""

    model_config = ConfigDict(extra="ignore")

    input: str | list[str] | list[int] | list[list[int]] = Field(
        description="a text, a list of texts, or token ids of the served model's tokenizer (a "
        "list of ints, or a list of them; without special tokens: the server adds them as the "
        "tokenizer adds them to a text)"
    )
    model: str | None = Field(
        default=None,
        description="the served model name (its default strategy) or MODEL:SPEC, one of "
        "GET /v1/models",
    )
    encoding_format: Literal["float", "base64"] = Field(
        default="float",
        description="float: JSON numbers (integers for an int8/binary strategy); base64: "
        "little-endian float32 bytes (of those integers too)",
    )
    dimensions: int | None = Field(
        default=None,
        ge=1,
        description="keep the first N values (re-normalised when the strategy normalises)",
    )
    user: str | None = None
    truncate: bool = Field(
        default=True,
        description="hiddenpool extension: false answers 413 for an input over the model's "
        "max length instead of truncating it",
    )
    input_type: Literal["query", "document"] | None = Field(
        default=None,
        description="embed the inputs as queries or as documents (the default): a strategy "
        "with two sides (query/passage:mean) reads each in its own template; the openai client "
        'sends it as extra_body={"input_type": "query"}',
    )

    @field_validator("input")
    @classmethod
    def _valid_unicode(cls, value: Any) -> Any:
        return _unicode(value, "input")


class TeiEmbedRequest(BaseModel):
    """text-embeddings-inference's ``/embed`` request."""

    model_config = ConfigDict(extra="ignore")

    inputs: str | list[str] = Field(description="a text or a list of texts")
    normalize: bool = Field(default=True, description="L2-normalise (TEI's default: true)")
    truncate: bool | None = Field(
        default=None,
        description="false: 413 for an input over the max length; absent or true: truncate",
    )
    model: str | None = Field(
        default=None, description="hiddenpool extension: MODEL:SPEC of a served strategy"
    )
    prompt_name: Literal["query", "document"] | None = Field(
        default=None,
        description="the side the inputs are embedded as: query, or document (the default), "
        "as sentence-transformers names its prompts",
    )

    @field_validator("inputs")
    @classmethod
    def _valid_unicode(cls, value: Any) -> Any:
        return _unicode(value, "inputs")


class PredictRequest(BaseModel):
    """Predictions of a trained model's head."""

    model_config = ConfigDict(extra="ignore")

    inputs: str | list[str] = Field(description="a text or a list of texts")

    @field_validator("inputs")
    @classmethod
    def _valid_unicode(cls, value: Any) -> Any:
        return _unicode(value, "inputs")
