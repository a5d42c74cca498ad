"""What extra strategies and shallow layers cost: a 20-strategy sweep and early exit.

    python bench/embed_sweep.py --texts 1000 --repeats 3 --threads 1

Writes bench/results/embed_sweep.json (``--out``) with bench/provenance.py's record.

1. Sweep: ``Encoder.encode_many`` with 20 strategies (one forward pass per batch, the union of
   their layers) against ``encode`` with one (``mean``); target <= 1.25x.
2. Early exit: ``mean@-k`` for k = 1..L against ``mean@-1``; the forward stops after block
   L-k+1, so the expected cost is (L-k+1)/L (target: within 10%).

MiniLM-L6 on VADER movie-review snippets, fp32, CPU, torch backend; rounds interleaved, medians.
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings

import torch
from embed_common import interleave, median, movie_texts, spread
from provenance import provenance, write_results

from hiddenpool import Encoder

warnings.filterwarnings("ignore")

SWEEP = [
    "mean",
    "cls",
    "max",
    "min",
    "sum",
    "mean_sqrt_len",
    "weighted_mean",
    "meanmax",
    "gem",
    "first",
    "last",
    "mean@-2",
    "mean@-4:",
    "cls@concat(-4:)",
    "mean@1,-1",
    "max@-2",
    "mean(skip_special=true)",
    "meanmax@-4:",
    "gem(p=2)@-3",
    "sum@0",
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--texts", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--backend", default="torch")
    parser.add_argument(
        "--threads", type=int, default=None, help="torch threads (default: torch's default)"
    )
    parser.add_argument("--out", default="embed_sweep", help="results file (bench/results/)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    started = provenance()

    texts = movie_texts(args.texts)
    encoder = Encoder(device="cpu", backend=args.backend)
    layers = encoder.backbone.num_layers
    assert len(SWEEP) == 20
    encoder.encode_many(texts[:16], SWEEP)  # warm up (and export, for onnx)

    sweep = interleave(
        {
            "one (mean)": lambda: encoder.encode_many(texts, ["mean"]),
            "twenty": lambda: encoder.encode_many(texts, SWEEP),
        },
        args.repeats,
    )
    depth_specs = {k: f"mean@-{k}" for k in range(1, layers + 1)}
    for spec in depth_specs.values():
        encoder.encode_many(texts[:16], [spec])
    depth = interleave(
        {spec: (lambda s=spec: encoder.encode_many(texts, [s])) for spec in depth_specs.values()},
        args.repeats,
    )
    base = median(depth["mean@-1"])
    early = {}
    for k, spec in depth_specs.items():
        measured = median(depth[spec]) / base
        expected = (layers - k + 1) / layers
        early[spec] = {
            "expected": round(expected, 3),
            "measured": round(measured, 3),
            "relative_error": round(measured / expected - 1, 3),
        }
    result = {
        "backend": args.backend,
        "texts": len(texts),
        "repeats": args.repeats,
        "sweep_seconds": sweep,
        "sweep_spread": {name: spread(values) for name, values in sweep.items()},
        "sweep_ratio_20_over_1": round(median(sweep["twenty"]) / median(sweep["one (mean)"]), 3),
        "early_exit_seconds": depth,
        "early_exit_spread": {name: spread(values) for name, values in depth.items()},
        "early_exit": early,
    }
    print(json.dumps(result, indent=2))
    write_results(args.out, result, started)


if __name__ == "__main__":
    sys.exit(main())
