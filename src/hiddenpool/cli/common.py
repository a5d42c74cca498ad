"""Options several subcommands share."""

from __future__ import annotations

import argparse

from hiddenpool.backbone import Backbone, load_backbone

__all__ = ["add_loading_arguments", "load_from_args"]


def add_loading_arguments(parser: argparse.ArgumentParser) -> None:
    """``--trust-remote-code`` and ``--allow-pickle``: the two opt-ins of safe loading."""
    parser.add_argument(
        "--trust-remote-code",
        action="store_true",
        help="allow code shipped with the checkpoint to run",
    )
    parser.add_argument(
        "--allow-pickle",
        action="store_true",
        help="accept pickled weights (pytorch_model.bin) when no safetensors exist",
    )


def load_from_args(args: argparse.Namespace) -> Backbone:
    """Load ``args.model`` with the loading opt-ins given on the command line."""
    return load_backbone(
        args.model, trust_remote_code=args.trust_remote_code, allow_pickle=args.allow_pickle
    )
