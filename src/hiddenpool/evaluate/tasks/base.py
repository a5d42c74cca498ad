"""The task protocol: what a task embeds, how it scores strategies, and what its report says.

``compare`` is data -> task -> every strategy's vectors (shared forward passes) -> scores ->
report, and never asks which task it holds. A task module subclasses :class:`Task` and
registers it with :func:`register_task`; :func:`create_task` builds one by name.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

import numpy as np

from hiddenpool.evaluate.folds import Fold, make_folds
from hiddenpool.evaluate.result import CompareResult, StrategyResult
from hiddenpool.evaluate.stats import MetricSummary
from hiddenpool.pooling.spec import Side

__all__ = [
    "SIDES",
    "FoldedTask",
    "Scoring",
    "Task",
    "Vectors",
    "create_task",
    "get_task_class",
    "list_tasks",
    "register_task",
]

SIDES = ("query", "document")
Vectors = Mapping[str, Mapping[str, np.ndarray]]  # side -> pooled spec -> (n, dim)
Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class Scoring:
    """How a run of ``compare`` scores: the same for every strategy of the run.

    Attributes:
        folds: K of the K-fold cross-validation (probe and similarity tasks).
        seed: seeds folds, probes, samples and k-means.
        progress: a callback ``progress(name, done, total)`` after each strategy, or None.
    """

    folds: int = 5
    seed: int = 0
    progress: Progress | None = None


class Task(ABC):
    """One task type of ``compare``.

    Class attributes say what the task is; methods do its work:

    * ``reads``: the kind of data it takes (``"labelled"`` texts with labels, ``"retrieval"``
      queries + corpus + qrels, ``"reranking"`` queries with labelled candidates); with
      ``label_task`` the labelled data's own task (clustering reads classification data).
    * :meth:`inputs`: the texts it embeds, per side (``"query"`` / ``"document"``).
    * :meth:`evaluate`: every strategy's scores from those vectors; stages (``| whiten``...)
      are fitted where :meth:`stages_note` says.
    * ``unit``: what two strategies are paired over (``"fold"``, ``"query"``, ``"run"``).
    * :meth:`score_kind`, :meth:`method`, :meth:`spread`, :meth:`ranking_note`: the report's
      sentences.
    """

    name: ClassVar[str]
    reads: ClassVar[str] = "labelled"
    label_task: ClassVar[str | None] = None
    unit: ClassVar[str] = "fold"
    method_label: ClassVar[str] = "Scoring"
    two_sided: ClassVar[bool] = False  # queries and documents: the default sweep adds side pairs
    description: ClassVar[str] = ""

    def check_data(self, data: Any, scoring: Scoring) -> None:  # noqa: B027 - optional hook
        """Raise ValueError when ``data`` cannot be scored so, before anything is embedded."""

    @abstractmethod
    def inputs(self, data: Any, fit_texts: Sequence[str] = ()) -> dict[Side, list[str]]:
        """Side -> the texts to embed on that side (one ``encode_many`` call per side)."""

    @abstractmethod
    def evaluate(
        self,
        data: Any,
        vectors: Vectors,
        names: Sequence[str],
        default: str | None,
        scoring: Scoring,
    ) -> CompareResult:
        """Score the strategies ``names`` (specs, stages included) from the pooled vectors."""

    def baselines(self, data: Any, scoring: Scoring) -> tuple[StrategyResult, ...]:
        """Rows scored without vectors (BM25 for retrieval), shown beside the strategies."""
        return ()

    @abstractmethod
    def stages_note(self, data: Any, fit_name: str = "") -> str:
        """The report's sentence on what post-pooling stages were fitted on."""

    @abstractmethod
    def score_kind(self, result: CompareResult) -> str:
        """One line: which kind of score ranked the strategies."""

    @abstractmethod
    def method(self) -> str:
        """How one strategy is scored, for the report."""

    def spread(self) -> str:
        """What ``score ± spread`` means in the table headers."""
        return "mean ± std"

    @abstractmethod
    def ranking_note(self, result: CompareResult) -> str:
        """The paragraph under the ranking table: what ± and the interval are."""

    def facts(self, result: CompareResult) -> str:
        """The report's task line."""
        return f"Task: {result.task}, {result.n_rows} rows"

    @staticmethod
    def score_each(
        names: Sequence[str],
        scoring: Scoring,
        score: Callable[[str], tuple[int, Mapping[str, np.ndarray]]],
    ) -> list[StrategyResult]:
        """One result per strategy from ``score(name) -> (dim, metric -> per-unit values)``:
        each metric summarised over its units (queries, runs), timed, progress reported."""
        rows = []
        for index, name in enumerate(names, start=1):
            start = time.perf_counter()
            dim, values = score(name)
            metrics = {m: MetricSummary.from_folds(v.tolist()) for m, v in values.items()}
            primary = np.asarray(next(iter(values.values())), dtype=np.float64)
            seconds = time.perf_counter() - start
            rows.append(StrategyResult(name, dim, metrics, primary, "", (), False, seconds))
            if scoring.progress is not None:
                scoring.progress(name, index, len(names))
        return rows


class FoldedTask(Task):
    """A task scored on K folds shared by every strategy (probes, and similarity's spread)."""

    unit: ClassVar[str] = "fold"

    def folds(self, data: Any, scoring: Scoring) -> list[Fold]:
        """The K folds of ``data``'s rows (stratified for classes), the same for every strategy."""
        return make_folds(
            len(data.labels), k=scoring.folds, seed=scoring.seed, labels=data.labels, task=data.task
        )

    def check_data(self, data: Any, scoring: Scoring) -> None:
        self.folds(data, scoring)

    def facts(self, result: CompareResult) -> str:
        return f"Task: {result.task}, {result.n_rows} rows, {result.n_folds}-fold CV"


_T = TypeVar("_T", bound=type[Task])
_REGISTRY: dict[str, type[Task]] = {}


def register_task(cls: _T) -> _T:
    """Class decorator: make ``cls`` available to :func:`create_task` under ``cls.name``."""
    if cls.name in _REGISTRY and _REGISTRY[cls.name] is not cls:
        raise ValueError(f"task {cls.name!r} is already registered")
    _REGISTRY[cls.name] = cls
    return cls


def list_tasks() -> list[str]:
    """The registered task names, in registration order."""
    return list(_REGISTRY)


def get_task_class(name: str) -> type[Task]:
    """The class registered as ``name``.

    Raises:
        ValueError: no such task (the message lists them).
    """
    if name not in _REGISTRY:
        raise ValueError(f"unknown task {name!r}; expected one of {', '.join(_REGISTRY)}")
    return _REGISTRY[name]


def create_task(name: str, **options: Any) -> Task:
    """A task by name, with its options (e.g. ``k=100`` for retrieval).

    >>> create_task("similarity").unit
    'fold'
    """
    return get_task_class(name)(**options)
