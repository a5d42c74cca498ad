"""Which pooling produced these vectors? Rank hiddenpool's strategies by closeness to them.

Given vectors made elsewhere (any server or library) for known texts, embed the same texts with
every parameter-free strategy of the model in one forward pass per batch and compare, row by row,
by cosine distance (which ignores scale) and then by the vectors' norms (which says whether they
were L2-normalised). The answer is a strategy within tolerance, or that none is: a projection
(Dense), a quantised model or another max length would each show up that way.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from hiddenpool.encode import Encoder

__all__ = ["Identification", "Match", "candidate_specs", "identify"]

_POOLERS = (
    "mean", "cls", "first", "last", "max", "min", "sum", "mean_sqrt_len", "weighted_mean",
    "meanmax", "gem", "mean(skip_special=true)", "pooler",
)  # fmt: skip


def candidate_specs(num_layers: int) -> list[str]:
    """Parameter-free strategies servers and libraries use: every pooler on every single layer,
    the last-4 average, first-last (and SimCSE's mistaken embedding-last) averages."""
    layers = ["", *(f"@{i}" for i in range(num_layers)), "@-4:", "@-2:", "@1,-1", "@0,-1"]
    return [pooler + layer for pooler in _POOLERS for layer in layers]


@dataclass(frozen=True)
class Match:
    """How close one strategy's vectors are to the given ones.

    Attributes:
        spec: the strategy.
        mean_distance: mean over rows of the cosine distance (1 - cosine).
        max_distance: the worst row's cosine distance.
        scale_error: the worst row's relative error of the unnormalised vectors, ||g - v|| / ||g||
            (small when the given vectors were not normalised and this strategy made them).
    """

    spec: str
    mean_distance: float
    max_distance: float
    scale_error: float


@dataclass(frozen=True)
class Identification:
    """The ranking, best first, and the verdict.

    Attributes:
        matches: every candidate of the right width, closest first.
        skipped: candidates of another width, or that this model cannot compute.
        given_normalized: whether every given vector has norm 1 (within 1e-3).
        tolerance: the largest worst-row cosine distance that counts as a match.
    """

    matches: list[Match]
    skipped: int
    given_normalized: bool
    tolerance: float

    @property
    def best(self) -> Match | None:
        """The closest strategy if it is within tolerance, else None."""
        if self.matches and self.matches[0].max_distance <= self.tolerance:
            return self.matches[0]
        return None

    def verdict(self) -> str:
        """One sentence: which strategy produced the vectors, or that none did."""
        best = self.best
        if best is None:
            closest = self.matches[0] if self.matches else None
            near = (
                f"; the closest is {closest.spec} (worst row's cosine distance "
                f"{closest.max_distance:.2e})"
                if closest
                else ""
            )
            return (
                f"no strategy matches within {self.tolerance:g}{near}: the vectors may come from a "
                "projection (Dense), a quantised or fine-tuned model, or another max length"
            )
        if self.given_normalized:
            norm = "L2-normalised"
        elif best.scale_error <= 1e-3:
            norm = "not normalised"
        else:
            norm = "rescaled (neither raw nor unit length)"
        ties = [m.spec for m in self.matches[1:] if m.max_distance <= self.tolerance]
        same = f"; equally close within tolerance: {', '.join(ties)}" if ties else ""
        return (
            f"{best.spec}, {norm} (worst row's cosine distance {best.max_distance:.2e}, "
            f"tolerance {self.tolerance:g}){same}"
        )


def _cosine_distance(given: np.ndarray, ours: np.ndarray) -> np.ndarray:
    g = np.linalg.norm(given, axis=1)
    o = np.linalg.norm(ours, axis=1)
    both_zero = (g == 0) & (o == 0)
    cos = (given * ours).sum(axis=1) / np.maximum(g * o, 1e-30)
    return np.where(both_zero, 0.0, 1.0 - cos)


def identify(
    vectors: np.ndarray,
    texts: Sequence[str],
    encoder: Encoder,
    specs: Sequence[str] | None = None,
    tolerance: float = 1e-4,
) -> Identification:
    """Rank strategies of ``encoder``'s model by how close they come to ``vectors``.

    Args:
        vectors: (n, d) vectors of ``texts`` made elsewhere.
        texts: the n texts, in the rows' order.
        encoder: an Encoder of the model to try, built with ``normalize=False`` (the vectors'
            norms are compared too).
        specs: candidates; None: :func:`candidate_specs`.
        tolerance: the largest worst-row cosine distance that counts as a match.

    >>> identify(np.load("server.npy"), texts, Encoder()).verdict()  # doctest: +SKIP
    "mean, L2-normalised (worst row's cosine distance 2.38e-08, tolerance 0.0001)"
    """
    given = np.asarray(vectors, dtype=np.float64)
    if given.ndim != 2 or given.shape[0] != len(texts):
        raise ValueError(
            f"vectors of shape {tuple(given.shape)} do not fit {len(texts)} texts: expected one "
            "row per text, in the same order"
        )
    if encoder.normalize:
        raise ValueError("identify needs an Encoder with normalize=False: norms are compared too")
    backbone = encoder.backbone
    candidates = list(specs) if specs is not None else candidate_specs(backbone.num_layers)
    if specs is None and backbone.pooler_status == "absent":  # decoders: no pooler_output
        candidates = [c for c in candidates if not c.startswith("pooler")]
    runnable = []
    for spec in candidates:
        try:
            if encoder.width(spec) == given.shape[1]:
                runnable.append(spec)
        except ValueError:  # a strategy this model cannot compute (no pooler_output, say)
            continue
    with warnings.catch_warnings():  # an untrained pooler's warning says nothing of the match
        warnings.simplefilter("ignore", UserWarning)
        ours = encoder.embed(list(texts), runnable).vectors if runnable else {}
    matches = []
    for spec in runnable:
        raw = ours[spec].astype(np.float64)
        distance = _cosine_distance(given, raw)
        scale = np.linalg.norm(given - raw, axis=1) / np.maximum(
            np.linalg.norm(given, axis=1), 1e-30
        )
        matches.append(
            Match(spec, float(distance.mean()), float(distance.max()), float(scale.max()))
        )
    matches.sort(key=lambda m: (m.max_distance, m.mean_distance))
    norms = np.linalg.norm(given, axis=1)
    return Identification(
        matches=matches,
        skipped=len(candidates) - len(runnable),
        given_normalized=bool(np.all(np.abs(norms - 1.0) <= 1e-3)),
        tolerance=tolerance,
    )
