"""Fold statistics: mean, spread and 95% intervals over CV folds, and paired differences.

The intervals use Student's t with k - 1 degrees of freedom over the k fold scores. Fold
scores share training rows, so they are not independent and these intervals are somewhat
too narrow (Bengio & Grandvalet, 2004); read them as fold noise, not as a guarantee.
Two strategies are compared on the same folds, so their difference is paired per fold.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["MetricSummary", "PairedDifference", "t_quantile"]


def t_quantile(k: int, level: float = 0.95) -> float:
    """Two-sided Student-t quantile for a mean of ``k`` values.

    Args:
        k: number of values (at least 2).
        level: confidence level.

    Returns:
        ``t_{(1 + level) / 2, k - 1}``.
    """
    from scipy.stats import t

    return float(t.ppf(0.5 + level / 2.0, k - 1))


def _number(value: Any) -> float:
    """A stored float back: None (how ``to_dict`` writes NaN) becomes NaN."""
    return math.nan if value is None else float(value)


def _mean_std_ci(values: Sequence[float]) -> tuple[float, float, float, float]:
    arr = np.asarray(values, dtype=np.float64)
    mean = float(arr.mean())
    std = float(arr.std(ddof=1)) if len(arr) > 1 else math.nan
    half = t_quantile(len(arr)) * std / math.sqrt(len(arr)) if len(arr) > 1 else math.nan
    return mean, std, mean - half, mean + half


@dataclass(frozen=True)
class MetricSummary:
    """One metric over the CV folds.

    Attributes:
        mean: mean over folds.
        std: sample standard deviation over folds (ddof=1).
        ci_low: lower end of the 95% t-interval of the mean.
        ci_high: upper end.
        folds: the per-fold values, in fold order.
    """

    mean: float
    std: float
    ci_low: float
    ci_high: float
    folds: tuple[float, ...]

    @classmethod
    def from_folds(cls, values: Sequence[float]) -> MetricSummary:
        """Summarise per-fold values.

        Args:
            values: one value per fold.

        Returns:
            The summary.
        """
        mean, std, low, high = _mean_std_ci(values)
        return cls(mean, std, low, high, tuple(float(v) for v in values))

    def to_dict(self) -> dict[str, object]:
        """JSON-ready dict (NaN becomes None)."""
        clean = [None if math.isnan(v) else v for v in (self.mean, self.std)]
        bounds = [None if math.isnan(v) else v for v in (self.ci_low, self.ci_high)]
        return {
            "mean": clean[0],
            "std": clean[1],
            "ci95": bounds,
            "folds": list(self.folds),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> MetricSummary:
        """The summary back from :meth:`to_dict` (None becomes NaN).

        The stored mean is kept as it is, not recomputed from the folds: for zero-shot
        similarity it is the score over all pairs, not the mean of the fold scores.

        Args:
            data: ``{"mean", "std", "ci95": [low, high], "folds"}``.

        Returns:
            The summary.

        Raises:
            ValueError: a key is missing.
        """
        missing = [k for k in ("mean", "std", "ci95", "folds") if k not in data]
        if missing:
            raise ValueError(f"not a MetricSummary dict: missing {', '.join(missing)}")
        low, high = data["ci95"]
        return cls(
            _number(data["mean"]),
            _number(data["std"]),
            _number(low),
            _number(high),
            tuple(_number(v) for v in data["folds"]),
        )


@dataclass(frozen=True)
class PairedDifference:
    """Fold-paired difference ``a - b`` of one metric.

    Attributes:
        a: first strategy (usually the winner).
        b: second strategy (usually the default).
        metric: the metric compared.
        higher_is_better: the metric's direction.
        mean: mean over folds of ``score(a) - score(b)``.
        std: standard deviation of the per-fold differences.
        ci_low: lower end of the 95% t-interval of ``mean``.
        ci_high: upper end.
    """

    a: str
    b: str
    metric: str
    higher_is_better: bool
    mean: float
    std: float
    ci_low: float
    ci_high: float

    @classmethod
    def between(
        cls,
        a: str,
        b: str,
        metric: str,
        higher_is_better: bool,
        a_folds: Sequence[float],
        b_folds: Sequence[float],
    ) -> PairedDifference:
        """Pair two strategies' per-fold scores.

        Args:
            a: name of the first strategy.
            b: name of the second strategy.
            metric: metric name.
            higher_is_better: the metric's direction.
            a_folds: per-fold scores of ``a``.
            b_folds: per-fold scores of ``b`` on the same folds.

        Returns:
            The paired difference.
        """
        diff = np.asarray(a_folds, dtype=np.float64) - np.asarray(b_folds, dtype=np.float64)
        mean, std, low, high = _mean_std_ci(diff.tolist())
        return cls(a, b, metric, higher_is_better, mean, std, low, high)

    @property
    def a_is_better(self) -> bool:
        """Whether ``a`` scores better than ``b`` on average, in the metric's direction."""
        return self.mean > 0 if self.higher_is_better else self.mean < 0

    @property
    def exceeds_noise(self) -> bool:
        """Whether the 95% interval of the paired difference excludes zero."""
        return bool(self.ci_low > 0 or self.ci_high < 0)

    def to_dict(self) -> dict[str, object]:
        """JSON-ready dict (NaN becomes None)."""
        out: dict[str, object] = {"a": self.a, "b": self.b, "metric": self.metric}
        for key in ("mean", "std", "ci_low", "ci_high"):
            value = float(getattr(self, key))
            out[key] = None if math.isnan(value) else value
        out["a_is_better"] = self.a_is_better
        out["exceeds_noise"] = self.exceeds_noise
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], higher_is_better: bool) -> PairedDifference:
        """The difference back from :meth:`to_dict`.

        Args:
            data: ``{"a", "b", "metric", "mean", "std", "ci_low", "ci_high"}`` (the derived
                ``a_is_better`` and ``exceeds_noise`` are recomputed, not read).
            higher_is_better: the metric's direction (``to_dict`` does not store it).

        Returns:
            The paired difference.
        """
        values = (_number(data[k]) for k in ("mean", "std", "ci_low", "ci_high"))
        return cls(str(data["a"]), str(data["b"]), str(data["metric"]), higher_is_better, *values)
