"""``hiddenpool embed ... --engine ray``: the Ray Data engine behind the embed command."""

from __future__ import annotations

import argparse
import sys
import time

__all__ = ["add_ray_arguments", "run_ray"]


def add_ray_arguments(parser: argparse.ArgumentParser) -> None:
    """The options only the Ray engine reads."""
    group = parser.add_argument_group("Ray engine (pip install hiddenpool[ray])")
    group.add_argument(
        "--engine",
        choices=["local", "ray"],
        default="local",
        help="local (default) or ray: INPUT is a folder, glob or file of shards, "
        "OUTPUT a folder with one parquet folder per shard (a.csv -> a.parquet/)",
    )
    group.add_argument(
        "--ray-address",
        default=None,
        help="join this Ray cluster (auto: the one this machine is in); "
        "default: start a local runtime",
    )
    group.add_argument(
        "--actors", type=int, default=None, help="model replicas (default: CPUs less one)"
    )
    group.add_argument(
        "--gpus-per-actor", type=float, default=0.0, help="GPUs each replica reserves (default 0)"
    )


def run_ray(args: argparse.Namespace) -> int:
    """Embed with Ray Data; the vectors are the local engine's."""
    try:
        from hiddenpool.encode.ray import RayEmbedSettings, embed_files
    except ImportError:  # pragma: no cover - depends on the install
        raise ValueError("--engine ray needs Ray: pip install 'hiddenpool[ray]'") from None
    for option in ("long", "backend"):
        default = {"long": "truncate", "backend": "torch"}[option]
        if getattr(args, option, default) != default:
            raise ValueError(f"--{option} {getattr(args, option)}: not supported with --engine ray")
    try:
        import ray  # noqa: F401
    except ImportError:
        raise ValueError("--engine ray needs Ray: pip install 'hiddenpool[ray]'") from None
    settings = RayEmbedSettings(
        specs=tuple(args.pooling or ()),  # empty: the model's own default
        model=args.model,
        text_column=args.text_column or "text",
        id_column=args.id_column,
        normalize=args.normalize,
        max_length=args.max_length,
        device=args.device,
        dtype=args.dtype,
        actors=args.actors,
        gpus_per_actor=args.gpus_per_actor,
        out_dtype=args.out_dtype,
    )
    start = time.perf_counter()
    written = embed_files(
        args.input, args.output, settings, ray_address=args.ray_address, quiet=args.quiet
    )
    if not args.quiet:
        print(
            f"embedded {len(written)} shard(s) in {time.perf_counter() - start:.1f} s -> "
            f"{args.output}",
            file=sys.stderr,
        )
    return 0
