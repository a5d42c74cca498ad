"""Fit post-pooling stages on vectors and apply them: whitening, PCA, centring, int8 ranges.

Statistics are accumulated chunk by chunk in float64 (a shifted sum and sum of outer products),
so fitting on a corpus costs memory independent of its size. A stage that follows a fitted stage
sees that stage's output, so each fitted stage takes one pass over the fitting vectors (one pass
in all for ``mean | whiten(256)``, two for ``mean | whiten(256) | int8``).

- ``whiten(k)``: BERT-whitening (Su et al. 2021, https://arxiv.org/abs/2103.15316):
  ``y = (x - mu) @ U[:, :k] / sqrt(s[:k])`` with ``U, s`` the SVD of the fitted covariance
  (normalised by n - 1, as ``np.cov``).
- ``pca(k)``: ``y = (x - mu) @ U[:, :k]``; ``center``: ``y = x - mu``.
- ``int8``/``uint8``: per-dimension min and max of the fitting vectors, applied exactly as
  ``sentence_transformers.quantization.quantize_embeddings(..., ranges=...)`` does;
  ``binary``/``ubinary``: the sign bits, packed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import numpy as np

from hiddenpool.pooling import Strategy, parse_strategy
from hiddenpool.pooling.stages import StageSpec, stages_to_fit, stages_width

__all__ = [
    "FittedStage",
    "FittedStages",
    "Moments",
    "feature_width",
    "fit_stages",
    "stateless_stages",
]

Chunks = Callable[[], Iterable[np.ndarray]]  # a fresh pass over the fitting vectors, chunked


@dataclass
class Moments:
    """Running count, mean and covariance of vectors, in float64, chunk by chunk.

    Sums are taken around the first chunk's mean, which keeps the float64 sums accurate for
    vectors far from the origin.
    """

    count: int = 0
    shift: np.ndarray | None = None
    total: np.ndarray | None = None
    outer: np.ndarray | None = None
    low: np.ndarray | None = None
    high: np.ndarray | None = None
    with_outer: bool = True

    def add(self, vectors: np.ndarray) -> None:
        x = np.asarray(vectors)
        if x.ndim != 2 or not len(x):
            return
        if self.shift is None:
            self.shift = x.astype(np.float64).mean(axis=0)
            self.total = np.zeros_like(self.shift)
            self.outer = np.zeros((len(self.shift),) * 2) if self.with_outer else None
            self.low, self.high = x.min(axis=0), x.max(axis=0)
        centred = x.astype(np.float64) - self.shift
        self.total = self.total + centred.sum(axis=0)
        if self.outer is not None:
            self.outer += centred.T @ centred
        self.low = np.minimum(self.low, x.min(axis=0))  # type: ignore[arg-type]
        self.high = np.maximum(self.high, x.max(axis=0))  # type: ignore[arg-type]
        self.count += len(x)

    @property
    def mean(self) -> np.ndarray:
        assert self.shift is not None and self.total is not None
        return self.shift + self.total / self.count

    @property
    def covariance(self) -> np.ndarray:
        """Sample covariance (n - 1 in the denominator, as ``np.cov``)."""
        assert self.outer is not None and self.total is not None
        centred_mean = self.total / self.count
        return (self.outer - self.count * np.outer(centred_mean, centred_mean)) / (self.count - 1)


@dataclass(frozen=True)
class FittedStage:
    """One stage with its fitted arrays.

    Linear stages hold ``weight`` (in, out) and ``bias`` (out,): ``y = x @ weight + bias``.
    int8/uint8 hold ``ranges`` (2, width): per-dimension min and max, float32.
    """

    spec: StageSpec
    weight: np.ndarray | None = None
    bias: np.ndarray | None = None
    ranges: np.ndarray | None = None

    def apply(self, x: np.ndarray) -> np.ndarray:
        """float32 (n, in) -> this stage's output."""
        name = self.spec.name
        if self.weight is not None and self.bias is not None:
            out = np.asarray(x, dtype=np.float64) @ self.weight.astype(np.float64)
            return (out + self.bias).astype(np.float32)
        if name == "truncate":
            return np.ascontiguousarray(x[:, : self.spec.k])
        if name == "normalize":
            norms = np.linalg.norm(x, axis=1, keepdims=True)
            return (x / np.maximum(norms, 1e-12)).astype(np.float32)
        if name in ("int8", "uint8"):
            assert self.ranges is not None
            return _quantize(np.asarray(x, dtype=np.float32), self.ranges, name)
        if name == "binary":
            return (np.packbits(x > 0, axis=-1) - 128).astype(np.int8)
        if name == "ubinary":
            return np.packbits(x > 0, axis=-1)
        raise ValueError(f"stage {self.spec} is not fitted")


def _quantize(x: np.ndarray, ranges: np.ndarray, precision: str) -> np.ndarray:
    """Scalar quantisation into 256 buckets between the fitted min and max of each dimension
    (sentence-transformers' formula, in the same float32 arithmetic, so the bytes agree)."""
    starts = ranges[0, :]
    steps = (ranges[1, :] - starts) / 255
    steps = np.where(steps == 0, 1, steps)
    buckets = np.clip(np.floor((x - starts) / steps), 0, 255)
    return buckets.astype(np.uint8) if precision == "uint8" else (buckets - 128).astype(np.int8)


