"""A fitted state on disk: one safetensors file, its header holding JSON that names the model,
the specs and what they were fitted on, so ``embed --transform`` and ``export`` reuse it and
refuse it for another model or strategy."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from hiddenpool.pooling import parse_strategy
from hiddenpool.postprocess.fit import FittedStage, FittedStages

__all__ = ["StageState", "load_state", "save_state", "state_path_for"]

_KEY = "hiddenpool_stages"
_VERSION = 1


@dataclass(frozen=True)
class StageState:
    """Fitted stages of one or more strategies on one model.

    Attributes:
        model: what the vectors came from (name and config hash, as ``embed`` records them).
        fitted: spec -> its fitted stages.
    """

    model: Mapping[str, Any]
    fitted: Mapping[str, FittedStages]

    def check(self, model: Mapping[str, Any], specs: list[str], source: str) -> None:
        """Refuse a state fitted on another model, normalisation, or other strategies (every
        key of ``model`` must match)."""
        for key in sorted(model):
            if self.model.get(key) != model.get(key):
                raise ValueError(
                    f"{source} was fitted with {key} {self.model.get(key)!r}, "
                    f"this run has {model.get(key)!r}; fit the stages again"
                )
        missing = [s for s in specs if parse_strategy(s).needs_fitting and s not in self.fitted]
        if missing:
            raise ValueError(
                f"{source} holds fitted stages for {', '.join(self.fitted)}, not for "
                f"{', '.join(missing)}"
            )


def state_path_for(output: str | Path) -> Path:
    """Where ``embed --fit`` writes the state of ``output``: ``vectors.npy`` ->
    ``vectors.stages.safetensors``."""
    out = Path(output)
    return out.with_name(f"{out.stem}.stages.safetensors")


def save_state(state: StageState, path: str | Path) -> Path:
    """Write ``state`` atomically (a temporary file renamed into place)."""
    from safetensors.numpy import save_file

    target = Path(path)
    tensors: dict[str, np.ndarray] = {}
    specs = []
    for i, (spec, fitted) in enumerate(state.fitted.items()):
        stages = []
        for j, stage in enumerate(fitted.stages):
            for name in ("weight", "bias", "ranges"):
                value = getattr(stage, name)
                if value is not None:
                    tensors[f"{i}.{j}.{name}"] = np.ascontiguousarray(value)
            stages.append(str(stage.spec))
        specs.append(
            {
                "spec": spec,
                "strategy": str(fitted.strategy),
                "in_width": fitted.in_width,
                "rows": fitted.rows,
                "fitted_on": fitted.fitted_on,
            }
        )
    header = {"version": _VERSION, "model": dict(state.model), "specs": specs}
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    os.close(fd)
    try:
        save_file(tensors, tmp, metadata={_KEY: json.dumps(header)})
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


def load_state(path: str | Path) -> StageState:
    """Read a state written by :func:`save_state`."""
    from safetensors import SafetensorError, safe_open

    source = Path(path)
    if not source.is_file():
        raise FileNotFoundError(f"{source}: no such fitted state")
    try:
        with safe_open(str(source), framework="numpy") as handle:
            header = json.loads((handle.metadata() or {})[_KEY])
            tensors = {key: handle.get_tensor(key) for key in handle.keys()}  # noqa: SIM118
    except (KeyError, OSError, ValueError, SafetensorError):
        raise ValueError(f"{source}: not a hiddenpool fitted state") from None
    fitted: dict[str, FittedStages] = {}
    for i, entry in enumerate(header["specs"]):
        strategy = parse_strategy(entry["strategy"])
        stages = tuple(
            FittedStage(
                spec,
                tensors.get(f"{i}.{j}.weight"),
                tensors.get(f"{i}.{j}.bias"),
                tensors.get(f"{i}.{j}.ranges"),
            )
            for j, spec in enumerate(strategy.stages)
        )
        fitted[entry["spec"]] = FittedStages(
            strategy, stages, int(entry["in_width"]), int(entry["rows"]), entry["fitted_on"]
        )
    return StageState(header["model"], fitted)
