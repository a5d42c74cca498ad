"""Classification: logistic-regression probes, accuracy and macro-F1."""

from __future__ import annotations

from typing import ClassVar

from hiddenpool.evaluate.tasks.base import register_task
from hiddenpool.evaluate.tasks.probe import ProbeTask

__all__ = ["ClassificationTask"]


@register_task
class ClassificationTask(ProbeTask):
    """Logistic regression on standardised features, C by inner CV on the training fold."""

    name: ClassVar[str] = "classification"
    label_task: ClassVar[str | None] = "classification"
    probe: ClassVar[str] = "logistic regression"
    description: ClassVar[str] = "class labels: a cross-validated logistic probe (accuracy)"

    def method(self) -> str:
        return (
            "logistic regression on features standardised with the training fold's mean and std;"
            " C chosen by inner 3-fold CV log-loss on the training fold"
        )
