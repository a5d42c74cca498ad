"""Post-pooling stages: the ``| STAGE`` suffix of a spec, parsed without numpy or torch.

A stage maps pooled vectors to vectors (or to int8/packed bits). Fitting and applying them lives
in :mod:`hiddenpool.postprocess`; here is only the language and the shapes::

    spec  := pooling ("|" stage)*
    stage := NAME ["(" INT ")"]

``mean@-4: | whiten(256)``, ``cls | pca(128) | normalize``, ``mean | truncate(128)``,
``mean | int8``. Stages run in the order written, after the encoder's own normalisation.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

__all__ = [
    "STAGES",
    "StageEntry",
    "StageSpec",
    "check_stages",
    "list_stages",
    "needs_fitting",
    "parse_stage",
    "stages_dtype",
    "stages_to_fit",
    "stages_width",
]

_STAGE = re.compile(r"^([a-z_][a-z0-9_]*)\s*(?:\(\s*([^)]*?)\s*\))?$")


@dataclass(frozen=True)
class StageEntry:
    """What one stage is.

    Attributes:
        name: its name in specs.
        takes_k: it is written ``name(k)`` and keeps k dimensions.
        fitted: it needs statistics of fitting texts (mean, covariance or ranges).
        linear: an affine map (exported as a sentence-transformers ``Dense`` layer).
        dtype: the output dtype (float32, or int8/uint8 for the quantisations).
        description: one line for ``hiddenpool strategies``.
    """

    name: str
    takes_k: bool
    fitted: bool
    linear: bool
    dtype: str
    description: str

    @property
    def quantizes(self) -> bool:
        return self.dtype != "float32"


STAGES: dict[str, StageEntry] = {
    e.name: e
    for e in (
        StageEntry("center", False, True, True, "float32", "subtract the fitted mean"),
        StageEntry(
            "whiten",
            True,
            True,
            True,
            "float32",
            "BERT-whitening (Su et al. 2021): centre, rotate and rescale by the fitted "
            "covariance's SVD, keep k dimensions",
        ),
        StageEntry("pca", True, True, True, "float32", "centre, project on the top k components"),
        StageEntry("truncate", True, False, True, "float32", "keep the first k dimensions"),
        StageEntry("normalize", False, False, False, "float32", "L2-normalise"),
        StageEntry(
            "int8", False, True, False, "int8", "256 buckets per dimension between fitted ranges"
        ),
        StageEntry("uint8", False, True, False, "uint8", "the same, unsigned"),
        StageEntry("binary", False, False, False, "int8", "sign bits packed 8 per byte, minus 128"),
        StageEntry("ubinary", False, False, False, "uint8", "sign bits packed 8 per byte"),
    )
}


def needs_fitting(stages: Iterable[StageSpec]) -> bool:
    """Whether ``stages`` need a fitted state (statistics of fitting texts) before they run.

    The one rule every command follows (``embed`` on either engine, ``Encoder``, ``compare``,
    ``export``, ``serve``): truncate, normalize, binary and ubinary run on any vector as they
    are; center, whiten, pca, int8 and uint8 need ``fit=``/``transform=`` first (on the local
    engine: ``embed --engine ray`` refuses them).

    >>> needs_fitting((StageSpec("truncate", 64), StageSpec("binary"))), needs_fitting(
    ...     (StageSpec("int8"),))
    (False, True)
    """
    return bool(stages_to_fit(stages))


def stages_to_fit(stages: Iterable[StageSpec]) -> str:
    """The stages that need a fitted state, as written in a spec (``"whiten(256), int8"``), for
    the messages that ask for one; empty when none does."""
    return ", ".join(str(stage) for stage in stages if stage.entry.fitted)


def list_stages() -> list[str]:
    """Stage names, in the order ``hiddenpool strategies`` lists them."""
    return list(STAGES)


@dataclass(frozen=True)
class StageSpec:
    """One stage and its k (dimensions kept), if it takes one."""

    name: str
    k: int | None = None

    def __str__(self) -> str:
        return self.name if self.k is None else f"{self.name}({self.k})"

    @property
    def entry(self) -> StageEntry:
        return STAGES[self.name]


def _error(spec: str, why: str) -> ValueError:
    return ValueError(f"invalid pooling spec {spec!r}: {why}")


def parse_stage(spec: str, text: str) -> StageSpec:
    """Parse one ``NAME`` or ``NAME(k)``; ``spec`` is the whole spec, for the error message."""
    match = _STAGE.match(text.strip())
    entry = STAGES.get(match.group(1)) if match else None
    if match is None or entry is None:
        raise _error(
            spec, f"unknown stage {text.strip()!r} after '|'; choose from {', '.join(STAGES)}"
        )
    raw = match.group(2)
    if not entry.takes_k:
        if raw is not None:
            raise _error(spec, f"{entry.name} takes no argument, got {text.strip()!r}")
        return StageSpec(entry.name)
    if raw is None or not re.fullmatch(r"[0-9]+", raw) or int(raw) < 1:  # '²' isdigit()
        raise _error(spec, f"{entry.name} keeps k dimensions: write {entry.name}(k), k >= 1")
    return StageSpec(entry.name, int(raw))


def check_stages(spec: str, stages: tuple[StageSpec, ...]) -> None:
    """A quantisation, if any, comes last (its output is no longer a float vector)."""
    for stage in stages[:-1]:
        if stage.entry.quantizes:
            raise _error(spec, f"{stage} quantises: it must be the last stage")


def stages_width(stages: tuple[StageSpec, ...], width: int) -> int:
    """Output width (elements per vector) of ``stages`` on vectors of ``width``.

    >>> stages_width((StageSpec("whiten", 256), StageSpec("binary")), 384)
    32

    Raises:
        ValueError: a stage keeps more dimensions than it is given.
    """
    for stage in stages:
        if stage.k is not None:
            if stage.k > width:
                raise ValueError(
                    f"{stage} keeps {stage.k} dimensions but the vectors before it have {width}"
                )
            width = stage.k
        elif stage.name in ("binary", "ubinary"):
            width = (width + 7) // 8
    return width


def stages_dtype(stages: tuple[StageSpec, ...]) -> str:
    """The dtype of the vectors ``stages`` produce: float32, int8 or uint8."""
    return stages[-1].entry.dtype if stages else "float32"
