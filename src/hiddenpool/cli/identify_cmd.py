"""``hiddenpool identify VECTORS TEXTS``: which pooling produced vectors made elsewhere?"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from hiddenpool.cli.common import add_model_arguments, load_from_args, positive

__all__ = ["HELP", "NAME", "add_arguments", "run"]

NAME = "identify"
HELP = "say which pooling strategy produced vectors from another server or library"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "VECTORS (.npy, .npz or .parquet, one row per text) were made elsewhere for the texts "
        "in TEXTS (.txt one per line, .csv, .tsv, .jsonl, .parquet), in the same order. Every "
        "parameter-free strategy of MODEL (every pooler on every layer, layer averages) is "
        "computed in one pass and ranked by cosine distance to VECTORS; the answer names the "
        "strategy and whether the vectors were L2-normalised, or says that none matches. "
        "Exit status 0 when one matches, 1 when none does."
    )
    parser.add_argument("vectors", help="the vectors: .npy, .npz or .parquet")
    parser.add_argument("texts", help="the texts they were made from")
    parser.add_argument("--text-column", default=None, help="text column of TEXTS")
    parser.add_argument(
        "--column", default=None, help="the vectors' array (.npz) or list column (.parquet)"
    )
    parser.add_argument("--limit", type=positive, default=512, help="rows compared (the first)")
    parser.add_argument(
        "--tolerance",
        type=float,
        default=1e-4,
        help="largest cosine distance of the worst row that counts as a match (default: 1e-4)",
    )
    parser.add_argument("--top", type=positive, default=10, help="strategies listed")
    add_model_arguments(parser, max_length=True)


def read_vectors(path: str | Path, column: str | None = None) -> Any:
    """(n, d) float array from .npy, .npz (``column`` or its only array) or .parquet."""
    import numpy as np

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    suffix = path.suffix.lower()
    if suffix == ".npy":
        return np.load(path, allow_pickle=False)
    if suffix == ".npz":
        with np.load(path, allow_pickle=False) as arrays:
            return arrays[_pick(list(arrays.keys()), column, path)]
    if suffix == ".parquet":
        import pyarrow.parquet as pq

        table = pq.read_table(path)
        lists = [f.name for f in table.schema if str(f.type).startswith(("list", "fixed_size"))]
        name = _pick(lists, column, path)
        return np.array(table.column(name).to_pylist(), dtype=np.float64)
    raise ValueError(
        f"{path}: expected .npy, .npz or .parquet vectors, got {suffix or 'no suffix'}"
    )


def _pick(names: list[str], column: str | None, path: Path) -> str:
    if column is not None:
        if column not in names:
            raise ValueError(f"{path}: no vectors named {column!r}; it has {', '.join(names)}")
        return column
    if len(names) != 1:
        raise ValueError(f"{path} holds {', '.join(names) or 'no vectors'}: pick one with --column")
    return names[0]


def _read_texts(path: str, text_column: str | None, limit: int) -> list[str]:
    from hiddenpool.io import open_texts

    texts: list[str] = []
    for chunk in open_texts(path, text_column).chunks(limit):
        texts.extend(chunk.texts)
        if len(texts) >= limit:
            break
    return texts[:limit]


def run(args: argparse.Namespace) -> int:
    from hiddenpool.encode import Encoder
    from hiddenpool.serve.identify import identify

    vectors = read_vectors(args.vectors, args.column)
    texts = _read_texts(args.texts, args.text_column, args.limit)
    if len(vectors) < len(texts) or (len(texts) < args.limit and len(vectors) != len(texts)):
        raise ValueError(
            f"{args.vectors} has {len(vectors)} rows but {args.texts} has {len(texts)} texts: "
            "give one vector per text, in the same order"
        )
    encoder = Encoder(load_from_args(args), normalize=False, max_length=args.max_length)
    found = identify(vectors[: len(texts)], texts, encoder, tolerance=args.tolerance)
    print(f"{'strategy':32} {'mean cos dist':>14} {'worst cos dist':>15}")
    for match in found.matches[: args.top]:
        print(f"{match.spec:32} {match.mean_distance:14.2e} {match.max_distance:15.2e}")
    print(
        f"({len(found.matches)} strategies of width {vectors.shape[1]} compared on "
        f"{len(texts)} texts; {found.skipped} of other widths or not computable skipped)"
    )
    print(f"identified: {found.verdict()}")
    return 0 if found.best is not None else 1
