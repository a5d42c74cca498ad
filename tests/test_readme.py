"""The README cannot rot: its commands run, its set-up and test lines are what CI runs, and
what its Python examples say they print is what they print.

An output is written as a trailing comment on a ``print(...)`` line: ``# OUTPUT``, or
``# OUTPUT, a note`` (the note starts after the first comma outside brackets and quotes); ``...``
in OUTPUT stands for any text, as in doctest's ELLIPSIS.
"""

from __future__ import annotations

import ast
import builtins
import io
import re
import shlex
import sys
import tokenize
from pathlib import Path
from typing import Any

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


def _stated_output(comment: str) -> str:
    """The output a ``# OUTPUT, a note`` comment states: the text before its first top-level
    comma (``(2, 384)`` keeps its comma: it is inside brackets)."""
    depth, quote = 0, ""
    for i, char in enumerate(comment):
        if quote:
            quote = "" if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char in "([{":
            depth += 1
        elif char in ")]}":
            depth -= 1
        elif char == "," and depth == 0:
            return comment[:i].strip()
    return comment.strip()


def _output_pattern(stated: str) -> re.Pattern[str]:
    return re.compile(".*".join(re.escape(part) for part in stated.split("...")), re.DOTALL)


def stated_outputs(source: str) -> dict[tuple[int, int], str]:
    """(first line, last line) of each ``print(...)`` call with a trailing comment -> the
    output it states."""
    comments = {
        token.start[0]: token.string.lstrip("#").strip()
        for token in tokenize.generate_tokens(io.StringIO(source).readline)
        if token.type == tokenize.COMMENT
    }
    found = {}
    for node in ast.walk(ast.parse(source)):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id == "print"
            and node.end_lineno in comments
        ):
            found[(node.lineno, node.end_lineno)] = _stated_output(comments[node.end_lineno])
    return found


def run_printing(source: str, name: str) -> list[tuple[int, str]]:
    """Run ``source``; (line of the print call, what it printed) for every print, in order."""
    printed: list[tuple[int, str]] = []

    def recording_print(*args: Any, **kwargs: Any) -> None:
        text = io.StringIO()
        builtins.print(*args, **{**kwargs, "file": text})
        printed.append((sys._getframe(1).f_lineno, text.getvalue().strip()))
        builtins.print(*args, **kwargs)

    exec(compile(source, name, "exec"), {"print": recording_print})
    return printed


def check_outputs(source: str, name: str) -> int:
    """Run ``source`` and compare each print's output with its comment; returns how many were
    compared. Raises AssertionError naming the line on a mismatch or a print that never ran."""
    printed = run_printing(source, name)
    assert printed, f"{name} prints nothing"
    stated = stated_outputs(source)
    for (first, last), expected in stated.items():
        outputs = [text for line, text in printed if first <= line <= last]
        assert outputs, f"{name} line {first}: print never ran"
        for text in outputs:
            assert _output_pattern(expected).fullmatch(text), (
                f"{name} line {first}: printed {text!r}, the README says {expected!r}"
            )
    return len(stated)


def test_stated_outputs_are_read_and_compared():
    source = (
        "print((2, 384))  # (2, 384)\n"
        "print('cls@concat(-4:)', 1536)  # ... 1536\n"
        "print(round(82.0312, 2))  # 82.03, a published figure\n"
        "print('unchecked')\n"
        "x = 1  # not an output\n"
        "print(\n    [2,\n     3])  # [2, 3]\n"
    )
    assert stated_outputs(source) == {
        (1, 1): "(2, 384)",
        (2, 2): "... 1536",
        (3, 3): "82.03",
        (6, 8): "[2, 3]",
    }
    assert check_outputs(source, "example") == 4
    for wrong, right in (("(2, 384)", "(2, 385)"), ("... 1536", "... 1537"), ("82.03", "82.0")):
        with pytest.raises(AssertionError, match="the README says"):
            check_outputs(source.replace(f"# {wrong}", f"# {right}", 1), "example")
    with pytest.raises(AssertionError, match="print never ran"):
        check_outputs("if False:\n    print(1)  # 1\nprint(2)\n", "example")


@pytest.mark.slow
@pytest.mark.parametrize("index", range(len(_blocks("python"))))
def test_python_examples_print_what_the_readme_says(index):
    check_outputs(_blocks("python")[index], f"README.md python block {index}")


def test_every_commented_print_of_the_readme_is_checked():
    blocks = _blocks("python")
    one_line = sum(len(re.findall(r"^print\(.*\)  # \S", b, flags=re.MULTILINE)) for b in blocks)
    assert one_line >= 1
    assert sum(len(stated_outputs(block)) for block in blocks) >= one_line
