"""The figures in bench/README.md and README.md are the committed results, not hand-copied.

Every measured table of bench/README.md and each README.md sentence quoting a bench figure is a
generated part (``<!-- generated: NAME -->`` ... ``<!-- end generated -->``) that
bench/render_readme.py builds from bench/results/*.json; here the docs must equal the render,
every results file they use must carry its provenance, and bench/README.md may state no
measurement outside a generated part.
"""

from __future__ import annotations

import importlib.util
import json
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"
BENCH_README = BENCH / "README.md"
README = ROOT / "README.md"
PROVENANCE_KEYS = {
    "command",
    "git_commit",
    "git_dirty",
    "date_utc",
    "cpu",
    "cores",
    "torch_threads",
    "versions",
    "load_before",
    "load_after",
}
# A measurement: a number followed by a unit of time, size, rate or ratio.
MEASURED = re.compile(
    r"(?<![\w.])\d[\d,]*(?:\.\d+)?\s?(?:ms|s|MiB|GiB|GB|%|x|×|texts/s|tokens/s|GFLOP/s)(?![\w/])"
)


@pytest.fixture(scope="module")
def renderer():
    spec = importlib.util.spec_from_file_location("render_readme", BENCH / "render_readme.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["render_readme"] = module
    spec.loader.exec_module(module)
    return module


def _names(renderer, text: str) -> list[str]:
    return [m["name"] for m in renderer.BLOCK.finditer(text)]


@pytest.mark.parametrize(
    "path",
    [BENCH_README, README, ROOT / "docs" / "scaling.md", ROOT / "docs" / "models.md"],
    ids=["bench/README.md", "README.md", "docs/scaling.md", "docs/models.md"],
)
def test_docs_equal_the_render_of_the_results(renderer, path):
    text = path.read_text(encoding="utf-8")
    rendered = renderer.render(text)
    if rendered != text:  # name the first line that differs
        for ours, theirs in zip(text.splitlines(), rendered.splitlines(), strict=False):
            assert ours == theirs, (
                f"{path.relative_to(ROOT)} is stale: run python bench/render_readme.py"
            )
    assert rendered == text


def test_readme_quotes_bench_figures_only_through_generated_parts(renderer):
    names = set(_names(renderer, README.read_text(encoding="utf-8")))
    assert {"readme_main_job", "readme_serve", "readme_cli_startup"} <= names


def test_every_bench_readme_section_with_figures_is_generated(renderer):
    names = _names(renderer, BENCH_README.read_text(encoding="utf-8"))
    readme = {n for n in renderer.RENDERERS if n.startswith("readme_")}
    expected = set(renderer.RENDERERS) - readme - set(renderer.FINDINGS)  # studies: docs/
    assert set(names) == expected


def _outside_generated(renderer, text: str) -> str:
    text = renderer.BLOCK.sub("", text)
    text = re.sub(r"```.*?```", "", text, flags=re.S)  # commands and error messages
    return re.sub(r"`[^`\n]*`", "", text)  # inline code: options, specs, file names


def test_bench_readme_states_no_measurement_outside_generated_parts(renderer):
    loose = MEASURED.findall(_outside_generated(renderer, BENCH_README.read_text("utf-8")))
    assert loose == [], f"figures in bench/README.md with no results file behind them: {loose}"


def test_the_checks_catch_a_planted_number(renderer):
    """A digit changed in a table, or a figure added to the prose, is caught."""
    text = BENCH_README.read_text(encoding="utf-8")
    block = next(renderer.BLOCK.finditer(text))
    body = block["body"]
    digit = re.search(r"\d", body)
    assert digit is not None
    wrong = str((int(digit.group()) + 1) % 10)
    planted = (
        text[: block.start("body") + digit.start()]
        + wrong
        + text[block.start("body") + digit.end() :]
    )
    assert renderer.render(planted) != planted
    prose = text + "\nIt was 1.30x faster.\n"
    assert "1.30x" in MEASURED.findall(_outside_generated(renderer, prose))


def test_results_files_carry_their_provenance(renderer):
    renderer.LOADED.clear()
    for path in renderer.DOCS:
        renderer.render(path.read_text(encoding="utf-8"))
    assert renderer.LOADED
    for path in sorted(renderer.LOADED):
        record = json.loads(path.read_text())["provenance"]
        assert set(record) >= PROVENANCE_KEYS, f"{path.name}: {PROVENANCE_KEYS - set(record)}"
        assert re.fullmatch(r"[0-9a-f]{40}", record["git_commit"]), path.name
        assert len(record["load_before"]) == 3 and len(record["load_after"]) == 3


def test_every_bench_script_writing_results_writes_them_through_provenance():
    """A script that saves under bench/results/ does it with provenance.write_results."""
    for path in sorted(BENCH.glob("*.py")):
        source = path.read_text(encoding="utf-8")
        if path.name in {"provenance.py", "render_readme.py"}:
            continue
        if "results" in source and "write_text" in source and "results/" in source:
            assert "write_results" in source, f"{path.name} writes results without provenance"
