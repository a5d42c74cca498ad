"""Call an ASGI app in-process, with its lifespan, and no HTTP client library or socket.

``with AsgiClient(create_app(served)) as client: client.post("/embed", {...})`` runs the app's
startup (the serve engine) once, then each request to completion on the same event loop; what
comes back is (status, headers lower-cased, decoded JSON or text), as ``serve_helpers.request``.
"""

from __future__ import annotations

import asyncio
import json
from types import TracebackType
from typing import Any


class AsgiClient:
    def __init__(self, app: Any) -> None:
        self.app = app
        self.loop = asyncio.new_event_loop()
        self._lifespan: Any = None

    def __enter__(self) -> AsgiClient:
        self._lifespan = self.app.router.lifespan_context(self.app)
        self.loop.run_until_complete(self._lifespan.__aenter__())
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        try:
            self.loop.run_until_complete(self._lifespan.__aexit__(kind, error, trace))
        finally:
            self.loop.close()

    def post(
        self, path: str, body: Any = None, *, raw: bytes | None = None, headers: dict | None = None
    ) -> tuple[int, dict[str, str], Any]:
        data = raw if raw is not None else json.dumps(body).encode()
        return self.loop.run_until_complete(self._call("POST", path, data, headers or {}))

    def get(self, path: str) -> tuple[int, dict[str, str], Any]:
        return self.loop.run_until_complete(self._call("GET", path, b"", {}))

    async def _call(
        self, method: str, path: str, body: bytes, headers: dict[str, str]
    ) -> tuple[int, dict[str, str], Any]:
        sent = {"content-type": "application/json", "content-length": str(len(body)), **headers}
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": method,
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "query_string": b"",
            "root_path": "",
            "headers": [(k.lower().encode(), v.encode()) for k, v in sent.items()],
            "client": ("127.0.0.1", 1),
            "server": ("test", 80),
        }
        done = asyncio.Event()
        delivered = False

        async def receive() -> dict[str, Any]:
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": body, "more_body": False}
            await done.wait()
            return {"type": "http.disconnect"}

        start: dict[str, Any] = {}
        chunks: list[bytes] = []

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                start.update(message)
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
                if not message.get("more_body", False):
                    done.set()

        await self.app(scope, receive, send)
        done.set()
        got = {k.decode().lower(): v.decode() for k, v in start.get("headers", [])}
        text = b"".join(chunks).decode("utf-8")
        is_json = got.get("content-type", "").startswith("application/json")
        return int(start["status"]), got, json.loads(text) if is_json else text
