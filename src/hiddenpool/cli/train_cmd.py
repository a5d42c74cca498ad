"""``hiddenpool train DATA``: fine-tune a pooled head (the Feedback Prize 3 workflow).

Its options are :class:`~hiddenpool.train.TrainConfig`'s fields, generated from the dataclass
(help text from each field's metadata), after the shared model and loading options.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from hiddenpool.cli.common import add_model_arguments, add_template_argument
from hiddenpool.cli.dataclass_options import add_dataclass_options, dataclass_from_args

__all__ = ["HELP", "NAME", "add_arguments", "config_from_args", "run"]

NAME = "train"
HELP = "fine-tune a backbone + pooling strategy + head, with K-fold CV"
# The names the command line has always used where they differ from the field names; --dtype
# is the shared option's name for what training calls its precision.
FLAGS = {"label_columns": ("--label-column",), "precision": ("--precision", "--dtype")}

if TYPE_CHECKING:
    from hiddenpool.train.config import TrainConfig


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from hiddenpool.train.config import TrainConfig

    parser.description = (
        "Fine-tune MODEL with a pooling strategy and a regression or classification head on "
        "DATA (a registered dataset such as vader-movies, or a .csv/.tsv/.jsonl/.parquet file) "
        "with the Hugging Face Trainer. With --folds K, trains K models and reports out-of-fold "
        "metrics; `hiddenpool predict OUT ...` then averages them."
    )
    add_model_arguments(parser, dtype=None, max_length=True)
    add_template_argument(parser)
    add_dataclass_options(parser, TrainConfig, flags=FLAGS)
    parser.add_argument("--quiet", action="store_true", help="no progress bars")


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    from hiddenpool.train.config import TrainConfig

    return dataclass_from_args(
        TrainConfig, args, extra={"disable_tqdm": True} if args.quiet else {}
    )


def run(args: argparse.Namespace) -> int:
    from hiddenpool.train.results import is_main_process
    from hiddenpool.train.trainer import train

    config = config_from_args(args)
    try:
        result = train(config, verbose=not args.quiet)
    except ImportError as error:  # the Trainer needs accelerate (the train extra)
        first = str(error).strip().splitlines()[0]
        raise ValueError(
            f"training needs the train extra: pip install 'hiddenpool[train]' ({first})"
        ) from None
    if is_main_process():  # under torchrun every rank holds the same result: one report
        print(result.summary())
    return 0
