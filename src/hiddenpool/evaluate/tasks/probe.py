"""What regression and classification share: a cross-validated linear probe per strategy."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np

from hiddenpool.evaluate.compare import evaluate_features
from hiddenpool.evaluate.result import CompareResult
from hiddenpool.evaluate.tasks.base import FoldedTask, Scoring, Vectors
from hiddenpool.pooling import Strategy, parse_strategy
from hiddenpool.pooling.spec import Side

__all__ = ["ProbeTask"]


class ProbeTask(FoldedTask):
    """Fit a linear probe on each training fold, score its test fold; stages per fold too."""

    method_label: ClassVar[str] = "Probe"
    probe: ClassVar[str] = ""

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
        pooled = vectors["document"]
        folds = self.folds(data, scoring)
        features: dict[str, np.ndarray] = {}
        stages: dict[str, Strategy] = {}
        for name in names:
            strategy = parse_strategy(name)
            features[name] = pooled[str(strategy.pooling)]
            if strategy.stages:  # fitted on each training fold by the probe
                stages[name] = strategy
        return evaluate_features(
            features,
            data,
            folds,
            default_strategy=default if default in names else None,
            seed=scoring.seed,
            progress=scoring.progress,
            stages=stages,
        )

    def stages_note(self, data: Any, fit_name: str = "") -> str:
        return (
            "Stages (whiten, pca, center, int8 ranges) were fitted on each fold's training rows "
            "only, never on the rows scored."
        )

    def score_kind(self, result: CompareResult) -> str:
        return f"linear probe ({self.probe}), {result.n_folds}-fold cross-validated"

    def spread(self) -> str:
        return "mean ± std"

    def ranking_note(self, result: CompareResult) -> str:
        return (
            f"± is the standard deviation over the {result.n_folds} folds; the 95% CI is a "
            "Student-t interval of the mean over folds. Folds share training rows, so fold "
            "scores are correlated and these intervals are somewhat optimistic. Every strategy "
            "uses the same folds, so differences are paired per fold."
        )
