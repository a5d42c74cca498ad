"""``compare``: one forward pass, every strategy ranked on real labelled data.

Reads labelled data (a registered dataset or a user file), embeds it ONCE per batch for every
strategy (``Encoder.encode_many`` captures the union of their layers), scores each strategy with
the same cross-validated probe on the same folds, and writes the report.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from hiddenpool.backbone import Backbone
from hiddenpool.data import (
    LabelledData,
    RetrievalData,
    get_dataset_info,
    list_datasets,
    load_dataset,
    read_beir,
    read_labelled,
    read_reranking,
    read_retrieval_table,
)
from hiddenpool.encode import Encoder
from hiddenpool.evaluate import CompareResult
from hiddenpool.evaluate.tasks import Scoring, Task, create_task
from hiddenpool.pooling import parse_strategy
from hiddenpool.pooling.templates import create_template, list_templates, side_pairs

__all__ = [
    "DEFAULT_DATASET",
    "CompareRun",
    "default_strategies",
    "fit_split_texts",
    "load_labelled",
    "load_task_data",
    "post_processed",
    "registered_task",
    "run_compare",
    "subsample",
    "template_strategies",
]

DEFAULT_DATASET = "vader-movies"
_TOKEN_POOLERS = (
    "mean", "cls", "first", "last", "max", "min", "sum", "mean_sqrt_len", "weighted_mean",
    "meanmax", "gem", "attn", "mean(skip_special=true)",
)  # fmt: skip


def default_strategies(
    backbone: Backbone, templates: bool = False, sides: bool = False
) -> list[str]:
    """Every parameter-free token pooler on the last layer, mean pooling of every layer alone,
    and the usual layer combinations (last-k averages, first-last, concatenations).

    ``mean@0,-1`` is SimCSE's mistaken "first-last" (embedding output + last layer), kept next to
    the real one (``mean@1,-1``) so the difference shows. With ``templates``, every registered
    prompt template that fits the model too (:func:`template_strategies`): off by default, since
    each costs one more forward pass and none beat the best plain strategy in the study. With
    ``sides`` (tasks with queries and documents: retrieval, reranking), every registered
    query/document template pair that fits the model (``query/passage:mean``...): each document
    template is one more pass over the corpus, but asymmetric reading is what retrieval models
    are trained for, so a search comparison without them would miss the question.
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
    if templates:  # each template costs one more forward pass over the data
        specs += template_strategies(backbone)[0]
    if sides:
        specs += side_pairs(mask_token=backbone.tokenizer.mask_token_id is not None)
    return list(dict.fromkeys(str(parse_strategy(s)) for s in specs))


def template_strategies(backbone: Backbone) -> tuple[list[str], list[str]]:
    """Every registered template that fits the model, read as its source reads it and with
    ``mean`` over the text; and a note for each template skipped (a mask on a model without
    a mask token). Each template is one more forward pass over the data."""
    specs: list[str] = []
    notes: list[str] = []
    has_mask = backbone.tokenizer.mask_token_id is not None
    for name in list_templates():
        template = create_template(name)
        if template.has_mask and not has_mask:
            notes.append(f"template {name!r} skipped: it holds [MASK] and this model has none")
            continue
        specs += [f"{name}:{template.pooler}", f"{name}:mean"]
    return list(dict.fromkeys(specs)), notes


def registered_task(data: str | None) -> str | None:
    """The task of registered dataset ``data`` (the default dataset's for None); None when
    ``data`` is a file or folder, which says nothing of its task.

    Raises:
        ValueError: ``data`` looks like a dataset name but none is registered so.
    """
    looks_like_a_name = data is not None and "/" not in data and "." not in data
    if data is None or (looks_like_a_name and not Path(data).exists()):
        return get_dataset_info(data or DEFAULT_DATASET).task
    return None


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
                f"task={task!r}: dataset {info.name} is a {info.task} dataset"
                + (f"; try {info.name}-polarity" if task == "classification" else "")
            )
        if split is not None:
            info.check_split(split)
        return load_dataset(info.name, split=split or info.default_split or None)
    if split is not None:
        with_splits = ", ".join(d.name for d in list_datasets() if d.splits)
        raise ValueError(
            f"split={split!r}: only registered datasets have official splits ({with_splits}); "
            f"{data} is a file"
        )
    if task is None:
        raise ValueError(
            f"{data}: say what to fit with `task` (regression, classification or similarity)"
        )
    if task == "similarity":
        if pair_columns is None or not label_columns:
            raise ValueError(
                "task='similarity' needs `pair_columns` (the two sentence columns) and "
                "`label_columns` (the score)"
            )
    elif not label_columns:
        raise ValueError(f"{data}: name the label column(s) with `label_columns`")
    return read_labelled(
        data, text_column or "text", list(label_columns), task, pair_columns=pair_columns
    )


