"""Lint, types and the layers contract are part of the test command: all must be clean.

The contract (.importlinter) keeps imports running one way, from the CLI down to the runtime.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(
    "command",
    [
        [sys.executable, "-m", "ruff", "check", "src", "tests", "bench"],
        [sys.executable, "-m", "mypy"],
        [str(Path(sys.executable).parent / "lint-imports"), "--no-cache"],
    ],
    ids=["ruff", "mypy", "import-linter"],
)
def test_clean(command):
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
