"""``hiddenpool embed INPUT -o OUTPUT``: a file of texts in, a file of vectors out.

Streams the input in chunks, batches by a token budget, computes every ``--pooling`` from one
forward pass per batch, and resumes an interrupted run when given the same arguments again.
"""

from __future__ import annotations

import argparse
import sys

from hiddenpool.cli.common import (
    add_model_arguments,
    add_template_argument,
    load_from_args,
    non_negative,
    positive,
)
from hiddenpool.cli.embed_ray import add_ray_arguments, run_ray

__all__ = ["HELP", "NAME", "add_arguments", "run"]

NAME = "embed"
HELP = "embed a file of texts into .npy/.npz/.parquet vectors (resumable)"


def _duration(seconds: float) -> str:
    from hiddenpool.encode.progress import format_seconds

    return f"{seconds:.1f} s" if seconds < 60 else format_seconds(seconds)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    # The choices come from the engine's modules, which import torch: only for this command.
    from hiddenpool.encode.backends import BACKENDS
    from hiddenpool.encode.files import DEFAULT_CHUNK_SIZE
    from hiddenpool.encode.windows import LONG_MODES
    from hiddenpool.io import OUT_DTYPES

    parser.description = (
        "Embed every text of INPUT (.txt: one per line; .csv/.tsv/.jsonl/.parquet: a text "
        "column; - : lines on stdin) and write OUTPUT (.npy: one strategy; .npz: several; "
        ".parquet: ids plus one column per strategy). Several --pooling specs share one forward "
        "pass. Interrupted runs resume when rerun with the same arguments; nothing appears under "
        "OUTPUT until it is complete. See docs/embedding.md."
    )
    parser.add_argument("input", help="input file, or - for lines on stdin")
    parser.add_argument("-o", "--output", required=True, help="output .npy, .npz or .parquet")
    add_model_arguments(parser, max_length=True)
    add_template_argument(parser)
    parser.add_argument(
        "--pooling",
        action="append",
        metavar="SPEC",
        default=None,
        help="pooling spec, repeatable (default: the model's own, else mean); "
        "see `hiddenpool strategies`",
    )
    parser.add_argument(
        "--side",
        choices=("query", "document"),
        default="document",
        help="embed the texts as queries or as documents: a spec with two sides "
        "(query/passage:mean, bge/:cls) reads each in its own template; others read both alike "
        "(default: document; stages are fitted on documents)",
    )
    parser.add_argument(
        "--text-column", default=None, help="column or JSON key of the texts (default: text)"
    )
    parser.add_argument(
        "--id-column",
        default=None,
        help="column or JSON key of row ids to write into a .parquet output",
    )
    parser.add_argument(
        "--long",
        choices=LONG_MODES,
        default="truncate",
        help="texts over --max-length: truncate them (counted in the summary), "
        "or chunk them into overlapping windows pooled across windows",
    )
    parser.add_argument(
        "--stride",
        type=non_negative,
        default=None,
        help="with --long chunk: tokens shared by consecutive windows "
        "(default: an eighth of a window)",
    )
    parser.add_argument(
        "--normalize",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="L2-normalise vectors (default: the model's own)",
    )
    parser.add_argument(
        "--batch-tokens",
        type=positive,
        default=None,
        help="padded tokens per forward pass (default: 4096 for torch on CPU, 65536 on GPU, "
        "2048 for onnx)",
    )
    parser.add_argument(
        "--chunk-size",
        type=positive,
        default=DEFAULT_CHUNK_SIZE,
        help="texts read, sorted and saved together; the unit of resuming "
        f"(default: {DEFAULT_CHUNK_SIZE})",
    )
    parser.add_argument(
        "--backend",
        choices=BACKENDS,
        default="torch",
        help="torch; onnx (ONNX Runtime on CPU, exported once and cached); "
        "onnx-int8 (int8 weights, faster, slightly different vectors)",
    )
    parser.add_argument(
        "--out-dtype", choices=OUT_DTYPES, default="float32", help="dtype of the stored vectors"
    )
    parser.add_argument(
        "--restart",
        action="store_true",
        help="discard an interrupted run's work instead of resuming it",
    )
    fitting = parser.add_mutually_exclusive_group()
    fitting.add_argument(
        "--fit",
        metavar="FILE",
        default=None,
        help="fit the stages of --pooling specs (| whiten(k), | pca(k), | int8...) on the texts "
        "of FILE, streamed; the state is written next to OUTPUT (NAME.stages.safetensors)",
    )
    fitting.add_argument(
        "--fit-self",
        action="store_true",
        help="fit the stages on INPUT itself, in a first streaming pass",
    )
    fitting.add_argument(
        "--transform",
        metavar="STATE",
        default=None,
        help="apply stages fitted before (a .stages.safetensors file from --fit)",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress line and no summary")
    add_ray_arguments(parser)


def run(args: argparse.Namespace) -> int:
    if args.engine == "ray":
        _refuse_stages_on_ray(args)
        _refuse_query_side_on_ray(args)
        return run_ray(args)
    from hiddenpool.encode import Encoder
    from hiddenpool.encode.files import embed_file
    from hiddenpool.encode.fitting import prepare_stages
    from hiddenpool.encode.progress import Progress
    from hiddenpool.io import check_output, open_texts
    from hiddenpool.pooling import parse_strategy

    # Cheap checks first, so a typo does not wait for a model to load.
    open_texts(args.input, args.text_column, args.id_column)
    check_output(args.output, args.pooling or ["default"])
    staged = [s for s in args.pooling or [] if parse_strategy(s).needs_fitting]
    _check_fitting(args, staged)
    encoder = Encoder(
        load_from_args(args),
        pooling=args.pooling[0] if args.pooling else None,
        normalize=args.normalize,
        max_length=args.max_length,
        backend=args.backend,
        long=args.long,
        stride=args.stride,
    )
    progress = Progress(enabled=not args.quiet and sys.stderr.isatty())
    specs = args.pooling or [str(encoder.strategy)]
    state = prepare_stages(
        encoder,
        specs,
        args.output,
        fit=args.input if args.fit_self else args.fit,
        transform=args.transform,
        text_column=args.text_column,
        chunk_size=args.chunk_size,
        batch_tokens=args.batch_tokens,
    )
    try:
        summary = embed_file(
            args.input,
            args.output,
            encoder,
            args.pooling,
            text_column=args.text_column,
            id_column=args.id_column,
            batch_tokens=args.batch_tokens,
            chunk_size=args.chunk_size,
            out_dtype=args.out_dtype,
            restart=args.restart,
            progress=progress,
            stages=state,
            side=args.side,
        )
    except KeyboardInterrupt:
        progress.close()
        print(
            "hiddenpool embed: interrupted; finished chunks are kept, run the same command "
            "again to resume",
            file=sys.stderr,
        )
        return 130
    if not args.quiet:
        resumed = (
            f", {summary.resumed_texts:,} of them from an earlier run"
            if summary.resumed_texts
            else ""
        )
        print(
            f"embedded {summary.texts:,} texts{resumed} ({summary.tokens:,} tokens, "
            f"{summary.truncated:,} truncated) in {_duration(summary.seconds)} -> "
            f"{summary.output}",
            file=sys.stderr,
        )
    return 0


def _check_fitting(args: argparse.Namespace, staged: list[str]) -> None:
    """Stages that need fitting (``staged``) need a fitted state, and fitting options need such
    stages; checked before any loading. truncate, normalize, binary and ubinary need neither."""
    from pathlib import Path

    chosen = args.fit or args.fit_self or args.transform
    if staged and not chosen:
        raise ValueError(
            f"--pooling {staged[0]!r} has stages to fit: add --fit FILE, --fit-self or "
            "--transform STATE"
        )
    if chosen and not staged:
        raise ValueError(
            "--fit, --fit-self and --transform apply to stages: add one to a --pooling spec, "
            "e.g. 'mean | whiten(256)' (truncate, normalize, binary and ubinary need no fitting)"
        )
    if args.fit_self and args.input == "-":
        raise ValueError("--fit-self reads INPUT twice; stdin is read once: use --fit FILE")
    for option, path in (("--fit", args.fit), ("--transform", args.transform)):
        if path is not None and not Path(path).is_file():
            raise FileNotFoundError(f"{option} {path}: no such file")


def _refuse_query_side_on_ray(args: argparse.Namespace) -> None:
    """Ray workers embed documents; the query side runs on the local engine."""
    from hiddenpool.pooling import parse_strategy

    if args.side == "query" and any(parse_strategy(s).asymmetric for s in args.pooling or []):
        raise ValueError("--side query runs on the local engine; drop --engine ray")


def _refuse_stages_on_ray(args: argparse.Namespace) -> None:
    """Stages that need no fitting (truncate, normalize, binary, ubinary) run on the Ray
    workers as on the local engine; stages fitted on texts do not, as the workers would share
    no fitted state (the registry's rule: :func:`hiddenpool.pooling.stages.needs_fitting`)."""
    from hiddenpool.pooling import parse_strategy
    from hiddenpool.pooling.stages import stages_to_fit

    for spec in args.pooling or []:
        strategy = parse_strategy(spec)
        if strategy.needs_fitting:
            raise ValueError(
                f"--pooling {spec!r}: {stages_to_fit(strategy.stages)} must be fitted, which runs "
                "on the local engine; drop --engine ray (truncate, normalize, binary and ubinary "
                "run on Ray)"
            )
    if args.fit or args.fit_self or args.transform:
        raise ValueError(
            "--fit, --fit-self and --transform run on the local engine; drop --engine ray"
        )
