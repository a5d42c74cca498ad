"""Helpers of the serve tests: a free loopback port, a server in a thread, plain HTTP calls.

A module of its own (not conftest.py), so that ``from serve_helpers import ...`` cannot resolve
to another folder's conftest.
"""

from __future__ import annotations

import http.client
import json
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import uvicorn


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def running(app: Any) -> Iterator[int]:
    """Serve ``app`` with uvicorn in a thread; yields the port; stops (draining) on exit."""
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.01)
    try:
        yield port
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def request(
    port: int,
    method: str,
    path: str,
    body: Any = None,
    headers: dict[str, str] | None = None,
    raw: bytes | None = None,
) -> tuple[int, dict[str, str], Any]:
    """(status, headers lower-cased, decoded JSON or text) of one request."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    sent = {"Content-Type": "application/json", **(headers or {})}
    conn.request(method, path, body=data, headers=sent)
    response = conn.getresponse()
    payload = response.read()
    out_headers = {k.lower(): v for k, v in response.getheaders()}
    conn.close()
    if out_headers.get("content-type", "").startswith("application/json"):
        return response.status, out_headers, json.loads(payload)
    return response.status, out_headers, payload.decode()


def post(port: int, path: str, body: Any, **kwargs: Any) -> tuple[int, dict[str, str], Any]:
    return request(port, "POST", path, body, **kwargs)


def st_folder(model: Path, target: Path, modes: dict[str, bool], normalize: bool) -> Path:
    """A sentence-transformers folder around checkpoint ``model``: Pooling (+ Normalize)."""
    shutil.copytree(model, target)
    kinds = ["Transformer", "Pooling", "Normalize"][: 3 if normalize else 2]
    paths = ["", "1_Pooling", "2_Normalize"]
    modules = [
        {"idx": i, "name": str(i), "path": paths[i], "type": f"sentence_transformers.models.{kind}"}
        for i, kind in enumerate(kinds)
    ]
    for path in paths[1 : len(kinds)]:
        (target / path).mkdir()
    (target / "1_Pooling" / "config.json").write_text(
        json.dumps({"word_embedding_dimension": 32, **modes})
    )
    (target / "modules.json").write_text(json.dumps(modules))
    return target
