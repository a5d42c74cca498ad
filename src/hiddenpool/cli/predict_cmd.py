"""``hiddenpool predict MODEL_DIR INPUT -o OUTPUT``: a fine-tuned model's predictions, streaming."""

from __future__ import annotations

import argparse
import sys

__all__ = ["add_parser", "run"]


def add_parser(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "predict",
        help="predict with a model trained by `hiddenpool train` (fold models are averaged)",
        description="Read INPUT (.txt one text per line, .csv, .tsv, .jsonl, .parquet) in chunks "
        "and write predictions to OUTPUT (.csv, .jsonl, .parquet, or .npy for the numbers only). "
        "MODEL_DIR is a model folder, or the --out folder of a K-fold run (its fold models are "
        "averaged). When INPUT has the model's label columns, metrics are printed too.",
    )
    parser.add_argument("model_dir", help="folder written by `hiddenpool train`")
    parser.add_argument("input", help="input file")
    parser.add_argument("-o", "--output", required=True, help="output file")
    parser.add_argument(
        "--text-column",
        default=None,
        help="text column (default: the one the model was trained on)",
    )
    parser.add_argument("--id-column", default=None, help="column copied to the output")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--chunk-size", type=int, default=2048, help="rows read at a time")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from hiddenpool.train.predict import predict_file

    if args.batch_size < 1 or args.chunk_size < 1:
        raise ValueError("--batch-size and --chunk-size must be >= 1")
    report = predict_file(
        args.model_dir,
        args.input,
        args.output,
        text_column=args.text_column,
        id_column=args.id_column,
        batch_size=args.batch_size,
        chunk_size=args.chunk_size,
        device=args.device,
    )
    print(f"wrote {report.rows} predictions to {report.output}", file=sys.stderr)
    if report.metrics:
        print("  ".join(f"{k} {v:.4f}" for k, v in report.metrics.items()))
    return 0
