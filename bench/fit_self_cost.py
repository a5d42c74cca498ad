"""What ``embed --fit-self`` costs: one streaming pass per fitted stage before the embedding pass,
and fitting memory that does not grow with the corpus.

Part 1 times ``hiddenpool embed`` on the same file three ways (MiniLM, CPU): plain ``mean``;
``mean | whiten(256) --fit-self`` (one fitting pass); ``mean | whiten(256) | int8 --fit-self``
(two: the int8 ranges are those of the whitened vectors). Part 2 fits ``whiten(256) | int8`` on
synthetic 384-wide vectors streamed in chunks of 20,000, for corpora of growing size, and reports
the peak memory the fitting allocates (tracemalloc): flat in corpus size.

    python bench/fit_self_cost.py            # 2,000 texts
    python bench/fit_self_cost.py --texts 500 --sizes 20000 100000 --threads 1

Writes bench/results/fit_self_cost.json (``--out``) with bench/provenance.py's record.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from provenance import provenance, write_results

from hiddenpool.postprocess import fit_stages

WORDS = (
    "the a film movie story plot acting actors great good bad boring slow fast funny sad long "
    "short scene music camera ending character dialogue love hate watch again never always"
).split()


def _corpus(path: Path, n: int) -> None:
    rng = np.random.default_rng(0)
    lines = (" ".join(rng.choice(WORDS, size=int(rng.integers(6, 30)))) for _ in range(n))
    path.write_text("\n".join(lines) + "\n")


def _embed(args: list[str], threads: int | None) -> float:
    env = dict(os.environ)
    if threads:
        env["OMP_NUM_THREADS"] = env["MKL_NUM_THREADS"] = str(threads)
    started = time.perf_counter()
    command = [sys.executable, "-m", "hiddenpool", "embed", *args, "--quiet"]
    subprocess.run(command, check=True, env=env)
    return time.perf_counter() - started


def time_passes(n: int, repeats: int, threads: int | None) -> list[dict]:
    with tempfile.TemporaryDirectory() as tmp:
        corpus = Path(tmp) / "corpus.txt"
        _corpus(corpus, n)
        runs = [
            ("mean (one pass)", ["--pooling", "mean"]),
            ("mean | whiten(256) --fit-self", ["--pooling", "mean | whiten(256)", "--fit-self"]),
            (
                "mean | whiten(256) | int8 --fit-self",
                ["--pooling", "mean | whiten(256) | int8", "--fit-self"],
            ),
        ]
        seconds: list[list[float]] = [[] for _ in runs]
        for round_ in range(repeats):  # interleaved rounds
            for i, (label, extra) in enumerate(runs):
                out = Path(tmp) / f"out{i}-{round_}.npy"
                seconds[i].append(_embed([str(corpus), "-o", str(out), *extra], threads))
                print(f"round {round_ + 1} {label}: {seconds[i][-1]:.1f} s", flush=True)
        base = float(np.median(seconds[0]))
        rows = []
        for (label, _), values in zip(runs, seconds, strict=True):
            median = float(np.median(values))
            rows.append(
                {
                    "run": label,
                    "seconds": [round(v, 2) for v in values],
                    "median_seconds": round(median, 1),
                    "min_seconds": round(min(values), 1),
                    "max_seconds": round(max(values), 1),
                    "over_one_pass": round(median / base, 2),
                }
            )
            print(f"{label}: {median:.1f} s, {median / base:.2f}x", flush=True)
        return rows


def _chunks(rows: int, width: int = 384, chunk: int = 20_000) -> Iterator[np.ndarray]:
    rng = np.random.default_rng(0)
    mixing = rng.normal(size=(width, width)).astype(np.float32) / np.sqrt(width)
    for start in range(0, rows, chunk):
        size = min(chunk, rows - start)
        yield rng.normal(size=(size, width)).astype(np.float32) @ mixing


def fitting_memory(sizes: list[int]) -> list[dict]:
    out = []
    for rows in sizes:
        tracemalloc.start()
        started = time.perf_counter()
        fit_stages("mean | whiten(256) | int8", lambda rows=rows: _chunks(rows), 384)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        elapsed = time.perf_counter() - started
        print(f"{rows:,} vectors: {peak / 2**20:.1f} MiB, {elapsed:.1f} s", flush=True)
        out.append(
            {"vectors": rows, "peak_mib": round(peak / 2**20, 1), "seconds": round(elapsed, 1)}
        )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--texts", type=int, default=2000)
    parser.add_argument("--sizes", type=int, nargs="+", default=[20_000, 100_000, 400_000])
    parser.add_argument("--repeats", type=int, default=1, help="interleaved rounds of part 1")
    parser.add_argument("--threads", type=int, default=None, help="OMP_NUM_THREADS of embed")
    parser.add_argument("--out", default="fit_self_cost", help="results file (bench/results/)")
    args = parser.parse_args()
    started = provenance()
    passes = time_passes(args.texts, args.repeats, args.threads)
    memory = fitting_memory(args.sizes)
    payload = {
        "texts": args.texts,
        "threads": args.threads,
        "repeats": args.repeats,
        "passes": passes,
        "fitting_memory": memory,
    }
    write_results(args.out, payload, started)


if __name__ == "__main__":
    main()
