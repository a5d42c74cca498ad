"""Ray Data engine vs the local engine on the same corpus, side by side in one run.

    python bench/ray_vs_local.py --rows 4000 --shards 4

Prints texts/s of each, their ratio, and the largest difference between their vectors. On one
2-core machine Ray can only add overhead (start-up, serialisation, one core left to its read and
write tasks); the figure says how much, so nobody mistakes it for a speed-up.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=4000)
    parser.add_argument("--shards", type=int, default=4)
    parser.add_argument("--spec", default="mean")
    args = parser.parse_args()

    import ray

    from hiddenpool import Encoder
    from hiddenpool.compare import subsample
    from hiddenpool.data import load_dataset
    from hiddenpool.encode.ray import RayEmbedSettings, embed_files

    texts = subsample(load_dataset("vader-movies"), args.rows, seed=0).texts
    folder = Path(tempfile.mkdtemp(prefix="hiddenpool-ray-bench-"))
    for i, part in enumerate(np.array_split(np.arange(len(texts)), args.shards)):
        rows = [int(j) for j in part]
        pq.write_table(
            pa.table({"id": rows, "text": [texts[j] for j in rows]}),
            folder / f"part-{i:03d}.parquet",
        )

    start = time.perf_counter()
    local = Encoder().encode_many(texts, [args.spec], show_progress=False)[args.spec]
    local_s = time.perf_counter() - start

    start = time.perf_counter()
    ray.init(include_dashboard=False, log_to_driver=False)
    started = time.perf_counter() - start
    settings = RayEmbedSettings(specs=(args.spec,), id_column="id")
    outputs = embed_files(folder, folder / "out", settings)
    ray_s = time.perf_counter() - start
    table = pa.concat_tables([pq.read_table(p) for p in outputs])
    order = np.argsort(table.column("id").to_numpy())
    vectors = np.stack(table.column(args.spec).to_numpy(zero_copy_only=False))[order]
    cpus = int(ray.cluster_resources().get("CPU", 0))
    ray.shutdown()

    print(f"texts: {len(texts)} in {args.shards} shards; Ray CPUs: {cpus}; spec {args.spec}")
    print(f"local engine: {len(texts) / local_s:8.1f} texts/s ({local_s:.1f} s)")
    print(
        f"ray engine:   {len(texts) / ray_s:8.1f} texts/s ({ray_s:.1f} s, "
        f"of which {started:.1f} s starting Ray)"
    )
    print(f"ray / local throughput: {local_s / ray_s:.2f}x")
    print(f"max abs diff: {np.abs(vectors - local).max():.2e}")


if __name__ == "__main__":
    main()
