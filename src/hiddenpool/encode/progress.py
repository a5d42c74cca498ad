"""A one-line progress display for long embedding runs: texts/s, tokens/s, share done, ETA."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TextIO

__all__ = ["Progress", "format_seconds"]


def format_seconds(seconds: float) -> str:
    """``75`` -> ``'1m15s'``; ``4000`` -> ``'1h06m'``.

    >>> format_seconds(75), format_seconds(4000), format_seconds(4.2)
    ('1m15s', '1h06m', '4s')
    """
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


class Progress:
    """Redraws one status line on a terminal at most every ``interval`` seconds.

    Args:
        enabled: draw at all (callers pass False off a terminal or with --quiet).
        stream: where to draw; stderr by default.
        interval: seconds between redraws.
    """

    def __init__(self, enabled: bool, stream: TextIO | None = None, interval: float = 0.25):
        self.enabled = enabled
        self.stream = stream or sys.stderr
        self.interval = interval
        self.started = time.perf_counter()
        self.texts = 0  # embedded in this run
        self.tokens = 0  # run through the model in this run
        self.skipped = 0  # finished by an earlier run
        self.fraction_at_start: float | None = None
        self.fraction: float | None = None
        self._drawn = 0.0
        self._width = 0

    def skip(self, texts: int, fraction: float | None) -> None:
        """Count texts an earlier run already embedded."""
        self.skipped += texts
        self.fraction = fraction

    def update(self, texts: int, tokens: int, fraction: float | None, force: bool = False) -> None:
        """Add ``texts`` and ``tokens`` done; ``fraction`` of the input is done (or None)."""
        if self.fraction_at_start is None:
            self.fraction_at_start = self.fraction or 0.0
            self.started = time.perf_counter()
        self.texts += texts
        self.tokens += tokens
        if fraction is not None:
            self.fraction = fraction
        now = time.perf_counter()
        if self.enabled and (force or now - self._drawn >= self.interval):
            self._draw(now)

    def for_chunk(self, texts: int, fraction_after: float | None) -> Callable[[float, int], None]:
        """A per-batch callback (share of the chunk done, tokens of the batch) for one chunk
        of ``texts`` after which ``fraction_after`` of the input is done."""
        before = self.fraction or 0.0
        counted = 0

        def on_batch(share: float, tokens: int) -> None:
            nonlocal counted
            now = round(share * texts)
            fraction = None
            if fraction_after is not None:
                fraction = before + share * (fraction_after - before)
            self.update(now - counted, tokens, fraction)
            counted = now

        return on_batch

    def _draw(self, now: float) -> None:
        elapsed = max(now - self.started, 1e-9)
        parts = [
            f"embedding {self.skipped + self.texts:,} texts",
            f"{self.texts / elapsed:,.0f} texts/s",
            f"{self.tokens / elapsed:,.0f} tokens/s",
        ]
        if self.fraction is not None:
            parts.append(f"{100 * self.fraction:.0f}%")
            gained = self.fraction - (self.fraction_at_start or 0.0)
            if gained > 0:
                parts.append(f"ETA {format_seconds((1 - self.fraction) * elapsed / gained)}")
        line = " · ".join(parts)
        self.stream.write("\r" + line.ljust(self._width))
        self.stream.flush()
        self._width = len(line)
        self._drawn = now

    def close(self) -> None:
        """Erase the status line."""
        if self.enabled and self._width:
            self.stream.write("\r" + " " * self._width + "\r")
            self.stream.flush()
            self._width = 0

    @property
    def seconds(self) -> float:
        return time.perf_counter() - self.started
