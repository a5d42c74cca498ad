"""How long the README's main job takes: ``hiddenpool compare`` as a user runs it.

    python bench/main_job.py --repeats 1

Runs, as subprocesses (fresh interpreters, model loading included), interleaved over rounds:

- ``compare --limit 1000 --out DIR`` (the README's first command);
- ``compare --out DIR`` (the full default: 4,000 rows of vader-movies, every default strategy).

Records each run's wall seconds and what compare itself prints on its last line: the strategy
count, rows, the embedding seconds and the scoring (probing) seconds. Writes
bench/results/main_job.json (``--out``) with bench/provenance.py's record.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from provenance import provenance, write_results

JOBS = {
    "compare --limit 1000": ["--limit", "1000"],
    "compare": [],
}
SUMMARY = re.compile(
    r"(?P<strategies>\d+) strategies on (?P<rows>\d+) rows of (?P<dataset>\S+): "
    r"embedding (?P<embed>[\d.]+) s \((?P<passes>[^)]*)\), (?:probing|scoring) (?P<probe>[\d.]+) s"
)


def run_job(flags: list[str], out: Path, threads: int | None) -> dict[str, Any]:
    env = dict(os.environ)
    if threads:
        env["OMP_NUM_THREADS"] = env["MKL_NUM_THREADS"] = str(threads)
    command = [sys.executable, "-m", "hiddenpool", "compare", *flags, "--out", str(out), "--quiet"]
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=1800)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{done.stderr[-2000:]}")
    found = SUMMARY.search(done.stderr)
    if found is None:
        raise RuntimeError(f"no summary line in compare's output:\n{done.stderr[-2000:]}")
    return {
        "wall_seconds": round(wall, 2),
        "strategies": int(found["strategies"]),
        "rows": int(found["rows"]),
        "dataset": found["dataset"],
        "passes": found["passes"],
        "embed_seconds": float(found["embed"]),
        "probe_seconds": float(found["probe"]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=1, help="rounds (interleaved)")
    parser.add_argument(
        "--threads", type=int, default=None, help="OMP_NUM_THREADS (default: torch's default)"
    )
    parser.add_argument("--out", default="main_job", help="results file (bench/results/)")
    args = parser.parse_args()
    started = provenance()
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in JOBS}
    with tempfile.TemporaryDirectory() as scratch:
        for round_ in range(args.repeats):
            for name, flags in JOBS.items():
                record = run_job(flags, Path(scratch) / f"r{round_}", args.threads)
                runs[name].append(record)
                print(f"round {round_ + 1} {name}: {record}", flush=True)
    summary = {
        name: {
            "strategies": records[0]["strategies"],
            "rows": records[0]["rows"],
            **{
                f"median_{key}": round(statistics.median(r[key] for r in records), 1)
                for key in ("wall_seconds", "embed_seconds", "probe_seconds")
            },
        }
        for name, records in runs.items()
    }
    write_results(
        args.out,
        {"threads": args.threads, "repeats": args.repeats, "runs": runs, "summary": summary},
        started,
    )


if __name__ == "__main__":
    main()
