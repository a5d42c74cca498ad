"""The report's template section: which prompt template won, and by how much, paired over folds.

Strategies are grouped by the input they read: the plain text, or the text inside one prompt
template (``promptbert:mask`` and ``promptbert:mean`` read the same input). Each group's best
strategy is compared with the best plain-text strategy on the same folds, as layers are.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from hiddenpool.evaluate.result import CompareResult
from hiddenpool.evaluate.stats import PairedDifference
from hiddenpool.pooling import parse_strategy

__all__ = ["TemplateRow", "template_rows", "templates_section"]

PLAIN = "plain text"


@dataclass(frozen=True)
class TemplateRow:
    """The best strategy that reads one input, against the best plain-text strategy.

    Attributes:
        template: the template's name, or ``"plain text"``.
        best: its best strategy.
        score: that strategy's primary metric.
        versus_plain: the paired difference ``best - best plain-text strategy`` (None for the
            plain text itself, or when no plain-text strategy was compared).
    """

    template: str
    best: str
    score: float
    versus_plain: PairedDifference | None

    def to_dict(self) -> dict[str, object]:
        return {
            "template": self.template,
            "best": self.best,
            "score": self.score,
            "versus_plain": None if self.versus_plain is None else self.versus_plain.to_dict(),
        }


def _template_of(name: str) -> str | None:
    """The template a strategy reads, None for the plain text or a name that is not a spec
    (features compared under names of their own)."""
    try:
        return parse_strategy(name).template
    except ValueError:
        return None


def template_rows(result: CompareResult) -> list[TemplateRow]:
    """One row per input (plain text first, then templates, best first); [] without templates."""
    best: dict[str, str] = {}
    for strategy in result.ranked():  # best first, so the first seen per input is its best
        template = _template_of(strategy.name) or PLAIN
        best.setdefault(template, strategy.name)
    if set(best) <= {PLAIN}:
        return []
    primary = result.primary_metric
    plain = best.get(PLAIN)
    rows = []
    for template, name in best.items():
        versus = None if plain is None or template == PLAIN else result.compare(name, plain)
        rows.append(TemplateRow(template, name, result.get(name).metrics[primary].mean, versus))
    rows.sort(key=lambda row: row.template != PLAIN)  # stable: plain first, then by rank
    return rows


def _signed(value: float) -> str:
    return "nan" if math.isnan(value) else f"{value:+.4f}"


def templates_section(result: CompareResult) -> str:
    """Markdown: the best strategy per input and each template's paired difference."""
    rows = template_rows(result)
    if not rows:
        return ""
    primary = result.primary_metric
    lines = [
        "",
        "## Templates",
        "",
        "Each input's best strategy (the text alone, or placed in a prompt template), against "
        "the best strategy on the text alone, paired over the same folds.",
        "",
        f"| input | best strategy | {primary} | versus plain text | 95% CI | beyond fold noise |",
        "|---|---|---|---|---|---|",
    ]
    for row in rows:
        diff = row.versus_plain
        cells = [row.template, f"`{row.best}`", f"{row.score:.4f}"]
        if diff is None:
            cells += ["", "", ""]
        else:
            ci = f"[{_signed(diff.ci_low)}, {_signed(diff.ci_high)}]"
            cells += [_signed(diff.mean), ci, "yes" if diff.exceeds_noise else "no"]
        lines.append("| " + " | ".join(cells) + " |")
    templated = [(row, row.versus_plain) for row in rows if row.versus_plain is not None]
    if templated:
        top, diff = templated[0]  # rows after the plain text are in rank order
        verdict = "beats" if diff.a_is_better else "does not beat"
        noise = "beyond" if diff.exceeds_noise else "within"
        lines += [
            "",
            f"Best template: **{top.template}** (`{top.best}`), {_signed(diff.mean)} {primary} "
            f"versus `{rows[0].best}`: it {verdict} the text alone, {noise} the fold noise.",
        ]
    return "\n".join(lines) + "\n"
