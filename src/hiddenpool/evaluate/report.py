"""Human-readable outputs of a comparison: a terminal table and a report folder."""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from hiddenpool.evaluate.metrics import HIGHER_IS_BETTER
from hiddenpool.evaluate.plots import plot_layers, plot_ranking
from hiddenpool.evaluate.result import CompareResult
from hiddenpool.evaluate.stages_report import stage_rows, stages_section
from hiddenpool.evaluate.stats import MetricSummary, PairedDifference
from hiddenpool.evaluate.tasks import Task, create_task
from hiddenpool.evaluate.templates_report import template_rows, templates_section
from hiddenpool.io import atomic_write_text

__all__ = ["format_table", "score_kind", "write_report"]


_UNITS = {"fold": "folds", "query": "queries", "run": "runs"}


def _task(result: CompareResult) -> Task:
    return create_task(result.task)


def score_kind(result: CompareResult) -> str:
    """Which kind of score ranked the strategies: zero-shot cosine, a cross-validated probe,
    exact search, k-means... (the task's own sentence).

    The kinds can disagree on which pooling is best, so every report says which one it used.

    >>> score_kind(result)  # doctest: +SKIP
    'zero-shot cosine similarity (nothing fitted), Spearman over all pairs'
    """
    return _task(result).score_kind(result)


def _spread(result: CompareResult) -> str:
    """What the score ± its spread is: a mean over folds or queries, or the all-pairs score."""
    return _task(result).spread()


def _num(value: float, digits: int = 4) -> str:
    return "nan" if math.isnan(value) else f"{value:.{digits}f}"


def _signed(value: float, digits: int = 4) -> str:
    return "nan" if math.isnan(value) else f"{value:+.{digits}f}"


def _mean_std(summary: MetricSummary) -> str:
    return f"{_num(summary.mean)} ± {_num(summary.std)}"


def _ci(summary: MetricSummary) -> str:
    return f"[{_num(summary.ci_low)}, {_num(summary.ci_high)}]"


def _verdict(diff: PairedDifference, unit: str = "fold") -> str:
    if diff.exceeds_noise:
        return f"exceeds the {unit} noise (paired 95% CI excludes 0)"
    return f"is within the {unit} noise (paired 95% CI includes 0)"


def _ensemble_verdict(helps: bool, exceeds_noise: bool) -> str:
    if helps and exceeds_noise:
        return "it helps, by more than the fold noise"
    if helps:
        return "it is ahead on average, but within the fold noise"
    if exceeds_noise:
        return "it does not help: it is worse by more than the fold noise"
    return "it does not help (the difference is within the fold noise)"


def _direction(metric: str) -> str:
    return "higher is better" if HIGHER_IS_BETTER[metric] else "lower is better"


def format_table(result: CompareResult, default_strategy: str | None = None) -> str:
    """Plain aligned text of the ranking for the terminal.

    Args:
        result: the comparison.
        default_strategy: overrides ``result.default_strategy`` (marked with ``*``).

    Returns:
        The table, one strategy per line, best first, then the ensemble line.
    """
    default = default_strategy or result.default_strategy
    metrics = result.metric_names
    header = ["#", "strategy", f"{metrics[0]} ({_spread(result)})", "95% CI"]
    header += [f"{m} ({_spread(result)})" for m in metrics[1:]] + ["dim"]
    lines: list[list[str]] = []
    for rank, strategy in enumerate(result.ranked(), start=1):
        name = f"{strategy.name} *" if strategy.name == default else strategy.name
        cells = [_mean_std(strategy.metrics[m]) for m in metrics]
        primary = strategy.metrics[result.primary_metric]
        lines.append([str(rank), name, cells[0], _ci(primary), *cells[1:], str(strategy.dim)])
    if result.ensemble is not None:
        cells = [_mean_std(result.ensemble.metrics[m]) for m in metrics]
        primary = result.ensemble.metrics[result.primary_metric]
        lines.append(["-", "ensemble (top-k)", cells[0], _ci(primary), *cells[1:], "-"])
    for b in result.baselines:
        cells = [_mean_std(b.metrics[m]) for m in metrics]
        primary = b.metrics[result.primary_metric]
        lines.append(["-", f"{b.name} (baseline)", cells[0], _ci(primary), *cells[1:], "-"])
    widths = [max(len(row[i]) for row in [header, *lines]) for i in range(len(header))]
    right = {0, len(header) - 1}

    def render(row: list[str]) -> str:
        return "  ".join(
            cell.rjust(widths[i]) if i in right else cell.ljust(widths[i])
            for i, cell in enumerate(row)
        ).rstrip()

    out = [render(header), render(["-" * w for w in widths]), *map(render, lines)]
    if default:
        out.append(
            f"* default strategy; ranked by {result.primary_metric} "
            f"({_direction(result.primary_metric)}): {score_kind(result)}"
        )
    return "\n".join(out)


