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


def test_ci_runs_the_readme_set_up_and_test_commands():
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    commands = [line for block in _blocks("bash") for line in block.strip().splitlines()]
    assert len(commands) == 2, "README has one set-up and one test command"
    for command in commands:
        assert command in ci.splitlines(), f"{command!r} is not what .ci/run runs"


CONSOLE = sorted(
    {
        line[2:].strip()
        for block in _blocks("console")
        for line in block.splitlines()
        if line.startswith("$ ")
    }
)


@pytest.mark.slow
@pytest.mark.parametrize("command", CONSOLE)
def test_console_commands_run(command, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    argv = shlex.split(command)
    assert argv[0] == "hiddenpool"
    assert main(argv[1:]) == 0
    assert capsys.readouterr().out.strip()


@pytest.mark.slow
@pytest.mark.parametrize("index", range(len(_blocks("python"))))
def test_python_examples_run(index, capsys):
    exec(compile(_blocks("python")[index], f"README.md python block {index}", "exec"), {})
    assert capsys.readouterr().out.strip()
