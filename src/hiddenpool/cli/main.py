"""The ``hiddenpool`` command.

One module per subcommand, listed in :data:`SUBCOMMANDS`. Each has ``NAME``, ``HELP`` (its line
in ``hiddenpool --help``), ``add_arguments(parser)`` (its description and options) and
``run(args) -> int``. A subcommand's options are added only when that subcommand is parsed, and
heavy libraries are imported only inside ``run`` (or ``add_arguments`` where an option's choices
come from them), so ``hiddenpool --help``, ``--version``, ``strategies`` and ``datasets`` start
without importing torch or transformers.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Sequence
from types import ModuleType
from typing import Any

from hiddenpool import __version__
from hiddenpool.cli import (
    compare_cmd,
    datasets_cmd,
    embed_cmd,
    export_cmd,
    identify_cmd,
    inspect_cmd,
    models_cmd,
    predict_cmd,
    pretrain_cmd,
    serve_cmd,
    strategies_cmd,
    train_cmd,
)
from hiddenpool.cli.common import register_templates

__all__ = ["SUBCOMMANDS", "CommandParser", "build_parser", "main"]

# Order here is the order of `hiddenpool --help`.
SUBCOMMANDS: tuple[ModuleType, ...] = (
    inspect_cmd,
    strategies_cmd,
    embed_cmd,
    compare_cmd,
    datasets_cmd,
    models_cmd,
    export_cmd,
    train_cmd,
    predict_cmd,
    pretrain_cmd,
    serve_cmd,
    identify_cmd,
)


class CommandParser(argparse.ArgumentParser):
    """A subcommand's parser that adds the subcommand's options when it is first used."""

    def __init__(self, *args: Any, command: ModuleType | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._command = command

    def complete(self) -> CommandParser:
        """Add the subcommand's options (once); returns the parser."""
        if self._command is not None:
            command, self._command = self._command, None
            command.add_arguments(self)
            self.set_defaults(run=command.run)
        return self

    def parse_known_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> tuple[argparse.Namespace, list[str]]:
        self.complete()
        return super().parse_known_args(args, namespace)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hiddenpool",
        description="The right sentence vector from any Hugging Face transformer, with evidence.",
    )
    parser.add_argument("--version", action="version", version=f"hiddenpool {__version__}")
    commands = parser.add_subparsers(
        dest="command", metavar="COMMAND", required=True, parser_class=CommandParser
    )
    for module in SUBCOMMANDS:
        commands.add_parser(module.NAME, help=module.HELP, command=module)
    return parser


def command_parser(parser: argparse.ArgumentParser, name: str) -> CommandParser:
    """The complete parser of subcommand ``name``."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return action.choices[name].complete()
    raise KeyError(name)


def in_option_terms(message: str, parser: argparse.ArgumentParser) -> str:
    """Name the command's options where a library error names their Python parameters.

    The library speaks of ``allow_pickle=True`` or ``restart=True``, and names a parameter alone
    in backticks (`` `text_column` ``); on the command line these are ``--allow-pickle``,
    ``--restart`` and ``--text-column``. Only the parameters this command has an option for are
    rewritten.
    """
    options = {
        action.dest: action
        for action in parser._actions
        if action.option_strings and action.dest != "help"
    }

    def rewrite(match: re.Match[str]) -> str:
        action = options.get(match["name"])
        if action is None:
            return match[0]
        flag = max(action.option_strings, key=len)
        value = match["value"].strip("'\"")
        if action.nargs == 0:  # a switch: only its "on" spelling has a flag
            return flag if value == "True" else match[0]
        return f"{flag} {value}"

    def name_only(match: re.Match[str]) -> str:
        action = options.get(match["name"])
        return max(action.option_strings, key=len) if action is not None else match[0]

    message = re.sub(
        r"\b(?P<name>[a-z][a-z0-9_]*)=(?P<value>'[^']*'|\"[^\"]*\"|[^\s,;)]+)", rewrite, message
    )
    return re.sub(r"`(?P<name>[a-z][a-z0-9_]*)`", name_only, message)


def _user_errors() -> tuple[type[BaseException], ...]:
    """What a command reports in one line; evaluated only when something was raised."""
    from hiddenpool.data import FetchError

    return (ValueError, FileNotFoundError, PermissionError, IsADirectoryError, FetchError)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; user errors print one line and exit 2, never a traceback."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        register_templates(args)  # --template NAME='...': before any spec is parsed
        return int(args.run(args) or 0)
    except KeyboardInterrupt:
        print(f"hiddenpool {args.command}: interrupted", file=sys.stderr)
        return 130
    except _user_errors() as error:
        message = in_option_terms(str(error), command_parser(parser, args.command))
        print(f"hiddenpool {args.command}: error: {message}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
