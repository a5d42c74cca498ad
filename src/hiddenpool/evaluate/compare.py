"""Rank feature sets (one per pooling strategy) by cross-validated linear probes."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from functools import partial
from typing import Protocol

import numpy as np

from hiddenpool.evaluate.ensemble import average_predictions, choose_members
from hiddenpool.evaluate.folds import Fold, check_folds
from hiddenpool.evaluate.logistic import DEFAULT_CS, logistic_fold
from hiddenpool.evaluate.metrics import HIGHER_IS_BETTER, metric_names, score_predictions
from hiddenpool.evaluate.result import CompareResult, EnsembleResult, StrategyResult
from hiddenpool.evaluate.ridge import DEFAULT_ALPHAS, ridge_fold
from hiddenpool.evaluate.stats import MetricSummary, PairedDifference
from hiddenpool.pooling import Strategy, parse_strategy
from hiddenpool.postprocess import feature_width, fit_stages

__all__ = ["Features", "SupportsLabels", "evaluate_features"]

Features = np.ndarray | tuple[np.ndarray, np.ndarray]


class SupportsLabels(Protocol):
    """Anything with ``labels`` and ``task``, such as :class:`hiddenpool.data.LabelledData`."""

    @property
    def labels(self) -> np.ndarray: ...

    @property
    def task(self) -> str: ...


def _targets(data: SupportsLabels) -> tuple[np.ndarray, tuple[str, ...]]:
    """Labels as the probes want them, plus class names for classification."""
    labels = np.asarray(data.labels)
    if data.task == "classification":
        if labels.ndim != 1:
            raise ValueError(f"classification labels must be 1-D, got shape {labels.shape}")
        classes, index = np.unique(labels, return_inverse=True)
        if len(classes) < 2:
            raise ValueError(f"classification needs at least 2 classes, found {len(classes)}")
        return index.astype(np.int64), tuple(str(c) for c in classes)
    values = labels.astype(np.float64)
    if not np.all(np.isfinite(values)):
        raise ValueError(f"{data.task} labels contain NaN or infinite values")
    if data.task == "similarity" and values.ndim != 1:
        raise ValueError(f"similarity labels must be 1-D gold scores, got shape {values.shape}")
    return values, ()


def _as_matrix(name: str, value: np.ndarray, n: int) -> np.ndarray:
    x = np.asarray(value)
    if x.ndim != 2 or len(x) != n:
        raise ValueError(f"features {name!r} have shape {x.shape}; expected ({n}, dim)")
    if not np.all(np.isfinite(x)):
        raise ValueError(f"features {name!r} contain NaN or infinite values")
    return x


def _cosine(name: str, value: Features, n: int) -> np.ndarray:
    """Row-wise cosine of a pair of (n, d) arrays, or of the halves of a (2n, d) array."""
    if isinstance(value, tuple):
        a, b = (_as_matrix(name, v, n) for v in value)
    else:
        both = _as_matrix(name, value, 2 * n)
        a, b = both[:n], both[n:]
    if a.shape != b.shape:
        raise ValueError(f"features {name!r}: pair halves differ in shape {a.shape} vs {b.shape}")
    a, b = a.astype(np.float64), b.astype(np.float64)
    norms = np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1)
    return np.sum(a * b, axis=1) / np.maximum(norms, 1e-12)


@dataclass(frozen=True)
class _Settings:
    alphas: tuple[float, ...]
    Cs: tuple[float, ...]
    inner_folds: int
    seed: int
    max_iter: int
    n_classes: int


def _fold_features(
    x: np.ndarray, fold: Fold, stages: Strategy | None
) -> tuple[np.ndarray, np.ndarray]:
    """The fold's train and test features; ``stages`` are fitted on its training rows only."""
    train, test = fold
    if stages is None:
        return x[train], x[test]
    fitted = fit_stages(stages, x[train], x.shape[1], fitted_on="the training fold")
    return fitted.features(x[train]), fitted.features(x[test])


def _probe_fold(
    task: str,
    x: np.ndarray,
    y: np.ndarray,
    settings: _Settings,
    stages: Strategy | None,
    fold: Fold,
) -> tuple[np.ndarray, np.ndarray, tuple[float, ...]]:
    """Fit on the fold's train rows, predict its test rows; also return inner predictions.

    Returns:
        (test predictions, inner predictions of the training rows, chosen hyperparameters).
        Single-target regression and similarity predictions are 1-D.
    """
    train, test = fold
    if task == "similarity":  # x holds the cosines: nothing to fit
        return x[test, 0], x[train, 0], ()
    x_train, x_test = _fold_features(x, fold, stages)
    if task == "classification":
        logit = logistic_fold(
            x_train,
            y[train],
            x_test,
            settings.n_classes,
            settings.Cs,
            settings.inner_folds,
            settings.seed,
            settings.max_iter,
        )
        return logit.test_proba, logit.inner_proba, (logit.C,)
    fit = ridge_fold(x_train, y[train], x_test, settings.alphas)
    alphas = tuple(float(a) for a in fit.alphas)
    if y.ndim == 1:
        return fit.test_pred[:, 0], fit.inner_pred[:, 0], alphas
    return fit.test_pred, fit.inner_pred, alphas