def _markdown(
    result: CompareResult, title: str, default: str | None, model: str | None, dataset: str | None
) -> str:
    primary = result.primary_metric
    best = result.best
    lines = [f"# {title}", ""]
    facts = []
    if model:
        facts.append(f"Model: `{model}`")
    if dataset:
        facts.append(f"Dataset: `{dataset}`")
    task = _task(result)
    facts.append(task.facts(result))
    lines += [" · ".join(facts), ""]
    lines += [
        f"Ranked by: **{score_kind(result)}**.",
        "",
        f"Primary metric: **{primary}** ({_direction(primary)}). "
        f"{task.method_label}: {task.method()}.",
        "",
        "## Winner",
        "",
        f"**`{best.name}`**: {primary} {_mean_std(best.metrics[primary])} "
        f"(95% CI {_ci(best.metrics[primary])}).",
        "",
    ]
    versus = result.winner_vs_default(default)
    if versus is not None and default == best.name:
        lines += [f"The default strategy `{default}` is the winner.", ""]
    elif versus is not None and default is not None:
        d = result.get(default).metrics[primary]
        lines += [
            f"Versus the default `{default}` ({_mean_std(d)}): difference "
            f"{_signed(versus.mean)} (paired over {_UNITS.get(result.unit, result.unit)}, 95% CI "
            f"[{_signed(versus.ci_low)}, {_signed(versus.ci_high)}]), which "
            f"{_verdict(versus, result.unit)}.",
            "",
        ]
    if result.ensemble is not None:
        ens = result.ensemble
        diff = ens.versus_best
        sizes = ", ".join(str(len(m)) for m in ens.members)
        common = Counter(name for members in ens.members for name in members).most_common(5)
        members = ", ".join(f"`{n}` ({c}/{result.n_folds})" for n, c in common)
        lines += [
            "## Ensemble",
            "",
            f"Average of the top-k strategies, with k and the members chosen on each training "
            f"fold only (k per fold: {sizes}): {primary} {_mean_std(ens.metrics[primary])}. "
            f"Versus the best single strategy `{best.name}`: {_signed(diff.mean)} "
            f"(95% CI [{_signed(diff.ci_low)}, {_signed(diff.ci_high)}]); "
            f"{_ensemble_verdict(ens.helps, diff.exceeds_noise)}. Most chosen members: "
            f"{members}. The best single strategy was picked with all folds, which favours "
            "it over the ensemble.",
            "",
        ]
    lines += ["## Ranking", ""]
    metrics = result.metric_names
    param = next((s.param_name for s in result.strategies if s.param_name), "")
    head = ["#", "strategy", f"{primary} {_spread(result)}", "95% CI", *metrics[1:], "dim"]
    head += [f"{param} chosen (range over folds)"] if param else []
    lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for rank, s in enumerate(result.ranked(), start=1):
        name = f"`{s.name}`".replace("|", "\\|") + (" (default)" if s.name == default else "")
        if s.at_grid_edge:
            name += " †"
        row = [str(rank), name, _mean_std(s.metrics[primary]), _ci(s.metrics[primary])]
        row += [_mean_std(s.metrics[m]) for m in metrics[1:]] + [str(s.dim)]
        if param:
            values = [v for p in s.params for v in p]
            low, high = min(values), max(values)
            row.append(f"{low:.3g}" if low == high else f"{low:.3g}–{high:.3g}")
        lines.append("| " + " | ".join(row) + " |")
    for b in result.baselines:
        row = [
            "-", f"{b.name} (baseline, no vectors)", _mean_std(b.metrics[primary]),
            _ci(b.metrics[primary]), *[_mean_std(b.metrics[m]) for m in metrics[1:]], "-",
        ]  # fmt: skip
        lines.append("| " + " | ".join(row + ([""] if param else [])) + " |")
    note = task.ranking_note(result)
    lines += ["", note]
    if any(s.at_grid_edge for s in result.strategies):
        lines.append(
            f"† some fold chose the edge of the {param} grid; a wider grid might score better."
        )
    lines += ["", "![ranking](ranking.png)", ""]
    return "\n".join(lines)


