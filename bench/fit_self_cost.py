"""What ``embed --fit-self`` costs: one streaming pass per fitted stage before the embedding pass,
and fitting memory that does not grow with the corpus.

Part 1 times ``hiddenpool embed`` on the same file three ways (MiniLM, CPU): plain ``mean``;
``mean | whiten(256) --fit-self`` (one fitting pass); ``mean | whiten(256) | int8 --fit-self``
(two: the int8 ranges are those of the whitened vectors). Part 2 fits ``whiten(256) | int8`` on
synthetic 384-wide vectors streamed in chunks of 20,000, for corpora of growing size, and reports
the peak memory the fitting allocates (tracemalloc): flat in corpus size.

    python bench/fit_self_cost.py            # 2,000 texts
    python bench/fit_self_cost.py --texts 10000
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from hiddenpool.postprocess import fit_stages

WORDS = (
    "the a film movie story plot acting actors great good bad boring slow fast funny sad long "
    "short scene music camera ending character dialogue love hate watch again never always"
).split()


def _corpus(path: Path, n: int) -> None:
    rng = np.random.default_rng(0)
    lines = (" ".join(rng.choice(WORDS, size=int(rng.integers(6, 30)))) for _ in range(n))
    path.write_text("\n".join(lines) + "\n")


def _embed(args: list[str]) -> float:
    started = time.perf_counter()
    command = [sys.executable, "-m", "hiddenpool", "embed", *args, "--quiet"]
    subprocess.run(command, check=True)
    return time.perf_counter() - started


def time_passes(n: int) -> None:
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
        base = None
        print(f"| {n:,} texts | seconds | vs one pass |\n|---|---|---|")
        for i, (label, extra) in enumerate(runs):
            seconds = _embed([str(corpus), "-o", str(Path(tmp) / f"out{i}.npy"), *extra])
            base = base or seconds
            cell = label.replace("|", "\\|")
            print(f"| `{cell}` | {seconds:.1f} | {seconds / base:.2f}x |", flush=True)


def _chunks(rows: int, width: int = 384, chunk: int = 20_000) -> Iterator[np.ndarray]:
    rng = np.random.default_rng(0)
    mixing = rng.normal(size=(width, width)).astype(np.float32) / np.sqrt(width)
    for start in range(0, rows, chunk):
        size = min(chunk, rows - start)
        yield rng.normal(size=(size, width)).astype(np.float32) @ mixing


def fitting_memory(sizes: list[int]) -> None:
    print("\n| vectors fitted (384 wide) | peak fitting memory | seconds |\n|---|---|---|")
    for rows in sizes:
        tracemalloc.start()
        started = time.perf_counter()
        fit_stages("mean | whiten(256) | int8", lambda rows=rows: _chunks(rows), 384)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        elapsed = time.perf_counter() - started
        print(f"| {rows:,} | {peak / 2**20:.1f} MiB | {elapsed:.1f} |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--texts", type=int, default=2000)
    parser.add_argument("--sizes", type=int, nargs="+", default=[20_000, 100_000, 400_000])
    args = parser.parse_args()
    time_passes(args.texts)
    fitting_memory(args.sizes)


if __name__ == "__main__":
    main()