def fit_split_texts(
    data: LabelledData, name: str | None, split: str | None
) -> tuple[list[str] | None, str]:
    """The sentences of official ``split`` of dataset ``name``, to fit similarity stages on,
    and how a report names them; (None, "") without a split.

    Raises:
        ValueError: the data is not similarity data, or ``split`` is the split scored.
    """
    if split is None:
        return None, ""
    if data.task != "similarity":
        raise ValueError(
            f"fit_split={split!r}: probes fit stages on each training fold; "
            "`fit_split` is for similarity data"
        )
    if split in data.split_names:
        raise ValueError(f"fit_split={split!r}: that is the split scored; fit on another one")
    fitting = load_labelled(name, data.task, split=split)
    return list(fitting.texts), f"the {len(fitting.texts)} sentences of the {split} split"


def subsample(data: Any, limit: int | None, seed: int) -> Any:
    """A seeded random subset of ``limit`` rows (all rows when ``limit`` is None or larger);
    for search data, of ``limit`` queries, the corpus kept whole."""
    n = len(data)
    if limit is None or limit >= n:
        return data
    if limit < 2:
        raise ValueError(f"limit={limit}: keep at least 2 rows")
    rows = np.sort(np.random.default_rng(seed).choice(n, size=limit, replace=False))
    if isinstance(data, RetrievalData):
        return data.take_queries([data.query_ids[i] for i in rows])
    return data.take(rows)


def load_task_data(
    task: Task,
    data: str | None,
    *,
    split: str | None = None,
    text_column: str | None = None,
    label_columns: Sequence[str] = (),
    pair_columns: tuple[str, str] | None = None,
    query_column: str | None = None,
    document_column: str | None = None,
) -> Any:
    """What ``task`` reads (``task.reads``), from a registered dataset or the user's files.

    * labelled: :func:`load_labelled` with the task's label kind (clustering reads classes).
    * retrieval: a BEIR folder (``split``'s qrels, default test), a table with
      ``query_column`` and ``document_column``, or a registered collection.
    * reranking: a table with ``query_column``, ``document_column`` (the candidates) and a
      label column, or a .jsonl with query/positive/negative lists.
    """
    if task.reads == "labelled":
        return load_labelled(
            data, task.label_task, text_column, label_columns, pair_columns, split=split
        )
    if data is None:
        raise ValueError(f"task={task.name!r}: name the data (a file, folder or dataset)")
    path = Path(data)
    if task.reads == "retrieval":
        if path.is_dir():
            return read_beir(path, split or "test")
        if path.exists():
            if split is not None:
                raise ValueError(f"split={split!r}: {data} is a table; splits are for folders")
            return read_retrieval_table(
                path, query_column or "query", document_column or "document"
            )
        from hiddenpool.data import load_retrieval  # a registered collection

        return load_retrieval(get_dataset_info(data))
    if not path.exists():
        raise FileNotFoundError(f"{task.name} data not found: {data}")
    return read_reranking(
        path, query_column, document_column, label_columns[0] if label_columns else None
    )


@dataclass(frozen=True)
class CompareRun:
    """A finished comparison and what it cost."""

    result: CompareResult
    strategies: tuple[str, ...]
    rows: int
    embed_seconds: float
    evaluate_seconds: float
    stages_note: str = ""
    passes: int = 1  # forward passes: per side embedded, one per distinct prompt template
    sides: tuple[str, ...] = ("document",)  # the sides embedded (queries, documents)


