"""Merge the pooled vectors of a long text's windows into one vector per text.

Each window pools only the tokens it owns (see :mod:`.windows`), so a text's owned tokens are
each counted once. A token-level reduction over the whole text is then rebuilt from the
windows' pooled vectors, with ``n_k`` the tokens window k pools and ``N = sum n_k``:

========================  ========================================================================
pooler                    across windows
========================  ========================================================================
mean                      ``sum_k n_k mean_k / N``: exactly the mean over the text's tokens
sum                       ``sum_k sum_k``
max / min                 element-wise max / min over windows that pool at least one token
mean_sqrt_len             ``sum_k sqrt(n_k) v_k / sqrt(N)`` (= total sum / sqrt(N))
gem(p)                    ``(sum_k n_k v_k^p / N)^(1/p)`` (= GeM over the text's tokens)
weighted_mean             positions run over the whole text: ``sum_k (o_k n_k mean_k +
                          n_k (n_k+1)/2 v_k) / (N (N+1)/2)``, o_k the tokens before window k
meanmax                   mean part and max part as above
cls                       the summary token's window: the first window's [CLS]/<s>; the last
                          window's last token for XLNet and decoders
first / pooler            the first window's (its first token / its pooler_output)
last                      the last window's last token
attn, learned poolers     not supported: attention maps and learned heads do not split by window
========================  ========================================================================

Under a prompt template, each window holds a chunk of the text in the template, and reductions
pool the text tokens the window owns (see :mod:`.windows`), so the rules above hold over the
text's tokens; ``mask`` and ``include_prompt=true`` read the template itself, once per window,
and are refused.

Layer combiners (``@-4:``, ``concat(...)``) act token by token inside each window, before the
token pooler, so they compose with every rule above. A text that fits one window gets that
window's vector unchanged, bit for bit.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from hiddenpool.encode.windows import Windows
from hiddenpool.pooling import POOLERS, Pooler, PoolerSpec, Strategy
from hiddenpool.states import Summary

__all__ = ["Segment", "WindowMerger", "plan_segments"]


@dataclass(frozen=True)
class Segment:
    """Columns ``[start, stop)`` of a strategy's vector and how they merge across windows.

    ``aux`` is the strategy whose output is the windows' plain mean over the same tokens
    (weighted_mean needs it); ``p`` is GeM's exponent.
    """

    rule: str
    start: int
    stop: int
    skip_special: bool = False
    p: float = 1.0
    aux: Strategy | None = None


def plan_segments(pooler: Pooler, summary: Summary) -> tuple[Segment, ...]:
    """The segments of ``pooler``'s output; ValueError for poolers that cannot merge."""
    strategy = pooler.strategy
    if strategy.template is not None:
        _check_template_merge(strategy)
    entries = [POOLERS[p.name] for p in strategy.poolers]
    if pooler.per_layer or strategy.learned or not all(e.merge for e in entries):
        raise ValueError(
            f"{strategy} cannot be merged across the windows of a long text (attention maps and "
            "learned poolers do not split by window); truncate long texts instead"
        )
    per_reduce = pooler.width // sum(e.factor for e in entries)
    segments: list[Segment] = []
    column = 0
    summary_rule = "first_window" if summary == "first" else "last_window"
    for spec, entry in zip(strategy.poolers, entries, strict=True):
        options = spec.kwargs
        skip = bool(options.get("skip_special", False))
        for merge_rule in entry.merge:
            rule = summary_rule if merge_rule == "summary_window" else merge_rule
            aux = None
            if rule == "weighted_mean":
                mean = PoolerSpec("mean", (("skip_special", True),) if skip else ())
                aux = Strategy((mean,), strategy.layers)
            segments.append(
                Segment(rule, column, column + per_reduce, skip, float(options.get("p", 3.0)), aux)
            )
            column += per_reduce
    return tuple(segments)


def _check_template_merge(strategy: Strategy) -> None:
    """Under a template every window of a long text holds the template again: what it reads
    there (its mask token, its tokens with include_prompt) has no single value to merge."""
    name = strategy.template
    if any(p.name == "mask" for p in strategy.poolers):
        raise ValueError(
            f"{strategy}: a long text chunked under template {name!r} has one mask token per "
            "window and no rule merges them; use long='truncate' (the text is cut, never the "
            "template) or a reduction over the text (mean, max, ...)"
        )
    if any(p.kwargs.get("include_prompt") for p in strategy.poolers):
        raise ValueError(
            f"{strategy}: include_prompt=true pools the tokens of template {name!r}, which every "
            "window of a chunked text repeats; pool the text's tokens (drop include_prompt) or "
            "use long='truncate'"
        )


