"""Figures for a comparison: the ranking bar chart and the per-layer curve.

matplotlib is imported inside the functions and drawn through the Agg canvas directly
(no pyplot), so importing :mod:`hiddenpool.evaluate` stays light and nothing touches a
display or global figure state.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from hiddenpool.evaluate.result import CompareResult, StrategyResult
from hiddenpool.io import atomic_write

__all__ = ["layer_families", "plot_layers", "plot_ranking"]

_LAYERED = re.compile(r"^(?P<family>.+)@(?P<layer>-?\d+)$")
_PLAIN, _DEFAULT, _BEST, _ENSEMBLE = "#9fb4cc", "#e8833a", "#2e7d4f", "#7b5ea7"
_FAMILY_COLOURS = ("#1f5fa8", "#c0392b", "#2e7d4f", "#7b5ea7", "#b8860b", "#4d4d4d")


def _figure(width: float, height: float) -> Any:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), dpi=110, layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def _save(figure: Any, path: Path) -> Path:
    return atomic_write(path, lambda tmp: figure.savefig(tmp, format="png"))


_UNITS = {"fold": "folds", "query": "queries", "run": "seeded runs"}


def _higher(metric: str) -> bool:
    from hiddenpool.evaluate.metrics import HIGHER_IS_BETTER

    return HIGHER_IS_BETTER[metric]


def _direction(metric: str) -> str:
    return "higher is better" if _higher(metric) else "lower is better"


def plot_ranking(
    result: CompareResult,
    path: str | Path,
    title: str | None = None,
    default_strategy: str | None = None,
    metric: str | None = None,
) -> Path:
    """Horizontal bars of every strategy's mean fold score, best on top, ±1 std error bars.

    The default strategy is orange, the winner green, the ensemble (if any) purple. The
    axis is zoomed to the scores' range, so bar lengths are relative, as the label says.

    Args:
        result: the comparison.
        path: PNG to write (atomically).
        title: figure title.
        default_strategy: overrides ``result.default_strategy``.
        metric: metric to plot; defaults to the primary one.

    Returns:
        The written path.
    """
    metric = metric or result.primary_metric
    default = default_strategy or result.default_strategy
    ranked = result.ranked(metric)
    rows: list[tuple[str, float, float, str]] = []
    for i, strategy in enumerate(ranked):
        summary = strategy.metrics[metric]
        colour = _BEST if i == 0 else _DEFAULT if strategy.name == default else _PLAIN
        label = f"{strategy.name}  (default)" if strategy.name == default else strategy.name
        rows.append((label, summary.mean, summary.std, colour))
    if result.ensemble is not None:
        ens = result.ensemble.metrics[metric]
        rows.append(("ensemble (top-k)", ens.mean, ens.std, _ENSEMBLE))
        sign = -1.0 if _higher(metric) else 1.0
        rows.sort(key=lambda r: sign * r[1])  # stable: ties keep the ranking order

    def spread(r: tuple[str, float, float, str]) -> float:
        return r[2] if r[2] == r[2] else 0.0  # NaN std (one fold) draws no bar

    lows = [r[1] - spread(r) for r in rows]
    highs = [r[1] + spread(r) for r in rows]
    span = max(max(highs) - min(lows), 1e-6)
    left, right = min(lows) - 0.12 * span, max(highs) + 0.16 * span

    figure = _figure(9.0, max(2.8, 0.3 * len(rows) + 1.6))
    axes = figure.add_subplot()
    positions = list(range(len(rows)))[::-1]  # best at the top
    axes.barh(
        positions,
        [r[1] - left for r in rows],
        left=left,
        color=[r[3] for r in rows],
        height=0.7,
        xerr=[spread(r) for r in rows],
        error_kw={"ecolor": "#333333", "capsize": 2.5, "elinewidth": 0.9},
    )
    for y, row in zip(positions, rows, strict=True):
        axes.text(row[1] + spread(row) + 0.01 * span, y, f"{row[1]:.4f}", va="center", fontsize=8)
    axes.set_yticks(positions, [r[0] for r in rows], fontsize=9, family="monospace")
    colours = {r[0]: r[3] for r in rows}
    for tick in axes.get_yticklabels():
        colour = colours.get(tick.get_text(), _PLAIN)
        if colour != _PLAIN:
            tick.set_color(colour)
            tick.set_fontweight("bold")
    from matplotlib.patches import Patch

    legend = [Patch(color=_BEST, label="best strategy")]
    legend += [Patch(color=_DEFAULT, label="default")] if _DEFAULT in colours.values() else []
    legend += [Patch(color=_ENSEMBLE, label="ensemble")] if result.ensemble is not None else []
    # The short bars leave room: at the bottom when higher is better, at the top otherwise.
    corner = "lower right" if _higher(metric) else "upper right"
    axes.legend(handles=legend, fontsize=8, frameon=False, loc=corner)
    axes.set_xlim(left, right)
    axes.set_ylim(-0.7, len(rows) - 0.3)
    axes.set_xlabel(
        f"{metric} ({_direction(metric)}), mean ± 1 std over {result.n_folds} "
        f"{_UNITS.get(result.unit, 'folds')}; "
        "axis zoomed to the scores",
        fontsize=9,
    )
    axes.grid(axis="x", color="#dddddd", linewidth=0.6)
    axes.set_axisbelow(True)
    for side in ("top", "right"):
        axes.spines[side].set_visible(False)
    axes.set_title(title or f"{metric} by pooling strategy", fontsize=11, loc="left")
    return _save(figure, Path(path))


def layer_families(
    result: CompareResult, num_layers: int | None = None
) -> dict[str, list[tuple[int, StrategyResult]]]:
    """Group strategies named ``FAMILY@LAYER`` (one integer layer) by family.

    Args:
        result: the comparison.
        num_layers: the model's layer count; when given, a strategy named just ``FAMILY``
            (the last layer, ``-1``) is that family's point at ``num_layers``.

    Returns:
        ``{family: [(layer, result), ...]}`` sorted by layer, for families with at least two
        layers counted from the front (or, failing that, from the back); ``"mean"`` first.
    """
    groups: dict[str, list[tuple[int, StrategyResult]]] = {}
    for strategy in result.strategies:
        match = _LAYERED.match(strategy.name)
        if match:
            groups.setdefault(match["family"], []).append((int(match["layer"]), strategy))
    if num_layers is not None:
        for strategy in result.strategies:
            points = groups.get(strategy.name)
            if points is not None and all(layer != num_layers for layer, _ in points):
                points.append((num_layers, strategy))
    families: dict[str, list[tuple[int, StrategyResult]]] = {}
    for family, points in groups.items():
        # Counting from the front and from the back are different axes (-1 may equal 6):
        # plot the non-negative layers when there are two, else the negative ones.
        forward = [p for p in points if p[0] >= 0]
        chosen = forward if len(forward) > 1 else [p for p in points if p[0] < 0]
        if len(chosen) > 1:
            families[family] = sorted(chosen, key=lambda item: item[0])
    return dict(sorted(families.items(), key=lambda item: item[0] != "mean"))


def plot_layers(
    result: CompareResult,
    path: str | Path,
    title: str | None = None,
    metric: str | None = None,
    default_strategy: str | None = None,
    num_layers: int | None = None,
) -> Path | None:
    """Score per layer for strategies named like ``mean@0`` .. ``mean@6``, with ±1 std bands.

    Every family with two or more single-layer strategies gets a curve; ``mean`` is drawn
    thickest. The default strategy's score is a dashed reference line.

    Args:
        result: the comparison.
        path: PNG to write (atomically).
        title: figure title.
        metric: defaults to the primary metric.
        default_strategy: overrides ``result.default_strategy``.
        num_layers: the model's layer count, so that ``mean`` is plotted at the last layer.

    Returns:
        The written path, or None when no family has two layers (nothing is written).
    """
    families = layer_families(result, num_layers)
    if not families:
        return None
    metric = metric or result.primary_metric
    default = default_strategy or result.default_strategy
    figure = _figure(8.0, 4.6)
    axes = figure.add_subplot()
    all_layers: set[int] = set()
    for i, (family, points) in enumerate(families.items()):
        colour = _FAMILY_COLOURS[i % len(_FAMILY_COLOURS)]
        layers = [layer for layer, _ in points]
        means = [s.metrics[metric].mean for _, s in points]
        stds = [s.metrics[metric].std for _, s in points]
        stds = [v if v == v else 0.0 for v in stds]
        all_layers.update(layers)
        main = family == "mean"
        axes.plot(
            layers,
            means,
            marker="o",
            color=colour,
            linewidth=2.4 if main else 1.4,
            markersize=5 if main else 3.5,
            label=family,
            zorder=3,
        )
        axes.fill_between(
            layers,
            [m - s for m, s in zip(means, stds, strict=True)],
            [m + s for m, s in zip(means, stds, strict=True)],
            color=colour,
            alpha=0.15,
            linewidth=0,
        )
        sign = 1.0 if _higher(metric) else -1.0
        best = max(range(len(means)), key=lambda j: sign * means[j])
        axes.scatter(
            [layers[best]],
            [means[best]],
            s=120,
            marker="*",
            color=colour,
            edgecolor="black",
            linewidth=0.6,
            zorder=4,
        )
    if default is not None:
        score = result.get(default).metrics[metric].mean
        axes.axhline(
            score,
            color=_DEFAULT,
            linestyle="--",
            linewidth=1.2,
            label=f"default: {default} ({score:.4f})",
        )
    axes.set_xticks(sorted(all_layers))
    axes.set_xlabel("layer (hidden_states index; 0 = embedding output)", fontsize=9)
    axes.set_ylabel(f"{metric} ({_direction(metric)})", fontsize=9)
    axes.grid(color="#dddddd", linewidth=0.6)
    axes.set_axisbelow(True)
    for side in ("top", "right"):
        axes.spines[side].set_visible(False)
    axes.legend(fontsize=8, frameon=False, loc="best")
    axes.set_title(
        title or f"{metric} per layer (band: ±1 std over {result.n_folds} folds; ★ best layer)",
        fontsize=11,
        loc="left",
    )
    return _save(figure, Path(path))
