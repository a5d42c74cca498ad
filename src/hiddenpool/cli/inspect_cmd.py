"""``hiddenpool inspect [MODEL]``: a checkpoint's outputs, shapes and pooling facts."""

from __future__ import annotations

import argparse
import json

from hiddenpool.cli.common import add_model_arguments, load_from_args

__all__ = ["HELP", "NAME", "add_arguments", "run"]

NAME = "inspect"
HELP = "show a model's outputs: layers, shapes, summary token, pooler"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Load MODEL as a base model, run a two-sentence batch and print what its outputs are: "
        "hidden_states entries and shapes, pooler_output (and whether it is trained), "
        "attentions, the summary token, special tokens, and what loading discards."
    )
    add_model_arguments(parser, positional="MODEL", device="cpu", dtype="float32")
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")


def run(args: argparse.Namespace) -> int:
    from hiddenpool.backbone.anatomy import describe

    anatomy = describe(load_from_args(args)).to_dict()
    if args.json:
        print(json.dumps(anatomy, indent=2))
        return 0
    width = max(len(k) for k in anatomy)
    for key, value in anatomy.items():
        if isinstance(value, dict):
            value = ", ".join(f"{k}={v}" for k, v in value.items()) or "none"
        elif isinstance(value, (tuple, list)):
            value = (
                ", ".join(str(v) for v in value)
                if value and not isinstance(value[0], int)
                else str(tuple(value))
                if value
                else "none"
            )
        print(f"{key.replace('_', ' '):<{width}}  {value}")
    return 0
