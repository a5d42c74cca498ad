"""Similarity: zero-shot cosine of sentence pairs against gold scores (STS), Spearman."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np

from hiddenpool.evaluate.compare import Features, evaluate_features
from hiddenpool.evaluate.result import CompareResult
from hiddenpool.evaluate.tasks.base import FoldedTask, Scoring, Vectors, register_task
from hiddenpool.pooling import parse_strategy
from hiddenpool.pooling.spec import Side
from hiddenpool.postprocess import fit_stages

__all__ = ["SimilarityTask"]


@register_task
class SimilarityTask(FoldedTask):
    """Cosine of each pair, nothing fitted; the all-pairs Spearman, folds for its spread.

    Stages are fitted on ``fit_texts`` (e.g. STS-B's train sentences) when given, else on the
    sentences scored (transductive, labels unused), and applied to every pair.
    """

    name: ClassVar[str] = "similarity"
    label_task: ClassVar[str | None] = "similarity"
    method_label: ClassVar[str] = "Probe"
    description: ClassVar[str] = "sentence pairs with gold scores: zero-shot cosine (Spearman)"

    def inputs(self, data: Any, fit_texts: Sequence[str] = ()) -> dict[Side, list[str]]:
        # one call for the pairs and the fitting texts, as before the task protocol
        return {"document": list(data.texts) + list(fit_texts)}

    def evaluate(
        self,
        data: Any,
        vectors: Vectors,
        names: Sequence[str],
        default: str | None,
        scoring: Scoring,
    ) -> CompareResult:
        n = len(data.texts)
        every = vectors["document"]
        scored = {key: v[:n] for key, v in every.items()}
        extra = {key: v[n:] for key, v in every.items()}
        fit_on = extra if any(len(v) for v in extra.values()) else scored
        folds = self.folds(data, scoring)
        features: dict[str, Features] = {}
        for name in names:
            strategy = parse_strategy(name)
            pooled: np.ndarray = scored[str(strategy.pooling)]
            if strategy.stages:
                fitting = fit_on[str(strategy.pooling)]
                pooled = fit_stages(strategy, fitting, fitting.shape[1]).features(pooled)
            features[name] = pooled
        return evaluate_features(
            features,
            data,
            folds,
            default_strategy=default if default in names else None,
            seed=scoring.seed,
            progress=scoring.progress,
        )

    def stages_note(self, data: Any, fit_name: str = "") -> str:
        if fit_name:
            return f"Stages were fitted on {fit_name}, not on the pairs scored."
        return (
            f"Similarity has no training rows: stages were fitted on all {len(data.texts)} "
            "sentences scored (transductive, as in BERT-whitening); their labels were not used."
        )

    def score_kind(self, result: CompareResult) -> str:
        return "zero-shot cosine similarity (nothing fitted), Spearman over all pairs"

    def method(self) -> str:
        return (
            "cosine similarity of each pair, no fitting; the score is over all pairs at once "
            "(as MTEB reports it), the folds give its spread"
        )

    def spread(self) -> str:
        return "all pairs ± fold std"

    def ranking_note(self, result: CompareResult) -> str:
        return (
            f"The score is the Spearman of all {result.n_rows} pairs at once; ± is the "
            f"standard deviation of the Spearman over {result.n_folds} disjoint folds of the "
            "pairs, and the 95% CI is the Student-t interval of the fold mean, centred on the "
            "all-pairs score. Every strategy uses the same folds, so differences are paired "
            "per fold."
        )
