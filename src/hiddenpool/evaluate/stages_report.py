"""The post-processing part of a report: each staged strategy's score, the share of its
unprocessed strategy's score it keeps, and what a stored vector costs."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from hiddenpool.evaluate.result import CompareResult
from hiddenpool.pooling import parse_strategy
from hiddenpool.pooling.stages import stages_dtype, stages_width

__all__ = ["StageRow", "stage_rows", "stages_section"]

_BYTES = {"float32": 4, "int8": 1, "uint8": 1}


@dataclass(frozen=True)
class StageRow:
    """One staged strategy beside the strategy it post-processes."""

    name: str
    base: str
    score: float
    base_score: float
    retained: float  # score / base score (base / score when lower is better)
    bytes_per_vector: int
    base_bytes: int

    def to_dict(self) -> dict[str, object]:
        return dict(self.__dict__)


def stage_rows(result: CompareResult) -> list[StageRow]:
    """A row per strategy with stages whose unprocessed strategy was scored too."""
    by_name = {s.name: s for s in result.strategies}
    primary = result.primary_metric
    rows = []
    for s in result.strategies:
        try:
            strategy = parse_strategy(s.name)
        except ValueError:  # features named by the caller, not by a spec
            continue
        base = by_name.get(str(strategy.pooling))
        if not strategy.stages or base is None:
            continue
        score, base_score = s.metrics[primary].mean, base.metrics[primary].mean
        ratio = score / base_score if result.higher_is_better else base_score / score
        width = stages_width(strategy.stages, base.dim)
        size = width * _BYTES[stages_dtype(strategy.stages)]
        rows.append(StageRow(s.name, base.name, score, base_score, ratio, size, base.dim * 4))
    return rows


def stages_section(result: CompareResult, notes: Sequence[str] = ()) -> str:
    """Markdown: the table of :func:`stage_rows` and the notes on what stages were fitted on."""
    rows = stage_rows(result)
    if not rows and not notes:
        return ""
    lines = ["", "## Post-processing", ""]
    if rows:
        metric = result.primary_metric
        lines += [
            f"| strategy | {metric} | unprocessed | retained | bytes per vector |",
            "|---|---|---|---|---|",
        ]
        for row in rows:
            name = row.name.replace("|", "\\|")  # a pipe would end the table cell
            lines.append(
                f"| `{name}` | {row.score:.4f} | {row.base_score:.4f} | "
                f"{100 * row.retained:.1f}% | {row.bytes_per_vector} (of {row.base_bytes}) |"
            )
        lines.append("")
    lines += [*notes, ""]
    return "\n".join(lines)
