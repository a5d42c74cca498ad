"""How long the commands that run no model take to start, next to ``import torch``.

Each command runs in a fresh interpreter (``python -m hiddenpool ...``, what the ``hiddenpool``
script runs), rounds interleaved, and the median wall time and CPU time (user + system of the
child) are printed. CPU time is the steadier figure on a shared machine: waiting for a core
counts in wall time only.

    python bench/cli_startup.py --repeats 7
    python bench/cli_startup.py --baseline /tmp/hp-before/src   # the same commands from another
                                                                 # checkout's src/, side by side

Writes bench/results/cli_startup.json (``--out``) with bench/provenance.py's record.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

from provenance import provenance, write_results

SRC = Path(__file__).resolve().parents[1] / "src"
COMMANDS: dict[str, list[str]] = {
    "hiddenpool --help": ["-m", "hiddenpool", "--help"],
    "hiddenpool --version": ["-m", "hiddenpool", "--version"],
    "hiddenpool strategies": ["-m", "hiddenpool", "strategies"],
    "hiddenpool datasets": ["-m", "hiddenpool", "datasets"],
}
REFERENCES: dict[str, list[str]] = {
    'python -c "pass"': ["-c", "pass"],
    'python -c "import torch"': ["-c", "import torch"],
}


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(args: list[str], src: Path | None) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of one run of ``python args`` with ``src`` first on the path."""
    env = dict(os.environ)
    if src is not None:
        env["PYTHONPATH"] = os.pathsep.join([str(src), env.get("PYTHONPATH", "")]).rstrip(
            os.pathsep
        )
    cpu = _children_cpu()
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, *args], env=env, check=True, stdout=subprocess.DEVNULL, timeout=600
    )
    return time.perf_counter() - start, _children_cpu() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5, help="runs of each command (median)")
    parser.add_argument(
        "--baseline",
        type=Path,
        default=None,
        metavar="SRC",
        help="also time the commands from this src/ folder (e.g. of an older checkout)",
    )
    parser.add_argument(
        "--baseline-commit", default=None, help="the commit the baseline src/ came from (recorded)"
    )
    parser.add_argument("--out", default="cli_startup", help="results file (bench/results/)")
    args = parser.parse_args()
    started = provenance()
    trees = {"now": SRC}
    if args.baseline is not None:
        trees["baseline"] = args.baseline.resolve()
    runs: list[tuple[str, str, list[str], Path | None]] = [
        (name, tree, command, src)
        for name, command in COMMANDS.items()
        for tree, src in trees.items()
    ]
    runs += [(name, "-", command, None) for name, command in REFERENCES.items()]
    walls: dict[tuple[str, str], list[float]] = {(name, tree): [] for name, tree, _, _ in runs}
    cpus: dict[tuple[str, str], list[float]] = {(name, tree): [] for name, tree, _, _ in runs}
    for _ in range(args.repeats):  # interleaved, so a busy spell hits every command alike
        for name, tree, command, src in runs:
            wall, cpu = timed(command, src)
            walls[(name, tree)].append(wall)
            cpus[(name, tree)].append(cpu)
    print(
        f"{args.repeats} runs each, medians; python {sys.version.split()[0]}, {os.cpu_count()} CPUs"
    )
    print(f"{'command':<28} {'tree':<9} {'wall s':>7} {'cpu s':>7}")
    rows = []
    for name, tree, _, _ in runs:
        wall = statistics.median(walls[(name, tree)])
        cpu = statistics.median(cpus[(name, tree)])
        print(f"{name:<28} {tree:<9} {wall:>7.2f} {cpu:>7.2f}")
        rows.append(
            {
                "command": name,
                "tree": tree,
                "wall_seconds": [round(x, 3) for x in walls[(name, tree)]],
                "cpu_seconds": [round(x, 3) for x in cpus[(name, tree)]],
                "median_wall_seconds": round(wall, 2),
                "median_cpu_seconds": round(cpu, 2),
            }
        )
    payload = {"repeats": args.repeats, "baseline_commit": args.baseline_commit, "rows": rows}
    write_results(args.out, payload, started)


if __name__ == "__main__":
    main()
