"""``hiddenpool export MODEL --pooling SPEC -o DIR``: a folder other tools load."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from hiddenpool.cli.common import (
    add_model_arguments,
    add_template_argument,
    load_from_args,
    model_from_args,
)

if TYPE_CHECKING:
    from hiddenpool.backbone import Backbone
    from hiddenpool.pooling import Strategy
    from hiddenpool.postprocess import FittedStages

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
        "--transform",
        metavar="STATE",
        default=None,
        help="the fitted state of --pooling's stages (from embed --fit): linear stages are "
        "written as Dense layers, int8/uint8 ranges as quantization_ranges.npy",
    )
    parser.add_argument(
        "--normalize",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="L2-normalise the vectors (default: the model's)",
    )


def run(args: argparse.Namespace) -> int:
    from hiddenpool.export import export_sentence_transformers, load_instruction
    from hiddenpool.export.sentence_transformers import quantization_instruction
    from hiddenpool.pooling import parse_strategy
    from hiddenpool.train.config import is_pooled_model_dir

    model = model_from_args(args)
    if model is not None and is_pooled_model_dir(model):
        folder = export_sentence_transformers(model, args.pooling, args.output, args.normalize)
        print(f"wrote {folder} (trained model); load it with {load_instruction(folder)}")
        return 0
    backbone = load_from_args(args)
    strategy = parse_strategy(args.pooling if args.pooling is not None else backbone.pooling)
    stages = _fitted(args, backbone, strategy) if strategy.needs_fitting or args.transform else None
    folder = export_sentence_transformers(
        backbone, strategy, args.output, args.normalize, stages=stages
    )
    print(f"wrote {folder} ({strategy}); load it with {load_instruction(folder)}")
    if strategy.stages and strategy.stages[-1].entry.quantizes:
        print(quantization_instruction(folder, strategy.stages[-1].name))
    return 0


def _fitted(args: argparse.Namespace, backbone: Backbone, strategy: Strategy) -> FittedStages:
    """The fitted stages of ``strategy`` from ``--transform``, checked against the model."""
    from hiddenpool.encode.fitting import backbone_identity
    from hiddenpool.postprocess.state import load_state

    if not strategy.needs_fitting:
        raise ValueError(
            "--transform applies to stages that need fitting: add one to --pooling, e.g. "
            "'mean | pca(128)'"
        )
    if args.transform is None:
        raise ValueError(
            f"--pooling {strategy} has stages to fit: give their fitted state with "
            "--transform STATE"
        )
    state = load_state(args.transform)
    normalize = backbone.normalize if args.normalize is None else args.normalize
    identity = backbone_identity(backbone, normalize, backbone.max_length)
    state.check(identity, [str(strategy)], args.transform)
    return state.fitted[str(strategy)]
