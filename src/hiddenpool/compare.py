"""``compare``: one forward pass, every strategy ranked on real labelled data.

Reads labelled data (a registered dataset or a user file), embeds it ONCE per batch for every
strategy (``Encoder.encode_many`` captures the union of their layers), scores each strategy with
the same cross-validated probe on the same folds, and writes the report.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hiddenpool.backbone import Backbone
from hiddenpool.data import (
    LabelledData,
    get_dataset_info,
    list_datasets,
    load_dataset,
    read_labelled,
)
from hiddenpool.encode import Encoder
from hiddenpool.evaluate import CompareResult, evaluate_features, make_folds
from hiddenpool.pooling import parse_strategy

__all__ = [
    "DEFAULT_DATASET",
    "CompareRun",
    "default_strategies",
    "load_labelled",
    "run_compare",
    "subsample",
]

DEFAULT_DATASET = "vader-movies"
_TOKEN_POOLERS = (
    "mean", "cls", "first", "last", "max", "min", "sum", "mean_sqrt_len", "weighted_mean",
    "meanmax", "gem", "attn", "mean(skip_special=true)",
)  # fmt: skip


def default_strategies(backbone: Backbone) -> list[str]:
    """Every parameter-free token pooler on the last layer, mean pooling of every layer alone,
    and the usual layer combinations (last-k averages, first-last, concatenations).

    ``mean@0,-1`` is SimCSE's mistaken "first-last" (embedding output + last layer), kept next to
    the real one (``mean@1,-1``) so the difference shows.
    """
    n = backbone.num_layers
    specs = list(_TOKEN_POOLERS)
    if backbone.pooler_status != "absent":
        specs.append("pooler")
    specs += [f"mean@{i}" for i in range(n)]  # plain "mean" is layer n
    specs += [f"max@{-2}", f"cls@{-2}", "mean@1,-1", "mean@0,-1"]
    for k in (2, 4):
        if k < n:
            specs += [f"mean@-{k}:", f"cls@concat(-{k}:)"]
    specs += ["meanmax@-4:" if n > 4 else "meanmax@-2:", "mean@:"]
    return list(dict.fromkeys(str(parse_strategy(s)) for s in specs))


def load_labelled(
    data: str | None,
    task: str | None = None,
    text_column: str | None = None,
    label_columns: Sequence[str] = (),
    pair_columns: tuple[str, str] | None = None,
    split: str | None = None,
) -> LabelledData:
    """A registered dataset by name (None: the default), or a user file by its columns.

    A dataset with official splits (``sts-b``) gives the rows of ``split``, by default its
    evaluation split (``test``); naming a split for any other data is an error.
    """
    looks_like_a_name = data is not None and "/" not in data and "." not in data
    if data is None or (looks_like_a_name and not Path(data).exists()):
        info = get_dataset_info(data or DEFAULT_DATASET)
        if task is not None and task != info.task:
            raise ValueError(
                f"--task {task}: dataset {info.name} is a {info.task} dataset"
                + (f"; try {info.name}-polarity" if task == "classification" else "")
            )
        if split is not None:
            info.check_split(split)
        return load_dataset(info.name, split=split or info.default_split or None)
    if split is not None:
        with_splits = ", ".join(d.name for d in list_datasets() if d.splits)
        raise ValueError(
            f"--split {split}: only registered datasets have official splits ({with_splits}); "
            f"{data} is a file"
        )
    if task is None:
        raise ValueError(
            f"{data}: say what to fit with --task regression|classification|similarity"
        )
    if task == "similarity":
        if pair_columns is None or not label_columns:
            raise ValueError("--task similarity needs --pair-columns A B and --label-column C")
    elif not label_columns:
        raise ValueError(f"{data}: name the label column(s) with --label-column")
    return read_labelled(
        data, text_column or "text", list(label_columns), task, pair_columns=pair_columns
    )


def subsample(data: LabelledData, limit: int | None, seed: int) -> LabelledData:
    """A seeded random subset of ``limit`` rows (all rows when ``limit`` is None or larger)."""
    n = len(data.labels)
    if limit is None or limit >= n:
        return data
    if limit < 2:
        raise ValueError(f"--limit {limit}: keep at least 2 rows")
    rows = np.sort(np.random.default_rng(seed).choice(n, size=limit, replace=False))
    return data.take(rows)


@dataclass(frozen=True)
class CompareRun:
    """A finished comparison and what it cost."""

    result: CompareResult
    strategies: tuple[str, ...]
    rows: int
    embed_seconds: float
    evaluate_seconds: float


def run_compare(
    data: LabelledData,
    encoder: Encoder,
    strategies: Sequence[str] | None = None,
    folds: int = 5,
    seed: int = 0,
    batch_size: int = 32,
    show_progress: bool | None = None,
) -> CompareRun:
    """Embed ``data`` once for every strategy and rank them with cross-validated probes.

    Args:
        data: texts and labels.
        encoder: the model; its own strategy is the default the winner is compared against.
        strategies: specs to compare (None: :func:`default_strategies`).
        folds: K of the K-fold cross-validation (the same folds for every strategy).
        seed: seeds the folds and the probes' inner splits.
        batch_size: texts per forward pass.
        show_progress: progress bars; None shows them only on a terminal.

    Returns:
        The ranked result, with timings.
    """
    specs = list(strategies) if strategies else default_strategies(encoder.backbone)
    names = [str(parse_strategy(s)) for s in specs]
    default = str(encoder.strategy)
    if default not in names:
        names.append(default)
    fold_list = make_folds(len(data.labels), k=folds, seed=seed, labels=data.labels, task=data.task)
    start = time.perf_counter()
    features = encoder.encode_many(
        data.texts, names, batch_size=batch_size, show_progress=show_progress
    )
    embedded = time.perf_counter()
    progress = sys.stderr.isatty() if show_progress is None else show_progress
    result = evaluate_features(
        features,
        data,
        fold_list,
        default_strategy=default,
        seed=seed,
        progress=_progress_bar(len(names)) if progress else None,
    )
    return CompareRun(
        result, tuple(names), len(data.labels), embedded - start, time.perf_counter() - embedded
    )


def _progress_bar(total: int) -> Callable[[str, int, int], None]:
    from tqdm.auto import tqdm

    bar = tqdm(total=total, desc="probing", unit="strategy")

    def update(name: str, done: int, count: int) -> None:
        bar.total = count
        bar.n = done
        bar.set_postfix_str(name)
        bar.refresh()
        if done >= count:
            bar.close()

    return update