def write_report(
    result: CompareResult,
    out_dir: str | Path,
    title: str | None = None,
    default_strategy: str | None = None,
    model_name: str | None = None,
    dataset_name: str | None = None,
    num_layers: int | None = None,
    notes: Sequence[str] = (),
) -> dict[str, Path]:
    """Write ``report.md``, ``results.json``, ``ranking.png`` and, if any, ``layers.png``.

    ``layers.png`` is written when strategies are named ``FAMILY@LAYER`` for two or more
    layers (for example ``mean@0`` .. ``mean@6``). Every file is written atomically.

    Args:
        result: the comparison.
        out_dir: folder to write into (created).
        title: report title; built from the model and dataset names when omitted.
        default_strategy: the model's default strategy; overrides ``result.default_strategy``.
        model_name: shown in the title, report and plots.
        dataset_name: shown in the title, report and plots.
        num_layers: the model's layer count: ``mean`` is then the last point of the
            ``mean@0`` .. curve.
        notes: lines for the post-processing section (what the stages were fitted on).

    Returns:
        ``{"report": ..., "results": ..., "ranking": ..., "layers": ...}`` for the files
        written.

    Raises:
        ValueError: ``default_strategy`` is not one of the result's strategies.
    """
    default = default_strategy or result.default_strategy
    if default is not None:
        result.get(default)  # raises ValueError naming the valid strategies
    folder = Path(out_dir)
    folder.mkdir(parents=True, exist_ok=True)
    subject = " on ".join(x for x in (model_name, dataset_name) if x)
    title = title or (f"Pooling strategies: {subject}" if subject else "Pooling strategies")
    metric = result.primary_metric
    plot_title = f"{subject or 'strategies'}: {metric} ({_direction(metric)})"
    written: dict[str, Path] = {
        "ranking": plot_ranking(result, folder / "ranking.png", plot_title, default),
    }
    layers = plot_layers(
        result,
        folder / "layers.png",
        f"{subject + ': ' if subject else ''}{metric} per layer (band: ±1 std over folds; ★ best)",
        default_strategy=default,
        num_layers=num_layers,
    )
    markdown = _markdown(result, title, default, model_name, dataset_name)
    markdown += stages_section(result, notes)
    markdown += templates_section(result)
    if layers is not None:
        written["layers"] = layers
        markdown += "\n![layers](layers.png)\n"
    payload = {
        "title": title,
        "model": model_name,
        "dataset": dataset_name,
        **result.to_dict(),
        "score_kind": score_kind(result),
        "default_strategy": default,
        "post_processing": [row.to_dict() for row in stage_rows(result)],
        "notes": list(notes),
        "templates": [row.to_dict() for row in template_rows(result)],
    }
    versus = result.winner_vs_default(default)
    payload["winner_vs_default"] = versus.to_dict() if versus else None
    written["results"] = atomic_write_text(
        folder / "results.json", json.dumps(payload, indent=2, allow_nan=False) + "\n"
    )
    written["report"] = atomic_write_text(folder / "report.md", markdown)
    return written
