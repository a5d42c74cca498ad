"""``hiddenpool compare [DATA]``: rank every pooling strategy on labelled data."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from hiddenpool.cli.common import add_model_arguments, add_template_argument, load_from_args

if TYPE_CHECKING:
    from hiddenpool.evaluate.tasks import Task

__all__ = ["HELP", "NAME", "add_arguments", "run"]

NAME = "compare"
HELP = "rank pooling strategies on labelled data or for search (one forward pass per side)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from hiddenpool.compare import DEFAULT_DATASET

    parser.description = (
        "Embed labelled texts once, derive every strategy from the captured layers, score each "
        "with the same cross-validated linear probe (or, for --task retrieval, reranking and "
        "clustering, by exact search, candidate order or k-means), and write a ranked report. "
        f"Without DATA: the {DEFAULT_DATASET} dataset and the default model."
    )
    parser.add_argument(
        "data",
        nargs="?",
        default=None,
        help="a dataset name (see `hiddenpool datasets`), a .csv/.tsv/.jsonl/.parquet file, "
        "or for --task retrieval a BEIR folder (corpus.jsonl, queries.jsonl, qrels/SPLIT.tsv)",
    )
    parser.add_argument("--dataset", default=None, help="a registered dataset name")
    parser.add_argument(
        "--split",
        default=None,
        help="official split to score, for datasets that have them "
        "(sts-b: train, dev or test; default test); for a BEIR folder the qrels file "
        "(qrels/SPLIT.tsv, default test)",
    )
    parser.add_argument(
        "--fit-split",
        default=None,
        help="official split whose texts fit the stages of similarity strategies "
        "(| whiten(k), | pca(k), | int8...), e.g. train for sts-b; default: the texts scored. "
        "Probes always fit stages on each training fold",
    )
    add_model_arguments(parser, max_length=True)
    add_template_argument(parser)
    parser.add_argument(
        "--task",
        default=None,
        help="what to score: regression, classification, similarity (probes and STS), "
        "retrieval (queries search a corpus: nDCG@10, BM25 beside), reranking (labelled "
        "candidates per query: MAP) or clustering (k-means on labelled texts: V-measure); "
        "a dataset knows its own",
    )
    parser.add_argument(
        "--query-column",
        default=None,
        help="retrieval/reranking table: the query column (query)",
    )
    parser.add_argument(
        "--document-column",
        default=None,
        help="retrieval table: the relevant-document column (document); reranking table: "
        "the candidate column (with --label-column for its relevance)",
    )
    parser.add_argument(
        "--top-k",
        type=int,
        default=None,
        dest="k",
        help="retrieval: documents retrieved per query (100, or the corpus if smaller)",
    )
    parser.add_argument(
        "--similarity",
        choices=["cosine", "dot"],
        default="cosine",
        help="retrieval: score documents by cosine (default) or raw dot product",
    )
    parser.add_argument(
        "--no-bm25",
        action="store_false",
        dest="bm25",
        help="retrieval: leave out the BM25 baseline row",
    )
    parser.add_argument(
        "--runs", type=int, default=10, help="clustering: seeded k-means runs (10, as MTEB)"
    )
    parser.add_argument("--text-column", default=None, help="column with the texts (text)")
    parser.add_argument(
        "--label-column",
        action="append",
        default=[],
        dest="label_columns",
        help="label column; repeat for several targets (scored by MCRMSE)",
    )
    parser.add_argument(
        "--pair-columns",
        nargs=2,
        metavar=("A", "B"),
        default=None,
        help="the two sentence columns, for --task similarity",
    )
    parser.add_argument(
        "--strategies",
        nargs="+",
        default=["all"],
        metavar="SPEC",
        help="specs to compare, or `all` (default) for the usual set plus the best one under "
        "| whiten(k), | int8 and | binary; a spec may end in stages: 'mean | whiten(128)'. "
        "For retrieval and reranking `all` also sweeps the query/document template pairs that "
        "fit the model (query/passage:mean, bge/:cls...): they are what retrieval models are "
        "trained with, and each document template costs one more pass over the corpus",
    )
    parser.add_argument(
        "--templates",
        action="store_true",
        dest="sweep_templates",  # args.templates holds the --template definitions
        help="with `all`: add every prompt template that fits the model (each costs one more "
        "pass over the data; off by default, none beat the best plain strategy in the study)",
    )
    parser.add_argument("--folds", type=int, default=5, help="cross-validation folds (5)")
    parser.add_argument(
        "--limit",
        type=int,
        default=4000,
        help="rows sampled (seeded) from the data; 0 for all (4000)",
    )
    parser.add_argument("--batch-size", type=int, default=64, help="texts per forward pass")
    parser.add_argument("--out", default="hiddenpool-compare", help="report folder")
    parser.add_argument("--seed", type=int, default=0, help="seed of the sample and folds")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")


def run(args: argparse.Namespace) -> int:
    from hiddenpool.compare import (
        default_strategies,
        fit_split_texts,
        load_labelled,
        load_task_data,
        registered_task,
        run_compare,
        subsample,
        template_strategies,
    )
    from hiddenpool.encode import Encoder
    from hiddenpool.evaluate import format_table, write_report
    from hiddenpool.evaluate.tasks import create_task

    if args.data and args.dataset:
        raise ValueError("give DATA or --dataset, not both")
    if args.folds < 2:
        raise ValueError(f"--folds {args.folds}: need at least 2")
    source = args.dataset or args.data
    columns = {"text_column": args.text_column, "label_columns": args.label_columns}
    pairs = tuple(args.pair_columns) if args.pair_columns else None
    name = args.task or registered_task(source)  # a registered dataset knows its own
    if name is None:  # a file without --task: load_labelled says what is missing
        data = load_labelled(source, None, args.text_column, args.label_columns, pairs, args.split)
        task = create_task(data.task)
    else:
        task = _task(name, args)
        data = load_task_data(
            task,
            source,
            split=args.split,
            pair_columns=pairs,
            query_column=args.query_column,
            document_column=args.document_column,
            **columns,
        )
    data = subsample(data, args.limit or None, args.seed)
    fit_texts, fit_name = fit_split_texts(data, args.dataset or args.data, args.fit_split)
    # Raw vectors: L2-normalising would make mean, sum and mean_sqrt_len one strategy.
    encoder = Encoder(load_from_args(args), normalize=False, max_length=args.max_length)
    specs = [s for s in args.strategies if s != "all"]
    if "all" in args.strategies:
        specs = (
            default_strategies(
                encoder.backbone, templates=args.sweep_templates, sides=task.two_sided
            )
            + specs
        )
        for note in template_strategies(encoder.backbone)[1] if args.sweep_templates else []:
            print(f"note: {note}", file=sys.stderr)
    progress = False if args.quiet else None
    compared = run_compare(
        data,
        encoder,
        specs,
        folds=args.folds,
        seed=args.seed,
        batch_size=args.batch_size,
        show_progress=progress,
        fit_texts=fit_texts,
        fit_name=fit_name,
        post_process="all" in args.strategies,
        task=task,
    )
    result = compared.result
    print(format_table(result))
    written = write_report(
        result,
        args.out,
        model_name=encoder.backbone.name,
        dataset_name=data.name + "".join(f" ({s} split)" for s in _splits(data)),
        num_layers=encoder.backbone.num_layers,
        notes=[compared.stages_note] if compared.stages_note else [],
    )
    if compared.stages_note:
        print(f"\n{compared.stages_note}")
    print(
        f"\n{len(compared.strategies)} strategies on {compared.rows} "
        f"{'queries' if task.unit == 'query' else 'rows'} of {data.name}: "
        f"embedding {compared.embed_seconds:.1f} s ({_passes(compared.passes, compared.sides)}), "
        "scoring "
        f"{compared.evaluate_seconds:.1f} s. Report: {written['report']}",
        file=sys.stderr,
    )
    return 0


def _passes(count: int, sides: tuple[str, ...] = ("document",)) -> str:
    """``one pass``, or ``3 passes: one per prompt template`` when templates were compared;
    with queries and documents, the passes of both sides."""
    if len(sides) > 1:
        return f"{count} passes: {' and '.join(sides)} texts, one per template on each side"
    return "one pass" if count == 1 else f"{count} passes: the text, and one per prompt template"


def _task(name: str, args: argparse.Namespace) -> Task:
    """The task named by --task, with the options its type takes (--top-k, --runs...)."""
    import inspect

    from hiddenpool.evaluate.tasks import get_task_class

    cls = get_task_class(name)
    accepted = inspect.signature(cls.__init__).parameters
    options = {"k": args.k, "similarity": args.similarity, "bm25": args.bm25, "runs": args.runs}
    return cls(**{key: value for key, value in options.items() if key in accepted})


def _splits(data: object) -> tuple[str, ...]:
    """The split names a report shows after the data's name."""
    names = getattr(data, "split_names", None)
    if names is not None:
        return tuple(names)
    split = getattr(data, "split", None)
    return (split,) if split and split != "all" else ()
