"""``hiddenpool serve``: any strategy behind OpenAI- and text-embeddings-inference-compatible APIs.

- :mod:`.served`: the loaded model, its named strategies and where each pooling came from;
- :mod:`.engine`: the bounded queue and dynamic batching across requests;
- :mod:`.schemas`: request bodies and API-shaped errors;
- :mod:`.guard`: API key, body limit and request metrics, before any route;
- :mod:`.metrics`: Prometheus metrics;
- :mod:`.app`: the FastAPI application;
- :mod:`.identify`: which strategy produced vectors made elsewhere.

Needs ``pip install hiddenpool[serve]`` (FastAPI, uvicorn, prometheus-client).
"""

from hiddenpool.serve.app import TRUNCATED_HEADER, ServeSettings, create_app
from hiddenpool.serve.engine import Engine, EngineSettings, QueueFull
from hiddenpool.serve.served import ServedModel, ServedStrategy, load_served_model

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