@dataclass(frozen=True)
class FittedStages:
    """A strategy's stages, fitted: pooled vectors in, post-processed vectors out.

    Attributes:
        strategy: the whole spec (pooling and stages).
        stages: one fitted stage per ``strategy.stages``.
        in_width: width of the pooled vectors it was fitted on.
        rows: vectors it was fitted on.
    """

    strategy: Strategy
    stages: tuple[FittedStage, ...]
    in_width: int
    rows: int
    fitted_on: str = field(default="")

    def transform(self, pooled: np.ndarray) -> np.ndarray:
        """(n, in_width) pooled vectors -> the stored form (float32, int8 or packed bits)."""
        x = np.asarray(pooled, dtype=np.float32)
        if x.ndim != 2 or x.shape[1] != self.in_width:
            raise ValueError(
                f"{self.strategy}: fitted on vectors {self.in_width} wide, given shape {x.shape}"
            )
        for stage in self.stages:
            x = stage.apply(x)
        return x

    def features(self, pooled: np.ndarray) -> np.ndarray:
        """What a probe or a cosine reads: int8 as its values, packed bits unpacked to +-1."""
        out = self.transform(pooled)
        last = self.strategy.stages[-1].name if self.strategy.stages else ""
        if last in ("binary", "ubinary"):
            raw = out.view(np.uint8) if last == "ubinary" else (out.astype(np.int16) + 128)
            bits = np.unpackbits(raw.astype(np.uint8), axis=-1)[:, : self._pre_binary_width]
            return bits.astype(np.float32) * 2 - 1
        return out.astype(np.float32)

    @property
    def _pre_binary_width(self) -> int:
        width = self.in_width
        for spec in self.strategy.stages:
            width = spec.k if spec.k is not None else width
        return width


def feature_width(strategy: str | Strategy, in_width: int) -> int:
    """Width of :meth:`FittedStages.features`: the dimensions kept, binary bits unpacked."""
    kept = tuple(s for s in parse_strategy(strategy).stages if s.name not in ("binary", "ubinary"))
    return stages_width(kept, in_width)


def _fit_linear(spec: StageSpec, moments: Moments) -> FittedStage:
    mean = moments.mean
    if spec.name == "center":
        return FittedStage(spec, np.eye(len(mean)), -mean)
    k = spec.k or 0
    if moments.count <= k:
        raise ValueError(
            f"{spec} needs more than {k} fitting texts to estimate {k} directions; "
            f"got {moments.count}"
        )
    u, s, _ = np.linalg.svd(moments.covariance)
    if spec.name == "pca":
        weight = u[:, :k]
    else:
        if s[k - 1] <= s[0] * 1e-12:
            raise ValueError(
                f"{spec}: the fitting vectors span fewer than {k} directions (rank "
                f"{int(np.sum(s > s[0] * 1e-12))}); choose a smaller k or fit on more texts"
            )
        weight = u[:, :k] / np.sqrt(s[:k])
    return FittedStage(spec, weight, -mean @ weight)


def fit_stages(
    strategy: str | Strategy,
    chunks: Chunks | np.ndarray,
    in_width: int,
    *,
    fitted_on: str = "",
) -> FittedStages:
    """Fit ``strategy``'s stages on pooled vectors.

    Args:
        strategy: a spec with stages, e.g. ``"mean | whiten(256)"``.
        chunks: the pooled fitting vectors: one (n, in_width) array, or a callable that returns
            a fresh iterable of (rows, in_width) chunks each time it is called (one call per
            fitted stage; memory then stays at one chunk). Not read when no stage is fitted.
        in_width: the pooled width.
        fitted_on: a note of what the vectors came from, kept with the state.

    Returns:
        The fitted stages.

    Raises:
        ValueError: no fitting vectors, or a k the width or the number of fitting rows cannot
            give.

    >>> x = np.random.default_rng(0).normal(size=(100, 8)).astype(np.float32)
    >>> fit_stages("mean | whiten(4)", x, 8).transform(x).shape
    (100, 4)
    """
    strategy = parse_strategy(strategy)
    stages_width(strategy.stages, in_width)  # every k fits the width
    passes: Chunks = (lambda: (chunks,)) if isinstance(chunks, np.ndarray) else chunks
    fitted: list[FittedStage] = []
    rows = 0
    for spec in strategy.stages:
        if not spec.entry.fitted:
            fitted.append(FittedStage(spec))
            continue
        moments = Moments(with_outer=spec.name in ("whiten", "pca"))
        for chunk in passes():
            x = np.asarray(chunk, dtype=np.float32)
            if x.ndim != 2 or x.shape[1] != in_width:
                raise ValueError(
                    f"{strategy}: fitting vectors of shape {x.shape}, expected width {in_width}"
                )
            for stage in fitted:
                x = stage.apply(x)
            moments.add(x)
        if moments.count == 0:
            raise ValueError(f"{strategy}: no fitting texts")
        rows = rows or moments.count
        if spec.entry.linear:
            fitted.append(_fit_linear(spec, moments))
        else:  # int8 / uint8: the calibration ranges
            ranges = np.vstack([np.asarray(moments.low), np.asarray(moments.high)]).astype(
                np.float32
            )
            fitted.append(FittedStage(spec, ranges=ranges))
    return FittedStages(strategy, tuple(fitted), in_width, rows, fitted_on)


def stateless_stages(strategy: str | Strategy, in_width: int) -> FittedStages:
    """The stages of a strategy none of whose stages needs fitting (truncate, normalize, binary,
    ubinary: see :func:`hiddenpool.pooling.stages.needs_fitting`), ready without fitting texts.

    Raises:
        ValueError: a stage needs fitting, or keeps more dimensions than ``in_width``.
    """
    strategy = parse_strategy(strategy)
    if strategy.needs_fitting:
        fitted = stages_to_fit(strategy.stages)
        raise ValueError(f"pooling={str(strategy)!r}: {fitted} must be fitted first")
    return fit_stages(strategy, np.zeros((0, in_width), np.float32), in_width)
