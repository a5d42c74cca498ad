"""Peak memory of ``hiddenpool embed`` on 1x and 10x a corpus: flat, not growing with it.

    python bench/embed_memory.py --texts 500 --chunk-size 125 --repeats 2

Writes bench/results/embed_memory.json (``--out``) with bench/provenance.py's record.

Writes N VADER movie-review snippets to a .txt, and the same N ten times over to another, runs
``hiddenpool embed`` on each in a subprocess, interleaved and repeated, and reads each child's
peak resident set size from ``wait4``. Target: 10x within 10% of 1x. The chunk size is set below
N so that the 1x run already holds full chunks; what the engine keeps in memory is one chunk.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from embed_common import median, movie_texts
from provenance import provenance, write_results


def peak_rss_mib(command: list[str], threads: int) -> tuple[float, float]:
    """(peak RSS in MiB, seconds) of ``command`` run as a child process on ``threads`` threads."""
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}
    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"{' '.join(command)} failed: {process.stderr.read().decode()}")
    return usage.ru_maxrss / 1024, seconds  # Linux reports KiB


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--texts", type=int, default=1000)
    parser.add_argument("--chunk-size", type=int, default=250)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--backend", default="torch")
    parser.add_argument("--threads", type=int, default=1, help="OMP_NUM_THREADS of the children")
    parser.add_argument("--out", default="embed_memory", help="results file (bench/results/)")
    args = parser.parse_args()
    started = provenance()

    folder = Path(tempfile.mkdtemp())
    inputs = {}
    corpus = movie_texts(args.texts)
    for scale in (1, 10):
        texts = corpus * scale  # the same texts, so only the corpus size differs
        path = folder / f"x{scale}.txt"
        path.write_text("".join(t.replace("\n", " ") + "\n" for t in texts), encoding="utf-8")
        inputs[scale] = path
    rss: dict[int, list[float]] = {1: [], 10: []}
    seconds: dict[int, list[float]] = {1: [], 10: []}
    for round_ in range(args.repeats):
        for scale, path in inputs.items():
            out = folder / f"x{scale}.npy"
            command = [
                sys.executable,
                "-m",
                "hiddenpool",
                "embed",
                str(path),
                "-o",
                str(out),
                "--chunk-size",
                str(args.chunk_size),
                "--backend",
                args.backend,
                "--quiet",
                "--restart",
            ]
            peak, took = peak_rss_mib(command, args.threads)
            rss[scale].append(peak)
            seconds[scale].append(took)
            print(
                f"  round {round_ + 1} x{scale}: {peak:.0f} MiB, {took:.0f} s "
                f"({out.stat().st_size / 2**20:.1f} MiB written)",
                flush=True,
            )
    result = {
        "backend": args.backend,
        "texts_1x": args.texts,
        "threads": args.threads,
        "chunk_size": args.chunk_size,
        "peak_rss_mib": rss,
        "seconds": seconds,
        "median_peak_rss_mib": {scale: round(median(v), 1) for scale, v in rss.items()},
        "median_seconds": {scale: round(median(v), 2) for scale, v in seconds.items()},
        "ratio_10x_over_1x": round(median(rss[10]) / median(rss[1]), 3),
    }
    print(json.dumps(result, indent=2))
    write_results(args.out, result, started)


if __name__ == "__main__":
    sys.exit(main())