def _summaries(
    per_fold: list[dict[str, float]],
    names: Sequence[str],
    whole: Mapping[str, float] | None = None,
) -> dict[str, MetricSummary]:
    """Per metric, the summary over folds; with ``whole``, centred on the whole-set score.

    Zero-shot similarity fits nothing, so its figure is the score of all pairs at once (what
    MTEB and the STS papers report; the mean of per-fold Spearmans is a different number).
    The folds then only measure the spread: the interval keeps its width around that score.
    """
    out = {m: MetricSummary.from_folds([fold[m] for fold in per_fold]) for m in names}
    if whole is None:
        return out
    return {
        m: replace(
            s,
            mean=whole[m],
            ci_low=s.ci_low + whole[m] - s.mean,
            ci_high=s.ci_high + whole[m] - s.mean,
        )
        for m, s in out.items()
    }


def evaluate_features(
    features: Mapping[str, Features],
    data: SupportsLabels,
    folds: Sequence[Fold],
    *,
    default_strategy: str | None = None,
    alphas: Sequence[float] = DEFAULT_ALPHAS,
    Cs: Sequence[float] = DEFAULT_CS,
    inner_folds: int = 3,
    ensemble_max_k: int = 10,
    seed: int = 0,
    max_iter: int = 200,
    blas_threads: int | None = 1,
    n_jobs: int | None = None,
    progress: Callable[[str, int, int], None] | None = None,
    stages: Mapping[str, str | Strategy] | None = None,
) -> CompareResult:
    """Score every feature set with the same cross-validated probe and rank them.

    * regression: ridge on standardised features (mean and scale from the training fold),
      alpha per target by exact leave-one-out on the training fold; Spearman and RMSE,
      or MCRMSE and mean Spearman for several targets.
    * classification: logistic regression (binomial or multinomial), C by inner CV
      log-loss on the training fold; accuracy and macro-F1.
    * similarity: no fitting (zero-shot); cosine of each pair against the gold score. The
      score is the Spearman of all pairs at once, MTEB's figure; the per-fold Spearmans give
      its spread and the paired differences.

    A top-k ensemble is built per fold as described in :mod:`hiddenpool.evaluate.ensemble`.

    Args:
        features: strategy name to (n, dim) features; for similarity a pair of (n, dim)
            arrays or one (2n, dim) array laid out like ``LabelledData.texts``.
        data: labels and task (e.g. a :class:`hiddenpool.data.LabelledData`).
        folds: (train, test) index pairs whose test sets partition the rows, shared by all
            strategies (see :func:`make_folds`).
        default_strategy: the reference the winner is compared against.
        alphas: ridge grid.
        Cs: logistic-regression grid.
        inner_folds: inner CV folds for choosing C.
        ensemble_max_k: largest ensemble considered.
        seed: seed of the inner splits.
        max_iter: L-BFGS iteration cap per logistic fit.
        blas_threads: BLAS threads while probing; None keeps the library default. One is
            the default because the probes are many small solves: on a busy 2-core machine
            (or next to a torch thread pool that is still spinning) two OpenBLAS threads
            made a logistic fold over 10x slower, and ridge 2x slower.
        n_jobs: folds probed at once in threads (NumPy and LAPACK release the GIL); None
            uses one per CPU, at most one per fold. Results do not depend on it.
        progress: called as ``progress(name, index, total)`` after each strategy.
        stages: feature set name -> a strategy whose stages (``| whiten(256)``...) turn those
            features into the ones probed; they are fitted on each fold's training rows only,
            never on the rows it scores. Not for similarity, which has no training rows
            (apply fitted stages to its features beforehand).

    Returns:
        The comparison.

    Raises:
        ValueError: no features, a feature set with the wrong shape or non-finite values,
            an unknown default strategy, bad labels, folds that do not partition the rows,
            or an empty or non-positive grid.
    """
    task = data.task
    if task not in ("regression", "classification", "similarity"):
        raise ValueError(
            f"unknown task {task!r}; expected one of regression, classification, similarity"
        )
    if not features:
        raise ValueError("no features to evaluate; pass at least one strategy")
    if default_strategy is not None and default_strategy not in features:
        raise ValueError(
            f"default strategy {default_strategy!r} is not among the features: "
            f"{', '.join(features)}"
        )
    for option, grid in (("alphas", alphas), ("Cs", Cs)):
        if len(grid) == 0 or min(grid) <= 0:
            raise ValueError(f"{option} must be a non-empty list of positive numbers")
    if inner_folds < 2:
        raise ValueError(f"inner_folds must be at least 2, got {inner_folds}")
    from threadpoolctl import threadpool_limits

    workers = n_jobs if n_jobs is not None else min(len(folds), os.cpu_count() or 1)
    if workers < 1:
        raise ValueError(f"n_jobs must be at least 1, got {n_jobs}")
    with (
        threadpool_limits(blas_threads, user_api="blas"),
        ThreadPoolExecutor(max_workers=workers) as pool,
    ):
        return _evaluate(
            features,
            data,
            folds,
            default_strategy,
            _Settings(tuple(alphas), tuple(Cs), inner_folds, seed, max_iter, 0),
            ensemble_max_k,
            progress,
            pool,
            {name: parse_strategy(spec) for name, spec in (stages or {}).items()},
        )


