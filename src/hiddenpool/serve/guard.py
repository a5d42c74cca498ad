"""The server's front door, one ASGI middleware: the API key, the body limit, request metrics.

It runs before any route: a request without the bearer token (when one is set) gets 401, a body
over the limit gets 413 (from its Content-Length before reading, or while reading a chunked
body), and every request's route, status and latency go to the metrics.
"""

from __future__ import annotations

import hmac
import time
from typing import Any, Protocol

from fastapi.responses import JSONResponse
from starlette.types import Message, Receive, Scope, Send

from hiddenpool.serve.metrics import ServeMetrics
from hiddenpool.serve.schemas import ApiError, error_body

__all__ = ["Guard", "GuardLimits"]

_OPEN = frozenset({"/health"})  # no API key needed


class GuardLimits(Protocol):
    """What the guard reads of the server's settings (:class:`~.app.ServeSettings` has both).

    A protocol, not an import: ``app`` imports this module, so this one may not import ``app``.
    """

    @property
    def api_key(self) -> str | None: ...

    @property
    def max_body_bytes(self) -> int: ...


class Guard:
    """ASGI middleware: authentication, body size, metrics.

    Args:
        app: the wrapped application.
        settings: the server's limits and API key.
        metrics: where request counts and latencies go.
        known: route paths counted under their own name (others count as ``other``).
    """

    def __init__(
        self, app: Any, settings: GuardLimits, metrics: ServeMetrics, known: set[str]
    ) -> None:
        self.app = app
        self.settings = settings
        self.metrics = metrics
        self.known = known
        key = settings.api_key
        self._key = f"Bearer {key}".encode() if key else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        route = path if path in self.known else "other"
        started = time.perf_counter()
        status = {"code": 500}

        async def send_counted(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        try:
            refusal = self._refusal(scope)
            if refusal is None:
                refusal, receive = await self._read_body(scope, receive)
            if refusal is not None:
                response = JSONResponse(
                    error_body(refusal, path), refusal.status, headers=refusal.headers
                )
                await response(scope, receive, send_counted)
            else:
                await self.app(scope, receive, send_counted)
        finally:
            self.metrics.requests.labels(route, str(status["code"])).inc()
            self.metrics.latency.labels(route).observe(time.perf_counter() - started)

    def _refusal(self, scope: Scope) -> ApiError | None:
        headers = dict(scope.get("headers") or [])
        if self._key is not None and scope["path"] not in _OPEN:
            given = headers.get(b"authorization", b"")
            if not hmac.compare_digest(given, self._key):
                return ApiError(
                    401,
                    "missing or wrong API key: send Authorization: Bearer <key>",
                    code="invalid_api_key",
                    headers={"WWW-Authenticate": "Bearer"},
                )
        length = headers.get(b"content-length")
        if length is not None and length.isdigit() and int(length) > self.settings.max_body_bytes:
            return self._too_large(int(length))
        return None

    def _too_large(self, size: int | None) -> ApiError:
        limit = self.settings.max_body_bytes
        said = f"{size} bytes" if size is not None else "more bytes than allowed"
        return ApiError(
            413, f"request body of {said}; the limit is {limit} (max_body_bytes)", code="max_body"
        )

    async def _read_body(self, scope: Scope, receive: Receive) -> tuple[ApiError | None, Receive]:
        """Read the whole body under the limit; return a receive that replays it."""
        if scope.get("method") not in ("POST", "PUT", "PATCH"):
            return None, receive
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return None, _replay([message])
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.settings.max_body_bytes:
                return self._too_large(None), receive
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = {"type": "http.request", "body": b"".join(chunks), "more_body": False}
        return None, _replay([body])


def _replay(messages: list[Message]) -> Receive:
    queue = list(messages)

    async def receive() -> Message:
        if queue:
            return queue.pop(0)
        return {"type": "http.disconnect"}

    return receive
