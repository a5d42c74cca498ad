"""``hiddenpool export MODEL --pooling SPEC -o DIR``: a folder other tools load."""

from __future__ import annotations

import argparse

from hiddenpool.cli.common import (
    add_model_arguments,
    add_template_argument,
    load_from_args,
    model_from_args,
)

__all__ = ["HELP", "NAME", "add_arguments", "run"]

NAME = "export"
HELP = "write a sentence-transformers folder that reproduces a strategy's vectors"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Write MODEL with a pooling strategy as a sentence-transformers folder. Strategies "
        "sentence-transformers' own modules express (cls, first, last, mean, max, "
        "mean_sqrt_len, weighted_mean, meanmax, joined with +, on any layer or over any layers "
        "with the mean or sum combiner, or a trained weighted(...)) load with plain "
        "SentenceTransformer(DIR); the others use hiddenpool's module and need "
        "SentenceTransformer(DIR, trust_remote_code=True)."
    )
    add_model_arguments(parser, positional="MODEL", device="cpu", dtype="float32")
    add_template_argument(parser)
    parser.add_argument("--pooling", default=None, help="strategy spec (default: the model's)")
    parser.add_argument("-o", "--output", required=True, help="folder to create (must not exist)")
    parser.add_argument(
        "--format",
        default="sentence-transformers",
        choices=["sentence-transformers"],
        help="what to write",
    )
    parser.add_argument(
        "--normalize",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="L2-normalise the vectors (default: the model's)",
    )


def run(args: argparse.Namespace) -> int:
    from hiddenpool.export import export_sentence_transformers, load_instruction
    from hiddenpool.pooling import parse_strategy
    from hiddenpool.train.config import is_pooled_model_dir

    model = model_from_args(args)
    if model is not None and is_pooled_model_dir(model):
        folder = export_sentence_transformers(model, args.pooling, args.output, args.normalize)
        print(f"wrote {folder} (trained model); load it with {load_instruction(folder)}")
        return 0
    backbone = load_from_args(args)
    strategy = parse_strategy(args.pooling if args.pooling is not None else backbone.pooling)
    folder = export_sentence_transformers(backbone, strategy, args.output, args.normalize)
    print(f"wrote {folder} ({strategy}); load it with {load_instruction(folder)}")
    return 0
