"""Prometheus metrics of one server: requests, queue depth, batch sizes, tokens/s, latency.

Each server has its own registry (not the process-wide default), so servers started in one
process (tests) do not share counters.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

__all__ = ["CONTENT_TYPE", "ServeMetrics"]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_SIZES = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096)
_SECONDS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class ServeMetrics:
    """The server's counters, gauges and histograms, rendered in Prometheus' text format."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            "hiddenpool_requests", "HTTP requests", ["route", "status"], registry=r
        )
        self.latency = Histogram(
            "hiddenpool_request_latency_seconds",
            "time from request to response",
            ["route"],
            buckets=_SECONDS,
            registry=r,
        )
        self.queue_depth = Gauge("hiddenpool_queue_depth", "texts waiting", registry=r)
        self.rejected = Counter("hiddenpool_rejected", "requests refused: queue full", registry=r)
        self.batch_texts = Histogram(
            "hiddenpool_batch_texts", "texts per model run", buckets=_SIZES, registry=r
        )
        self.batch_requests = Histogram(
            "hiddenpool_batch_requests", "requests per model run", buckets=_SIZES, registry=r
        )
        self.tokens = Counter("hiddenpool_tokens", "tokens run through the model", registry=r)
        self.tokens_per_second = Gauge(
            "hiddenpool_tokens_per_second", "throughput of the last model run", registry=r
        )

    def observe_group(self, requests: int, texts: int, tokens: int, seconds: float) -> None:
        """Record one model run of ``requests`` requests, ``texts`` texts, ``tokens`` tokens."""
        self.batch_requests.observe(requests)
        self.batch_texts.observe(texts)
        self.tokens.inc(tokens)
        self.tokens_per_second.set(tokens / seconds)

    def render(self) -> bytes:
        return generate_latest(self.registry)
