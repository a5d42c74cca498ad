"""The README cannot rot: its commands run, its set-up and test lines are what CI runs."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from hiddenpool.cli.main import main

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", README, flags=re.DOTALL)


def _first_bash_block_after(heading: str) -> list[str]:
    section = README.split(f"\n## {heading}\n", 1)[1]
    block = re.search(r"```bash\n(.*?)```", section, flags=re.DOTALL)
    assert block, f"no bash block under '## {heading}'"
    return block.group(1).strip().splitlines()


def test_ci_runs_the_readme_set_up_and_test_commands():
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    set_up, test = _first_bash_block_after("Set up"), _first_bash_block_after("Test")
    assert len(set_up) == 1 and len(test) == 1, "one set-up command, one test command"
    for command in set_up + test:
        assert command in ci, f"{command!r} is not what .ci/run runs"


CONSOLE = [
    line[2:].strip()
    for block in _blocks("console")
    for line in block.splitlines()
    if line.startswith("$ ")
]
REVIEWS = [
    ("A gripping, beautifully shot film.", 2.9),
    ("Wooden acting and a plot full of holes.", -2.4),
    ("Funny, warm and far too short.", 2.1),
    ("I wanted my two hours back.", -2.8),
    ("Competent but forgettable.", -0.3),
    ("The best thriller of the year.", 3.2),
    ("A dull, lifeless remake.", -2.6),
    ("Charming performances carry it.", 1.8),
]


def _write_reviews(folder: Path) -> None:
    """The reviews.csv (and shards/) the README's examples name."""
    lines = ["id,review,score"] + [
        f'{i},"{text}",{score}' for i, (text, score) in enumerate(REVIEWS * 3)
    ]
    (folder / "reviews.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (folder / "shards").mkdir()
    for name, part in (("a.csv", lines[1:10]), ("b.csv", lines[10:])):
        (folder / "shards" / name).write_text("\n".join([lines[0], *part]) + "\n")


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:.*pooler_output comes from")
def test_console_commands_run_in_order(tmp_path, monkeypatch, capsys):
    """Every ``$ hiddenpool ...`` line of the README, in order, in one folder."""
    monkeypatch.chdir(tmp_path)
    _write_reviews(tmp_path)
    for command in CONSOLE:
        argv = shlex.split(command)
        assert argv[0] == "hiddenpool"
        assert main(argv[1:]) == 0, command
    assert (tmp_path / "hiddenpool-compare" / "report.md").is_file()
    assert (tmp_path / "vectors.parquet").is_file()
    assert (tmp_path / "predictions.csv").is_file()
    assert sorted(p.name for p in (tmp_path / "vectors").iterdir()) == ["a.parquet", "b.parquet"]
    assert capsys.readouterr().out.strip()


@pytest.mark.slow
@pytest.mark.parametrize("index", range(len(_blocks("python"))))
def test_python_examples_run(index, capsys):
    exec(compile(_blocks("python")[index], f"README.md python block {index}", "exec"), {})
    assert capsys.readouterr().out.strip()
