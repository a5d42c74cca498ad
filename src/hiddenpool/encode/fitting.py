"""Fit a file's post-pooling stages (``embed --fit`` / ``--fit-self``) by streaming it.

Each pass reads the fitting file ``chunk_size`` texts at a time and pools them; the stages'
float64 moments absorb one chunk at a time (:mod:`hiddenpool.postprocess.fit`), so memory does
not grow with the file. One pass per fitted stage: ``mean | whiten(256)`` reads the file once,
``mean | whiten(256) | int8`` twice (the int8 ranges are those of the whitened vectors).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from hiddenpool.backbone import Backbone
from hiddenpool.encode.encoder import Encoder
from hiddenpool.io import open_texts
from hiddenpool.pooling import parse_strategy
from hiddenpool.pooling.stages import stages_to_fit
from hiddenpool.postprocess import FittedStages, fit_stages
from hiddenpool.postprocess.state import StageState, load_state, save_state, state_path_for

__all__ = ["backbone_identity", "fit_file", "model_identity", "prepare_stages", "state_digest"]


def model_identity(encoder: Encoder) -> dict[str, Any]:
    """What must match for a fitted state to apply: the model, its normalisation and length."""
    return backbone_identity(encoder.backbone, encoder.normalize, encoder.max_length)


def backbone_identity(backbone: Backbone, normalize: bool, max_length: int) -> dict[str, Any]:
    """:func:`model_identity` of a backbone used with ``normalize`` and ``max_length``."""
    config = backbone.model.config
    return {
        "model": backbone.name,
        "model_config": hashlib.sha256(config.to_json_string().encode()).hexdigest()[:16],
        "normalize": bool(normalize),
        "max_length": int(max_length),
    }


def fit_file(
    path: str | Path,
    encoder: Encoder,
    specs: Sequence[str],
    *,
    text_column: str | None = None,
    chunk_size: int = 20_000,
    batch_tokens: int | None = None,
) -> dict[str, FittedStages]:
    """Fit the stages of ``specs`` on the texts of ``path``, streamed in chunks.

    Returns:
        spec -> fitted stages, for the specs whose stages need fitting (the encoder builds the
        others, truncate, normalize, binary..., without fitting texts).
    """
    fitted: dict[str, FittedStages] = {}
    for spec in specs:
        strategy = parse_strategy(spec)
        if not strategy.needs_fitting:
            continue
        pooling = str(strategy.pooling)

        def chunks(pooling: str = pooling) -> Iterator[np.ndarray]:
            for chunk in open_texts(path, text_column).chunks(chunk_size):
                yield encoder.embed(chunk.texts, [pooling], batch_tokens=batch_tokens).vectors[
                    pooling
                ]

        width = encoder.width(pooling)
        fitted[spec] = fit_stages(strategy, chunks, width, fitted_on=str(path))
    return fitted


def prepare_stages(
    encoder: Encoder,
    specs: Sequence[str],
    output: str | Path,
    *,
    fit: str | Path | None = None,
    transform: str | Path | None = None,
    text_column: str | None = None,
    chunk_size: int = 20_000,
    batch_tokens: int | None = None,
) -> StageState | None:
    """Fitted stages for ``specs``: read from ``transform``, or fitted on ``fit`` and saved next
    to ``output`` (reused when that state was fitted on the same, unchanged file, so a resumed
    run does not fit again). The encoder applies them from then on.

    Returns:
        The state, or None when no spec has stages that need fitting.

    Raises:
        ValueError: stages that need fitting without ``fit`` or ``transform``; a state from
            another model, normalisation or strategy; too few fitting texts for a k.
    """
    staged = [s for s in specs if parse_strategy(s).needs_fitting]
    if not staged:
        return None
    identity = model_identity(encoder)
    if transform is not None:
        state = load_state(transform)
        state.check(identity, staged, str(transform))
    elif fit is None:
        to_fit = stages_to_fit(parse_strategy(staged[0]).stages)
        raise ValueError(
            f"{staged[0]} has stages to fit ({to_fit}): give fit=FILE, fit_self=True or "
            "transform=STATE"
        )
    else:
        fingerprint = open_texts(fit, text_column).fingerprint()
        if fingerprint is None:
            raise ValueError(f"{fit}: stages are fitted in passes over a file; stdin is read once")
        model = {**identity, "fitted_on": _digest(fingerprint)}
        target = state_path_for(output)
        reused = _reusable(target, model, staged)
        if reused is not None:
            state = reused
        else:
            fitted = fit_file(
                fit,
                encoder,
                staged,
                text_column=text_column,
                chunk_size=chunk_size,
                batch_tokens=batch_tokens,
            )
            state = StageState(model, fitted)
            save_state(state, target)
    encoder.use_stages(state.fitted[s] for s in staged)
    return state


def state_digest(state: StageState) -> str:
    """A short hash of a state's fitted arrays and header: part of an embed run's settings, so
    a run resumes only with the same fitted stages."""
    digest = hashlib.sha256(json.dumps(dict(state.model), sort_keys=True).encode())
    for spec, fitted in sorted(state.fitted.items()):
        digest.update(spec.encode())
        for stage in fitted.stages:
            for array in (stage.weight, stage.bias, stage.ranges):
                if array is not None:
                    digest.update(np.ascontiguousarray(array).tobytes())
    return digest.hexdigest()[:16]


def _digest(fingerprint: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(fingerprint, sort_keys=True).encode()).hexdigest()[:16]


def _reusable(target: Path, model: dict[str, Any], specs: list[str]) -> StageState | None:
    if not target.is_file():
        return None
    try:
        state = load_state(target)
        state.check(model, specs, str(target))
    except ValueError:
        return None
    return state