def run_compare(
    data: Any,
    encoder: Encoder,
    strategies: Sequence[str] | None = None,
    folds: int = 5,
    seed: int = 0,
    batch_size: int = 32,
    show_progress: bool | None = None,
    *,
    fit_texts: Sequence[str] | None = None,
    fit_name: str = "",
    post_process: bool = False,
    task: Task | str | None = None,
) -> CompareRun:
    """Embed ``data`` once for every strategy and rank them as ``task`` scores them.

    Args:
        data: what the task reads (:class:`LabelledData`, :class:`RetrievalData`...).
        encoder: the model; its own strategy is the default the winner is compared against.
        strategies: specs to compare (None: :func:`default_strategies`).
        folds: K of the K-fold cross-validation (the same folds for every strategy).
        seed: seeds the folds, the probes' inner splits, samples and k-means.
        batch_size: texts per forward pass.
        show_progress: progress bars; None shows them only on a terminal.
        fit_texts: for similarity, the texts its stages (``| whiten(256)``...) are fitted on
            (e.g. STS-B's train sentences); None fits them on the texts scored. Probes fit
            stages on each training fold instead.
        fit_name: what ``fit_texts`` are, for the report.
        post_process: also score the best strategy under a few ``| whiten(k)`` and its
            ``| int8`` and ``| binary`` forms (no extra forward pass).
        task: a :class:`Task` or a registered task name; None: ``data.task``.

    Returns:
        The ranked result, with timings.
    """
    chosen = task if isinstance(task, Task) else create_task(task or data.task)
    chosen.check_data(data, Scoring(folds, seed))
    specs = (
        list(strategies)
        if strategies
        else default_strategies(encoder.backbone, sides=chosen.two_sided)
    )
    names = [str(parse_strategy(s)) for s in specs]
    default = str(encoder.strategy)
    if default not in names:
        names.append(default)
    start = time.perf_counter()
    pooled = list(dict.fromkeys(str(parse_strategy(name).pooling) for name in names))
    inputs = chosen.inputs(data, fit_texts or ())
    vectors: dict[str, dict[str, np.ndarray]] = {}
    for side, texts in inputs.items():
        vectors[side] = encoder.encode_many(
            texts, pooled, batch_size=batch_size, show_progress=show_progress, side=side
        )
    embedded = time.perf_counter()
    progress = sys.stderr.isatty() if show_progress is None else show_progress

    def evaluate(specs: Sequence[str]) -> CompareResult:
        bar = _progress_bar(len(specs), chosen.name) if progress else None
        return chosen.evaluate(data, vectors, specs, default, Scoring(folds, seed, bar))

    result = evaluate(names)
    if post_process:
        extra = post_processed(result.best.name, encoder.width(result.best.name))
        extra = [spec for spec in extra if spec not in names]
        if extra:
            added = evaluate([result.best.name, *extra]).strategies[1:]
            result = replace(result, strategies=result.strategies + added)
            names += extra
    baselines = chosen.baselines(data, Scoring(folds, seed))
    if baselines:
        result = replace(result, baselines=baselines)
    note = ""
    if any(parse_strategy(name).needs_fitting for name in names):
        note = chosen.stages_note(data, fit_name if fit_texts else "")
    return CompareRun(
        result,
        tuple(names),
        result.n_rows,
        embedded - start,
        time.perf_counter() - embedded,
        note,
        passes=sum(
            len({parse_strategy(spec).side_template(side) for spec in pooled}) for side in inputs
        ),
        sides=tuple(inputs),
    )


def post_processed(best: str, width: int) -> list[str]:
    """What ``--strategies all`` adds after ranking: ``best | whiten(k)`` for k of 64, 128 and
    256 below its width, and ``best | int8`` and ``best | binary``."""
    if parse_strategy(best).stages:
        return []
    whitened = [f"{best} | whiten({k})" for k in (64, 128, 256) if k < width]
    return [str(parse_strategy(s)) for s in (*whitened, f"{best} | int8", f"{best} | binary")]


def _progress_bar(total: int, task: str) -> Callable[[str, int, int], None]:
    from tqdm.auto import tqdm

    desc = "probing" if task in ("regression", "classification") else f"scoring {task}"
    bar = tqdm(total=total, desc=desc, unit="strategy")

    def update(name: str, done: int, count: int) -> None:
        bar.total = count
        bar.n = done
        bar.set_postfix_str(name)
        bar.refresh()
        if done >= count:
            bar.close()

    return update
