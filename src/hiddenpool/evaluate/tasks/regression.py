"""Regression: ridge probes, Spearman (or MCRMSE for several targets)."""

from __future__ import annotations

from typing import ClassVar

from hiddenpool.evaluate.tasks.base import register_task
from hiddenpool.evaluate.tasks.probe import ProbeTask

__all__ = ["RegressionTask"]


@register_task
class RegressionTask(ProbeTask):
    """Ridge on standardised features, alpha by leave-one-out on the training fold."""

    name: ClassVar[str] = "regression"
    label_task: ClassVar[str | None] = "regression"
    probe: ClassVar[str] = "ridge"
    description: ClassVar[str] = "numeric labels: a cross-validated ridge probe (Spearman)"

    def method(self) -> str:
        return (
            "ridge on features standardised with the training fold's mean and std; alpha per "
            "target chosen by exact leave-one-out on the training fold"
        )
