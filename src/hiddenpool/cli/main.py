"""The ``hiddenpool`` command: one module per subcommand, each with ``add_parser`` and ``run``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from types import ModuleType

from hiddenpool import __version__
from hiddenpool.cli import (
    compare_cmd,
    datasets_cmd,
    embed_cmd,
    export_cmd,
    inspect_cmd,
    predict_cmd,
    strategies_cmd,
    train_cmd,
)
from hiddenpool.data import FetchError

__all__ = ["SUBCOMMANDS", "main"]

# Order here is the order of `hiddenpool --help`.
SUBCOMMANDS: tuple[ModuleType, ...] = (
    inspect_cmd,
    strategies_cmd,
    embed_cmd,
    compare_cmd,
    datasets_cmd,
    export_cmd,
    train_cmd,
    predict_cmd,
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hiddenpool",
        description="The right sentence vector from any Hugging Face transformer, with evidence.",
    )
    parser.add_argument("--version", action="version", version=f"hiddenpool {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in SUBCOMMANDS:
        module.add_parser(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; user errors print one line and exit 2, never a traceback."""
    args = build_parser().parse_args(argv)
    try:
        return int(args.run(args) or 0)
    except (ValueError, FileNotFoundError, PermissionError, IsADirectoryError, FetchError) as error:
        print(f"hiddenpool {args.command}: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"hiddenpool {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
