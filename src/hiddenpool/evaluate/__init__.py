"""Rank pooling strategies: cross-validated linear probes over many feature sets.

>>> from hiddenpool.evaluate import evaluate_features, make_folds
>>> folds = make_folds(len(data), k=5, seed=0, labels=data.labels, task=data.task)  # doctest: +SKIP
>>> result = evaluate_features({"mean": emb_mean, "cls": emb_cls}, data, folds)  # doctest: +SKIP
>>> result.best.name  # doctest: +SKIP
'mean'

Importing this package does not import matplotlib, scikit-learn or scipy; they are loaded
when first needed.
"""

from __future__ import annotations

from hiddenpool.evaluate.compare import Features, SupportsLabels, evaluate_features
from hiddenpool.evaluate.ensemble import choose_members
from hiddenpool.evaluate.folds import make_folds
from hiddenpool.evaluate.logistic import DEFAULT_CS
from hiddenpool.evaluate.metrics import HIGHER_IS_BETTER, mcrmse, primary_metric, spearman
from hiddenpool.evaluate.plots import plot_layers, plot_ranking
from hiddenpool.evaluate.report import format_table, write_report
from hiddenpool.evaluate.result import CompareResult, EnsembleResult, StrategyResult
from hiddenpool.evaluate.ridge import DEFAULT_ALPHAS
from hiddenpool.evaluate.stats import MetricSummary, PairedDifference

__all__ = [
    "DEFAULT_ALPHAS",
    "DEFAULT_CS",
    "HIGHER_IS_BETTER",
    "CompareResult",
    "EnsembleResult",
    "Features",
    "MetricSummary",
    "PairedDifference",
    "StrategyResult",
    "SupportsLabels",
    "choose_members",
    "evaluate_features",
    "format_table",
    "make_folds",
    "mcrmse",
    "plot_layers",
    "plot_ranking",
    "primary_metric",
    "spearman",
    "write_report",
]
