"""Dynamic batching across requests: many requests' texts go through the model together.

Requests wait in a bounded queue. One model thread (the only one that runs the model: a
backbone's capture hooks are per call) takes the oldest request and every request queued behind
it (of the same kind) while their estimated tokens fit ``max_group_tokens``. When the queue holds
fewer requests than the last group had (their clients are likely on their way back with the next
ones), it waits at most ``max_wait_ms`` for them; a lone client (last group: one request) is
never held back, and many clients fill whole batches instead of fragments. The group
runs through :meth:`ServedModel.embed`, i.e. :meth:`Encoder.embed`: the texts are sorted by length
and cut into forward passes of at most ``max_batch_tokens`` padded tokens, as ``hiddenpool embed``
cuts them. Each request gets its own rows back, in its own order.

Groups are larger than passes on purpose: sorting many requests' texts together and cutting them
into small passes pads little. On one CPU thread, 512 padded tokens per pass cost 40% less per
text than 4096 for groups of 32 short texts (whose longest pads the rest), see bench/README.md.

The model thread pulls its next group itself as soon as a run ends (no round trip through the
event loop, which may be busy writing responses), and hands results back with
``call_soon_threadsafe``; the event loop only queues requests and writes answers.

A full queue refuses new work (:class:`QueueFull`, HTTP 429 with ``Retry-After``) instead of
letting latency grow without bound.
"""

from __future__ import annotations

import asyncio
import math
import threading
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from hiddenpool.pooling.spec import Side
from hiddenpool.serve.metrics import ServeMetrics
from hiddenpool.serve.served import ServedModel

__all__ = ["CPU_BATCH_TOKENS", "Engine", "EngineSettings", "QueueFull", "Rows"]

CPU_BATCH_TOKENS = 512  # padded tokens per pass on a CPU (measured: bench/README.md)

Kind = Literal["embed", "ids", "predict"]  # texts, token ids, a trained head's predictions


class QueueFull(Exception):
    """The queue holds ``max_queue`` texts already; retry after ``retry_after`` seconds."""

    def __init__(self, queued: int, limit: int, retry_after: int) -> None:
        super().__init__(
            f"the server is at capacity: {queued} texts queued (max_queue {limit}); "
            f"retry after {retry_after} s"
        )
        self.retry_after = retry_after


@dataclass(frozen=True)
class EngineSettings:
    """Batching and back-pressure.

    Attributes:
        max_batch_tokens: padded tokens per forward pass.
        max_group_tokens: estimated tokens of the requests packed into one group (sorted by
            length together, then cut into passes).
        max_wait_ms: how long the model thread waits for more requests when the queue holds
            fewer than the last group had (and less than ``max_group_tokens``).
        max_queue: texts that may wait; beyond it requests are refused (429).
    """

    max_batch_tokens: int = CPU_BATCH_TOKENS
    max_group_tokens: int = 4096
    max_wait_ms: float = 10.0
    max_queue: int = 2048


@dataclass(frozen=True)
class Rows:
    """One request's share of a group: vectors (or predictions) in its order, and counts."""

    values: np.ndarray
    tokens: int
    truncated: np.ndarray


@dataclass
class _Job:
    kind: Kind
    texts: list[Any]  # strings, or token-id lists for kind "ids"
    spec: str
    cost: int
    future: asyncio.Future[Rows]
    side: Side = "document"
    queued_at: float = field(default_factory=time.perf_counter)


