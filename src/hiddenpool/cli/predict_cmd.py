"""``hiddenpool predict MODEL_DIR INPUT -o OUTPUT``: a fine-tuned model's predictions, streaming."""

from __future__ import annotations

import argparse
import sys

from hiddenpool.cli.common import add_model_arguments, model_from_args, positive

__all__ = ["HELP", "NAME", "add_arguments", "run"]

NAME = "predict"
HELP = "predict with a model trained by `hiddenpool train` (fold models are averaged)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Read INPUT (.txt one text per line, .csv, .tsv, .jsonl, .parquet) in chunks and write "
        "predictions to OUTPUT (.csv, .jsonl, .parquet, or .npy for the numbers only). MODEL_DIR "
        "(or --model) is a model folder, or the --out folder of a K-fold run (its fold models "
        "are averaged). When INPUT has the model's label columns, metrics are printed too."
    )
    add_model_arguments(
        parser,
        positional="MODEL_DIR",
        model_help="folder written by `hiddenpool train`",
        dtype="float32",
    )
    parser.add_argument("input", help="input file")
    parser.add_argument("-o", "--output", required=True, help="output file")
    parser.add_argument(
        "--text-column",
        default=None,
        help="text column (default: the one the model was trained on)",
    )
    parser.add_argument("--id-column", default=None, help="column copied to the output")
    parser.add_argument("--batch-size", type=positive, default=32, help="texts per forward pass")
    parser.add_argument("--chunk-size", type=positive, default=2048, help="rows read at a time")


def run(args: argparse.Namespace) -> int:
    from hiddenpool._runtime import resolve_device, resolve_dtype
    from hiddenpool.train.predict import Predictor, predict_file

    model = model_from_args(args)
    if model is None:
        raise ValueError("which model? give MODEL_DIR or --model")
    where = resolve_device(args.device)
    predictor = Predictor(
        model,
        device=where,
        dtype=resolve_dtype(args.dtype, where),
        trust_remote_code=args.trust_remote_code,
        allow_pickle=args.allow_pickle,
    )
    report = predict_file(
        predictor,
        args.input,
        args.output,
        text_column=args.text_column,
        id_column=args.id_column,
        batch_size=args.batch_size,
        chunk_size=args.chunk_size,
    )
    print(f"wrote {report.rows} predictions to {report.output}", file=sys.stderr)
    if report.metrics:
        print("  ".join(f"{k} {v:.4f}" for k, v in report.metrics.items()))
    return 0
