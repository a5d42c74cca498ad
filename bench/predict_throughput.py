"""predict's throughput now that it batches like embed: before / after / the Encoder ceiling.

Not part of the package. A regression head on frozen MiniLM-L6 with mean pooling is saved as a
hiddenpool model folder; on the same real texts (VADER movie snippets) we time, interleaved:

- ``before``: what Predictor did until now, re-created here: texts sorted by characters, 32 per
  batch, the tokenizer pads each batch;
- ``after``: ``Predictor.predict`` (token budget over length-sorted token counts, the Encoder's
  batching path);
- ``encoder``: ``Encoder.encode`` with the same pooling, the ceiling (no head).

Run: ``python bench/predict_throughput.py [--texts 4000] [--repeats 3] [--threads 1]``. Writes
bench/results/predict_throughput.json (``--out``) with bench/provenance.py's record.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np
import torch
from embed_common import interleave, median, movie_texts, spread
from provenance import provenance, write_results

from hiddenpool import Encoder, load_backbone
from hiddenpool.train import Predictor
from hiddenpool.train.config import PooledModelConfig
from hiddenpool.train.metrics import predictions_from_logits
from hiddenpool.train.model import PooledModel


def before(predictor: Predictor, texts: list[str], batch_size: int = 32) -> np.ndarray:
    """The pre-change Predictor: sorted by characters, fixed batch size."""
    model = predictor.models[0]
    out = np.zeros((len(texts), len(predictor.labels)))
    order = np.argsort([-len(t) for t in texts], kind="stable")
    with torch.inference_mode():
        for start in range(0, len(order), batch_size):
            rows = order[start : start + batch_size]
            logits = model(**model.tokenize([texts[i] for i in rows])).logits
            out[rows] = predictions_from_logits(predictor.task, logits.float().numpy())
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--texts", type=int, default=4000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None, help="torch threads")
    parser.add_argument("--out", default="predict_throughput", help="results file (bench/results/)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    started = provenance()
    texts = movie_texts(args.texts)
    backbone = load_backbone(device="cpu")
    config = PooledModelConfig(
        pooling="mean",
        task="regression",
        labels=("sentiment",),
        targets=("sentiment",),
        max_length=256,
    )
    with tempfile.TemporaryDirectory() as folder:
        PooledModel(backbone, config).eval().save_pretrained(Path(folder))
        predictor = Predictor(folder, device="cpu")
        encoder = Encoder(backbone, pooling="mean", normalize=False)
        a, b = before(predictor, texts), predictor.predict(texts)
        max_diff = float(np.abs(a - b).max())
        print(f"max |before - after| = {max_diff:.2e}")
        seconds = interleave(
            {
                "before": lambda: before(predictor, texts),
                "after": lambda: predictor.predict(texts),
                "encoder": lambda: encoder.encode(texts, show_progress=False),
            },
            args.repeats,
        )
    rate = {name: len(texts) / median(values) for name, values in seconds.items()}
    for name, value in rate.items():
        print(f"{name:8s} {value:8.1f} texts/s")
    print(f"after / before = {rate['after'] / rate['before']:.2f}x")
    print(f"after / encoder = {rate['after'] / rate['encoder']:.2f}x")
    payload = {
        "texts": len(texts),
        "repeats": args.repeats,
        "seconds": seconds,
        "spread_seconds": {name: spread(values) for name, values in seconds.items()},
        "texts_per_s": {name: round(value, 1) for name, value in rate.items()},
        "after_over_before": round(rate["after"] / rate["before"], 2),
        "after_over_encoder": round(rate["after"] / rate["encoder"], 2),
        "max_abs_diff_before_after": max_diff,
    }
    write_results(args.out, payload, started)


if __name__ == "__main__":
    main()