class Engine:
    """The request queue and the model thread that packs requests into batches.

    Use as ``await engine.start()`` ... ``await engine.submit(texts, spec)`` ...
    ``await engine.stop()`` (which finishes every queued request first).
    """

    def __init__(
        self, served: ServedModel, settings: EngineSettings, metrics: ServeMetrics
    ) -> None:
        self.served = served
        self.settings = settings
        self.metrics = metrics
        self._pending: deque[_Job] = deque()
        self._queued_texts = 0
        self._ready = threading.Condition()  # guards _pending, _queued_texts, _closing
        self._closing = False
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._rate = 0.0  # texts per second of the last group, for Retry-After
        self._expected = 1  # requests of the last group: how many to wait for (max_wait_ms)

    @property
    def queued_texts(self) -> int:
        return self._queued_texts

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._closing = False
        self._thread = threading.Thread(target=self._work, name="hiddenpool-model", daemon=True)
        self._thread.start()

    async def stop(self) -> None:
        """Stop taking work, finish everything queued, end the model thread."""
        with self._ready:
            self._closing = True
            self._ready.notify_all()
        if self._thread is not None:
            await asyncio.to_thread(self._thread.join)

    def _estimate(self, texts: Sequence[Any]) -> int:
        """Rough tokens (about four characters a token, plus specials), only for grouping."""
        cap = self.served.max_length
        return sum(
            min(cap, len(text) // (1 if isinstance(text, list) else 4) + 2) for text in texts
        )

    async def submit(
        self, texts: list[Any], spec: str, kind: Kind = "embed", side: Side = "document"
    ) -> Rows:
        """Queue ``texts`` (embedded as ``side``: a two-sided spec's query or document side) and
        wait for their rows.

        Raises:
            QueueFull: the queue is full (nothing was queued).
            RuntimeError: the engine is shutting down.
        """
        future: asyncio.Future[Rows] = asyncio.get_running_loop().create_future()
        job = _Job(kind, texts, spec, self._estimate(texts), future, side=side)
        limit = self.settings.max_queue
        with self._ready:
            if self._closing:
                raise RuntimeError("the server is shutting down")
            if self._queued_texts and self._queued_texts + len(texts) > limit:
                self.metrics.rejected.inc()
                raise QueueFull(self._queued_texts, limit, self._retry_after())
            self._pending.append(job)
            self._queued_texts += len(texts)
            self.metrics.queue_depth.set(self._queued_texts)
            self._ready.notify()
        return await future

    def _retry_after(self) -> int:
        if self._rate <= 0:
            return 1
        return max(1, math.ceil(self._queued_texts / self._rate))

    def _work(self) -> None:
        """The model thread: take a group, run it, hand each request its rows; until closed."""
        while (group := self._take()) is not None:
            texts = sum(len(job.texts) for job in group)
            started = time.perf_counter()
            try:
                results = self._run(group)
            except Exception as error:  # the model failed: every request of the group hears it
                for job in group:
                    self._settle(job.future, error)
                continue
            elapsed = max(time.perf_counter() - started, 1e-9)
            self._rate = texts / elapsed
            self._expected = len(group)
            self.metrics.observe_group(len(group), texts, sum(r.tokens for r in results), elapsed)
            for job, rows in zip(group, results, strict=True):
                self._settle(job.future, rows)

    def _settle(self, future: asyncio.Future[Rows], outcome: Rows | Exception) -> None:
        assert self._loop is not None
        self._loop.call_soon_threadsafe(_set_outcome, future, outcome)

    def _take(self) -> list[_Job] | None:
        """The next group (blocks until there is one); None once closed and drained."""
        budget = self.settings.max_group_tokens
        with self._ready:
            while True:
                while not self._pending:
                    if self._closing:
                        return None
                    self._ready.wait()
                deadline = time.monotonic() + self.settings.max_wait_ms / 1000
                group: list[_Job] = []
                cost = 0
                while True:
                    while self._pending and self._fits(group, cost, self._pending[0]):
                        job = self._pending.popleft()
                        self._queued_texts -= len(job.texts)
                        if job.future.cancelled():  # its client went away before it ran
                            continue
                        group.append(job)
                        cost += job.cost
                    remaining = deadline - time.monotonic()
                    full = bool(self._pending) or cost >= budget or len(group) >= self._expected
                    if full or self._closing or remaining <= 0:
                        break
                    self._ready.wait(remaining)
                self.metrics.queue_depth.set(self._queued_texts)
                if group:
                    return group

    def _fits(self, group: list[_Job], cost: int, job: _Job) -> bool:
        if not group:
            return True
        first = group[0]
        if job.kind != first.kind or cost + job.cost > self.settings.max_group_tokens:
            return False
        if job.side != first.side:  # one side per run: a spec's vectors are those of one side
            return False
        template = self.served.template_of  # texts in another template run another pass
        return job.kind != "embed" or template(job.spec, job.side) == template(
            first.spec, first.side
        )

    def _run(self, group: list[_Job]) -> list[Rows]:
        """In the model thread: the group's inputs through the model, split back per request."""
        inputs = [text for job in group for text in job.texts]
        budget = self.settings.max_batch_tokens
        if group[0].kind == "predict":
            values = self.served.predict(inputs, budget)
            return _split(group, {"": values}, np.zeros(len(group), np.int64), None)
        specs = list(dict.fromkeys(job.spec for job in group))
        sizes = [len(job.texts) for job in group]
        side = group[0].side
        if group[0].kind == "ids":
            result = self.served.embed_ids(inputs, specs, budget, sizes, side=side)
        else:
            result = self.served.embed(inputs, specs, budget, sizes, side=side)
        return _split(group, result.vectors, result.tokens, result.truncated)


def _set_outcome(future: asyncio.Future[Rows], outcome: Rows | Exception) -> None:
    """On the event loop: answer a request unless its client went away (future cancelled)."""
    if future.done():
        return
    if isinstance(outcome, Exception):
        future.set_exception(outcome)
    else:
        future.set_result(outcome)


def _split(
    group: list[_Job],
    values: dict[str, np.ndarray],
    tokens: np.ndarray,
    truncated: np.ndarray | None,
) -> list[Rows]:
    """Each request's rows of the group's outputs; ``tokens`` holds one count per request."""
    out: list[Rows] = []
    start = 0
    for j, job in enumerate(group):
        stop = start + len(job.texts)
        table: Any = values[""] if job.kind == "predict" else values[job.spec]
        cut = truncated[start:stop] if truncated is not None else np.zeros(stop - start, bool)
        out.append(Rows(table[start:stop], int(tokens[j]), cut))
        start = stop
    return out