class WindowMerger:
    """Accumulates windows' pooled vectors into per-text vectors, batch by batch.

    Args:
        windows: the windows of the texts being encoded.
        plans: output key -> (its strategy, its segments, its width).
    """

    def __init__(
        self, windows: Windows, plans: Mapping[str, tuple[Strategy, tuple[Segment, ...], int]]
    ) -> None:
        self.windows = windows
        self.plans = plans
        multi = np.flatnonzero(windows.count > 1)
        self.slot = np.full(windows.num_texts, -1, dtype=np.int64)
        self.slot[multi] = np.arange(len(multi))
        self.counts = {s: windows.pooled_counts(s) for s in (False, True)}
        self.offsets = {s: self._offsets(c) for s, c in self.counts.items()}
        self.totals = {
            s: np.bincount(windows.doc, weights=c, minlength=windows.num_texts)[multi]
            for s, c in self.counts.items()
        }
        self.acc = {
            key: np.zeros((len(multi), width), dtype=np.float64)
            for key, (_, _, width) in plans.items()
        }
        for key, (_, segments, _) in plans.items():
            for seg in segments:
                if seg.rule in ("max", "min"):
                    fill = -np.inf if seg.rule == "max" else np.inf
                    self.acc[key][:, seg.start : seg.stop] = fill

    def _offsets(self, counts: np.ndarray) -> np.ndarray:
        """Pooled tokens in the earlier windows of the same text, (N,)."""
        before = np.cumsum(counts) - counts
        first = np.flatnonzero(self.windows.index == 0)
        return before - before[first][self.windows.doc]

    def add(self, rows: np.ndarray, pooled: Mapping[Strategy, np.ndarray]) -> np.ndarray:
        """Fold in the pooled vectors (B, width) of windows ``rows``, per strategy.

        Returns:
            The rows that belong to texts of more than one window (the others are final as they
            are and the caller copies them).
        """
        w = self.windows
        slots = self.slot[w.doc[rows]]
        multi = slots >= 0
        if not multi.any():
            return multi
        rows, slots = rows[multi], slots[multi]
        first = w.index[rows] == 0
        last = w.index[rows] == w.count[w.doc[rows]] - 1
        for key, (strategy, segments, _) in self.plans.items():
            vectors = np.asarray(pooled[strategy], dtype=np.float64)[multi]
            acc = self.acc[key]
            for seg in segments:
                v = vectors[:, seg.start : seg.stop]
                n = self.counts[seg.skip_special][rows].astype(np.float64)[:, None]
                cols = slice(seg.start, seg.stop)
                if seg.rule == "mean":
                    _add(acc, slots, cols, n * v)
                elif seg.rule == "sum":
                    _add(acc, slots, cols, v)
                elif seg.rule == "mean_sqrt_len":
                    _add(acc, slots, cols, np.sqrt(n) * v)
                elif seg.rule == "gem":
                    _add(acc, slots, cols, n * np.power(v, seg.p))
                elif seg.rule == "weighted_mean" and seg.aux is not None:
                    mean = np.asarray(pooled[seg.aux], dtype=np.float64)[multi]
                    o = self.offsets[seg.skip_special][rows].astype(np.float64)[:, None]
                    _add(acc, slots, cols, o * n * mean + n * (n + 1) / 2 * v)
                elif seg.rule in ("max", "min"):
                    keep = n[:, 0] > 0  # a window that pools nothing gives zeros, not a bound
                    reduce = np.maximum if seg.rule == "max" else np.minimum
                    reduce.at(acc[:, cols], slots[keep], v[keep])  # a view: acc changes
                elif seg.rule in ("first_window", "last_window"):
                    pick = first if seg.rule == "first_window" else last
                    acc[slots[pick], cols] = v[pick]
        return multi

    def finish(self, outputs: Mapping[str, np.ndarray]) -> None:
        """Write the merged vectors of multi-window texts into ``outputs`` (float32, in place)."""
        texts = np.flatnonzero(self.slot >= 0)
        for key, (_, segments, _) in self.plans.items():
            acc = self.acc[key].copy()
            for seg in segments:
                total = self.totals[seg.skip_special][:, None]
                safe = np.maximum(total, 1.0)
                cols = slice(seg.start, seg.stop)
                block = acc[:, cols]
                if seg.rule == "mean":
                    block = block / safe
                elif seg.rule == "mean_sqrt_len":
                    block = block / np.sqrt(safe)
                elif seg.rule == "gem":
                    block = np.power(block / safe, 1.0 / seg.p)
                elif seg.rule == "weighted_mean":
                    block = block / (safe * (safe + 1) / 2)
                elif seg.rule in ("max", "min"):
                    block = np.where(np.isfinite(block), block, 0.0)
                if seg.rule not in ("sum", "first_window", "last_window"):
                    block = np.where(total > 0, block, 0.0)
                acc[:, cols] = block
            outputs[key][texts] = acc.astype(np.float32)


def _add(acc: np.ndarray, slots: np.ndarray, cols: slice, values: np.ndarray) -> None:
    # Unbuffered: two windows of one text can sit in the same batch.
    np.add.at(acc[:, cols], slots, values)  # a view: acc changes
