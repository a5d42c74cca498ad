"""Dynamic batching across requests: many requests' texts go through the model together.

Requests wait in a bounded queue. The worker takes the oldest request and every request queued
behind it (of the same kind) while their estimated tokens fit ``max_batch_tokens``; when the model
is idle it waits at most ``max_wait_ms`` for more, so a lone request is not held back. The group
runs in one worker thread, off the event loop, through :meth:`ServedModel.embed`, i.e.
:meth:`Encoder.embed`: the texts are sorted by length and cut into token-budgeted forward passes
as ``hiddenpool embed`` cuts them. Each request gets its own rows back, in its own order.

A full queue refuses new work (:class:`QueueFull`, HTTP 429 with ``Retry-After``) instead of
letting latency grow without bound.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import deque
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from hiddenpool.serve.metrics import ServeMetrics
from hiddenpool.serve.served import ServedModel

__all__ = ["Engine", "EngineSettings", "QueueFull", "Rows"]

Kind = Literal["embed", "predict"]


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
        max_batch_tokens: padded tokens per forward pass, and the estimated tokens of the
            requests packed into one group.
        max_wait_ms: how long an idle model waits for more requests before running a group.
        max_queue: texts that may wait; beyond it requests are refused (429).
    """

    max_batch_tokens: int = 4096
    max_wait_ms: float = 2.0
    max_queue: int = 4096


@dataclass(frozen=True)
class Rows:
    """One request's share of a group: vectors (or predictions) in its order, and counts."""

    values: np.ndarray
    tokens: int
    truncated: np.ndarray


@dataclass
class _Job:
    kind: Kind
    texts: list[str]
    spec: str
    cost: int
    future: asyncio.Future[Rows]
    queued_at: float = field(default_factory=time.perf_counter)


class Engine:
    """The request queue and the worker that packs requests into batches.

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
        self._wakeup = asyncio.Event()
        self._closing = False
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="hiddenpool-model")
        self._task: asyncio.Task[None] | None = None
        self._rate = 0.0  # texts per second of the last group, for Retry-After

    @property
    def queued_texts(self) -> int:
        return self._queued_texts

    async def start(self) -> None:
        self._wakeup = asyncio.Event()
        self._task = asyncio.get_running_loop().create_task(self._work())

    async def stop(self) -> None:
        """Stop taking work, finish everything queued, release the worker thread."""
        self._closing = True
        self._wakeup.set()
        if self._task is not None:
            await self._task
        self._executor.shutdown(wait=True)

    def _estimate(self, texts: Sequence[str]) -> int:
        """Rough tokens (about four characters a token, plus specials), only for grouping."""
        cap = self.served.max_length
        return sum(min(cap, len(text) // 4 + 2) for text in texts)

    async def submit(self, texts: list[str], spec: str, kind: Kind = "embed") -> Rows:
        """Queue ``texts`` and wait for their rows.

        Raises:
            QueueFull: the queue is full (nothing was queued).
            RuntimeError: the engine is shutting down.
        """
        if self._closing:
            raise RuntimeError("the server is shutting down")
        limit = self.settings.max_queue
        if self._queued_texts and self._queued_texts + len(texts) > limit:
            self.metrics.rejected.inc()
            raise QueueFull(self._queued_texts, limit, self._retry_after())
        future: asyncio.Future[Rows] = asyncio.get_running_loop().create_future()
        self._pending.append(_Job(kind, texts, spec, self._estimate(texts), future))
        self._queued_texts += len(texts)
        self.metrics.queue_depth.set(self._queued_texts)
        self._wakeup.set()
        return await future

    def _retry_after(self) -> int:
        if self._rate <= 0:
            return 1
        return max(1, math.ceil(self._queued_texts / self._rate))

    async def _work(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            group = await self._next_group()
            if group is None:
                return
            texts = sum(len(job.texts) for job in group)
            self._queued_texts -= texts
            self.metrics.queue_depth.set(self._queued_texts)
            started = time.perf_counter()
            try:
                results = await loop.run_in_executor(self._executor, self._run, group)
            except Exception as error:  # the model failed: every request of the group hears it
                for job in group:
                    if not job.future.done():
                        job.future.set_exception(error)
                continue
            elapsed = max(time.perf_counter() - started, 1e-9)
            self._rate = texts / elapsed
            self.metrics.observe_group(len(group), texts, sum(r.tokens for r in results), elapsed)
            for job, rows in zip(group, results, strict=True):
                if not job.future.done():  # a client that went away cancelled its future
                    job.future.set_result(rows)

    async def _next_group(self) -> list[_Job] | None:
        while not self._pending:
            if self._closing:
                return None
            self._wakeup.clear()
            await self._wakeup.wait()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.settings.max_wait_ms / 1000
        group: list[_Job] = []
        cost = 0
        while True:
            while self._pending and self._fits(group, cost, self._pending[0]):
                job = self._pending.popleft()
                if job.future.done():  # abandoned before it ran
                    self._queued_texts -= len(job.texts)
                    continue
                group.append(job)
                cost += job.cost
            full = bool(self._pending) or cost >= self.settings.max_batch_tokens
            remaining = deadline - loop.time()
            if full or self._closing or remaining <= 0:
                break
            self._wakeup.clear()
            try:
                await asyncio.wait_for(self._wakeup.wait(), remaining)
            except TimeoutError:
                break
        return group or await self._next_group()

    def _fits(self, group: list[_Job], cost: int, job: _Job) -> bool:
        if not group:
            return True
        first = group[0]
        if job.kind != first.kind or cost + job.cost > self.settings.max_batch_tokens:
            return False
        template = self.served.template_of  # texts in another template run another pass
        return job.kind != "embed" or template(job.spec) == template(first.spec)

    def _run(self, group: list[_Job]) -> list[Rows]:
        """In the worker thread: the group's texts through the model, split back per request."""
        texts = [text for job in group for text in job.texts]
        budget = self.settings.max_batch_tokens
        if group[0].kind == "predict":
            values = self.served.predict(texts, budget)
            return _split(group, {"": values}, np.zeros(len(group), np.int64), None)
        specs = list(dict.fromkeys(job.spec for job in group))
        result = self.served.embed(texts, specs, budget, [len(job.texts) for job in group])
        return _split(group, result.vectors, result.tokens, result.truncated)


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
        table: Any = values[job.spec] if job.kind == "embed" else values[""]
        cut = truncated[start:stop] if truncated is not None else np.zeros(stop - start, bool)
        out.append(Rows(table[start:stop], int(tokens[j]), cut))
        start = stop
    return out