def _evaluate(
    features: Mapping[str, Features],
    data: SupportsLabels,
    folds: Sequence[Fold],
    default_strategy: str | None,
    settings: _Settings,
    ensemble_max_k: int,
    progress: Callable[[str, int, int], None] | None,
    pool: ThreadPoolExecutor,
    stages: Mapping[str, Strategy],
) -> CompareResult:
    """The body of :func:`evaluate_features`, once arguments are checked."""
    task = data.task
    y, classes = _targets(data)
    settings = replace(settings, n_classes=len(classes))
    n = len(y)
    checked = check_folds(folds, n)
    n_targets = y.shape[1] if y.ndim == 2 else 1
    names_of_metrics = metric_names(task, n_targets)
    primary = names_of_metrics[0]

    results: list[StrategyResult] = []
    inner: dict[str, list[np.ndarray]] = {}
    for index, (name, value) in enumerate(features.items(), start=1):
        start = time.perf_counter()
        if task == "similarity":
            x = _cosine(name, value, n)[:, None]  # (n, 1): the prediction itself
            dim = int(np.asarray(value[0] if isinstance(value, tuple) else value).shape[1])
        elif isinstance(value, tuple):
            raise ValueError(f"features {name!r} are a pair; pairs are for similarity only")
        else:
            x = _as_matrix(name, value, n)
            dim = x.shape[1]
        oof: np.ndarray | None = None
        per_fold: list[dict[str, float]] = []
        params: list[tuple[float, ...]] = []
        inner[name] = []
        stage = stages.get(name)
        if stage is not None and task != "similarity":
            dim = feature_width(stage, dim)
        fits = pool.map(partial(_probe_fold, task, x, y, settings, stage), checked)
        for (_, test), (test_pred, inner_pred, chosen) in zip(checked, fits, strict=True):
            if oof is None:
                oof = np.zeros((n, *test_pred.shape[1:]))
            oof[test] = test_pred
            inner[name].append(inner_pred)
            params.append(chosen)
            per_fold.append(score_predictions(task, y[test], test_pred))
        grid = settings.alphas if task == "regression" else settings.Cs
        edges = (min(grid), max(grid)) if task != "similarity" and len(grid) > 1 else ()
        whole = None
        if task == "similarity" and oof is not None:  # zero-shot: score all pairs at once
            whole = score_predictions(task, y, oof)
        results.append(
            StrategyResult(
                name=name,
                dim=dim,
                metrics=_summaries(per_fold, names_of_metrics, whole),
                oof=oof if oof is not None else np.zeros(n),
                param_name={"regression": "alpha", "classification": "C"}.get(task, ""),
                params=tuple(params),
                at_grid_edge=any(v in edges for p in params for v in p),
                seconds=time.perf_counter() - start,
            )
        )
        if progress is not None:
            progress(name, index, len(features))

    fold_ids = np.empty(n, dtype=np.int64)
    for number, (_, test) in enumerate(checked):
        fold_ids[test] = number
    interim = CompareResult(
        task=task,
        primary_metric=primary,
        higher_is_better=HIGHER_IS_BETTER[primary],
        metric_names=names_of_metrics,
        strategies=tuple(results),
        ensemble=None,
        fold_ids=fold_ids,
        default_strategy=default_strategy,
        label_names=tuple(getattr(data, "label_names", ())),
        classes=classes,
    )
    if len(results) < 2:
        return interim
    return replace(interim, ensemble=_ensemble(interim, y, checked, inner, ensemble_max_k))


def _ensemble(
    interim: CompareResult,
    y: np.ndarray,
    folds: list[Fold],
    inner: dict[str, list[np.ndarray]],
    max_k: int,
) -> EnsembleResult:
    """Per fold: choose members on training rows, average their test predictions."""
    task, primary = interim.task, interim.primary_metric
    oof = np.zeros_like(interim.strategies[0].oof)
    members: list[tuple[str, ...]] = []
    per_fold: list[dict[str, float]] = []
    by_name = {s.name: s for s in interim.strategies}
    for number, (train, test) in enumerate(folds):
        fold_inner = {name: preds[number] for name, preds in inner.items()}
        chosen = choose_members(fold_inner, y[train], task, primary, max_k)
        prediction = average_predictions([by_name[name].oof[test] for name in chosen])
        oof[test] = prediction
        members.append(chosen)
        per_fold.append(score_predictions(task, y[test], prediction))
    whole = score_predictions(task, y, oof) if task == "similarity" else None
    metrics = _summaries(per_fold, interim.metric_names, whole)
    best = interim.best
    versus = PairedDifference.between(
        "ensemble",
        best.name,
        primary,
        interim.higher_is_better,
        metrics[primary].folds,
        best.metrics[primary].folds,
    )
    return EnsembleResult(metrics=metrics, members=tuple(members), oof=oof, versus_best=versus)
