"""Ray Data engine vs the local engine on the same corpus, side by side in one run.

    python bench/ray_vs_local.py --rows 1000 --shards 4

Writes bench/results/ray_vs_local.json (``--out``) with bench/provenance.py's record.

Rounds interleaved (local, Ray, local, Ray, ...), each run loading the model as a job does; Ray
is started once, before the rounds, and its start-up is reported apart. Prints texts/s of each
(medians), their ratio, and the largest difference between their vectors. On one
2-core machine Ray can only add overhead (start-up, serialisation, one core left to its read and
write tasks); the figure says how much, so nobody mistakes it for a speed-up.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from provenance import provenance, write_results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=4000)
    parser.add_argument("--shards", type=int, default=4)
    parser.add_argument("--spec", default="mean")
    parser.add_argument("--repeats", type=int, default=3, help="interleaved rounds")
    parser.add_argument("--out", default="ray_vs_local", help="results file (bench/results/)")
    args = parser.parse_args()
    started_record = provenance()

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
    ray.init(include_dashboard=False, log_to_driver=False)
    ray_start_s = time.perf_counter() - start
    settings = RayEmbedSettings(specs=(args.spec,), id_column="id")
    local_s: list[float] = []
    ray_s: list[float] = []
    for round_ in range(args.repeats):  # interleaved; each run loads the model, as a job does
        start = time.perf_counter()
        local = Encoder().encode_many(texts, [args.spec], show_progress=False)[args.spec]
        local_s.append(time.perf_counter() - start)
        start = time.perf_counter()
        outputs = embed_files(folder, folder / f"out{round_}", settings)
        ray_s.append(time.perf_counter() - start)
        print(f"round {round_ + 1}: local {local_s[-1]:.1f} s, ray {ray_s[-1]:.1f} s", flush=True)
    table = pa.concat_tables([pq.read_table(p) for p in outputs])
    order = np.argsort(table.column("id").to_numpy())
    vectors = np.stack(table.column(args.spec).to_numpy(zero_copy_only=False))[order]
    cpus = int(ray.cluster_resources().get("CPU", 0))
    ray.shutdown()

    local_median, ray_median = statistics.median(local_s), statistics.median(ray_s)
    print(f"texts: {len(texts)} in {args.shards} shards; Ray CPUs: {cpus}; spec {args.spec}")
    print(f"local engine: {len(texts) / local_median:8.1f} texts/s ({local_median:.1f} s)")
    print(
        f"ray engine:   {len(texts) / ray_median:8.1f} texts/s ({ray_median:.1f} s, "
        f"after {ray_start_s:.1f} s starting Ray)"
    )
    print(f"ray / local throughput: {local_median / ray_median:.2f}x")
    print(f"max abs diff: {np.abs(vectors - local).max():.2e}")
    payload = {
        "rows": len(texts),
        "shards": args.shards,
        "spec": args.spec,
        "repeats": args.repeats,
        "ray_cpus": cpus,
        "local_seconds": [round(x, 2) for x in local_s],
        "ray_seconds": [round(x, 2) for x in ray_s],
        "ray_start_seconds": round(ray_start_s, 2),
        "local_texts_per_s": round(len(texts) / local_median, 1),
        "ray_texts_per_s": round(len(texts) / ray_median, 1),
        "ray_over_local": round(local_median / ray_median, 2),
        "max_abs_diff": float(np.abs(vectors - local).max()),
    }
    write_results(args.out, payload, started_record)


if __name__ == "__main__":
    main()
