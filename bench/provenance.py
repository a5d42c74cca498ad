"""Where and how a bench result was measured, and how it is saved (bench scripts only).

Every bench script writes its figures with ``write_results(name, payload, started)``: one JSON file
under bench/results/ holding the payload and a ``provenance`` record (the command line, the git
commit and whether the tree had uncommitted changes, the UTC date, the CPU model, cores, torch
threads, library versions, the load average before and after the run). ``started`` is the
``provenance(...)`` taken before the measurement; ``write_results`` adds the load afterwards and
writes atomically (a temporary file in the same folder, then ``os.replace``), so a killed run
never leaves a half-written results file under its final name.
"""

from __future__ import annotations

import functools
import json
import os
import platform
import shlex
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
LIBRARIES = (
    "hiddenpool",
    "torch",
    "transformers",
    "sentence-transformers",
    "onnxruntime",
    "onnx",
    "numpy",
    "scikit-learn",
    "scipy",
    "ray",
)

__all__ = [
    "RESULTS",
    "cpu_model",
    "load_average",
    "machine",
    "provenance",
    "this_run",
    "write_results",
]


def cpu_model() -> str:
    """The CPU's model name from ``lscpu``, else /proc/cpuinfo, else ``platform``."""
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
        for line in out.splitlines():
            if line.startswith("Model name:"):
                return line.split(":", 1)[1].strip()
    except (OSError, subprocess.CalledProcessError):
        pass
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def load_average() -> list[float]:
    """The 1, 5 and 15 minute load averages (the machine is shared: this says how busy)."""
    return [round(x, 2) for x in os.getloadavg()]


def _versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in LIBRARIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


def _torch_threads() -> int | None:
    if "torch" not in sys.modules:  # a script that never imported torch ran none of it
        return None
    return int(sys.modules["torch"].get_num_threads())


def machine() -> dict[str, Any]:
    """CPU model, cores, torch threads (None when the script did not load torch), versions."""
    return {
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "torch_threads": _torch_threads(),
        "versions": _versions(),
    }


def _git(*args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(ROOT), *args], capture_output=True, text=True, check=True
    ).stdout


def provenance(command: list[str] | None = None) -> dict[str, Any]:
    """The record of a run about to start: command, commit, date, machine, load before."""
    command = list(sys.argv) if command is None else command
    try:
        commit = _git("rev-parse", "HEAD").strip()
        status = _git("status", "--porcelain", "--untracked-files=no", "--", "src", "bench")
        changed = sorted(line[3:] for line in status.splitlines() if line.strip())
    except (OSError, subprocess.CalledProcessError):
        commit, changed = "unknown", ["(git unavailable)"]
    return {
        "command": shlex.join(["python", *command]),
        "git_commit": commit,
        "git_dirty": bool(changed),
        "uncommitted": changed,  # files of src/ and bench/ that differ from the commit
        "date_utc": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        **machine(),
        "load_before": load_average(),
    }


@functools.cache
def this_run() -> dict[str, Any]:
    """``provenance()`` of this process, taken at the first call (for scripts that save from
    several places: call it at the start of ``main``)."""
    return provenance()


def write_results(name: str | Path, payload: dict[str, Any], started: dict[str, Any]) -> Path:
    """Write ``payload`` with ``started`` (from ``provenance``) completed by the load after, to
    bench/results/NAME (a bare name gets ``.json``; a path is taken as it is), atomically."""
    path = Path(name)
    if path.parent == Path("."):
        path = RESULTS / (path.name if path.suffix else f"{path.name}.json")
    record = {
        **started,
        "torch_threads": _torch_threads(),
        "load_after": load_average(),
        "finished_utc": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    text = json.dumps({"provenance": record, **payload}, indent=2) + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    print(f"wrote {path}", flush=True)
    return path
