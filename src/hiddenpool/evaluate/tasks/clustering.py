"""Clustering: k-means with k = the gold classes, V-measure, as MTEB's clustering tasks."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np

from hiddenpool.evaluate.result import CompareResult
from hiddenpool.evaluate.tasks.base import Scoring, Task, Vectors, register_task
from hiddenpool.evaluate.tasks.cluster_scores import SAMPLE_SIZE, cluster_v_measure
from hiddenpool.pooling import parse_strategy
from hiddenpool.pooling.spec import Side
from hiddenpool.postprocess import fit_stages

__all__ = ["ClusteringTask"]


@register_task
class ClusteringTask(Task):
    """MiniBatchKMeans on ``runs`` seeded samples; the mean V-measure and its spread.

    Each run draws as many texts as the data holds (at most MTEB's 16,384) with replacement, so
    the runs are bootstrap samples; every strategy sees the same samples and seeds, so two are
    paired over runs. Stages are fitted on the texts clustered (their labels unused).

    Args:
        runs: seeded clusterings (MTEB: 10).
    """

    name: ClassVar[str] = "clustering"
    label_task: ClassVar[str | None] = "classification"
    unit: ClassVar[str] = "run"
    description: ClassVar[str] = "texts with class labels: k-means (V-measure)"

    def __init__(self, runs: int = 10) -> None:
        if runs < 2:
            raise ValueError(f"runs={runs}: expected at least 2 (the spread needs two)")
        self.runs = runs

    def check_data(self, data: Any, scoring: Scoring) -> None:
        classes = np.unique(np.asarray(data.labels))
        if len(classes) < 2:
            raise ValueError(
                f"{data.name}: clustering needs at least 2 classes in the labels, found only "
                f"{str(classes[0]) if len(classes) else 'none'!r}"
            )

    def inputs(self, data: Any, fit_texts: Sequence[str] = ()) -> dict[Side, list[str]]:
        return {"document": list(data.texts)}

    def evaluate(
        self,
        data: Any,
        vectors: Vectors,
        names: Sequence[str],
        default: str | None,
        scoring: Scoring,
    ) -> CompareResult:
        labels = np.asarray(data.labels)

        def score(name: str) -> tuple[int, dict[str, np.ndarray]]:
            strategy = parse_strategy(name)
            x = vectors["document"][str(strategy.pooling)]
            if strategy.stages:
                x = fit_stages(strategy, x, x.shape[1], fitted_on="the texts clustered").features(x)
            x = np.asarray(x, dtype=np.float32)
            sample = min(SAMPLE_SIZE, len(labels))
            return x.shape[1], {
                "v_measure": cluster_v_measure(x, labels, self.runs, scoring.seed, sample)
            }

        rows = self.score_each(names, scoring, score)
        return CompareResult(
            task=self.name,
            primary_metric="v_measure",
            higher_is_better=True,
            metric_names=("v_measure",),
            strategies=tuple(rows),
            ensemble=None,
            fold_ids=np.arange(self.runs),
            default_strategy=default if default in names else None,
            unit="run",
            rows=len(labels),
        )

    def stages_note(self, data: Any, fit_name: str = "") -> str:
        return (
            f"Stages (whiten, pca, center, int8 ranges) were fitted on the {len(data.texts)} "
            "texts clustered; their labels were not used."
        )

    def score_kind(self, result: CompareResult) -> str:
        return "k-means with k = the gold classes (nothing fitted on labels), V-measure"

    def method(self) -> str:
        return (
            f"MiniBatchKMeans (k-means++, batch 512, k = the number of classes) on {self.runs} "
            "seeded bootstrap samples, MTEB's protocol; V-measure of each"
        )

    def ranking_note(self, result: CompareResult) -> str:
        return (
            f"The score is the mean V-measure of {result.n_folds} seeded runs; ± is their "
            "standard deviation and the 95% CI a Student-t interval of the mean. Every strategy "
            "is clustered on the same samples with the same seeds, so differences are paired "
            "per run."
        )

    def facts(self, result: CompareResult) -> str:
        return f"Task: {result.task}, {result.n_rows} texts, {result.n_folds} runs"
