"""``hiddenpool serve``: any strategy behind OpenAI- and text-embeddings-inference-compatible APIs.

- :mod:`.served`: the loaded model, its named strategies and where each pooling came from;
- :mod:`.engine`: the bounded queue and dynamic batching across requests (one model thread);
- :mod:`.token_ids`: OpenAI's token-id inputs, as windows of the served model's tokenizer;
- :mod:`.schemas`: request bodies and API-shaped errors;
- :mod:`.guard`: API key, body limit and request metrics, before any route;
- :mod:`.metrics`: Prometheus metrics;
- :mod:`.app`: the FastAPI application;
- :mod:`.identify`: which strategy produced vectors made elsewhere (needs no server library).

The server needs ``pip install hiddenpool[serve]`` (FastAPI, uvicorn, prometheus-client); names
are resolved on first use (PEP 562), so ``hiddenpool.serve.identify`` imports without them.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = [
    "TRUNCATED_HEADER",
    "Engine",
    "EngineSettings",
    "QueueFull",
    "ServeSettings",
    "ServedModel",
    "ServedStrategy",
    "create_app",
    "load_served_model",
]

_HOMES = {
    "TRUNCATED_HEADER": "hiddenpool.serve.app",
    "ServeSettings": "hiddenpool.serve.app",
    "create_app": "hiddenpool.serve.app",
    "Engine": "hiddenpool.serve.engine",
    "EngineSettings": "hiddenpool.serve.engine",
    "QueueFull": "hiddenpool.serve.engine",
    "ServedModel": "hiddenpool.serve.served",
    "ServedStrategy": "hiddenpool.serve.served",
    "load_served_model": "hiddenpool.serve.served",
}


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module 'hiddenpool.serve' has no attribute {name!r}")
    value = getattr(importlib.import_module(_HOMES[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
