"""Typed results of a comparison: per-strategy fold scores, the ensemble, the ranking."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from hiddenpool.evaluate.stats import MetricSummary, PairedDifference

__all__ = ["CompareResult", "EnsembleResult", "StrategyResult"]


@dataclass(frozen=True)
class StrategyResult:
    """Cross-validated probe scores of one feature set.

    Attributes:
        name: strategy name, e.g. ``"mean@-1"``.
        dim: feature width.
        metrics: ``{metric: summary over folds}``.
        oof: out-of-fold predictions, (n,) or (n, k) for regression, (n, K) class
            probabilities for classification, (n,) cosines for similarity.
        param_name: the tuned hyperparameter (``"alpha"``, ``"C"``, or ``""``).
        params: per fold, the chosen value(s) (one per target for multi-target ridge).
        at_grid_edge: some fold chose the smallest or largest value of the grid, so a wider
            grid might have scored better.
        seconds: wall time spent probing this strategy.
    """

    name: str
    dim: int
    metrics: Mapping[str, MetricSummary]
    oof: np.ndarray
    param_name: str
    params: tuple[tuple[float, ...], ...]
    at_grid_edge: bool
    seconds: float

    def to_dict(self, include_predictions: bool = False) -> dict[str, object]:
        """JSON-ready dict; out-of-fold predictions only when asked."""
        out: dict[str, object] = {
            "name": self.name,
            "dim": self.dim,
            "metrics": {k: v.to_dict() for k, v in self.metrics.items()},
            "param_name": self.param_name,
            "params": [list(p) for p in self.params],
            "at_grid_edge": self.at_grid_edge,
            "seconds": round(self.seconds, 4),
        }
        if include_predictions:
            out["oof"] = self.oof.tolist()
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> StrategyResult:
        """The result back from :meth:`to_dict` (a ``rank`` key is ignored).

        Args:
            data: the dict; ``oof`` is read when present, else left empty.

        Returns:
            The strategy's result.
        """
        return cls(
            str(data["name"]),
            int(data["dim"]),
            {k: MetricSummary.from_dict(v) for k, v in data["metrics"].items()},
            _predictions(data),
            str(data["param_name"]),
            tuple(tuple(float(x) for x in p) for p in data["params"]),
            bool(data["at_grid_edge"]),
            float(data["seconds"]),
        )


def _predictions(data: Mapping[str, Any]) -> np.ndarray:
    """Stored out-of-fold predictions, or an empty array when they were not stored."""
    return np.asarray(data["oof"], dtype=np.float64) if "oof" in data else np.empty(0)


@dataclass(frozen=True)
class EnsembleResult:
    """The leakage-free top-k average, next to the best single strategy.

    Attributes:
        metrics: ``{metric: summary over folds}`` of the ensemble's test-fold predictions.
        members: per fold, the strategies averaged, best first (chosen on training rows).
        oof: out-of-fold ensemble predictions, same layout as a strategy's ``oof``.
        versus_best: paired difference ensemble minus the best single strategy.
    """

    metrics: Mapping[str, MetricSummary]
    members: tuple[tuple[str, ...], ...]
    oof: np.ndarray
    versus_best: PairedDifference

    @property
    def helps(self) -> bool:
        """Whether the ensemble beats the best single strategy on average."""
        return self.versus_best.a_is_better

    def to_dict(self, include_predictions: bool = False) -> dict[str, object]:
        """JSON-ready dict; out-of-fold predictions only when asked."""
        out: dict[str, object] = {
            "metrics": {k: v.to_dict() for k, v in self.metrics.items()},
            "members": [list(m) for m in self.members],
            "versus_best": self.versus_best.to_dict(),
            "helps": self.helps,
        }
        if include_predictions:
            out["oof"] = self.oof.tolist()
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], higher_is_better: bool) -> EnsembleResult:
        """The ensemble back from :meth:`to_dict`.

        Args:
            data: the dict; ``oof`` is read when present, else left empty.
            higher_is_better: the direction of the compared metric (not stored).

        Returns:
            The ensemble's result.
        """
        return cls(
            {k: MetricSummary.from_dict(v) for k, v in data["metrics"].items()},
            tuple(tuple(str(x) for x in m) for m in data["members"]),
            _predictions(data),
            PairedDifference.from_dict(data["versus_best"], higher_is_better),
        )


@dataclass(frozen=True)
class CompareResult:
    """Every strategy's cross-validated probe scores on one labelled dataset.

    Attributes:
        task: the task's registered name (``"regression"``, ``"retrieval"``...).
        primary_metric: the metric that ranks strategies.
        higher_is_better: direction of ``primary_metric``.
        metric_names: all metrics reported, primary first.
        strategies: one result per strategy, in input order (see :meth:`ranked`).
        ensemble: the top-k ensemble, or None with fewer than two strategies.
        fold_ids: (n,) the test fold of each row.
        default_strategy: the reference the winner is compared against, or None.
        label_names: label column names.
        classes: class names for classification (index i is probability column i).
        unit: what a metric's ``folds`` hold and two strategies are paired over: ``"fold"``
            (cross-validation folds), ``"query"`` (retrieval, reranking) or ``"run"``
            (clustering's seeded runs).
        rows: the texts, pairs or queries scored; None means one per entry of ``fold_ids``.
        baselines: rows scored without vectors (BM25), shown beside the ranking, not in it.
    """

    task: str
    primary_metric: str
    higher_is_better: bool
    metric_names: tuple[str, ...]
    strategies: tuple[StrategyResult, ...]
    ensemble: EnsembleResult | None
    fold_ids: np.ndarray
    default_strategy: str | None = None
    label_names: tuple[str, ...] = ()
    classes: tuple[str, ...] = ()
    unit: str = "fold"
    rows: int | None = None
    baselines: tuple[StrategyResult, ...] = ()

    @property
    def n_folds(self) -> int:
        """Number of CV folds (of queries or runs, for tasks paired over those)."""
        return int(self.fold_ids.max()) + 1

    @property
    def n_rows(self) -> int:
        """The texts, pairs or queries scored."""
        return len(self.fold_ids) if self.rows is None else self.rows

    def get(self, name: str) -> StrategyResult:
        """The result of one strategy.

        Args:
            name: strategy name.

        Returns:
            Its result.

        Raises:
            ValueError: no such strategy (the message lists them).
        """
        for strategy in self.strategies:
            if strategy.name == name:
                return strategy
        names = ", ".join(s.name for s in self.strategies)
        raise ValueError(f"unknown strategy {name!r}; expected one of {names}")

    def ranked(self, metric: str | None = None) -> list[StrategyResult]:
        """Strategies from best to worst by mean fold score, in the metric's direction.

        Args:
            metric: metric to rank by; defaults to :attr:`primary_metric`.

        Returns:
            The sorted results (ties keep input order).
        """
        from hiddenpool.evaluate.metrics import HIGHER_IS_BETTER

        metric = metric or self.primary_metric
        if metric not in self.metric_names:
            raise ValueError(
                f"unknown metric {metric!r}; expected one of {', '.join(self.metric_names)}"
            )
        sign = -1.0 if HIGHER_IS_BETTER[metric] else 1.0

        def key(s: StrategyResult) -> float:
            value = s.metrics[metric].mean
            return math.inf if math.isnan(value) else sign * value

        return sorted(self.strategies, key=key)

    @property
    def best(self) -> StrategyResult:
        """The top strategy by the primary metric."""
        return self.ranked()[0]

    def compare(self, a: str, b: str, metric: str | None = None) -> PairedDifference:
        """Fold-paired difference ``a - b``.

        Args:
            a: first strategy.
            b: second strategy.
            metric: defaults to :attr:`primary_metric`.

        Returns:
            The paired difference with its 95% interval.
        """
        from hiddenpool.evaluate.metrics import HIGHER_IS_BETTER

        metric = metric or self.primary_metric
        return PairedDifference.between(
            a,
            b,
            metric,
            HIGHER_IS_BETTER[metric],
            self.get(a).metrics[metric].folds,
            self.get(b).metrics[metric].folds,
        )

    def winner_vs_default(self, default: str | None = None) -> PairedDifference | None:
        """The best strategy minus the default one, or None without a default.

        Args:
            default: overrides :attr:`default_strategy`.

        Returns:
            The paired difference on the primary metric.
        """
        default = default or self.default_strategy
        if default is None:
            return None
        return self.compare(self.best.name, default)

    def to_dict(self, include_predictions: bool = False) -> dict[str, object]:
        """JSON-ready dict: strategies in rank order with their rank, best, ensemble.

        Args:
            include_predictions: also store out-of-fold predictions (large).

        Returns:
            A dict of plain Python types.
        """
        ranked = []
        for rank, strategy in enumerate(self.ranked(), start=1):
            ranked.append({"rank": rank, **strategy.to_dict(include_predictions)})
        versus = self.winner_vs_default()
        out: dict[str, object] = {
            "task": self.task,
            "primary_metric": self.primary_metric,
            "higher_is_better": self.higher_is_better,
            "metrics": list(self.metric_names),
            "n_rows": self.n_rows,
            "n_folds": self.n_folds,
            "unit": self.unit,
            "label_names": list(self.label_names),
            "classes": list(self.classes),
            "default_strategy": self.default_strategy,
            "best": self.best.name,
            "winner_vs_default": versus.to_dict() if versus else None,
            "strategies": ranked,
            "ensemble": self.ensemble.to_dict(include_predictions) if self.ensemble else None,
            "baselines": [b.to_dict() for b in self.baselines],
        }
        if include_predictions:
            out["fold_ids"] = self.fold_ids.tolist()
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CompareResult:
        """The comparison back from :meth:`to_dict`, e.g. a report's results.json.

        Everything the ranking, the tables and :meth:`compare` read comes back: each
        strategy's metric summaries with their per-fold scores (so paired intervals are the
        same), the ensemble, rows and folds, the unit, the default strategy and the baselines.
        Out-of-fold predictions and fold ids are only there when ``to_dict`` was asked for
        them; results.json (``write_report``) leaves them out, so then every ``oof`` is empty
        and ``fold_ids`` is ``arange(n_folds)``, one entry per fold, with ``rows`` keeping the
        row count (as clustering's results hold one entry per run). Files written before
        ``unit`` and ``baselines`` were saved read as ``"fold"`` and none.

        Args:
            data: the dict (derived keys such as ``best`` and ``winner_vs_default`` are
                recomputed, not read).

        Returns:
            The comparison; its ``to_dict()`` equals ``data``'s keys of the same name.

        Raises:
            ValueError: a required key is missing.

        >>> again = CompareResult.from_dict(result.to_dict())  # doctest: +SKIP
        >>> again.compare("mean", "cls") == result.compare("mean", "cls")  # doctest: +SKIP
        True
        """
        required = ("task", "primary_metric", "higher_is_better", "metrics", "n_rows", "n_folds",
                    "strategies")  # fmt: skip
        missing = [k for k in required if k not in data]
        if missing:
            raise ValueError(f"not a CompareResult dict: missing {', '.join(missing)}")
        higher = bool(data["higher_is_better"])
        n_rows = int(data["n_rows"])
        if data.get("fold_ids") is not None:
            fold_ids = np.asarray(data["fold_ids"], dtype=np.int64)
        else:
            fold_ids = np.arange(int(data["n_folds"]), dtype=np.int64)
        ensemble = data.get("ensemble")
        return cls(
            task=str(data["task"]),
            primary_metric=str(data["primary_metric"]),
            higher_is_better=higher,
            metric_names=tuple(str(m) for m in data["metrics"]),
            strategies=tuple(StrategyResult.from_dict(s) for s in data["strategies"]),
            ensemble=None if ensemble is None else EnsembleResult.from_dict(ensemble, higher),
            fold_ids=fold_ids,
            default_strategy=data.get("default_strategy"),
            label_names=tuple(str(x) for x in data.get("label_names", ())),
            classes=tuple(str(x) for x in data.get("classes", ())),
            unit=str(data.get("unit", "fold")),
            rows=None if n_rows == len(fold_ids) else n_rows,
            baselines=tuple(StrategyResult.from_dict(b) for b in data.get("baselines", ())),
        )

    def to_json(self, indent: int = 2, include_predictions: bool = False) -> str:
        """The :meth:`to_dict` content as JSON text."""
        return json.dumps(self.to_dict(include_predictions), indent=indent, allow_nan=False)
